/**
 * The default attestation and resource policies (kbs-protocol.md §6.3, §7.1, §7.2, §8) on claims
 * of the real samples: TDX claims from Trustee's own expected claim file (shared/evidence/tdx/
 * trustee) with the DCAP result claims added, SNP claims from our verifier on the Trustee Genoa
 * end-to-end evidence, and sample claims from the sample verifier.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readShared } from '../../helpers/shared.js';
import { throwsCode } from '../../helpers/assert-code.js';
import {
  DEFAULT_ATTESTATION_POLICY,
  DEFAULT_RESOURCE_POLICY,
  attestationInput,
  evaluateAttestationPolicy,
  evaluateResourcePolicy,
  statusOf,
  tierOf,
  type TrustVector,
} from '../../../src/policy/trustee.js';
import {
  AFFIRMING_RESOURCE_POLICY,
  ALLOW_ALL_RESOURCE_POLICY,
  DENY_ALL_RESOURCE_POLICY,
} from '../../../src/policy/default-policies.js';
import { createVerifier, expected, makeSampleEvidence } from '../../../src/attestation/index.js';
import { fixedClock } from '../../../src/common/clock.js';

type Json = Record<string, unknown>;

/** Trustee's TDX claims of quote-v4 + CCEL (a debug guest), plus the DCAP result claims. */
function tdxClaims(): Json {
  const c = JSON.parse(
    readShared('evidence', 'tdx', 'trustee', 'parse-tdx-claims-expected.json').toString('utf8'),
  ) as Json;
  return { ...c, tcb_status: 'UpToDate', collateral_expiration_status: '0', advisory_ids: [] };
}

/** Trustee's OVMF direct-boot event log (kernel + LoadOptions events). */
function ovmfEvents(): unknown[] {
  const j = JSON.parse(
    readShared('evidence', 'eventlog', 'trustee-ccel-ovmf.expected.json').toString('utf8'),
  ) as { uefi_event_logs: unknown[] };
  return j.uefi_event_logs;
}

interface Ev {
  type_name: string;
  details: { device_paths?: string[]; string?: string };
  digests: { digest: string }[];
}

/** Reference values that match a TDX claim set (with an OVMF event log for the kernel). */
function tdxRvs(c: Json): Json {
  const body = (c['quote'] as { body: Json }).body;
  const events = ovmfEvents() as Ev[];
  const kernel = events.find(
    (e) =>
      e.type_name === 'EV_EFI_BOOT_SERVICES_APPLICATION' && e.details.device_paths?.includes('File(kernel)'),
  );
  const params = events.find(
    (e) => e.type_name === 'EV_EVENT_TAG' && e.details.string === 'LOADED_IMAGE::LoadOptions',
  );
  return {
    rtmr_1: [body['rtmr_1']],
    rtmr_2: [body['rtmr_2']],
    mr_td: [body['mr_td']],
    xfam: [body['xfam']],
    tdvfkernel: [kernel!.digests[0].digest],
    tdvfkernelparams: [params!.digests[0].digest],
  };
}

function tdxNonDebug(): Json {
  const c = tdxClaims();
  return {
    ...c,
    td_attributes: { ...(c['td_attributes'] as Json), debug: false },
    uefi_event_logs: ovmfEvents(),
  };
}

async function snpClaims(): Promise<Json> {
  const ev = JSON.parse(
    readShared('evidence', 'snp', 'trustee-genoa-e2e', 'evidence.json').toString('utf8'),
  ) as Json;
  const r = await createVerifier('snp').verify({
    evidence: ev,
    reportData: expected.notProvided(),
    initDataHash: expected.notProvided(),
    clock: fixedClock('2025-06-01T00:00:00Z'),
  });
  assert.equal(r.verdict, 'valid', JSON.stringify(r.failures));
  return r.claims as Json;
}

function snpRvs(c: Json): Json {
  const s = c['snp'] as Json;
  return {
    snp_launch_measurement: [s['measurement']],
    snp_bootloader: [s['reported_tcb_bootloader']],
    snp_microcode: [s['reported_tcb_microcode']],
    snp_snp_svn: [s['reported_tcb_snp']],
    snp_tee_svn: [s['reported_tcb_tee']],
    snp_smt_enabled: [s['platform_smt_enabled']],
    snp_tsme_enabled: [s['platform_tsme_enabled']],
    snp_guest_abi_major: [s['policy_abi_major']],
    snp_guest_abi_minor: [s['policy_abi_minor']],
    snp_single_socket: [s['policy_single_socket']],
    snp_smt_allowed: [s['policy_smt_allowed']],
  };
}

