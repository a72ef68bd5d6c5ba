import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readShared } from '../../../helpers/shared.js';
import { fixedClock } from '../../../../src/common/clock.js';
import { expected } from '../../../../src/attestation/verifier.js';
import {
  AMD_ROOTS_PEM,
  createSnpVerifier,
  parseCert,
  pemBlocks,
  TRUSTEE_ALLOWED_VERSIONS,
  vekExtensions,
} from '../../../../src/attestation/snp/index.js';
import { isSignedBy } from '../../../../src/attestation/snp/certs.js';
import {
  FUTURE,
  SNP_SAMPLES,
  sampleCerts,
  sampleEvidence,
  x25519BoundReportData,
  type SnpSample,
} from './samples.js';

const none = expected.notProvided<Uint8Array>();

async function run(s: SnpSample, at: string, extra: Record<string, unknown> = {}, reportData = none) {
  const v = createSnpVerifier({ certs: sampleCerts(s), clock: fixedClock(at), ...extra });
  return v.verify({ evidence: sampleEvidence(s), reportData, initDataHash: none });
}

describe('every SNP sample of MANIFEST at its pinned time', () => {
  for (const s of SNP_SAMPLES) {
    const kind = s.defaultFailures.length === 0 ? 'pass' : 'fail';
    test(`${kind}_${s.name}: ${s.defaultFailures.join(',') || 'valid'}`, async () => {
      const r = await run(s, s.at);
      assert.deepEqual(
        r.failures.map((f) => f.code),
        s.defaultFailures,
        JSON.stringify(r.failures),
      );
      assert.ok(r.failures.every((f) => f.stage === 'validate'));
      assert.equal(r.verdict, s.defaultFailures.length === 0 ? 'valid' : 'invalid');
      assert.equal(r.tcbStatus, 'UpToDate');
      assert.equal(r.verified?.product, s.product);
      const rep = r.report!;
      assert.equal(rep.version, s.version);
      const f = s.facts;
      if (f['policy'] !== undefined) assert.equal(`0x${rep.policy.toString(16)}`, f['policy']);
      if (f['bl'] !== undefined) {
        assert.deepEqual(
          [rep.reportedTcb.bootloader, rep.reportedTcb.tee, rep.reportedTcb.snp, rep.reportedTcb.microcode],
          [f['bl'], f['tee'], f['snp'], f['ucode']],
        );
      }
      if (f['fw'] !== undefined)
        assert.equal(`${rep.currentMajor}.${rep.currentMinor}.${rep.currentBuild}`, f['fw']);
      if (f['vmpl'] !== undefined) assert.equal(rep.vmpl, f['vmpl']);
      if (f['guestSvn'] !== undefined) assert.equal(rep.guestSvn, f['guestSvn']);
      if (f['currentUcode'] !== undefined) assert.equal(rep.currentTcb.microcode, f['currentUcode']);
      if (f['measurement'] !== undefined)
        assert.equal(Buffer.from(rep.measurement).toString('hex'), f['measurement']);
      if (f['mitVector'] !== undefined)
        assert.equal(`0x${rep.currentMitVector!.toString(16)}`, f['mitVector']);
      if (f['platformInfo'] !== undefined)
        assert.equal(`0x${rep.platformInfo.toString(16)}`, f['platformInfo']);
    });

    test(`fail_${s.name}_expired_at_future_time`, async () => {
      const r = await run(s, FUTURE);
      assert.equal(r.verdict, 'invalid');
      assert.equal(r.failures.length, 1);
      assert.equal(r.failures[0]!.code, 'ERR_SNP_CERT_EXPIRED');
      assert.equal(r.failures[0]!.stage, 'verify');
    });
  }

  test('pass_vlek_when_vmpl_1_is_allowed; fail_vlek_now_expired (2025-12-10)', async () => {
    const vlek = SNP_SAMPLES.find((s) => s.name === 'trustee-milan-vlek')!;
    assert.equal((await run(vlek, vlek.at, { allowedVmpls: [1] })).verdict, 'valid');
    const late = await run(vlek, '2026-01-01T00:00:00Z', { allowedVmpls: [1] });
    assert.equal(late.failures[0]!.code, 'ERR_SNP_CERT_EXPIRED');
  });

  test('pass_x25519_bound: REPORT_DATA = SHA-512(nonce ‖ key) with VMPL 1 allowed', async () => {
    const s = SNP_SAMPLES.find((x) => x.name === 'teekit-gcp-x25519-bound')!;
    const ok = await run(s, s.at, { allowedVmpls: [1] }, expected.value(x25519BoundReportData()));
    assert.equal(ok.verdict, 'valid', JSON.stringify(ok.failures));
    const bad = await run(s, s.at, { allowedVmpls: [1] }, expected.value(new Uint8Array(64)));
    assert.deepEqual(
      bad.failures.map((f) => [f.code, f.stage]),
      [['ERR_SNP_REPORT_DATA_MISMATCH', 'validate']],
    );
  });

  test('pass_gosev_with_debug_allowed; fail_v2_under_trustee_versions', async () => {
    const g = SNP_SAMPLES.find((s) => s.name === 'gosev-milan')!;
    assert.equal((await run(g, g.at, { allowDebug: true })).verdict, 'valid');
    const v2 = SNP_SAMPLES.find((s) => s.name === 'virtee-milan')!;
    const r = await run(v2, v2.at, { allowedVersions: TRUSTEE_ALLOWED_VERSIONS });
    assert.deepEqual(
      r.failures.map((f) => f.code),
      ['ERR_SNP_VERSION_NOT_ALLOWED'],
    );
    const genoa = SNP_SAMPLES.find((s) => s.name === 'trustee-genoa-e2e')!;
    assert.equal(
      (await run(genoa, genoa.at, { allowedVersions: TRUSTEE_ALLOWED_VERSIONS })).verdict,
      'valid',
    );
  });
});

