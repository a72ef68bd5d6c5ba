import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { throwsCode } from '../../../helpers/assert-code.js';
import {
  DER_TAG,
  DerReader,
  children,
  contents,
  encoding,
  expectElement,
  intValue,
  integerOf,
  oidOf,
  oidToString,
  readElement,
  stringOf,
  timeOf,
  type DerPolicy,
} from '../../../../src/attestation/x509/der.js';
import * as W from '../../../../src/attestation/x509/der-writer.js';
import { parseCertificate } from '../../../../src/attestation/x509/index.js';
import { parseCert } from '../../../../src/attestation/snp/certs.js';
import { buildSimCaCert } from '../../../../src/attestation/snp/sim.js';
import { simSgxExtension, SIM } from '../../../../src/attestation/tdx/sim.js';
import { SGX_EXTENSION_OID } from '../../../../src/attestation/tdx/pck.js';

// The two policies the verifiers use: X.509/TDX (lenient, caller code, no details) and SNP.
const LENIENT: DerPolicy = { code: 'ERR_X509_CERT_INVALID' };
const STRICT: DerPolicy = {
  code: 'ERR_SNP_CERT_INVALID',
  details: { stage: 'verify' },
  strict: true,
  maxChildren: 10,
};

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** Reads the element at 0 under `p`, returning its [tag, contentStart, end] or the error code. */
function outcome(p: DerPolicy, buf: Uint8Array): string {
  try {
    const e = readElement(p, buf, 0);
    return `ok ${e.tag} ${e.contentStart} ${e.end}`;
  } catch (e) {
    const err = e as { code: string; details: Record<string, unknown> };
    assert.deepEqual(err.details, p.details ?? {}, 'errors carry exactly the policy details');
    return err.code;
  }
}

describe('shared DER reader (x509/der.ts)', () => {
  const long128 = `0481 80${'ab'.repeat(128)}`;
  // name, input, lenient outcome, strict outcome
  const cases: [string, string, string, string][] = [
    ['pass_short_form', '0402aabb', 'ok 4 2 4', 'ok 4 2 4'],
    ['pass_long_form_minimal', long128, 'ok 4 3 131', 'ok 4 3 131'],
    [
      'pass_non_minimal_short_length_lenient_only',
      '048105' + '00'.repeat(5),
      'ok 4 3 8',
      'ERR_SNP_CERT_INVALID',
    ],
    [
      'pass_non_minimal_leading_zero_lenient_only',
      `04820080${'00'.repeat(128)}`,
      'ok 4 4 132',
      'ERR_SNP_CERT_INVALID',
    ],
    ['fail_truncated_header', '04', 'ERR_X509_CERT_INVALID', 'ERR_SNP_CERT_INVALID'],
    ['fail_multi_byte_tag', '1f0100', 'ERR_X509_CERT_INVALID', 'ERR_SNP_CERT_INVALID'],
    ['fail_indefinite_length', '30800000', 'ERR_X509_CERT_INVALID', 'ERR_SNP_CERT_INVALID'],
    ['fail_five_length_octets', '04850000000001ff', 'ERR_X509_CERT_INVALID', 'ERR_SNP_CERT_INVALID'],
    ['fail_truncated_length', '048201', 'ERR_X509_CERT_INVALID', 'ERR_SNP_CERT_INVALID'],
    ['fail_contents_run_past_buffer', '0405aabb', 'ERR_X509_CERT_INVALID', 'ERR_SNP_CERT_INVALID'],
    ['fail_hostile_length', '0484ffffffff00', 'ERR_X509_CERT_INVALID', 'ERR_SNP_CERT_INVALID'],
  ];
  for (const [name, input, lenient, strict] of cases) {
    test(`${name}: lenient ${lenient}, strict ${strict}`, () => {
      assert.equal(outcome(LENIENT, hex(input)), lenient);
      assert.equal(outcome(STRICT, hex(input)), strict);
    });
  }

  test('fail_limit: an element may not run past the caller limit even inside the buffer', () => {
    const buf = hex('3003020101ff');
    assert.equal(readElement(LENIENT, buf, 0).end, 5);
    throwsCode(() => readElement(LENIENT, buf, 0, 'x', 4), 'ERR_X509_CERT_INVALID');
    throwsCode(() => expectElement(LENIENT, buf, 0, DER_TAG.SET), 'ERR_X509_CERT_INVALID');
  });

  test('pass_children_and_fail_max_children: children() stops at the policy bound', () => {
    const ten = W.seq(...Array.from({ length: 10 }, () => W.NULL_ELEMENT));
    const eleven = W.seq(...Array.from({ length: 11 }, () => W.NULL_ELEMENT));
    assert.equal(children(STRICT, readElement(STRICT, ten, 0)).length, 10);
    const e = throwsCode(() => children(STRICT, readElement(STRICT, eleven, 0)), 'ERR_SNP_CERT_INVALID');
    assert.equal(e.details['stage'], 'verify');
    assert.equal(children(LENIENT, readElement(LENIENT, eleven, 0)).length, 11);
  });

  test('fail_child_runs_past_parent: a child is bounded by its parent, not the buffer', () => {
    // SEQUENCE of 3 bytes whose child claims 4, followed by padding inside the buffer.
    const buf = hex('3003 0404aabb cc dd');
    throwsCode(() => children(LENIENT, readElement(LENIENT, buf, 0)), 'ERR_X509_CERT_INVALID');
  });

  test('pass_reader_class: DerReader takes a code or a policy and is itself a policy', () => {
    const buf = W.seq(W.int(300), W.oid('2.5.29.20'));
    const r = new DerReader(buf, 'ERR_X509_CRL_INVALID');
    const top = r.expect(0, DER_TAG.SEQUENCE);
    const [i, o] = r.children(top);
    assert.equal(intValue(r, i!), 300);
    assert.equal(oidOf(r, o!), '2.5.29.20');
    assert.deepEqual(encoding(top), buf);
    const e = throwsCode(() => r.fail('boom'), 'ERR_X509_CRL_INVALID');
    assert.deepEqual(e.details, {});
    const s = new DerReader(hex('048105' + '00'.repeat(5)), STRICT);
    throwsCode(() => s.node(0), 'ERR_SNP_CERT_INVALID');
  });
});

