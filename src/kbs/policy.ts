/**
 * The policy interface the KBS uses, and built-in policies equivalent to Trustee's defaults
 * (kbs-protocol.md §7). Two decisions:
 *   attestation policy: TEE + claims (annotated evidence) + reference values → EAR appraisal
 *     (trust vector, status, extensions), as Trustee's `ear_default_policy_cpu.rego` (§7.1);
 *   resource policy: token claims + {plugin, resource-path, query} → allow/deny, as
 *     `kbs/sample_policies/*.rego` (§7.2).
 * Built-ins are selected by policy text `builtin:<name>`; Rego texts need a Rego engine
 * (src/policy) behind the same interface.
 */
import { CocoonError } from '../common/errors.js';
import {
  statusOf,
  zeroTrustVector,
  type EarStatus,
  type TrustClaim,
  type TrustVector,
} from '../kbs-protocol/index.js';

/** Looks up a reference value by id (Rego built-in `query_reference_value`); undefined when absent. */
export type ReferenceValueQuery = (id: string) => unknown;

/** What an attestation policy returns for one submod. */
export interface Appraisal {
  readonly trustVector: TrustVector;
  readonly status: EarStatus;
  /** Extra submod members (Trustee `extensions`, e.g. ear.trustee.identifiers). */
  readonly extensions: Readonly<Record<string, unknown>>;
}

/** Input of the attestation policy: the annotated evidence document of §7.1. */
export interface AttestationPolicyInput {
  /** Wire TEE name (`sample`, `tdx`, `snp`). */
  readonly tee: string;
  /** `{<tee>: claims, report_data?, runtime_data_claims?, init_data?, init_data_claims?}`. */
  readonly input: Readonly<Record<string, unknown>>;
}

/** Attestation-policy engine. */
export interface AttestationPolicyEngine {
  /** Appraises evidence with the policy stored under `policyId` (e.g. default_cpu). */
  appraise(policyId: string, input: AttestationPolicyInput, rv: ReferenceValueQuery): Promise<Appraisal>;
  /** Stores a policy (text as uploaded); throws ERR_KBS_POLICY_INVALID / _ENGINE_UNAVAILABLE. */
  setPolicy(policyId: string, text: string): Promise<void>;
}

/** Data document of the resource policy (§4.1). */
export interface ResourcePolicyData {
  readonly plugin: string;
  readonly 'resource-path': readonly string[];
  readonly query: Readonly<Record<string, string>>;
}

/** Resource-policy engine. */
export interface ResourcePolicyEngine {
  /** True when `data.policy.allow` is boolean true for these token claims. */
  allow(tokenClaims: Readonly<Record<string, unknown>>, data: ResourcePolicyData): Promise<boolean>;
  /** Replaces the policy (text as uploaded). */
  setPolicy(text: string): Promise<void>;
}

/** Prefix of built-in policy texts. */
export const BUILTIN_PREFIX = 'builtin:';
/** Built-in resource policies (Trustee kbs/sample_policies). */
export const BUILTIN_RESOURCE_POLICIES = ['default', 'allow_all', 'deny_all', 'affirming'] as const;
/** One built-in resource policy. */
export type BuiltinResourcePolicyName = (typeof BUILTIN_RESOURCE_POLICIES)[number];
/** Built-in attestation policies: the CPU default and the gpu-class device default. */
export const BUILTIN_ATTESTATION_POLICIES = ['default', 'default_gpu'] as const;
/** Policy id Trustee evaluates for the primary CPU attester (§5.1). */
export const DEFAULT_CPU_POLICY_ID = 'default_cpu';
/** Policy id Trustee evaluates for secondary devices of TEE class gpu (`default_<class>`, §5.1). */
export const DEFAULT_GPU_POLICY_ID = 'default_gpu';

/** The built-in policy an id starts with: the gpu default for `*_gpu` ids, else the CPU one. */
export function initialBuiltinFor(policyId: string): (typeof BUILTIN_ATTESTATION_POLICIES)[number] {
  return policyId.endsWith('_gpu') ? 'default_gpu' : 'default';
}

