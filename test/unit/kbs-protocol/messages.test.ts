/** Wire messages and tee-pubkey JWKs (kbs-protocol.md §3): exact members, typed rejections. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  checkVersion,
  errorVariant,
  parseAttestation,
  parseAttestationResponse,
  parseChallenge,
  parseErrorInformation,
  parseJsonText,
  parseRequest,
  parseTeePubKey,
  selectedHashAlgorithm,
  teePubKeyFromKeyObject,
  toPublicKeyObject,
  b64u,
  fromB64std,
  fromB64u,
  TEE_NAMES,
} from '../../../src/kbs-protocol/index.js';
import { throwsCode } from '../../helpers/assert-code.js';

const ec = teePubKeyFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey);
const rsa = teePubKeyFromKeyObject(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
const p521 = teePubKeyFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).publicKey);

describe('parseTeePubKey', () => {
  test('pass_ec_p256', () => assert.deepEqual(parseTeePubKey(ec), ec));
  test('pass_ec_p521', () => assert.deepEqual(parseTeePubKey(p521), p521));
  test('pass_rsa_oaep_256', () => assert.deepEqual(parseTeePubKey(rsa), rsa));
  test('pass_rsa1_5_when_enabled', () =>
    assert.equal(parseTeePubKey({ ...rsa, alg: 'RSA1_5' }, { allowRsa15: true }).alg, 'RSA1_5'));
  // toPublicKeyObject caches imports by the key's members; a cache must never admit a bad point.
  test('pass_import_cache_same_key', () => {
    const k = parseTeePubKey(ec);
    assert.equal(toPublicKeyObject(k), toPublicKeyObject({ ...k }));
    assert.equal(toPublicKeyObject(k).asymmetricKeyType, 'ec');
  });
  test('fail_off_curve_twice_beside_cached_key', () => {
    parseTeePubKey(ec);
    const bad = { ...ec, y: b64u(Buffer.alloc(32, 9)) };
    for (let i = 0; i < 2; i++) throwsCode(() => parseTeePubKey(bad), 'ERR_KBS_PROTOCOL_JWK_INVALID');
  });
  const cases: [string, unknown, string][] = [
    ['fail_extra_kid', { ...ec, kid: 'a' }, 'ERR_KBS_PROTOCOL_JWK_INVALID'],
    ['fail_extra_use', { ...rsa, use: 'enc' }, 'ERR_KBS_PROTOCOL_JWK_INVALID'],
    ['fail_private_d', { ...ec, d: 'AAAA' }, 'ERR_KBS_PROTOCOL_JWK_INVALID'],
    [
      'fail_missing_alg',
      { kty: 'EC', crv: 'P-256', x: (ec as { x: string }).x, y: (ec as { y: string }).y },
      'ERR_KBS_PROTOCOL_JWK_INVALID',
    ],
    ['fail_ec_wrong_alg', { ...ec, alg: 'ECDH-ES' }, 'ERR_KBS_PROTOCOL_ALG_UNSUPPORTED'],
    ['fail_rsa1_5_default', { ...rsa, alg: 'RSA1_5' }, 'ERR_KBS_PROTOCOL_ALG_UNSUPPORTED'],
    ['fail_rsa_oaep_sha1', { ...rsa, alg: 'RSA-OAEP' }, 'ERR_KBS_PROTOCOL_ALG_UNSUPPORTED'],
    ['fail_curve_p384', { ...ec, crv: 'P-384' }, 'ERR_KBS_PROTOCOL_JWK_INVALID'],
    ['fail_short_coordinate', { ...ec, x: b64u(Buffer.alloc(31, 1)) }, 'ERR_KBS_PROTOCOL_JWK_INVALID'],
    ['fail_padded_coordinate', { ...ec, x: `${(ec as { x: string }).x}=` }, 'ERR_KBS_PROTOCOL_JWK_INVALID'],
    ['fail_off_curve', { ...ec, y: b64u(Buffer.alloc(32, 7)) }, 'ERR_KBS_PROTOCOL_JWK_INVALID'],
    ['fail_rsa_small', { ...rsa, n: b64u(Buffer.alloc(128, 0xff)) }, 'ERR_KBS_PROTOCOL_JWK_INVALID'],
    [
      'fail_rsa_leading_zero',
      {
        ...rsa,
        n: b64u(Buffer.concat([Buffer.alloc(1), Buffer.from((rsa as { n: string }).n, 'base64url')])),
      },
      'ERR_KBS_PROTOCOL_JWK_INVALID',
    ],
    ['fail_kty_oct', { kty: 'oct', k: 'AAAA' }, 'ERR_KBS_PROTOCOL_JWK_INVALID'],
    ['fail_not_object', 'x', 'ERR_KBS_PROTOCOL_JWK_INVALID'],
    ['fail_array', [ec], 'ERR_KBS_PROTOCOL_JWK_INVALID'],
    ['fail_number_member', { ...ec, x: 1 }, 'ERR_KBS_PROTOCOL_JWK_INVALID'],
  ];
  for (const [name, input, code] of cases)
    test(name, () => void throwsCode(() => parseTeePubKey(input), code));
});

describe('Request / Challenge / Attestation', () => {
  test('pass_request', () => {
    const r = parseRequest({
      version: '0.4.0',
      tee: 'tdx',
      'extra-params': { 'supported-hash-algorithms': ['sha384'] },
    });
    assert.equal(r.tee, 'tdx');
    checkVersion(r.version);
  });
  test('pass_every_tee_name', () => {
    for (const tee of TEE_NAMES)
      assert.equal(parseRequest({ version: '0.4.0', tee, 'extra-params': '' }).tee, tee);
  });
  const reqCases: [string, unknown, string][] = [
    [
      'fail_request_missing_extra_params',
      { version: '0.4.0', tee: 'sample' },
      'ERR_KBS_PROTOCOL_INVALID_MESSAGE',
    ],
    [
      'fail_request_version_type',
      { version: 4, tee: 'sample', 'extra-params': '' },
      'ERR_KBS_PROTOCOL_INVALID_MESSAGE',
    ],
    [
      'fail_request_tee_sev_removed',
      { version: '0.4.0', tee: 'sev', 'extra-params': '' },
      'ERR_KBS_PROTOCOL_TEE_UNKNOWN',
    ],
    [
      'fail_request_tee_case',
      { version: '0.4.0', tee: 'TDX', 'extra-params': '' },
      'ERR_KBS_PROTOCOL_TEE_UNKNOWN',
    ],
    ['fail_request_array', [], 'ERR_KBS_PROTOCOL_INVALID_MESSAGE'],
    ['fail_request_null', null, 'ERR_KBS_PROTOCOL_INVALID_MESSAGE'],
  ];
  for (const [name, input, code] of reqCases)
    test(name, () => void throwsCode(() => parseRequest(input), code));
  for (const v of ['0.3.0', '0.4.0-rc1', '0.4', ' 0.4.0', '0.4.1']) {
    test(`fail_version_${v.trim() || 'space'}`, () =>
      void throwsCode(() => checkVersion(v), 'ERR_KBS_PROTOCOL_VERSION_MISMATCH'));
  }

  test('pass_challenge_with_string_extra_params', () => {
    const c = parseChallenge({ nonce: 'abc', 'extra-params': '' });
    assert.equal(selectedHashAlgorithm(c['extra-params']), 'sha384');
    assert.equal(selectedHashAlgorithm({ 'selected-hash-algorithm': 'SHA512' }), 'sha512');
    throwsCode(
      () => selectedHashAlgorithm({ 'selected-hash-algorithm': 'sm3' }),
      'ERR_KBS_PROTOCOL_HASH_UNSUPPORTED',
    );
    throwsCode(() => parseChallenge({ nonce: 1, 'extra-params': '' }), 'ERR_KBS_PROTOCOL_INVALID_MESSAGE');
    throwsCode(() => parseChallenge({ nonce: 'x' }), 'ERR_KBS_PROTOCOL_INVALID_MESSAGE');
  });

  const att = {
    'init-data': { format: 'toml', body: 'x' },
    'runtime-data': { nonce: 'n', 'tee-pubkey': ec },
    'tee-evidence': { primary_evidence: { svn: '1' }, additional_evidence: '' },
  };
  test('pass_attestation', () => assert.deepEqual(parseAttestation(att), att));
  test('pass_attestation_null_init_data', () =>
    assert.equal(parseAttestation({ ...att, 'init-data': null })['init-data'], undefined));
  const attCases: [string, unknown, string][] = [
    [
      'fail_attestation_camel_case_evidence',
      { ...att, 'tee-evidence': { primaryEvidence: {}, additional_evidence: '' } },
      'ERR_KBS_PROTOCOL_INVALID_MESSAGE',
    ],
    [
      'fail_attestation_missing_additional',
      { ...att, 'tee-evidence': { primary_evidence: {} } },
      'ERR_KBS_PROTOCOL_INVALID_MESSAGE',
    ],
    [
      'fail_attestation_additional_not_string',
      { ...att, 'tee-evidence': { primary_evidence: {}, additional_evidence: {} } },
      'ERR_KBS_PROTOCOL_INVALID_MESSAGE',
    ],
    [
      'fail_attestation_snake_case_outer',
      { runtime_data: att['runtime-data'], 'tee-evidence': att['tee-evidence'] },
      'ERR_KBS_PROTOCOL_INVALID_MESSAGE',
    ],
    [
      'fail_attestation_nonce_number',
      { ...att, 'runtime-data': { nonce: 1, 'tee-pubkey': ec } },
      'ERR_KBS_PROTOCOL_INVALID_MESSAGE',
    ],
    [
      'fail_attestation_extra_jwk_member',
      { ...att, 'runtime-data': { nonce: 'n', 'tee-pubkey': { ...ec, kid: '1' } } },
      'ERR_KBS_PROTOCOL_JWK_INVALID',
    ],
    [
      'fail_attestation_init_data_body_type',
      { ...att, 'init-data': { format: 'toml', body: 1 } },
      'ERR_KBS_PROTOCOL_INVALID_MESSAGE',
    ],
  ];
  for (const [name, input, code] of attCases)
    test(name, () => void throwsCode(() => parseAttestation(input), code));

  test('pass_response_and_error_information', () => {
    assert.equal(parseAttestationResponse({ token: 't' }).token, 't');
    throwsCode(() => parseAttestationResponse({ token: 1 }), 'ERR_KBS_PROTOCOL_INVALID_MESSAGE');
    const info = parseErrorInformation({
      type: 'https://github.com/confidential-containers/kbs/errors/PolicyDeny',
      detail: 'no',
    });
    assert.equal(errorVariant(info!), 'PolicyDeny');
    assert.equal(parseErrorInformation({ type: 1 }), undefined);
  });
});

describe('parseJsonText and base64', () => {
  test('fail_invalid_utf8', () =>
    void throwsCode(
      () => parseJsonText(new Uint8Array([0x7b, 0xff, 0x7d]), 'x'),
      'ERR_KBS_PROTOCOL_INVALID_MESSAGE',
    ));
  test('fail_deep_nesting', () =>
    void throwsCode(
      () => parseJsonText('['.repeat(200) + ']'.repeat(200), 'x'),
      'ERR_KBS_PROTOCOL_INVALID_MESSAGE',
    ));
  test('pass_and_fail_base64', () => {
    assert.equal(fromB64u('AQID').toString('hex'), '010203');
    throwsCode(() => fromB64u('AQID='), 'ERR_KBS_PROTOCOL_BASE64_INVALID');
    throwsCode(() => fromB64u('A'), 'ERR_KBS_PROTOCOL_BASE64_INVALID');
    throwsCode(() => fromB64u('AQ+/'), 'ERR_KBS_PROTOCOL_BASE64_INVALID');
    assert.equal(fromB64std('AQI=').toString('hex'), '0102');
    throwsCode(() => fromB64std('AQI'), 'ERR_KBS_PROTOCOL_BASE64_INVALID');
    throwsCode(() => fromB64std('AQJ='), 'ERR_KBS_PROTOCOL_BASE64_INVALID');
  });
});
