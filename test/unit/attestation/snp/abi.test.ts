import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readShared } from '../../../helpers/shared.js';
import { throwsCode } from '../../../helpers/assert-code.js';
import * as A from '../../../../src/attestation/snp/abi.js';
import {
  parseSnpEvidence,
  reportBytesFromTrusteeJson,
  reportToTrusteeJson,
} from '../../../../src/attestation/snp/trustee-json.js';
import { SNP_SAMPLES, sampleEvidence } from './samples.js';

const genoa = (): Buffer => readShared('evidence', 'snp', 'trustee-genoa-e2e', 'report.bin');

describe('SNP report layout (evidence.md §2.1)', () => {
  test('pass_offsets_match_the_spec_table', () => {
    const want: [A.Field, number, number][] = [
      [A.VERSION, 0x000, 4],
      [A.GUEST_SVN, 0x004, 4],
      [A.POLICY, 0x008, 8],
      [A.FAMILY_ID, 0x010, 16],
      [A.IMAGE_ID, 0x020, 16],
      [A.VMPL, 0x030, 4],
      [A.SIGNATURE_ALGO, 0x034, 4],
      [A.CURRENT_TCB, 0x038, 8],
      [A.PLATFORM_INFO, 0x040, 8],
      [A.KEY_INFO, 0x048, 4],
      [A.RESERVED_04C, 0x04c, 4],
      [A.REPORT_DATA, 0x050, 64],
      [A.MEASUREMENT, 0x090, 48],
      [A.HOST_DATA, 0x0c0, 32],
      [A.ID_KEY_DIGEST, 0x0e0, 48],
      [A.AUTHOR_KEY_DIGEST, 0x110, 48],
      [A.REPORT_ID, 0x140, 32],
      [A.REPORT_ID_MA, 0x160, 32],
      [A.REPORTED_TCB, 0x180, 8],
      [A.CPUID_FAM_ID, 0x188, 1],
      [A.CPUID_MOD_ID, 0x189, 1],
      [A.CPUID_STEP, 0x18a, 1],
      [A.RESERVED_18B, 0x18b, 21],
      [A.CHIP_ID, 0x1a0, 64],
      [A.COMMITTED_TCB, 0x1e0, 8],
      [A.CURRENT_BUILD, 0x1e8, 1],
      [A.CURRENT_MINOR, 0x1e9, 1],
      [A.CURRENT_MAJOR, 0x1ea, 1],
      [A.RESERVED_1EB, 0x1eb, 1],
      [A.COMMITTED_BUILD, 0x1ec, 1],
      [A.COMMITTED_MINOR, 0x1ed, 1],
      [A.COMMITTED_MAJOR, 0x1ee, 1],
      [A.RESERVED_1EF, 0x1ef, 1],
      [A.LAUNCH_TCB, 0x1f0, 8],
      [A.LAUNCH_MIT_VECTOR, 0x1f8, 8],
      [A.CURRENT_MIT_VECTOR, 0x200, 8],
      [A.RESERVED_208, 0x208, 0x98],
      [A.SIGNATURE_R, 0x2a0, 72],
      [A.SIGNATURE_S, 0x2e8, 72],
      [A.SIGNATURE_RESERVED, 0x330, 368],
    ];
    for (const [f, start, size] of want) assert.deepEqual([f.start, f.size], [start, size]);
    assert.equal(A.SIGNATURE_RESERVED.end, A.REPORT_SIZE);
  });

  for (const s of SNP_SAMPLES.filter((x) => x.report.endsWith('.bin'))) {
    test(`pass_round_trip_${s.name}: parse → reportToBytes is byte-identical, JSON form too`, () => {
      const b = sampleEvidence(s);
      const r = A.parseReport(b);
      assert.deepEqual(Buffer.from(A.reportToBytes(r)), b);
      const json = JSON.parse(JSON.stringify(reportToTrusteeJson(r))) as unknown;
      assert.deepEqual(Buffer.from(reportBytesFromTrusteeJson(json)), b);
    });
  }

  test('pass_trustee_json_equals_abi_bytes_and_serializes_back_identically', () => {
    const ev = JSON.parse(readShared('evidence', 'snp', 'trustee-genoa-e2e', 'evidence.json').toString()) as {
      attestation_report: unknown;
    };
    const p = parseSnpEvidence(ev);
    assert.equal(p.format, 'trustee-json');
    assert.deepEqual(Buffer.from(p.reportBytes), genoa());
    assert.deepEqual(
      Buffer.from(p.certs.vcek!),
      readShared('evidence', 'snp', 'trustee-genoa-e2e', 'vcek.der'),
    );
    assert.deepEqual(reportToTrusteeJson(A.parseReport(p.reportBytes)), ev.attestation_report);
  });

  test('pass_policy_platform_keyinfo_decoding', () => {
    const r = A.parseReport(genoa());
    assert.equal(r.product, 'Genoa');
    assert.deepEqual([r.cpuidFamId, r.cpuidModId, r.cpuidStep], [0x19, 0xa0, 0x02]);
    assert.equal(r.policyBits.smtAllowed, true);
    assert.equal(r.policyBits.reserved17, true);
    assert.equal(r.policyBits.debugAllowed, false);
    assert.deepEqual(r.platformInfoBits, {
      smtEnabled: true,
      tsmeEnabled: false,
      eccEnabled: true,
      raplDisabled: false,
      ciphertextHidingEnabled: false,
      aliasCheckComplete: true,
      tioEnabled: false,
    });
    const p = A.decodePolicy(0x3001fn | (1n << 19n) | (1n << 25n));
    assert.deepEqual([p.abiMinor, p.abiMajor, p.debugAllowed, p.pageSwapDisabled], [31, 0, true, true]);
    assert.deepEqual(A.decodeKeyInfo(0x4), {
      authorKeyEnabled: false,
      maskChipKey: false,
      signingKey: 'vlek',
    });
  });

  test('pass_tcb_layouts: Milan/Genoa vs Turin byte order (evidence.md §2.3)', () => {
    const bytes = Uint8Array.from([1, 2, 3, 4, 0, 0, 7, 8]);
    const legacy = A.decodeTcb(bytes, 'legacy');
    assert.deepEqual(
      [legacy.bootloader, legacy.tee, legacy.snp, legacy.microcode, legacy.fmc],
      [1, 2, 7, 8, undefined],
    );
    const turin = A.decodeTcb(Uint8Array.from([1, 2, 3, 4, 0, 0, 0, 8]), 'turin');
    assert.deepEqual([turin.fmc, turin.bootloader, turin.tee, turin.snp, turin.microcode], [1, 2, 3, 4, 8]);
    assert.deepEqual(A.encodeTcb(legacy), bytes);
    assert.equal(A.productFromCpuid(0x1a, 0x02), 'Turin');
    assert.equal(A.productFromCpuid(0x19, 0x11), 'Genoa');
    assert.equal(A.productFromCpuid(0x19, 0x30), undefined);
    // v2 report with a Turin-shaped CHIP_ID (only the first 8 bytes set).
    const chip = new Uint8Array(64);
    chip[0] = 1;
    assert.equal(A.productOf(2, 0, 0, chip), 'Turin');
    assert.equal(A.productOf(2, 0, 0, new Uint8Array(64).fill(1)), undefined);
  });
});