/** Parses `builtin:<name>` text; undefined when the text is not a built-in reference. */
export function builtinName(text: string): string | undefined {
  const t = text.trim();
  return t.startsWith(BUILTIN_PREFIX) ? t.slice(BUILTIN_PREFIX.length) : undefined;
}

// Claims from verifiers may be nested or flattened with dotted keys (attestation/claims.ts).
function claim(obj: unknown, dotted: string): unknown {
  if (obj === null || typeof obj !== 'object') return undefined;
  const o = obj as Record<string, unknown>;
  if (dotted in o) return o[dotted];
  const i = dotted.indexOf('.');
  if (i < 0) return undefined;
  // Try every split point: `quote.body.mr_td` may be stored as {quote: {"body.mr_td"}} etc.
  for (let j = i; j >= 0; j = dotted.indexOf('.', j + 1)) {
    const head = dotted.slice(0, j);
    if (head in o) {
      const v = claim(o[head], dotted.slice(j + 1));
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

/** "value is one of the reference values": RV lists use membership, single RVs equality. */
function matches(value: unknown, rv: unknown): boolean {
  if (value === undefined || rv === undefined || rv === null) return false;
  if (Array.isArray(rv)) return rv.some((r) => r === value);
  return rv === value;
}

function appraiseSample(c: unknown, rv: ReferenceValueQuery, tv: Record<TrustClaim, number>): void {
  tv.executables = matches(claim(c, 'launch_digest'), rv('launch_digest')) ? 3 : 33;
  const major = claim(c, 'platform_version.major');
  const minor = claim(c, 'platform_version.minor');
  const minMinor = rv('minimum_minor_version');
  const hwOk =
    matches(claim(c, 'svn'), rv('svn')) &&
    matches(major, rv('major_version')) &&
    typeof minor === 'number' &&
    typeof minMinor === 'number' &&
    minor >= minMinor;
  tv.hardware = hwOk ? 2 : 97;
  tv.configuration = claim(c, 'debug') === false ? 2 : 36;
}

function appraiseSnp(c: unknown, rv: ReferenceValueQuery, tv: Record<TrustClaim, number>): void {
  tv.executables = matches(claim(c, 'measurement'), rv('snp_launch_measurement')) ? 3 : 33;
  const hw =
    matches(claim(c, 'reported_tcb_bootloader'), rv('snp_bootloader')) &&
    matches(claim(c, 'reported_tcb_microcode'), rv('snp_microcode')) &&
    matches(claim(c, 'reported_tcb_snp'), rv('snp_snp_svn')) &&
    matches(claim(c, 'reported_tcb_tee'), rv('snp_tee_svn'));
  tv.hardware = hw ? 2 : 97;
  const locked = isFalse(claim(c, 'policy_debug_allowed')) && isFalse(claim(c, 'policy_migrate_ma'));
  const exact =
    matches(claim(c, 'platform_smt_enabled'), rv('snp_smt_enabled')) &&
    matches(claim(c, 'platform_tsme_enabled'), rv('snp_tsme_enabled')) &&
    matches(claim(c, 'policy_abi_major'), rv('snp_guest_abi_major')) &&
    matches(claim(c, 'policy_abi_minor'), rv('snp_guest_abi_minor')) &&
    matches(claim(c, 'policy_single_socket'), rv('snp_single_socket')) &&
    matches(claim(c, 'policy_smt_allowed'), rv('snp_smt_allowed'));
  tv.configuration = locked && exact ? 2 : locked ? 3 : 36;
}

/** The claim is boolean false (as the Rego policy's `== false`: a 0 or a missing claim is not). */
function isFalse(v: unknown): boolean {
  return v === false;
}

function appraiseTdx(c: unknown, rv: ReferenceValueQuery, tv: Record<TrustClaim, number>): void {
  const rtmrs =
    matches(claim(c, 'quote.body.rtmr_1'), rv('rtmr_1')) &&
    matches(claim(c, 'quote.body.rtmr_2'), rv('rtmr_2'));
  // Direct kernel boot: the event log (uefi_event_logs, replayed against the RTMRs by the
  // verifier) shows the approved kernel and command line → 3; RTMRs alone (GRUB/GKE) → 4.
  const events = claim(c, 'uefi_event_logs');
  const digestMatches = (e: Record<string, unknown>, id: string): boolean =>
    Array.isArray(e['digests']) &&
    (e['digests'] as unknown[]).some(
      (d) => d !== null && typeof d === 'object' && matches((d as Record<string, unknown>)['digest'], rv(id)),
    );
  const logged = (want: (e: Record<string, unknown>) => boolean, id: string): boolean =>
    Array.isArray(events) &&
    events.some(
      (e) =>
        e !== null &&
        typeof e === 'object' &&
        want(e as Record<string, unknown>) &&
        digestMatches(e as Record<string, unknown>, id),
    );
  const details = (e: Record<string, unknown>): Record<string, unknown> =>
    e['details'] !== null && typeof e['details'] === 'object'
      ? (e['details'] as Record<string, unknown>)
      : {};
  const kernel = logged(
    (e) =>
      e['type_name'] === 'EV_EFI_BOOT_SERVICES_APPLICATION' &&
      Array.isArray(details(e)['device_paths']) &&
      (details(e)['device_paths'] as unknown[]).includes('File(kernel)'),
    'tdvfkernel',
  );
  const params = logged(
    (e) => e['type_name'] === 'EV_EVENT_TAG' && details(e)['string'] === 'LOADED_IMAGE::LoadOptions',
    'tdvfkernelparams',
  );
  tv.executables = rtmrs ? (kernel && params ? 3 : 4) : 33;
  const hw =
    claim(c, 'quote.header.tee_type') === '81000000' &&
    claim(c, 'quote.header.vendor_id') === '939a7233f79c4ca9940a0db3957f0607' &&
    matches(claim(c, 'quote.body.mr_td'), rv('mr_td')) &&
    claim(c, 'tcb_status') === 'UpToDate' &&
    claim(c, 'collateral_expiration_status') === '0';
  tv.hardware = hw ? 2 : 97;
  const cfg = isFalse(claim(c, 'td_attributes.debug')) && matches(claim(c, 'quote.body.xfam'), rv('xfam'));
  tv.configuration = cfg ? 2 : 36;
}

/** Trustee's default CPU appraisal (§7.1), paraphrased. */
export function defaultCpuAppraisal(input: AttestationPolicyInput, rv: ReferenceValueQuery): Appraisal {
  const tv = zeroTrustVector();
  tv.executables = 33;
  tv.hardware = 97;
  tv.configuration = 36;
  const c = input.input[input.tee];
  if (input.tee === 'sample') appraiseSample(c, rv, tv);
  else if (input.tee === 'snp') appraiseSnp(c, rv, tv);
  else if (input.tee === 'tdx') appraiseTdx(c, rv, tv);
  return { trustVector: tv, status: statusOf(tv), extensions: {} };
}

function policyInvalid(message: string): CocoonError {
  return new CocoonError('ERR_KBS_POLICY_INVALID', message);
}

function noRego(): CocoonError {
  return new CocoonError(
    'ERR_KBS_POLICY_ENGINE_UNAVAILABLE',
    `this KBS has no Rego engine; upload one of ${BUILTIN_PREFIX}<name> instead`,
  );
}

/**
 * Trustee's default gpu-class device appraisal (`ear_default_policy_gpu.rego`, §7.1 "Device
 * policies"): hardware 2 when the sample device's svn is a reference value `device_svn`.
 */
export function defaultGpuAppraisal(input: AttestationPolicyInput, rv: ReferenceValueQuery): Appraisal {
  const tv = zeroTrustVector();
  tv.executables = 33;
  tv.configuration = 36;
  tv.hardware =
    input.tee === 'sampledevice' && matches(claim(input.input[input.tee], 'svn'), rv('device_svn')) ? 2 : 97;
  return { trustVector: tv, status: statusOf(tv), extensions: {} };
}

/** Built-in attestation policies: `*_gpu` ids start with the gpu default, others with the CPU one. */
export class BuiltinAttestationPolicy implements AttestationPolicyEngine {
  private readonly policies = new Map<string, string>();

  appraise(policyId: string, input: AttestationPolicyInput, rv: ReferenceValueQuery): Promise<Appraisal> {
    const name = this.policies.get(policyId) ?? initialBuiltinFor(policyId);
    if (name === 'default') return Promise.resolve(defaultCpuAppraisal(input, rv));
    if (name === 'default_gpu') return Promise.resolve(defaultGpuAppraisal(input, rv));
    return Promise.reject(policyInvalid(`unknown built-in attestation policy ${name}`));
  }

  setPolicy(policyId: string, text: string): Promise<void> {
    const name = builtinName(text);
    if (name === undefined) return Promise.reject(noRego());
    if (!(BUILTIN_ATTESTATION_POLICIES as readonly string[]).includes(name)) {
      return Promise.reject(policyInvalid(`unknown built-in attestation policy ${name}`));
    }
    this.policies.set(policyId, name);
    return Promise.resolve();
  }
}

/** Evaluates one built-in resource policy (§7.2). */
export function evaluateBuiltinResourcePolicy(
  name: BuiltinResourcePolicyName,
  claims: Readonly<Record<string, unknown>>,
  data: ResourcePolicyData,
): boolean {
  switch (name) {
    case 'deny_all':
      return false;
    case 'allow_all':
      return data.plugin === 'resource';
    case 'default': {
      const ae = claim(claims['submods'], 'cpu0');
      const evidence =
        ae !== null && typeof ae === 'object'
          ? (ae as Record<string, unknown>)['ear.veraison.annotated-evidence']
          : undefined;
      if (evidence === null || typeof evidence !== 'object') return false;
      return data.plugin === 'resource' && !('sample' in (evidence as Record<string, unknown>));
    }
    case 'affirming': {
      const submods = claims['submods'];
      if (submods === null || typeof submods !== 'object') return false;
      const all = Object.values(submods as Record<string, unknown>);
      return (
        all.length > 0 &&
        all.every(
          (s) =>
            s !== null &&
            typeof s === 'object' &&
            (s as Record<string, unknown>)['ear.status'] === 'affirming',
        )
      );
    }
  }
}

/** Built-in resource policy engine; starts with Trustee's startup default (default.rego). */
export class BuiltinResourcePolicy implements ResourcePolicyEngine {
  private current: BuiltinResourcePolicyName;

  constructor(initial: BuiltinResourcePolicyName = 'default') {
    this.current = initial;
  }

  /** Name of the policy in force. */
  get name(): BuiltinResourcePolicyName {
    return this.current;
  }

  allow(tokenClaims: Readonly<Record<string, unknown>>, data: ResourcePolicyData): Promise<boolean> {
    return Promise.resolve(evaluateBuiltinResourcePolicy(this.current, tokenClaims, data));
  }

  setPolicy(text: string): Promise<void> {
    const name = builtinName(text);
    if (name === undefined) return Promise.reject(noRego());
    if (!(BUILTIN_RESOURCE_POLICIES as readonly string[]).includes(name)) {
      return Promise.reject(policyInvalid(`unknown built-in resource policy ${name}`));
    }
    this.current = name as BuiltinResourcePolicyName;
    return Promise.resolve();
  }
}

/** The pair of engines a KBS runs with. */
export interface PolicyEngines {
  readonly attestation: AttestationPolicyEngine;
  readonly resource: ResourcePolicyEngine;
}

/** Built-in engines, optionally seeded with policy texts (from --attestation-policy / --resource-policy). */
export async function createBuiltinPolicyEngines(
  opts: { attestationPolicy?: string; resourcePolicy?: string } = {},
): Promise<PolicyEngines> {
  const attestation = new BuiltinAttestationPolicy();
  const resource = new BuiltinResourcePolicy();
  if (opts.attestationPolicy !== undefined)
    await attestation.setPolicy(DEFAULT_CPU_POLICY_ID, opts.attestationPolicy);
  if (opts.resourcePolicy !== undefined) await resource.setPolicy(opts.resourcePolicy);
  return { attestation, resource };
}
