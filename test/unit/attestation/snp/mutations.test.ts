import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readShared } from '../../../helpers/shared.js';
import { fixedClock } from '../../../../src/common/clock.js';
import { expected } from '../../../../src/attestation/verifier.js';
import * as A from '../../../../src/attestation/snp/abi.js';
import { AMD_ROOTS_PEM, createSnpVerifier, pemBlocks } from '../../../../src/attestation/snp/index.js';
import type { EvidenceCerts } from '../../../../src/attestation/snp/trustee-json.js';
import type { SnpVerifierOptions } from '../../../../src/attestation/snp/verifier.js';
import {
  SIM_ASK_SERIAL,
  buildSimCrl,
  buildSimVcekCert,
  generateSimSnpReport,
  simSnpRoots,
  SIM_CHIP_ID,
  SIM_TCB,
} from '../../../../src/attestation/snp/sim.js';

const none = expected.notProvided<Uint8Array>();
const snp = (dir: string, f: string): Buffer => readShared('evidence', 'snp', dir, f);
const pem1 = (p: string): Uint8Array => pemBlocks(p)[0]!;

// The base artifact: trustee-milan-vcek (v2 Milan, VCEK) at a time inside its validity.
const AT = '2024-01-01T00:00:00Z';
const REPORT = (): Buffer => Buffer.from(snp('trustee-milan-vcek', 'report.bin'));
const VCEK = (): Uint8Array => new Uint8Array(snp('trustee-milan-vcek', 'vcek.der'));

async function firstFailure(
  evidence: Uint8Array | Record<string, unknown>,
  certs: EvidenceCerts,
  opts: SnpVerifierOptions = {},
  at = AT,
): Promise<[string, string] | undefined> {
  const r = await createSnpVerifier({ certs, clock: fixedClock(at), ...opts }).verify({
    evidence,
    reportData: none,
    initDataHash: none,
  });
  const f = r.failures[0];
  return f === undefined ? undefined : [f.code, f.stage];
}

function flip(b: Buffer, offset: number, mask = 0x01): Buffer {
  b[offset] = b[offset]! ^ mask;
  return b;
}

describe('report byte mutations (one byte at a named offset)', () => {
  const cases: { name: string; offset: number; mask?: number; code: string; stage?: string }[] = [
    { name: 'fail_family_id_byte_42 (Trustee test)', offset: 42, code: 'ERR_SNP_SIGNATURE_INVALID' },
    { name: 'fail_byte_21_bit_7 (virtee test)', offset: 21, mask: 0x80, code: 'ERR_SNP_SIGNATURE_INVALID' },
    { name: 'fail_guest_svn', offset: A.GUEST_SVN.start, code: 'ERR_SNP_SIGNATURE_INVALID' },
    { name: 'fail_report_data', offset: A.REPORT_DATA.start + 3, code: 'ERR_SNP_SIGNATURE_INVALID' },
    { name: 'fail_measurement', offset: A.MEASUREMENT.end - 1, code: 'ERR_SNP_SIGNATURE_INVALID' },
    { name: 'fail_host_data', offset: A.HOST_DATA.start, code: 'ERR_SNP_SIGNATURE_INVALID' },
    { name: 'fail_vmpl', offset: A.VMPL.start, code: 'ERR_SNP_SIGNATURE_INVALID' },
    { name: 'fail_current_tcb', offset: A.CURRENT_TCB.start, code: 'ERR_SNP_SIGNATURE_INVALID' },
    {
      name: 'fail_reported_tcb_bootloader_0x180 (Trustee test)',
      offset: A.REPORTED_TCB.start,
      code: 'ERR_SNP_VEK_TCB_MISMATCH',
    },
    {
      name: 'fail_reported_tcb_snp_0x186',
      offset: A.REPORTED_TCB.start + 6,
      code: 'ERR_SNP_VEK_TCB_MISMATCH',
    },
    {
      name: 'fail_reported_tcb_ucode_0x187',
      offset: A.REPORTED_TCB.start + 7,
      code: 'ERR_SNP_VEK_TCB_MISMATCH',
    },
    { name: 'fail_chip_id', offset: A.CHIP_ID.start + 10, code: 'ERR_SNP_VEK_HWID_MISMATCH' },
    { name: 'fail_signature_r', offset: A.SIGNATURE_R.start, code: 'ERR_SNP_SIGNATURE_INVALID' },
    { name: 'fail_signature_s', offset: A.SIGNATURE_S.start + 47, code: 'ERR_SNP_SIGNATURE_INVALID' },
    {
      name: 'fail_signature_r_high_zero_extension',
      offset: A.SIGNATURE_R.start + 60,
      code: 'ERR_SNP_SIGNATURE_INVALID',
    },
    { name: 'fail_key_info_vlek', offset: A.KEY_INFO.start, mask: 0x04, code: 'ERR_SNP_VEK_KIND_MISMATCH' },
    {
      name: 'fail_mbz_reserved_0x208',
      offset: A.RESERVED_208.start,
      code: 'ERR_SNP_REPORT_RESERVED',
      stage: 'parse',
    },
    {
      name: 'fail_sig_algo',
      offset: A.SIGNATURE_ALGO.start,
      mask: 0x02,
      code: 'ERR_SNP_REPORT_SIG_ALGO',
      stage: 'parse',
    },
  ];
  test('pass_unmutated_base', async () => {
    assert.equal(await firstFailure(REPORT(), { vcek: VCEK() }), undefined);
  });
  for (const c of cases) {
    test(c.name, async () => {
      const got = await firstFailure(flip(REPORT(), c.offset, c.mask), { vcek: VCEK() });
      assert.deepEqual(got, [c.code, c.stage ?? 'verify']);
    });
  }
});

