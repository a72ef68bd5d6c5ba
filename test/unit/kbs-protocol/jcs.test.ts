/** RFC 8785 canonical JSON and the runtime-data binding vectors of kbs-protocol.md §3.5. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  canonicalize,
  JCS_MAX_DEPTH,
  primaryRuntimeDigest,
  primaryRuntimeData,
  reportDataFor,
  runtimeDataDigest,
  deviceRuntimeData,
  type EcTeePubKey,
} from '../../../src/kbs-protocol/index.js';
import { throwsCode } from '../../helpers/assert-code.js';

/** The RFC 7517 example EC key (kbs-protocol.md §3.4). */
const RFC7517_KEY: EcTeePubKey = {
  kty: 'EC',
  crv: 'P-256',
  alg: 'ECDH-ES+A256KW',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};
const ZERO_NONCE = Buffer.alloc(32).toString('base64');

describe('canonicalize (RFC 8785)', () => {
  const cases: [string, unknown, string][] = [
    ['pass_as_unit_vector', { b: 1, a: 'test', c: { d: 'e' } }, '{"a":"test","b":1,"c":{"d":"e"}}'],
    ['pass_empty', {}, '{}'],
    ['pass_array_order_kept', [3, 1, 2], '[3,1,2]'],
    ['pass_literals', [null, true, false], '[null,true,false]'],
    // RFC 8785 §3.2.2.3: ECMAScript number serialization.
    [
      'pass_numbers',
      [1e21, 1e-7, 0.000001, -0, 333333333.3333333, 4.5],
      '[1e+21,1e-7,0.000001,0,333333333.3333333,4.5]',
    ],
    // RFC 8785 §3.2.2.2: only the required escapes; no escaped "/" and literal non-ASCII.
    ['pass_string_escapes', ['a/b', '\u20ac', '\n\t"\\', '\u001f'], '["a/b","€","\\n\\t\\"\\\\","\\u001f"]'],
    // RFC 8785 §3.2.3 sorting example: UTF-16 code-unit order.
    [
      'pass_utf16_sort',
      {
        '\u20ac': 'Euro Sign',
        '\r': 'Carriage Return',
        '\ufb33': 'Hebrew Letter Dalet With Dagesh',
        '1': 'One',
        '\ud83d\ude00': 'Emoji: Grinning Face',
        '\u0080': 'Control',
        '\u00f6': 'Latin Small Letter O With Diaeresis',
      },
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    ],
    ['pass_undefined_members_dropped', { a: undefined, b: 1 }, '{"b":1}'],
  ];
  for (const [name, input, want] of cases) test(name, () => assert.equal(canonicalize(input), want));

  const bad: [string, unknown][] = [
    ['fail_nan', [Number.NaN]],
    ['fail_infinity', { a: Infinity }],
    ['fail_lone_high_surrogate', ['\ud800']],
    ['fail_lone_low_surrogate_key', { '\udc00': 1 }],
    ['fail_bigint', [10n]],
    ['fail_function', [() => 1]],
  ];
  for (const [name, input] of bad)
    test(name, () => void throwsCode(() => canonicalize(input), 'ERR_KBS_PROTOCOL_JCS_INVALID'));

  test('fail_too_deep', () => {
    let v: unknown = 1;
    for (let i = 0; i <= JCS_MAX_DEPTH + 1; i++) v = [v];
    throwsCode(() => canonicalize(v), 'ERR_KBS_PROTOCOL_JCS_INVALID');
  });

  test('pass_as_unit_vector_sha384 (Trustee attestation-service lib.rs test value)', () => {
    const h = createHash('sha384')
      .update(canonicalize({ b: 1, a: 'test', c: { d: 'e' } }))
      .digest('hex');
    assert.equal(
      h,
      'e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3',
    );
  });
});

describe('runtime-data binding (kbs-protocol.md §3.5 protocol vector)', () => {
  const digestHex =
    'd4bd1841ef158d7c3904848b81d834cafb2fb888d896151632a2aa5e8c258da20f8ba11735fc30d095f10ed26e055e09';

  test('pass_canonical_text', () => {
    assert.equal(
      canonicalize(primaryRuntimeData(ZERO_NONCE, RFC7517_KEY, '')),
      '{"additional-evidence":"","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","tee-pubkey":{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}',
    );
  });

  test('pass_sha384_digest', () => {
    assert.equal(primaryRuntimeDigest(ZERO_NONCE, RFC7517_KEY, '').toString('hex'), digestHex);
  });

  test('pass_tdx_snp_report_data_zero_padded_to_64', () => {
    for (const tee of ['tdx', 'snp']) {
      const rd = reportDataFor(tee, primaryRuntimeDigest(ZERO_NONCE, RFC7517_KEY, ''));
      assert.equal(rd.length, 64);
      assert.equal(rd.toString('hex'), digestHex + '0'.repeat(32));
    }
  });

  test('pass_sample_report_data_raw', () => {
    const rd = reportDataFor('sample', primaryRuntimeDigest(ZERO_NONCE, RFC7517_KEY, ''));
    assert.equal(rd.toString('base64'), '1L0YQe8VjXw5BISLgdg0yvsvuIjYlhUWMqKqXowljaIPi6EXNfww0JXxDtJuBV4J');
  });

  test('pass_additional_evidence_changes_the_digest', () => {
    assert.notEqual(primaryRuntimeDigest(ZERO_NONCE, RFC7517_KEY, '{}').toString('hex'), digestHex);
  });

  test('pass_device_runtime_data_has_no_additional_member', () => {
    assert.equal(
      canonicalize(deviceRuntimeData(ZERO_NONCE, RFC7517_KEY)),
      canonicalize({ nonce: ZERO_NONCE, 'tee-pubkey': RFC7517_KEY }),
    );
    assert.equal(runtimeDataDigest({}, 'sha512').length, 64);
  });

  test('fail_digest_longer_than_report_data', () => {
    throwsCode(() => reportDataFor('tdx', new Uint8Array(65)), 'ERR_KBS_PROTOCOL_HASH_UNSUPPORTED');
  });
});
