/**
 * Shared fixtures of the TDX tests: real samples from ../shared/evidence (never copied) with the
 * pinned verification times of MANIFEST.md, and small helpers to run the verifier.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixedClock } from '../../../../src/common/clock.js';
import {
  collateralFromDcapQvlJson,
  collateralFromPcsFiles,
  type TdxCollateral,
} from '../../../../src/attestation/tdx/collateral.js';
import { createTdxVerifier, type TdxVerifierOptions } from '../../../../src/attestation/tdx/verifier.js';
import { expected, type VerificationResult } from '../../../../src/attestation/verifier.js';
import { readShared, sharedPath } from '../../../helpers/shared.js';

/** Pinned times of MANIFEST.md / evidence.md §5. */
export const PIN = {
  uptodate: '2025-07-19T10:00:34Z',
  outdated: '2026-03-20T10:41:14Z',
  sprE4: '2023-07-01T01:00:00Z',
  trusteeB: '2025-11-01T00:00:00Z',
  teekit: '2025-09-01T00:00:00Z',
  cos113: '2025-01-01T00:00:00Z',
} as const;

/** Reads a TDX sample as bytes. */
export function tdx(path: string): Uint8Array {
  return new Uint8Array(readShared('evidence', 'tdx', path));
}

/** dcap-qvl collateral.json of a sample directory. */
export function dcapCollateral(dir: 'dcapqvl-uptodate' | 'dcapqvl-outdated'): TdxCollateral {
  return collateralFromDcapQvlJson(readShared('evidence', 'tdx', dir, 'collateral.json').toString('utf8'));
}

/** go-tdx-guest collateral of gotdx-v4-spr-e4 (PCS files, CRLs, issuer chains). */
export function sprE4Collateral(): TdxCollateral {
  const f = (n: string): string => readFileSync(sharedPath('evidence', 'tdx', 'gotdx-v4-spr-e4', n), 'utf8');
  return collateralFromPcsFiles({
    tcbInfo: f('tcbinfo-50806f000000.json'),
    qeIdentity: f('qe-identity.json'),
    tcbInfoIssuerChain: f('tcb-info-issuer-chain.pem'),
    qeIdentityIssuerChain: f('qe-identity-issuer-chain.pem'),
    pckCrlIssuerChain: f('pck-crl-issuer-chain.pem'),
    rootCaCrl: readShared('evidence', 'tdx', 'gotdx-v4-spr-e4', 'root-ca-crl.der'),
    pckCrl: readShared('evidence', 'tdx', 'gotdx-v4-spr-e4', 'pck-crl-platform.der'),
  });
}

/** Trustee's PCS tcbInfo.json / enclaveIdentity.json (no chain, no CRLs). */
export function trusteeCollateral(): TdxCollateral {
  const f = (n: string): string => readFileSync(sharedPath('evidence', 'tdx', 'trustee', n), 'utf8');
  return collateralFromPcsFiles({ tcbInfo: f('tcbInfo.json'), qeIdentity: f('enclaveIdentity.json') });
}

/** The 2025 Intel TCB signing chain (trust-anchor file). */
export function tcbSigningChain2025(): string {
  return readFileSync(sharedPath('evidence', 'intel', 'tcb-signing-chain-2025.pem'), 'utf8');
}

/** Runs the TDX verifier once with nothing expected (validate checks debug and TCB only). */
export async function verifyAt(
  evidence: Uint8Array | Record<string, unknown>,
  at: string,
  opts: Omit<TdxVerifierOptions, 'clock'>,
): Promise<VerificationResult> {
  const v = createTdxVerifier({ ...opts, clock: fixedClock(at) });
  return v.verify({ evidence, reportData: expected.notProvided(), initDataHash: expected.notProvided() });
}

/** Asserts the first failure's code and stage. */
export function assertFailure(r: VerificationResult, code: string, stage: string): void {
  assert.equal(r.verdict, 'invalid', `expected ${code}, verdict valid`);
  const f = r.failures[0];
  assert.ok(f !== undefined, 'no failure reported');
  assert.equal(f.code, code, `expected ${code} got ${f.code}: ${f.message}`);
  assert.equal(f.stage, stage, `${code}: expected stage ${stage}, got ${f.stage}`);
}

/** XORs one byte of a copy. */
export function flip(b: Uint8Array, off: number, mask = 0x01): Uint8Array {
  const c = b.slice();
  c[off] = c[off]! ^ mask;
  return c;
}
