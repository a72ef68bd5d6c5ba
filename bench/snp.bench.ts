/**
 * SEV-SNP verification throughput on one core (issue 3 "Benchmark"): the full SNP verifier
 * (parse → chain → VEK binding → report signature → validate → claims) on a real Genoa report
 * with a warm verifier, next to raw node:crypto verification of the same signatures in the same
 * run (report ECDSA P-384 + RSA-PSS VCEK←ASK, ASK←ARK, ARK←ARK). Goal: full ≤ 2× raw.
 * Two subjects: the default verifier (chain-signature results memoized, so a warm run does one
 * ECDSA check) and one with memoization off (every RSA-PSS check redone), for an honest ratio.
 */
import { constants, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { measure, report } from './harness.js';
import { sharedDir } from '../src/common/paths.js';
import { fixedClock } from '../src/common/clock.js';
import { expected } from '../src/attestation/verifier.js';
import { createSnpVerifier } from '../src/attestation/snp/verifier.js';
import { AMD_ROOTS_PEM, parseCert, pemBlocks } from '../src/attestation/snp/index.js';
import { p1363FromReport } from '../src/attestation/snp/verify.js';

export default async function (): Promise<void> {
  const dir = join(sharedDir(), 'evidence', 'snp', 'trustee-genoa-e2e');
  const reportBytes = readFileSync(join(dir, 'report.bin'));
  const vcekDer = readFileSync(join(dir, 'vcek.der'));
  const clock = fixedClock('2025-06-01T00:00:00Z');
  const req = {
    evidence: reportBytes,
    reportData: expected.value(reportBytes.subarray(0x50, 0x90)),
    initDataHash: expected.notProvided<Uint8Array>(),
  };

  // Raw baseline: the same four signatures with node:crypto only, keys prepared up front.
  const vcek = parseCert(vcekDer);
  const ask = parseCert(pemBlocks(AMD_ROOTS_PEM.Genoa.ask)[0]!);
  const ark = parseCert(pemBlocks(AMD_ROOTS_PEM.Genoa.ark)[0]!);
  const sig = p1363FromReport(reportBytes.subarray(0x2a0, 0x2e8), reportBytes.subarray(0x2e8, 0x330))!;
  const signed = reportBytes.subarray(0, 0x2a0);
  const pss = (key: typeof ark.publicKey) => ({
    key,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: 48,
  });
  const raw = (): void => {
    const ok =
      verify('sha384', signed, { key: vcek.publicKey, dsaEncoding: 'ieee-p1363' }, sig) &&
      verify('sha384', vcek.tbs, pss(ask.publicKey), vcek.signature) &&
      verify('sha384', ask.tbs, pss(ark.publicKey), ask.signature) &&
      verify('sha384', ark.tbs, pss(ark.publicKey), ark.signature);
    if (!ok) throw new Error('baseline verification failed');
  };
  const rawEcdsa = (): void => {
    if (!verify('sha384', signed, { key: vcek.publicKey, dsaEncoding: 'ieee-p1363' }, sig))
      throw new Error('ecdsa');
  };

  const warm = createSnpVerifier({ clock, certs: { vcek: vcekDer } });
  const noMemo = createSnpVerifier({ clock, certs: { vcek: vcekDer }, memoizeChainSignatures: false });
  const full = (v: typeof warm) => async (): Promise<void> => {
    const r = await v.verify(req);
    if (r.verdict !== 'valid') throw new Error(JSON.stringify(r.failures));
  };

  const opts = { maxOps: 3000, maxMs: 4000, warmup: 30 };
  const baseline = await measure('raw node:crypto (ECDSA + 3x RSA-PSS)', raw, opts);
  const subjectNoMemo = await measure('snp verify, memoization off', full(noMemo), opts);
  report('SNP full verification vs raw signature checks (same 4 signatures)', subjectNoMemo, baseline, 2);
  const baselineEcdsa = await measure('raw node:crypto (report ECDSA only)', rawEcdsa, opts);
  const subjectWarm = await measure('snp verify, warm (chain memoized)', full(warm), opts);
  report('SNP warm verification vs raw report ECDSA', subjectWarm, baselineEcdsa, 2);
  report('SNP warm verification vs raw ECDSA + 3x RSA-PSS', subjectWarm, baseline, 2);
}