describe('AMD roots and certificates', () => {
  const der = (pem: string): Buffer => Buffer.from(pemBlocks(pem)[0]!);
  for (const p of ['milan', 'genoa', 'turin'] as const) {
    const P = (p[0]!.toUpperCase() + p.slice(1)) as 'Milan' | 'Genoa' | 'Turin';
    test(`pass_embedded_${p}_roots_identical_to_trustee_gosev_virtee_copies`, () => {
      const trustee = pemBlocks(
        readShared('evidence', 'amd', 'trustee', `${p}_ask_ark_asvk.pem`).toString(),
      ).map(Buffer.from);
      const roots = AMD_ROOTS_PEM[P];
      assert.deepEqual([der(roots.ask), der(roots.ark), der(roots.asvk)], trustee);
      const vark = pemBlocks(readShared('evidence', 'amd', 'virtee', `${p}-ark.pem`).toString())[0]!;
      const vask = pemBlocks(readShared('evidence', 'amd', 'virtee', `${p}-ask.pem`).toString())[0]!;
      assert.deepEqual(Buffer.from(vark), der(roots.ark));
      assert.deepEqual(Buffer.from(vask), der(roots.ask));
      const gname = p === 'turin' ? 'ask_ark_turin_vcek.pem' : `ask_ark_${p}.pem`;
      const gosev = pemBlocks(readShared('evidence', 'amd', 'gosev', gname).toString()).map(Buffer.from);
      assert.deepEqual(gosev, [der(roots.ask), der(roots.ark)]);
      const ark = parseCert(der(roots.ark));
      assert.ok(isSignedBy(ark, ark.publicKey), 'ARK self-signature');
      assert.ok(isSignedBy(parseCert(der(roots.ask)), ark.publicKey), 'ASK by ARK');
      assert.ok(isSignedBy(parseCert(der(roots.asvk)), ark.publicKey), 'ASVK by ARK');
      assert.equal(ark.subject['CN'], `ARK-${P}`);
    });
  }

  test('pass_turin_vcek: extensions, 8-byte hwID, chain to the pinned Turin ASK/ARK', () => {
    const vcek = parseCert(readShared('evidence', 'snp', 'virtee-turin', 'vcek.der'));
    const ext = vekExtensions(vcek, 8);
    assert.deepEqual(
      { ...ext, hwId: Buffer.from(ext.hwId!).toString('hex') },
      {
        structVersion: 1,
        productName: 'Turin',
        fmcSpl: 0,
        blSpl: 0,
        teeSpl: 0,
        snpSpl: 0,
        ucodeSpl: 9,
        hwId: '1e550a8ee5cf9f4d',
      },
    );
    assert.equal(vcek.serial, 0n);
    const ask = parseCert(pemBlocks(AMD_ROOTS_PEM.Turin.ask)[0]!);
    assert.ok(isSignedBy(vcek, ask.publicKey));
    const chain = pemBlocks(readShared('evidence', 'snp', 'virtee-turin', 'cert_chain.pem').toString());
    assert.deepEqual(Buffer.from(chain[0]!), der(AMD_ROOTS_PEM.Turin.ask));
    assert.deepEqual(vcek.notAfter.toISOString().slice(0, 10), '2031-11-06');
  });

  test('pass_hwid_encodings: raw 64 bytes and DER OCTET STRING both decode (Trustee fixtures)', () => {
    const want = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
    for (const f of ['vcek-hwid-legacy-encoding.der', 'vcek-hwid-new-encoding.der']) {
      const c = parseCert(readShared('evidence', 'snp', 'trustee-milan-vcek', f));
      assert.deepEqual(Buffer.from(vekExtensions(c, 64).hwId!), want, f);
    }
  });

  test('fail_modified_hwid_fixture: its signature no longer verifies (ERR_SNP_CHAIN_INVALID)', async () => {
    const s = SNP_SAMPLES.find((x) => x.name === 'trustee-milan-vcek')!;
    const vcek = readShared('evidence', 'snp', 'trustee-milan-vcek', 'vcek-hwid-new-encoding.der');
    const r = await createSnpVerifier({ certs: { vcek }, clock: fixedClock(s.at) }).verify({
      evidence: sampleEvidence(s),
      reportData: none,
      initDataHash: none,
    });
    assert.equal(r.failures[0]!.code, 'ERR_SNP_CHAIN_INVALID');
  });
});