describe('SNP parse failures (each mutates one field of the Genoa sample)', () => {
  const cases: { name: string; mutate: (b: Buffer) => Buffer; code: string }[] = [
    { name: 'fail_truncated', mutate: (b) => b.subarray(0, 0x49f), code: 'ERR_SNP_REPORT_SIZE' },
    {
      name: 'fail_trailing_byte',
      mutate: (b) => Buffer.concat([b, Buffer.from([0])]),
      code: 'ERR_SNP_REPORT_SIZE',
    },
    {
      name: 'fail_version_1',
      mutate: (b) => (b.writeUInt32LE(1, A.VERSION.start), b),
      code: 'ERR_SNP_REPORT_VERSION',
    },
    {
      name: 'fail_version_6',
      mutate: (b) => (b.writeUInt32LE(6, A.VERSION.start), b),
      code: 'ERR_SNP_REPORT_VERSION',
    },
    {
      name: 'fail_signature_algo_2',
      mutate: (b) => (b.writeUInt32LE(2, A.SIGNATURE_ALGO.start), b),
      code: 'ERR_SNP_REPORT_SIG_ALGO',
    },
    {
      name: 'fail_mbz_0x04c',
      mutate: (b) => ((b[A.RESERVED_04C.start] = 1), b),
      code: 'ERR_SNP_REPORT_RESERVED',
    },
    {
      name: 'fail_mbz_0x18b',
      mutate: (b) => ((b[A.RESERVED_18B.start + 5] = 1), b),
      code: 'ERR_SNP_REPORT_RESERVED',
    },
    {
      name: 'fail_mbz_0x1eb',
      mutate: (b) => ((b[A.RESERVED_1EB.start] = 1), b),
      code: 'ERR_SNP_REPORT_RESERVED',
    },
    {
      name: 'fail_mbz_0x1ef',
      mutate: (b) => ((b[A.RESERVED_1EF.start] = 1), b),
      code: 'ERR_SNP_REPORT_RESERVED',
    },
    {
      name: 'fail_mbz_0x208',
      mutate: (b) => ((b[A.RESERVED_208.end - 1] = 1), b),
      code: 'ERR_SNP_REPORT_RESERVED',
    },
    {
      name: 'fail_mit_vector_in_v3',
      mutate: (b) => ((b[A.CURRENT_MIT_VECTOR.start] = 1), b),
      code: 'ERR_SNP_REPORT_RESERVED',
    },
    {
      name: 'fail_policy_bit17_clear',
      mutate: (b) => ((b[A.POLICY.start + 2] = b[A.POLICY.start + 2]! & ~0x02), b),
      code: 'ERR_SNP_REPORT_RESERVED',
    },
    {
      name: 'fail_policy_bit40_set',
      mutate: (b) => ((b[A.POLICY.start + 5] = 1), b),
      code: 'ERR_SNP_REPORT_RESERVED',
    },
    {
      name: 'fail_platform_info_bit6',
      mutate: (b) => ((b[A.PLATFORM_INFO.start] = b[A.PLATFORM_INFO.start]! | 0x40), b),
      code: 'ERR_SNP_REPORT_RESERVED',
    },
    {
      name: 'fail_key_info_unsigned_7',
      mutate: (b) => (b.writeUInt32LE(7 << 2, A.KEY_INFO.start), b),
      code: 'ERR_SNP_REPORT_SIGNING_KEY',
    },
    {
      name: 'fail_key_info_bit5',
      mutate: (b) => (b.writeUInt32LE(1 << 5, A.KEY_INFO.start), b),
      code: 'ERR_SNP_REPORT_RESERVED',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const e = throwsCode(() => A.parseReport(c.mutate(Buffer.from(genoa()))), c.code);
      assert.equal(e.details['stage'], 'parse');
    });
  }

  test('fail_v2_report_with_cpuid_bytes', () => {
    const b = Buffer.from(readShared('evidence', 'snp', 'virtee-milan', 'report.bin'));
    b[A.CPUID_FAM_ID.start] = 0x19;
    throwsCode(() => A.parseReport(b), 'ERR_SNP_REPORT_RESERVED');
  });

  const json = (): Record<string, unknown> =>
    (
      JSON.parse(readShared('evidence', 'snp', 'trustee-genoa-e2e', 'evidence.json').toString()) as {
        attestation_report: Record<string, unknown>;
      }
    ).attestation_report;
  const jsonCases: { name: string; mutate: (o: Record<string, unknown>) => void }[] = [
    { name: 'fail_json_measurement_short', mutate: (o) => (o['measurement'] = [1, 2]) },
    { name: 'fail_json_byte_out_of_range', mutate: (o) => ((o['chip_id'] as number[])[3] = 256) },
    { name: 'fail_json_policy_string', mutate: (o) => (o['policy'] = '196608') },
    { name: 'fail_json_tcb_missing', mutate: (o) => delete o['reported_tcb'] },
    {
      name: 'fail_json_fmc_on_genoa',
      mutate: (o) => ((o['current_tcb'] as Record<string, unknown>)['fmc'] = 1),
    },
    {
      name: 'fail_json_signature_r_short',
      mutate: (o) => ((o['signature'] as Record<string, unknown>)['r'] = [0]),
    },
    { name: 'fail_json_negative_vmpl', mutate: (o) => (o['vmpl'] = -1) },
  ];
  for (const c of jsonCases) {
    test(c.name, () => {
      const o = json();
      c.mutate(o);
      throwsCode(
        () => parseSnpEvidence({ attestation_report: o, cert_chain: null }),
        'ERR_SNP_EVIDENCE_INVALID',
      );
    });
  }

  test('fail_json_evidence_shapes', () => {
    throwsCode(() => parseSnpEvidence(Buffer.from('{"attestation_report": 5}')), 'ERR_SNP_EVIDENCE_INVALID');
    throwsCode(() => parseSnpEvidence(Buffer.from('{not json')), 'ERR_SNP_EVIDENCE_INVALID');
    throwsCode(
      () =>
        parseSnpEvidence({
          attestation_report: json(),
          cert_chain: [
            { cert_type: 'VCEK', data: [1] },
            { cert_type: 'VCEK', data: [2] },
          ],
        }),
      'ERR_SNP_EVIDENCE_INVALID',
    );
    throwsCode(
      () =>
        parseSnpEvidence({ attestation_report: json(), cert_chain: [{ cert_type: 'VCEK', data: ['x'] }] }),
      'ERR_SNP_EVIDENCE_INVALID',
    );
  });
});
