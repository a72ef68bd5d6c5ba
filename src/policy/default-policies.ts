/**
 * Cocoon's Rego equivalents of Trustee's default policies, written from the paraphrase in
 * kbs-protocol.md §7.1 (attestation-service ear_default_policy_cpu.rego) and §7.2
 * (kbs/sample_policies/default.rego). They are our own text, not copies, and they are what the
 * Cocoon KBS installs by default.
 */

/**
 * The part every attestation policy of Trustee's shape shares (kbs-protocol.md §6.3, §7.1): the
 * eight trust claims, defaulting to "nothing recognised", and the `trust_claims` object the AS
 * reads. Policies override the defaults with `claim := value if { … }` rules.
 */
const TRUST_VECTOR_PRELUDE = `# Trust vector defaults (kbs-protocol.md §7.1): nothing recognised yet.
default executables := 33

default hardware := 97

default configuration := 36

default file_system := 0

default instance_identity := 0

default runtime_opaque := 0

default storage_opaque := 0

default sourced_data := 0

trust_claims := {
	"instance-identity": instance_identity,
	"configuration": configuration,
	"executables": executables,
	"file-system": file_system,
	"hardware": hardware,
	"runtime-opaque": runtime_opaque,
	"storage-opaque": storage_opaque,
	"sourced-data": sourced_data,
}

`;

/**
 * Default attestation (AS) policy: computes `trust_claims` (the EAR trust vector) and
 * `extensions` from the claims of the sample, snp, tdx and se TEEs and the reference values
 * served by `query_reference_value` (kbs-protocol.md §6.3 values, §7.1 conditions).
 */
export const DEFAULT_ATTESTATION_POLICY = `package policy

import rego.v1

${TRUST_VECTOR_PRELUDE}# A claim matches a reference value that is either a list of accepted values or one value.
rv_match(value, id) if {
	rv := query_reference_value(id)
	is_array(rv)
	value in rv
}

rv_match(value, id) if {
	rv := query_reference_value(id)
	not is_array(rv)
	rv != null
	value == rv
}

# ---- sample TEE --------------------------------------------------------------------------

executables := 3 if {
	rv_match(input.sample.launch_digest, "launch_digest")
}

hardware := 2 if {
	rv_match(input.sample.svn, "svn")
	input.sample.platform_version.major == query_reference_value("major_version")
	minimum := query_reference_value("minimum_minor_version")
	is_number(minimum)
	# Fail closed on a non-numeric minor: Rego orders every string above every number.
	is_number(input.sample.platform_version.minor)
	input.sample.platform_version.minor >= minimum
}

configuration := 2 if {
	input.sample.debug == false
}

# ---- AMD SEV-SNP -------------------------------------------------------------------------

executables := 3 if {
	rv_match(input.snp.measurement, "snp_launch_measurement")
}

hardware := 2 if {
	rv_match(input.snp.reported_tcb_bootloader, "snp_bootloader")
	rv_match(input.snp.reported_tcb_microcode, "snp_microcode")
	rv_match(input.snp.reported_tcb_snp, "snp_snp_svn")
	rv_match(input.snp.reported_tcb_tee, "snp_tee_svn")
}

snp_debug_and_migration_off if {
	input.snp.policy_debug_allowed == false
	input.snp.policy_migrate_ma == false
}

configuration := 2 if {
	snp_debug_and_migration_off
	rv_match(input.snp.platform_smt_enabled, "snp_smt_enabled")
	rv_match(input.snp.platform_tsme_enabled, "snp_tsme_enabled")
	rv_match(input.snp.policy_abi_major, "snp_guest_abi_major")
	rv_match(input.snp.policy_abi_minor, "snp_guest_abi_minor")
	rv_match(input.snp.policy_single_socket, "snp_single_socket")
	rv_match(input.snp.policy_smt_allowed, "snp_smt_allowed")
} else := 3 if {
	snp_debug_and_migration_off
}

# ---- Intel TDX ---------------------------------------------------------------------------

tdx_rtmrs_match if {
	rv_match(input.tdx.quote.body.rtmr_1, "rtmr_1")
	rv_match(input.tdx.quote.body.rtmr_2, "rtmr_2")
}

tdx_kernel_match if {
	some event in input.tdx.uefi_event_logs
	event.type_name == "EV_EFI_BOOT_SERVICES_APPLICATION"
	"File(kernel)" in event.details.device_paths
	some d in event.digests
	rv_match(d.digest, "tdvfkernel")
}

tdx_kernel_params_match if {
	some event in input.tdx.uefi_event_logs
	event.type_name == "EV_EVENT_TAG"
	event.details.string == "LOADED_IMAGE::LoadOptions"
	some d in event.digests
	rv_match(d.digest, "tdvfkernelparams")
}

# Direct kernel boot (TDVF measures kernel and command line) scores 3; a GRUB/GKE boot where
# only the RTMRs match scores 4.
executables := 3 if {
	tdx_rtmrs_match
	tdx_kernel_match
	tdx_kernel_params_match
} else := 4 if {
	tdx_rtmrs_match
}

hardware := 2 if {
	input.tdx.quote.header.tee_type == "81000000"
	input.tdx.quote.header.vendor_id == "939a7233f79c4ca9940a0db3957f0607"
	rv_match(input.tdx.quote.body.mr_td, "mr_td")
	input.tdx.tcb_status == "UpToDate"
	input.tdx.collateral_expiration_status == "0"
}

configuration := 2 if {
	input.tdx.td_attributes.debug == false
	rv_match(input.tdx.quote.body.xfam, "xfam")
}

# ---- IBM SE: evidence that verified is enough ---------------------------------------------

executables := 3 if input.se

hardware := 2 if input.se

configuration := 2 if input.se

# ---- EAR extensions (kbs-protocol.md §6.2, key -18) ----------------------------------------

agent_containers := object.get(input, ["init_data_claims", "agent_policy_claims", "containers"], [])

container_images := {image |
	some c in agent_containers
	image := c.OCI.Annotations["io.kubernetes.cri.image-name"]
}

container_uids := {uid |
	some c in agent_containers
	uid := c.OCI.Process.User.UID
}

validated := {name: values |
	some name, values in {"container_images": container_images, "container_uids": container_uids}
	count(values) > 0
}

default extensions := []

extensions := [{"name": "ear.trustee.identifiers", "key": -18, "value": {"validated": validated}}] if {
	count(validated) > 0
}
`;