async function sampleClaims(): Promise<Json> {
  const r = await createVerifier('sample').verify({
    evidence: makeSampleEvidence(new Uint8Array(48).fill(7)),
    reportData: expected.value(new Uint8Array(48).fill(7)),
    initDataHash: expected.notProvided(),
  });
  assert.equal(r.verdict, 'valid');
  return r.claims as Json;
}

/** kbs-protocol.md §8 step 6: sample reference values that make the token affirming. */
const SAMPLE_RVS = { launch_digest: ['abcde'], svn: ['1'], major_version: 1, minimum_minor_version: 4 };

function tv(partial: Partial<TrustVector>): TrustVector {
  return {
    instance_identity: 0,
    configuration: 0,
    executables: 0,
    file_system: 0,
    hardware: 0,
    runtime_opaque: 0,
    storage_opaque: 0,
    sourced_data: 0,
    ...partial,
  };
}

interface AttCase {
  readonly name: string;
  readonly tee: string;
  readonly claims: () => Promise<Json> | Json;
  readonly rvs: (c: Json) => Json;
  readonly want: { status: string; tv: Partial<TrustVector> };
}

const ATT_CASES: readonly AttCase[] = [
  {
    name: 'pass_tdx_direct_boot_affirming',
    tee: 'tdx',
    claims: tdxNonDebug,
    rvs: tdxRvs,
    want: { status: 'affirming', tv: { executables: 3, hardware: 2, configuration: 2 } },
  },
  {
    name: 'pass_tdx_real_debug_guest_is_warning',
    tee: 'tdx',
    claims: tdxClaims,
    rvs: tdxRvs,
    want: { status: 'warning', tv: { executables: 4, hardware: 2, configuration: 36 } },
  },
  {
    name: 'pass_tdx_rtmrs_only_scores_4',
    tee: 'tdx',
    claims: () => ({ ...tdxNonDebug(), uefi_event_logs: [] }),
    rvs: tdxRvs,
    want: { status: 'affirming', tv: { executables: 4, hardware: 2, configuration: 2 } },
  },
  {
    name: 'fail_tdx_tcb_out_of_date_is_contraindicated',
    tee: 'tdx',
    claims: () => ({ ...tdxNonDebug(), tcb_status: 'OutOfDate' }),
    rvs: tdxRvs,
    want: { status: 'contraindicated', tv: { executables: 3, hardware: 97, configuration: 2 } },
  },
  {
    name: 'fail_tdx_collateral_expired',
    tee: 'tdx',
    claims: () => ({ ...tdxNonDebug(), collateral_expiration_status: '1' }),
    rvs: tdxRvs,
    want: { status: 'contraindicated', tv: { executables: 3, hardware: 97, configuration: 2 } },
  },
  {
    name: 'fail_tdx_no_reference_values',
    tee: 'tdx',
    claims: tdxNonDebug,
    rvs: () => ({}),
    want: { status: 'contraindicated', tv: { executables: 33, hardware: 97, configuration: 36 } },
  },
  {
    name: 'fail_tdx_wrong_mr_td',
    tee: 'tdx',
    claims: tdxNonDebug,
    rvs: (c) => ({ ...tdxRvs(c), mr_td: ['00'] }),
    want: { status: 'contraindicated', tv: { executables: 3, hardware: 97, configuration: 2 } },
  },
  {
    name: 'pass_snp_genoa_affirming',
    tee: 'snp',
    claims: snpClaims,
    rvs: snpRvs,
    want: { status: 'affirming', tv: { executables: 3, hardware: 2, configuration: 2 } },
  },
  {
    name: 'pass_snp_platform_mismatch_configuration_3',
    tee: 'snp',
    claims: snpClaims,
    rvs: (c) => ({ ...snpRvs(c), snp_smt_enabled: [false] }),
    want: { status: 'affirming', tv: { executables: 3, hardware: 2, configuration: 3 } },
  },
  {
    name: 'fail_snp_wrong_measurement',
    tee: 'snp',
    claims: snpClaims,
    rvs: (c) => ({ ...snpRvs(c), snp_launch_measurement: ['00'] }),
    want: { status: 'warning', tv: { executables: 33, hardware: 2, configuration: 2 } },
  },
  {
    name: 'fail_snp_debug_allowed',
    tee: 'snp',
    claims: async () => {
      const c = await snpClaims();
      return { ...c, snp: { ...(c['snp'] as Json), policy_debug_allowed: true } };
    },
    rvs: snpRvs,
    want: { status: 'warning', tv: { executables: 3, hardware: 2, configuration: 36 } },
  },
  {
    name: 'fail_sample_without_rvs_contraindicated',
    tee: 'sample',
    claims: sampleClaims,
    rvs: () => ({}),
    want: { status: 'contraindicated', tv: { executables: 33, hardware: 97, configuration: 2 } },
  },
  {
    name: 'pass_sample_with_rvs_affirming',
    tee: 'sample',
    claims: sampleClaims,
    rvs: () => SAMPLE_RVS,
    want: { status: 'affirming', tv: { executables: 3, hardware: 2, configuration: 2 } },
  },
  {
    name: 'fail_sample_minor_below_minimum',
    tee: 'sample',
    claims: sampleClaims,
    rvs: () => ({ ...SAMPLE_RVS, minimum_minor_version: 5 }),
    want: { status: 'contraindicated', tv: { executables: 3, hardware: 97, configuration: 2 } },
  },
];