describe('certificate mutations (one certificate changed)', () => {
  const genoaVcek = (): Uint8Array => new Uint8Array(snp('trustee-genoa-e2e', 'vcek.der'));
  const gcp = (): Buffer => snp('teekit-gcp', 'sev-gcp.bin');
  const cases: {
    name: string;
    evidence: () => Uint8Array;
    certs: () => EvidenceCerts;
    opts?: SnpVerifierOptions;
    at?: string;
    code: string;
  }[] = [
    {
      name: 'fail_other_chips_vcek_same_tcb (virtee VCEK for the Trustee report)',
      evidence: REPORT,
      certs: () => ({ vcek: new Uint8Array(snp('virtee-milan', 'vcek.der')) }),
      code: 'ERR_SNP_VEK_HWID_MISMATCH',
    },
    {
      name: 'fail_genoa_vcek_for_a_milan_v5_report',
      evidence: gcp,
      certs: () => ({ vcek: genoaVcek() }),
      at: '2026-01-01T00:00:00Z',
      code: 'ERR_SNP_PRODUCT_UNKNOWN',
    },
    {
      name: 'fail_vlek_given_for_a_vcek_report',
      evidence: REPORT,
      certs: () => ({ vlek: new Uint8Array(snp('trustee-milan-vlek', 'vlek.der')) }),
      code: 'ERR_SNP_VEK_KIND_MISMATCH',
    },
    {
      name: 'fail_vcek_file_holds_a_vlek',
      evidence: REPORT,
      certs: () => ({ vcek: new Uint8Array(snp('trustee-milan-vlek', 'vlek.der')) }),
      code: 'ERR_SNP_VEK_KIND_MISMATCH',
    },
    { name: 'fail_no_vcek_offline', evidence: REPORT, certs: () => ({}), code: 'ERR_SNP_CERT_MISSING' },
    {
      name: 'fail_garbage_vcek',
      evidence: REPORT,
      certs: () => ({ vcek: new Uint8Array([0x30, 0x82, 0, 1]) }),
      code: 'ERR_SNP_CERT_INVALID',
    },
    {
      name: 'fail_vcek_signature_byte_flipped',
      evidence: REPORT,
      certs: () => {
        const v = VCEK();
        v[v.length - 5] = v[v.length - 5]! ^ 1;
        return { vcek: v };
      },
      code: 'ERR_SNP_CHAIN_INVALID',
    },
    {
      name: 'fail_supplied_ark_is_not_pinned (Genoa ARK with a Milan chain)',
      evidence: REPORT,
      certs: () => ({ vcek: VCEK(), ark: pem1(AMD_ROOTS_PEM.Genoa.ark) }),
      code: 'ERR_SNP_ROOT_UNTRUSTED',
    },
    {
      name: 'fail_supplied_ask_is_an_asvk',
      evidence: REPORT,
      certs: () => ({ vcek: VCEK(), ask: pem1(AMD_ROOTS_PEM.Milan.asvk) }),
      code: 'ERR_SNP_CHAIN_INVALID',
    },
    {
      name: 'fail_supplied_ask_of_another_product',
      evidence: REPORT,
      certs: () => ({ vcek: VCEK(), ask: pem1(AMD_ROOTS_PEM.Genoa.ask) }),
      code: 'ERR_SNP_CHAIN_INVALID',
    },
    {
      name: 'fail_no_trust_anchor_for_the_product',
      evidence: REPORT,
      certs: () => ({ vcek: VCEK() }),
      opts: { roots: { Genoa: { ark: AMD_ROOTS_PEM.Genoa.ark, ask: AMD_ROOTS_PEM.Genoa.ask } } },
      code: 'ERR_SNP_ROOT_UNTRUSTED',
    },
    {
      name: 'fail_vcek_not_yet_valid',
      evidence: REPORT,
      certs: () => ({ vcek: VCEK() }),
      at: '2020-01-01T00:00:00Z',
      code: 'ERR_SNP_CERT_EXPIRED',
    },
    {
      name: 'fail_amd_report_under_the_test_roots',
      evidence: REPORT,
      certs: () => ({ vcek: VCEK() }),
      opts: { roots: simSnpRoots() },
      code: 'ERR_SNP_CHAIN_INVALID',
    },
  ];
  test('pass_pinned_ark_and_ask_supplied_identically', async () => {
    const certs = { vcek: VCEK(), ark: pem1(AMD_ROOTS_PEM.Milan.ark), ask: pem1(AMD_ROOTS_PEM.Milan.ask) };
    assert.equal(await firstFailure(REPORT(), certs), undefined);
  });
  for (const c of cases) {
    test(c.name, async () => {
      assert.deepEqual(await firstFailure(c.evidence(), c.certs(), c.opts ?? {}, c.at ?? AT), [
        c.code,
        'verify',
      ]);
    });
  }
});

