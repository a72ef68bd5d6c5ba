/**
 * Parse step (evidence.md §1.1–§1.4, §1.6): every TDX sample parses and round-trips byte for
 * byte through quoteToBytes; named fields carry the values MANIFEST.md states; structural
 * mutations of a real quote are rejected with the right parse code.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HDR_ATT_KEY_TYPE,
  HDR_QE_VENDOR_ID,
  HDR_TEE_TYPE,
  HDR_VERSION,
  SIG_CERT_DATA,
  SIG_CERT_DATA_SIZE,
  SIG_CERT_DATA_TYPE,
  QE_CD_AUTH_DATA_SIZE,
  V4_SIG_DATA,
  V4_SIG_DATA_LEN,
  V5_BODY_SIZE,
  V5_BODY_TYPE,
  parseQuote,
  quoteToBytes,
} from '../../../../src/attestation/tdx/abi.js';
import { parsePckExtensions } from '../../../../src/attestation/tdx/pck.js';
import { parsePemChain } from '../../../../src/attestation/x509/index.js';
import { throwsCode } from '../../../helpers/assert-code.js';
import { tdx } from './helpers.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const SAMPLES: [string, number, number, number][] = [
  // [file, version, body type, trailing bytes] (MANIFEST.md, evidence.md §1.1, §4)
  ['dcapqvl-uptodate/quote.bin', 4, 2, 70],
  ['dcapqvl-outdated/quote.bin', 5, 3, 0],
  ['gotdx-v5/quote-v5.bin', 5, 3, -1],
  ['gotdx-v4-spr-e4/quote-v4.bin', 4, 2, 39],
  ['gotdx-ccel-cos113/quote-v4.bin', 4, 2, 3065],
  ['trustee/quote-v4.bin', 4, 2, -1],
  ['trustee/quote-v4-b.bin', 4, 2, -1],
  ['trustee/quote-v5.bin', 5, 3, -1],
  ['teekit-gcp/quote-v4.bin', 4, 2, -1],
  ['teekit-azure/quote-v4.bin', 4, 2, -1],
  ['teekit-misc/quote-v4-edgeless.bin', 4, 2, -1],
  ['teekit-misc/quote-v4-moemahhouk.bin', 4, 2, -1],
  ['teekit-misc/quote-v4-zkdcap.bin', 4, 2, -1],
];

describe('parseQuote / quoteToBytes on every sample', () => {
  for (const [file, version, bodyType, trailing] of SAMPLES) {
    test(`pass_roundtrip_${file}`, () => {
      const raw = tdx(file);
      const q = parseQuote(raw);
      assert.equal(q.header.version, version);
      assert.equal(q.bodyType, bodyType);
      assert.equal(q.body.teeTcbSvn2 !== undefined, bodyType === 3);
      if (trailing >= 0) assert.equal(q.trailing.length, trailing);
      assert.deepEqual(Buffer.from(quoteToBytes(q)), Buffer.from(raw));
    });
  }

  test('pass_fields_dcapqvl_uptodate: MRTD, REPORTDATA, TDATTRIBUTES, XFAM, QE ISVSVN', () => {
    const q = parseQuote(tdx('dcapqvl-uptodate/quote.bin'));
    assert.equal(
      hex(q.body.mrTd),
      '91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7',
    );
    assert.ok(hex(q.body.reportData).startsWith('9a9d48e7'));
    assert.ok(hex(q.body.reportData).endsWith('3f20'));
    assert.equal(hex(q.body.tdAttributes), '0000001000000000');
    assert.equal(hex(q.body.xfam), 'e702060000000000');
    assert.equal(hex(q.body.teeTcbSvn).slice(0, 8), '06010300');
    assert.equal(q.signatureData.qeCertData.qeReport.isvSvn, 6);
    assert.equal(q.sigDataLen + V4_SIG_DATA + q.trailing.length, 5006);
  });

  test('pass_fields_gotdx_v5: TEE_TCB_SVN2, MRSERVICETD zero, MRTD', () => {
    const q = parseQuote(tdx('gotdx-v5/quote-v5.bin'));
    assert.equal(hex(q.body.teeTcbSvn).slice(0, 8), '0b010400');
    assert.equal(hex(q.body.teeTcbSvn2!).slice(0, 8), '0d010400');
    assert.equal(hex(q.body.mrServiceTd!), '00'.repeat(48));
    assert.equal(
      hex(q.body.mrTd),
      '7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876',
    );
    assert.equal(q.signatureData.qeCertData.qeReport.isvSvn, 7);
  });

  test('pass_pck_extensions_spr_e4: GOTDX TestPckCertificateExtensions values (§1.6)', () => {
    const q = parseQuote(tdx('gotdx-v4-spr-e4/quote-v4.bin'));
    const leaf = parsePemChain(q.signatureData.qeCertData.pckCertChain)[0]!;
    const e = parsePckExtensions(leaf);
    assert.equal(hex(e.fmspc), '50806f000000');
    assert.equal(hex(e.pceId), '0000');
    assert.equal(e.pceSvn, 11);
    assert.equal(hex(e.cpuSvn), '03030202020100020000000000000000');
    assert.deepEqual(e.tcbComponents.slice(0, 8), [3, 3, 2, 2, 2, 1, 0, 2]);
    assert.equal(hex(e.ppid), '089ddfdb9c0359c82a3bc7719239574e');
    const qe = q.signatureData.qeCertData.qeReport;
    assert.equal(hex(qe.mrSigner), 'dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5');
    assert.equal(qe.isvProdId, 2);
    assert.equal(hex(q.body.tdAttributes), '0000004000000000');
  });

  test('pass_pck_extensions_trustee_b: SGX type 2 (Scalable with Integrity)', () => {
    const q = parseQuote(tdx('trustee/quote-v4-b.bin'));
    const e = parsePckExtensions(parsePemChain(q.signatureData.qeCertData.pckCertChain)[0]!);
    assert.equal(hex(e.fmspc), '00a06d080000');
    assert.equal(e.sgxType, 2);
    assert.equal(hex(q.body.mrConfigId).slice(0, 8), '889abf47');
  });
});

describe('structural mutations of a real v4 quote (stage parse)', () => {
  const v4 = tdx('dcapqvl-uptodate/quote.bin');
  const v5 = tdx('dcapqvl-outdated/quote.bin');
  const u16 = (b: Uint8Array, o: number, v: number): Uint8Array => {
    const c = b.slice();
    Buffer.from(c.buffer).writeUInt16LE(v, o);
    return c;
  };
  const u32 = (b: Uint8Array, o: number, v: number): Uint8Array => {
    const c = b.slice();
    Buffer.from(c.buffer).writeUInt32LE(v >>> 0, o);
    return c;
  };
  const sd = V4_SIG_DATA;
  const authSizeOff = sd + SIG_CERT_DATA + QE_CD_AUTH_DATA_SIZE;
  const cases: [string, Uint8Array, string][] = [
    ['fail_version_3', u16(v4, HDR_VERSION, 3), 'ERR_TDX_QUOTE_VERSION'],
    ['fail_att_key_type_3', u16(v4, HDR_ATT_KEY_TYPE, 3), 'ERR_TDX_QUOTE_ATT_KEY_TYPE'],
    ['fail_tee_type_sgx', u32(v4, HDR_TEE_TYPE, 0), 'ERR_TDX_QUOTE_TEE_TYPE'],
    [
      'fail_qe_vendor',
      (() => {
        const c = v4.slice();
        c[HDR_QE_VENDOR_ID] ^= 1;
        return c;
      })(),
      'ERR_TDX_QUOTE_QE_VENDOR',
    ],
    ['fail_v5_body_type_1', u16(v5, V5_BODY_TYPE, 1), 'ERR_TDX_QUOTE_BODY_TYPE'],
    ['fail_v5_body_size_mismatch', u32(v5, V5_BODY_SIZE, 584), 'ERR_TDX_QUOTE_BODY_TYPE'],
    ['fail_sig_data_len_huge', u32(v4, V4_SIG_DATA_LEN, 0xffffffff), 'ERR_TDX_QUOTE_TRUNCATED'],
    ['fail_sig_data_len_past_end', u32(v4, V4_SIG_DATA_LEN, 5006), 'ERR_TDX_QUOTE_TRUNCATED'],
    ['fail_sig_data_len_off_by_one', u32(v4, V4_SIG_DATA_LEN, 4301), 'ERR_TDX_QUOTE_CERT_DATA'],
    ['fail_cert_data_type_5', u16(v4, sd + SIG_CERT_DATA_TYPE, 5), 'ERR_TDX_QUOTE_CERT_DATA'],
    ['fail_cert_data_size', u32(v4, sd + SIG_CERT_DATA_SIZE, 100), 'ERR_TDX_QUOTE_CERT_DATA'],
    ['fail_qe_auth_size_hostile', u16(v4, authSizeOff, 0xffff), 'ERR_TDX_QUOTE_QE_AUTH_DATA'],
    ['fail_qe_auth_size_shifted', u16(v4, authSizeOff, 33), 'ERR_TDX_QUOTE_CERT_DATA'],
    ['fail_truncated_header', v4.slice(0, 47), 'ERR_TDX_QUOTE_TRUNCATED'],
    ['fail_truncated_body', v4.slice(0, 0x277), 'ERR_TDX_QUOTE_TRUNCATED'],
    ['fail_truncated_sig_data', v4.slice(0, 4000), 'ERR_TDX_QUOTE_TRUNCATED'],
  ];
  for (const [name, input, code] of cases) {
    test(name, () => {
      const e = throwsCode(() => parseQuote(input), code);
      assert.equal(e.details['stage'], 'parse');
    });
  }

  test('pass_sig_data_len_value: the v4 sample carries sig_data_len 4300 (3 NUL-terminated PEMs)', () => {
    const q = parseQuote(v4);
    assert.equal(q.sigDataLen, Buffer.from(v4).readUInt32LE(V4_SIG_DATA_LEN));
    assert.equal(q.signatureData.qeCertData.pckCertChain.at(-1), 0);
  });
});
