/**
 * Reference values of the simulated platforms, as `cocoon up` provisions them into its KBS: the
 * values a pod booted with the default simulated firmware reports, read from the claims of
 * freshly generated simulated evidence (verified with the test roots), under the reference-value
 * ids Trustee's default CPU policy queries (kbs-protocol.md §7.1, §7.4). A pod that boots other
 * firmware measures differently and so is not affirmed.
 */
import { createVerifier, expected } from '../attestation/index.js';
import { CocoonError } from '../common/errors.js';
import { createAttester, type SimTee } from '../kata/sim/attester.js';
import { testRootVerifierOptions } from '../kbs/test-roots.js';

/** RV id → claim path, per TEE (the ids Trustee's default policy reads). */
export const RV_CLAIMS: Readonly<Record<SimTee, Readonly<Record<string, string>>>> = {
  tdx: {
    mr_td: 'quote.body.mr_td',
    rtmr_1: 'quote.body.rtmr_1',
    rtmr_2: 'quote.body.rtmr_2',
    xfam: 'quote.body.xfam',
  },
  snp: {
    snp_launch_measurement: 'measurement',
    snp_bootloader: 'reported_tcb_bootloader',
    snp_microcode: 'reported_tcb_microcode',
    snp_snp_svn: 'reported_tcb_snp',
    snp_tee_svn: 'reported_tcb_tee',
    snp_smt_enabled: 'platform_smt_enabled',
    snp_tsme_enabled: 'platform_tsme_enabled',
    snp_guest_abi_major: 'policy_abi_major',
    snp_guest_abi_minor: 'policy_abi_minor',
    snp_single_socket: 'policy_single_socket',
    snp_smt_allowed: 'policy_smt_allowed',
  },
};

/** Reads a dotted claim path from nested or flattened claims. */
export function claimAt(obj: unknown, dotted: string): unknown {
  if (obj === null || typeof obj !== 'object') return undefined;
  const o = obj as Record<string, unknown>;
  if (dotted in o) return o[dotted];
  for (let j = dotted.indexOf('.'); j >= 0; j = dotted.indexOf('.', j + 1)) {
    const head = dotted.slice(0, j);
    if (head in o) {
      const v = claimAt(o[head], dotted.slice(j + 1));
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

/** The reference values of a simulated `tee` booted with `firmware` (default firmware when absent). */
export async function simReferenceValues(tee: SimTee, firmware?: string): Promise<Record<string, unknown[]>> {
  const attester = createAttester({ tee, ...(firmware === undefined ? {} : { firmware }) });
  const evidence = await attester.evidence(new Uint8Array(64));
  const verifier = createVerifier(tee, testRootVerifierOptions()[tee] ?? {});
  const r = await verifier.verify({
    evidence,
    reportData: expected.notProvided(),
    initDataHash: expected.notProvided(),
  });
  if (r.verdict !== 'valid') {
    throw new CocoonError(
      'ERR_UP_DEMO_FAILED',
      `simulated ${tee} evidence did not verify: ${r.failures.map((f) => f.code).join(', ')}`,
    );
  }
  const claims = (r.claims as Record<string, unknown>)[tee] ?? r.claims;
  const out: Record<string, unknown[]> = {};
  for (const [id, path] of Object.entries(RV_CLAIMS[tee])) {
    const v = claimAt(claims, path);
    if (v !== undefined) out[id] = [v];
  }
  return out;
}
