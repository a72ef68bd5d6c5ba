/**
 * The KBS ships Trustee's default CPU appraisal twice: in Rego (src/policy/default-policies.ts,
 * the default engine) and in TypeScript (src/kbs/policy.ts, `policyEngine: 'builtin'`). Two
 * independent implementations of one paraphrase (kbs-protocol.md §7.1) must reach the same trust
 * vector: on the real TDX claims of ../shared/evidence (with its CCEL event log, so the
 * direct-kernel-boot branch is exercised), on a simulated SNP report's claims, on the sample TEE,
 * and on 300 seeded mutations of each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tdxPolicyFixture } from '../../helpers/tdx-policy-fixture.js';
import { defaultCpuAppraisal } from '../../../src/kbs/policy.js';
import { testRootVerifierOptions } from '../../../src/kbs/test-roots.js';
import { simSnpEvidenceProvider } from '../../../src/kbs-client/sim-providers.js';
import { createVerifier, expected } from '../../../src/attestation/index.js';
import {
  DEFAULT_ATTESTATION_POLICY,
  evaluateAttestationPolicy,
  TRUST_CLAIM_NAMES,
} from '../../../src/policy/trustee.js';
import { prng } from '../../helpers/prng.js';
import { mutateMember } from '../../helpers/mutate-json.js';

type Json = Record<string, unknown>;

/**
 * Scalar edits only: the TypeScript engine compares with ===, Rego structurally, so composite
 * replacements would test that difference rather than the policies.
 */
const SCALAR_EDITS = {
  maxDepth: 7,
  descend: 0.7,
  choices: [undefined, null, 'x', 0, 1, true, false, '81000000', 'UpToDate', '0'],
};

function both(tee: string, claims: Json, rvs: Json): [Json, Json] {
  const rego = evaluateAttestationPolicy({
    policy: DEFAULT_ATTESTATION_POLICY,
    tee,
    claims: { [tee]: claims },
    referenceValues: rvs,
    trace: false,
  });
  const regoTv: Json = {};
  for (const [k, wire] of Object.entries(TRUST_CLAIM_NAMES))
    regoTv[wire] = rego.trustVector[k as keyof typeof rego.trustVector];
  const ts = defaultCpuAppraisal({ tee, input: { [tee]: claims } }, (id) =>
    Object.hasOwn(rvs, id) ? rvs[id] : undefined,
  );
  return [regoTv, { ...ts.trustVector }];
}

test('pass_tdx_real_claims_direct_kernel_boot_both_engines', () => {
  const { claims, rvs } = tdxPolicyFixture();
  const [rego, ts] = both('tdx', claims, rvs);
  assert.deepEqual(ts, rego);
  assert.equal(ts['executables'], 3);
  assert.equal(ts['hardware'], 2);
  assert.equal(ts['configuration'], 2);
  // Without the kernel command line reference value: the RTMR-only branch.
  const [rego4, ts4] = both('tdx', claims, { ...rvs, tdvfkernelparams: ['00'] });
  assert.deepEqual(ts4, rego4);
  assert.equal(ts4['executables'], 4);
});

/** Claims of a simulated SNP report as the verifier emits them, and reference values matching them. */
async function snpFixture(): Promise<{ claims: Json; rvs: Json }> {
  const evidence = await simSnpEvidenceProvider().primaryEvidence(new Uint8Array(48), {});
  const r = await createVerifier('snp', testRootVerifierOptions()['snp']).verify({
    evidence: evidence as Json,
    reportData: expected.notProvided(),
    initDataHash: expected.notProvided(),
  });
  assert.equal(r.verdict, 'valid', JSON.stringify(r.failures));
  const c = r.claims['snp'] as Json;
  return {
    claims: c,
    rvs: {
      snp_launch_measurement: [c['measurement']],
      snp_bootloader: [c['reported_tcb_bootloader']],
      snp_microcode: [c['reported_tcb_microcode']],
      snp_snp_svn: [c['reported_tcb_snp']],
      snp_tee_svn: [c['reported_tcb_tee']],
      snp_smt_enabled: [c['platform_smt_enabled']],
      snp_tsme_enabled: [c['platform_tsme_enabled']],
      snp_guest_abi_major: [c['policy_abi_major']],
      snp_guest_abi_minor: [c['policy_abi_minor']],
      snp_single_socket: [c['policy_single_socket']],
      snp_smt_allowed: [c['policy_smt_allowed']],
    },
  };
}

test('pass_mutated_tdx_snp_and_sample_claims_same_trust_vector', async () => {
  const { claims, rvs } = tdxPolicyFixture();
  const snp = await snpFixture();
  const [regoSnp, tsSnp] = both('snp', snp.claims, snp.rvs);
  assert.deepEqual(tsSnp, regoSnp);
  assert.deepEqual([tsSnp['executables'], tsSnp['hardware']], [3, 2]);
  const sample: Json = {
    svn: '1',
    launch_digest: 'abcde',
    platform_version: { major: 1, minor: 4 },
    debug: false,
  };
  const sampleRvs: Json = {
    svn: ['1'],
    launch_digest: ['abcde'],
    major_version: 1,
    minimum_minor_version: 0,
  };
  const outcomes = new Set<string>();
  for (const [tee, c0, r0] of [
    ['tdx', claims, rvs],
    ['sample', sample, sampleRvs],
  ] as const) {
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = prng(seed);
      const c = JSON.parse(JSON.stringify(c0)) as Json;
      const r = JSON.parse(JSON.stringify(r0)) as Json;
      for (let i = 0, n = 1 + Math.floor(rnd() * 3); i < n; i++)
        mutateMember(rnd() < 0.75 ? c : r, rnd, SCALAR_EDITS);
      const [rego, ts] = both(tee, c, r);
      assert.deepEqual(ts, rego, `${tee} seed ${seed}`);
      outcomes.add(`${tee}:${JSON.stringify(ts)}`);
    }
  }
  assert.ok(outcomes.size >= 9, `mutations reached only ${outcomes.size} distinct trust vectors`);
});