/**
 * Default KBS resource policy: the resource plugin is allowed for any real TEE; a token whose
 * annotated evidence comes from the sample TEE is refused (kbs-protocol.md §7.2 default.rego).
 * Fails closed when the token has no annotated evidence at all.
 */
export const DEFAULT_RESOURCE_POLICY = `package policy

import rego.v1

default allow := false

allow if {
	data.plugin == "resource"
	evidence := input.submods.cpu0["ear.veraison.annotated-evidence"]
	is_object(evidence)
	not "sample" in object.keys(evidence)
}
`;

/**
 * Default attestation policy for secondary devices of TEE class gpu (Trustee evaluates
 * `default_gpu`, kbs-protocol.md §2 / §7.1 "Device policies"). Trustee's logic for its simulated
 * device: hardware is genuine (2) when the device's svn is a reference value `device_svn`; nothing
 * else is appraised, so executables and configuration keep their "unrecognised" defaults and the
 * best status a sample device reaches is `warning`. Reference values are read through
 * `query_reference_value`, like the CPU policy.
 */
export const DEFAULT_GPU_ATTESTATION_POLICY = `package policy

import rego.v1

${TRUST_VECTOR_PRELUDE}# The reference value is a list of accepted values or one value.
device_svn_ok if {
	rv := query_reference_value("device_svn")
	is_array(rv)
	input.sampledevice.svn in rv
}

device_svn_ok if {
	rv := query_reference_value("device_svn")
	not is_array(rv)
	rv != null
	input.sampledevice.svn == rv
}

hardware := 2 if device_svn_ok
`;

/** Trustee's `allow_all.rego` equivalent: any request to the resource plugin (§7.2). */
export const ALLOW_ALL_RESOURCE_POLICY = `package policy

import rego.v1

default allow := false

allow if data.plugin == "resource"
`;

/** Trustee's `deny_all.rego` equivalent (§7.2). */
export const DENY_ALL_RESOURCE_POLICY = `package policy

import rego.v1

default allow := false
`;

/** Trustee's `affirming.rego` equivalent: every submod (at least one) is affirming (§7.2). */
export const AFFIRMING_RESOURCE_POLICY = `package policy

import rego.v1

default allow := false

allow if {
	count(input.submods) > 0
	every _, submod in input.submods {
		submod["ear.status"] == "affirming"
	}
}
`;