describe('default attestation policy on real claims', () => {
  for (const c of ATT_CASES) {
    test(c.name, async () => {
      const claims = await c.claims();
      const r = evaluateAttestationPolicy({
        policy: DEFAULT_ATTESTATION_POLICY,
        tee: c.tee,
        claims,
        referenceValues: c.rvs(claims),
      });
      assert.deepEqual(r.trustVector, tv(c.want.tv));
      assert.equal(r.status, c.want.status);
      assert.ok(r.rules.length > 0);
      // trace: false (what the KBS asks for) reaches the same appraisal without rule attribution.
      const quick = evaluateAttestationPolicy({
        policy: DEFAULT_ATTESTATION_POLICY,
        tee: c.tee,
        claims,
        referenceValues: c.rvs(claims),
        trace: false,
      });
      assert.deepEqual(quick, { ...r, rules: [] });
    });
  }
});

test('extensions carry validated container images and uids from init-data claims', async () => {
  const claims = {
    ...(await sampleClaims()),
    init_data_claims: {
      agent_policy_claims: {
        containers: [
          {
            OCI: {
              Annotations: { 'io.kubernetes.cri.image-name': 'docker.io/library/busybox:latest' },
              Process: { User: { UID: 0 } },
            },
          },
          { OCI: { Annotations: {}, Process: { User: { UID: 1000 } } } },
        ],
      },
    },
  };
  const r = evaluateAttestationPolicy({
    policy: DEFAULT_ATTESTATION_POLICY,
    tee: 'sample',
    claims,
    referenceValues: SAMPLE_RVS,
  });
  assert.deepEqual(r.extensions, [
    {
      key: -18,
      name: 'ear.trustee.identifiers',
      value: {
        validated: { container_images: ['docker.io/library/busybox:latest'], container_uids: [0, 1000] },
      },
    },
  ]);
});

test('policy input: flat verifier claims are nested under the TEE, report/init data lifted', () => {
  const input = attestationInput('tdx', { 'quote.body.mr_td': 'aa', report_data: 'rr', init_data: 'ii' });
  assert.deepEqual(input, { tdx: { quote: { body: { mr_td: 'aa' } } }, report_data: 'rr', init_data: 'ii' });
});

test('trust tiers and status follow AR4SI (§6.3)', () => {
  assert.deepEqual([0, 1, -1, 2, 31, 32, 95, 96, 127, -128].map(tierOf), [
    'none',
    'none',
    'none',
    'affirming',
    'affirming',
    'warning',
    'warning',
    'contraindicated',
    'contraindicated',
    'contraindicated',
  ]);
  assert.equal(statusOf(tv({})), 'none');
  assert.equal(statusOf(tv({ executables: 3, hardware: 33 })), 'warning');
});

test('a policy without trust_claims yields all zeros and status none', () => {
  const r = evaluateAttestationPolicy({
    policy: 'package policy\nx := 1',
    tee: 'sample',
    claims: {},
    referenceValues: {},
  });
  assert.equal(r.status, 'none');
  assert.deepEqual(r.trustVector, tv({}));
});