describe('VCEK extension and CRL mutations (simulated hierarchy)', () => {
  const rd = new Uint8Array(64).fill(9);
  const at = '2026-01-01T00:00:00Z';
  const opts = { roots: simSnpRoots() };
  const sim = generateSimSnpReport({ reportData: rd });
  const vcekWith = (
    tcb: Partial<typeof SIM_TCB>,
    extra: { chipId?: Uint8Array; product?: A.SnpProduct } = {},
  ) =>
    buildSimVcekCert({
      product: extra.product ?? 'Milan',
      chipId: extra.chipId ?? SIM_CHIP_ID,
      tcb: { ...SIM_TCB, ...tcb },
    });

  test('pass_sim_base_and_octet_string_hwid', async () => {
    assert.equal(await firstFailure(sim.report, { vcek: sim.certChain.vcek }, opts, at), undefined);
    const v = buildSimVcekCert({
      product: 'Milan',
      chipId: SIM_CHIP_ID,
      tcb: SIM_TCB,
      hwIdEncoding: 'octet-string',
    });
    assert.equal(await firstFailure(sim.report, { vcek: v }, opts, at), undefined);
  });
  const ext: { name: string; vcek: () => Uint8Array; code: string }[] = [
    {
      name: 'fail_blSPL_changed',
      vcek: () => vcekWith({ bootloader: 11 }),
      code: 'ERR_SNP_VEK_TCB_MISMATCH',
    },
    { name: 'fail_teeSPL_changed', vcek: () => vcekWith({ tee: 1 }), code: 'ERR_SNP_VEK_TCB_MISMATCH' },
    { name: 'fail_snpSPL_changed', vcek: () => vcekWith({ snp: 22 }), code: 'ERR_SNP_VEK_TCB_MISMATCH' },
    {
      name: 'fail_ucodeSPL_changed',
      vcek: () => vcekWith({ microcode: 26 }),
      code: 'ERR_SNP_VEK_TCB_MISMATCH',
    },
    {
      name: 'fail_hwID_changed',
      vcek: () => vcekWith({}, { chipId: new Uint8Array(64).fill(1) }),
      code: 'ERR_SNP_VEK_HWID_MISMATCH',
    },
    {
      name: 'fail_productName_turin_for_milan_report',
      vcek: () => vcekWith({}, { product: 'Turin' }),
      code: 'ERR_SNP_PRODUCT_UNKNOWN',
    },
  ];
  for (const c of ext) {
    test(c.name, async () => {
      assert.deepEqual(await firstFailure(sim.report, { vcek: c.vcek() }, opts, at), [c.code, 'verify']);
    });
  }
  test('fail_turin_fmcSPL_changed (Turin layout)', async () => {
    const t = generateSimSnpReport({ reportData: rd, product: 'Turin', tcb: { ...SIM_TCB, fmc: 3 } });
    assert.equal(await firstFailure(t.report, { vcek: t.certChain.vcek }, opts, at), undefined);
    const bad = vcekWith({ fmc: 2 }, { product: 'Turin' });
    assert.deepEqual(await firstFailure(t.report, { vcek: bad }, opts, at), [
      'ERR_SNP_VEK_TCB_MISMATCH',
      'verify',
    ]);
  });

  const t0 = new Date('2025-12-01T00:00:00Z');
  const t1 = new Date('2026-06-01T00:00:00Z');
  test('pass_crl_without_the_ask', async () => {
    const crl = buildSimCrl('Milan', [42n], t0, t1);
    assert.equal(await firstFailure(sim.report, { vcek: sim.certChain.vcek, crl }, opts, at), undefined);
    assert.equal(
      await firstFailure(
        sim.report,
        { vcek: sim.certChain.vcek },
        { ...opts, crls: [crl], requireCrl: true },
        at,
      ),
      undefined,
    );
  });
  const crlCases: { name: string; crl: () => Uint8Array; code: string; at?: string }[] = [
    {
      name: 'fail_crl_revokes_the_ask',
      crl: () => buildSimCrl('Milan', [SIM_ASK_SERIAL], t0, t1),
      code: 'ERR_SNP_CERT_REVOKED',
    },
    {
      name: 'fail_crl_stale',
      crl: () => buildSimCrl('Milan', [], t0, t1),
      at: '2026-07-01T00:00:00Z',
      code: 'ERR_SNP_CRL_INVALID',
    },
    {
      name: 'fail_crl_signature_byte_flipped',
      crl: () => {
        const c = buildSimCrl('Milan', [], t0, t1);
        c[c.length - 3] = c[c.length - 3]! ^ 1;
        return c;
      },
      code: 'ERR_SNP_CRL_INVALID',
    },
    {
      name: 'fail_crl_garbage',
      crl: () => new Uint8Array([0x30, 0x03, 1, 2, 3]),
      code: 'ERR_SNP_CRL_INVALID',
    },
  ];
  for (const c of crlCases) {
    test(c.name, async () => {
      const got = await firstFailure(
        sim.report,
        { vcek: sim.certChain.vcek, crl: c.crl() },
        opts,
        c.at ?? at,
      );
      assert.deepEqual(got, [c.code, 'verify']);
    });
  }
  test('fail_crl_required_but_absent', async () => {
    const got = await firstFailure(
      sim.report,
      { vcek: sim.certChain.vcek },
      { ...opts, requireCrl: true },
      at,
    );
    assert.deepEqual(got, ['ERR_SNP_CRL_INVALID', 'verify']);
  });
  test('pass_crl_of_another_product_is_ignored', async () => {
    const crl = buildSimCrl('Genoa', [SIM_ASK_SERIAL], t0, t1);
    assert.equal(await firstFailure(sim.report, { vcek: sim.certChain.vcek, crl }, opts, at), undefined);
  });
});