describe('shared DER value decoders', () => {
  const oids = [
    '1.2.840.113741.1.13.1.2.17',
    '2.16.840.1.101.3.4.2.2',
    '1.3.6.1.4.1.3704.1.3.1',
    '2.999.1',
    '0.9',
  ];
  for (const o of oids) {
    test(`pass_oid_round_trip_${o}`, () => {
      const e = readElement(STRICT, W.oid(o), 0);
      assert.equal(oidOf(STRICT, e), o);
      assert.equal(oidToString(contents(e)), o);
    });
  }

  const badOids: [string, string, string][] = [
    ['fail_oid_empty', '', ''],
    ['fail_oid_truncated_last_arc', '2a86', '1.2'],
    ['fail_oid_unterminated_first_arc', '8181', '2.49'],
    ['fail_oid_over_64_bytes', '2a' + '01'.repeat(64), `1.2${'.1'.repeat(64)}`],
    ['fail_oid_arc_too_large', '2a' + 'ff'.repeat(9) + '7f', ''],
  ];
  for (const [name, c, lenient] of badOids) {
    test(`${name}: strict throws, lenient keeps the old best-effort text`, () => {
      const buf = hex(c);
      throwsCode(() => oidToString(buf, STRICT), 'ERR_SNP_CERT_INVALID');
      if (lenient !== '') assert.equal(oidToString(buf), lenient);
      else assert.equal(typeof oidToString(buf), 'string');
      assert.equal(oidToString(buf, LENIENT), oidToString(buf), 'a lenient policy never throws');
    });
  }

  test('fail_oid_wrong_tag', () => {
    throwsCode(() => oidOf(LENIENT, readElement(LENIENT, W.int(1), 0)), 'ERR_X509_CERT_INVALID');
  });

  test('pass_and_fail_integers: intValue (small, non-negative) and integerOf (signed bigint)', () => {
    const at = (b: Uint8Array) => readElement(LENIENT, b, 0);
    assert.equal(intValue(LENIENT, at(W.int(0x80))), 0x80);
    assert.equal(intValue(LENIENT, at(W.int(2 ** 48 - 1))), 2 ** 48 - 1);
    assert.equal(intValue(LENIENT, at(W.int(1, DER_TAG.ENUMERATED))), 1);
    throwsCode(() => intValue(LENIENT, at(hex('0201ff'))), 'ERR_X509_CERT_INVALID');
    throwsCode(() => intValue(LENIENT, at(hex('0200'))), 'ERR_X509_CERT_INVALID');
    throwsCode(() => intValue(LENIENT, at(W.int(2n ** 56n))), 'ERR_X509_CERT_INVALID');
    assert.equal(integerOf(STRICT, at(hex('0201ff'))), -1n);
    assert.equal(integerOf(STRICT, at(W.int(2n ** 70n))), 2n ** 70n);
    throwsCode(() => integerOf(STRICT, at(W.octets(hex('01')))), 'ERR_SNP_CERT_INVALID');
    throwsCode(() => integerOf(STRICT, at(hex('0200'))), 'ERR_SNP_CERT_INVALID');
  });

  test('pass_and_fail_strings', () => {
    for (const tag of [DER_TAG.UTF8_STRING, DER_TAG.IA5_STRING, DER_TAG.PRINTABLE_STRING]) {
      assert.equal(stringOf(STRICT, readElement(STRICT, W.str(tag, 'SEV-VCEK'), 0)), 'SEV-VCEK');
    }
    throwsCode(() => stringOf(STRICT, readElement(STRICT, W.octets(hex('41')), 0)), 'ERR_SNP_CERT_INVALID');
  });

  const times = [
    '1950-01-01T00:00:00Z',
    '2049-12-31T23:59:59Z',
    '2050-01-01T00:00:00Z',
    '1949-12-31T23:59:59Z',
  ];
  for (const t of times) {
    test(`pass_time_round_trip_${t}`, () => {
      const enc = W.time(new Date(t));
      const y = new Date(t).getUTCFullYear();
      assert.equal(enc[0], y >= 1950 && y < 2050 ? DER_TAG.UTC_TIME : DER_TAG.GENERALIZED_TIME);
      assert.equal(timeOf(STRICT, readElement(STRICT, enc, 0)).toISOString(), new Date(t).toISOString());
    });
  }

  const badTimes: [string, number, string][] = [
    ['fail_utc_time_without_seconds', DER_TAG.UTC_TIME, '2601010000Z'],
    ['fail_utc_time_without_z', DER_TAG.UTC_TIME, '260101000000'],
    ['fail_generalized_time_as_utc', DER_TAG.UTC_TIME, '20260101000000Z'],
    ['fail_time_with_wrong_tag', DER_TAG.UTF8_STRING, '260101000000Z'],
  ];
  for (const [name, tag, text] of badTimes) {
    test(name, () => {
      const enc = W.str(tag, text);
      throwsCode(() => timeOf(STRICT, readElement(STRICT, enc, 0)), 'ERR_SNP_CERT_INVALID');
      throwsCode(() => timeOf(LENIENT, readElement(LENIENT, enc, 0)), 'ERR_X509_CERT_INVALID');
    });
  }
});

