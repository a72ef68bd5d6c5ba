/**
 * TDX verification throughput on one core (issue #3 benchmark): the real dcapqvl-uptodate quote
 * at its pinned time with a warm collateral cache, next to raw node:crypto verification of the
 * same signatures in the same run — quote signature, QE report signature, PCK chain (leaf ← CA,
 * CA ← root) and collateral (TCB info, QE identity, TCB signing cert ← root, root CA CRL, PCK
 * CRL): nine ECDSA P-256 verifications. Goal: full verification ≤ 2× the raw checks.
 * A second series shows the cold-collateral cost (collateral re-parsed and re-verified per call).
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixedClock } from '../src/common/clock.js';
import { sharedDir } from '../src/common/paths.js';
import { parseQuote } from '../src/attestation/tdx/abi.js';
import { collateralFromDcapQvlJson } from '../src/attestation/tdx/collateral.js';
import { createTdxVerifier } from '../src/attestation/tdx/verifier.js';
import { expected } from '../src/attestation/verifier.js';
import { parseCrl, parsePemChain } from '../src/attestation/x509/index.js';
import { measure, report } from './harness.js';

export default async function (): Promise<void> {
  const dir = join(sharedDir(), 'evidence', 'tdx', 'dcapqvl-uptodate');
  const raw = new Uint8Array(readFileSync(join(dir, 'quote.bin')));
  const collateral = collateralFromDcapQvlJson(readFileSync(join(dir, 'collateral.json'), 'utf8'));
  const clock = fixedClock('2025-07-19T10:00:34Z');
  const verifier = createTdxVerifier({ collateral, clock });
  const req = {
    evidence: raw,
    reportData: expected.notProvided<Uint8Array>(),
    initDataHash: expected.notProvided<Uint8Array>(),
  };
  const first = await verifier.verify(req);
  if (first.verdict !== 'valid' || first.tcbStatus !== 'UpToDate')
    throw new Error('bench setup: sample does not verify');

  // Baseline inputs, prepared once: the signed bytes, signatures and keys of all nine checks.
  const q = parseQuote(raw);
  const cd = q.signatureData.qeCertData;
  const [leaf, ca, root] = parsePemChain(cd.pckCertChain.subarray(0, cd.pckCertChain.length - 1)) as [
    ReturnType<typeof parsePemChain>[0],
    ReturnType<typeof parsePemChain>[0],
    ReturnType<typeof parsePemChain>[0],
  ];
  const [tcbSigner] = parsePemChain(collateral.tcbInfoIssuerChain!);
  const rootCrl = parseCrl(collateral.rootCaCrl!);
  const pckCrl = parseCrl(collateral.pckCrl!);
  const x = q.signatureData.attestationKey;
  const ak = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: Buffer.from(x.subarray(0, 32)).toString('base64url'),
      y: Buffer.from(x.subarray(32)).toString('base64url'),
    },
    format: 'jwk',
  });
  const p1363 = (key: KeyObject) => ({ key, dsaEncoding: 'ieee-p1363' as const });
  const signed = raw.subarray(0, q.signedLength);
  const tcbJson = Buffer.from(collateral.tcbInfoJson);
  const qeJson = Buffer.from(collateral.qeIdentityJson);
  const raw9 = (): boolean =>
    verify('sha256', signed, p1363(ak), q.signatureData.signature) &&
    verify('sha256', cd.qeReportRaw, p1363(leaf.publicKey), cd.qeReportSignature) &&
    verify('sha256', leaf.tbs, ca.publicKey, leaf.signature) &&
    verify('sha256', ca.tbs, root.publicKey, ca.signature) &&
    verify('sha256', tcbJson, p1363(tcbSigner!.publicKey), collateral.tcbInfoSignature) &&
    verify('sha256', qeJson, p1363(tcbSigner!.publicKey), collateral.qeIdentitySignature) &&
    verify('sha256', tcbSigner!.tbs, root.publicKey, tcbSigner!.signature) &&
    verify('sha256', rootCrl.tbs, root.publicKey, rootCrl.signature) &&
    verify('sha256', pckCrl.tbs, ca.publicKey, pckCrl.signature);
  if (!raw9()) throw new Error('bench setup: raw baseline does not verify');

  // What a warm verifier redoes for every quote of an already-seen platform: the quote's own
  // signature. Collateral, PCK-chain and QE-report signatures are memoised by their bytes (a
  // platform's QE report and PCK chain are the same in all its quotes); validity windows, CRLs
  // and TCB evaluation still run on every call.
  const raw1 = (): boolean => verify('sha256', signed, p1363(ak), q.signatureData.signature);

  const opts = { maxOps: 4000, maxMs: 8000, warmup: 100 };
  const baseline = await measure('raw node:crypto: 9 ECDSA P-256 verifies', raw9, opts);
  const subject = await measure('TDX full verify (warm collateral cache)', () => verifier.verify(req), opts);
  report('TDX verification vs raw signature checks', subject, baseline, 2);
  const base1 = await measure('raw node:crypto: the quote signature alone', raw1, opts);
  report('TDX verification (warm) vs the one signature it redoes per quote', subject, base1);
  const cold = await measure(
    'TDX full verify (cold collateral per call)',
    () => createTdxVerifier({ collateral: { ...collateral }, clock }).verify(req),
    { maxOps: 1500, maxMs: 8000, warmup: 20 },
  );
  report('TDX verification, collateral re-parsed and re-verified each call', cold, baseline);
}