test('fail_trust_claim_out_of_int8_range', () => {
  throwsCode(
    () =>
      evaluateAttestationPolicy({
        policy: 'package policy\ntrust_claims := {"hardware": 300}',
        tee: 'sample',
        claims: {},
        referenceValues: {},
      }),
    'ERR_POLICY_RESULT',
  );
});

function token(evidence: Json, status = 'affirming'): Json {
  return { submods: { cpu0: { 'ear.status': status, 'ear.veraison.annotated-evidence': evidence } } };
}

interface ResCase {
  readonly name: string;
  readonly policy: string;
  readonly claims: Json;
  readonly plugin?: string;
  readonly allow: boolean;
}

const RES_CASES: readonly ResCase[] = [
  {
    name: 'pass_default_allows_tdx',
    policy: DEFAULT_RESOURCE_POLICY,
    claims: token({ tdx: {} }),
    allow: true,
  },
  {
    name: 'pass_default_ignores_status',
    policy: DEFAULT_RESOURCE_POLICY,
    claims: token({ snp: {} }, 'contraindicated'),
    allow: true,
  },
  {
    name: 'fail_default_refuses_sample',
    policy: DEFAULT_RESOURCE_POLICY,
    claims: token({ sample: {} }),
    allow: false,
  },
  {
    name: 'fail_default_other_plugin',
    policy: DEFAULT_RESOURCE_POLICY,
    claims: token({ tdx: {} }),
    plugin: 'nebula-ca',
    allow: false,
  },
  { name: 'fail_default_no_evidence', policy: DEFAULT_RESOURCE_POLICY, claims: {}, allow: false },
  {
    name: 'pass_allow_all_sample',
    policy: ALLOW_ALL_RESOURCE_POLICY,
    claims: token({ sample: {} }),
    allow: true,
  },
  { name: 'fail_deny_all', policy: DENY_ALL_RESOURCE_POLICY, claims: token({ tdx: {} }), allow: false },
  { name: 'pass_affirming', policy: AFFIRMING_RESOURCE_POLICY, claims: token({ tdx: {} }), allow: true },
  {
    name: 'fail_affirming_warning',
    policy: AFFIRMING_RESOURCE_POLICY,
    claims: token({ tdx: {} }, 'warning'),
    allow: false,
  },
  {
    name: 'fail_affirming_no_submods',
    policy: AFFIRMING_RESOURCE_POLICY,
    claims: { submods: {} },
    allow: false,
  },
  { name: 'fail_non_boolean_allow', policy: 'package policy\nallow := "yes"', claims: {}, allow: false },
  {
    name: 'pass_custom_policy_reads_resource_path',
    policy: 'package policy\nimport rego.v1\nallow if data["resource-path"] == ["default", "key", "x"]',
    claims: {},
    allow: true,
  },
];

describe('resource policies', () => {
  for (const c of RES_CASES) {
    test(c.name, () => {
      const r = evaluateResourcePolicy({
        policy: c.policy,
        tokenClaims: c.claims,
        resourcePath: 'default/key/x',
        plugin: c.plugin,
      });
      assert.equal(r.allow, c.allow);
      assert.deepEqual(r.rules, []);
    });
  }

  test('pass_trace_lists_the_rule_that_allowed', () => {
    const r = evaluateResourcePolicy({
      policy: DEFAULT_RESOURCE_POLICY,
      tokenClaims: { submods: { cpu0: { 'ear.veraison.annotated-evidence': { tdx: {} } } } },
      resourcePath: 'default/key/x',
      trace: true,
    });
    assert.equal(r.allow, true);
    assert.equal(r.rules.length, 1);
    assert.match(r.rules[0], /^policy\.allow \(resource-policy\.rego:\d+\)$/);
  });

  test('fail_trace_lists_the_default_when_refused', () => {
    const r = evaluateResourcePolicy({
      policy: DEFAULT_RESOURCE_POLICY,
      tokenClaims: { submods: { cpu0: { 'ear.veraison.annotated-evidence': { sample: {} } } } },
      resourcePath: 'default/key/x',
      trace: true,
    });
    assert.equal(r.allow, false);
    assert.deepEqual(
      r.rules.map((x) => x.replace(/:\d+\)$/, ')')),
      ['policy.allow (default, resource-policy.rego)'],
    );
  });
});