describe('shared DER writer (x509/der-writer.ts)', () => {
  test('pass_minimal_encodings', () => {
    assert.deepEqual(new Uint8Array(W.int(0)), hex('020100'));
    assert.deepEqual(new Uint8Array(W.int(0x80)), hex('02020080'));
    assert.deepEqual(new Uint8Array(W.bool(true)), hex('0101ff'));
    assert.deepEqual(new Uint8Array(W.bits(hex('aa'))), hex('030200aa'));
    assert.deepEqual(new Uint8Array(W.explicit(3, W.NULL_ELEMENT)), hex('a3020500'));
    assert.deepEqual(new Uint8Array(W.octets(new Uint8Array(256))).subarray(0, 4), hex('04820100'));
    assert.throws(() => W.int(-1), TypeError);
  });

  test('pass_sim_sgx_extension_reads_back: the TDX sim PCK extension under the shared reader', () => {
    const der = simSgxExtension(new Uint8Array(16).fill(1), new Uint8Array(16).fill(2));
    const r = new DerReader(der, 'ERR_TDX_PCK_EXTENSION_INVALID');
    const members = r.children(r.expect(0, DER_TAG.SEQUENCE));
    assert.deepEqual(
      members.map((m) => oidOf(r, r.children(m)[0]!)),
      [1, 2, 3, 4, 5, 6, 7].map((n) => `${SGX_EXTENSION_OID}.${n}`),
    );
    const fmspc = r.children(members[3]!)[1]!;
    assert.equal(Buffer.from(contents(fmspc)).toString('hex'), SIM.fmspc);
    const type = r.children(members[4]!)[1]!;
    assert.equal(type.tag, DER_TAG.ENUMERATED);
  });
});

describe('policies on a real (simulated AMD) certificate', () => {
  const ark = buildSimCaCert('ark', 'Milan');
  // Re-encode the outer SEQUENCE length with one superfluous leading zero octet.
  const top = readElement(LENIENT, ark, 0);
  const len = top.end - top.contentStart;
  const nonMinimal = new Uint8Array(
    Buffer.concat([hex(`3083 00${len.toString(16).padStart(4, '0')}`), contents(top)]),
  );

  test('pass_unmodified_certificate_parses_under_both', () => {
    assert.equal(parseCert(ark).subject['CN'], 'ARK-Milan');
    assert.equal(parseCertificate(ark).subjectCn, 'ARK-Milan');
  });

  test('fail_snp_rejects_non_minimal_length: ERR_SNP_CERT_INVALID at stage verify', () => {
    const e = throwsCode(() => parseCert(nonMinimal), 'ERR_SNP_CERT_INVALID');
    assert.equal(e.details['stage'], 'verify');
  });

  test('pass_x509_keeps_lenient_lengths: the same bytes slice to the same TBS', () => {
    assert.ok(Buffer.from(parseCertificate(nonMinimal).tbs).equals(Buffer.from(parseCertificate(ark).tbs)));
  });
});
