/** JWS helpers and EAR rules (kbs-protocol.md §6): signatures, times, trust-vector tiers. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  b64u,
  decodeJwt,
  jwtTimeFailure,
  signJwt,
  statusOf,
  teePubKeyCandidate,
  tierOf,
  verifyJwtSignature,
  zeroTrustVector,
  signJwtAsync,
  verifyJwtSignatureAsync,
} from '../../../src/kbs-protocol/index.js';
import { rejectsCode, throwsCode } from '../../helpers/assert-code.js';

describe('JWT', () => {
  const ed = generateKeyPairSync('ed25519');
  const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  for (const [name, k] of [
    ['ed25519', ed],
    ['es256', p256],
  ] as const) {
    test(`pass_sign_verify_${name}`, () => {
      const t = signJwt({ exp: 10 }, k.privateKey);
      assert.equal(verifyJwtSignature(t, k.publicKey).payload['exp'], 10);
    });
  }
  test('fail_wrong_key', () =>
    void throwsCode(
      () =>
        verifyJwtSignature(
          signJwt({}, p256.privateKey),
          generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey,
        ),
      'ERR_KBS_PROTOCOL_JWT_INVALID',
    ));
  test('fail_alg_confusion', () =>
    void throwsCode(
      () => verifyJwtSignature(signJwt({}, ed.privateKey), p256.publicKey),
      'ERR_KBS_PROTOCOL_JWT_INVALID',
    ));
  test('fail_alg_none', () => {
    const t = `${b64u('{"alg":"none"}')}.${b64u('{}')}.`;
    throwsCode(() => verifyJwtSignature(t, p256.publicKey), 'ERR_KBS_PROTOCOL_JWT_INVALID');
  });
  test('fail_tampered_payload', () => {
    const [h, , s] = signJwt({ a: 1 }, p256.privateKey).split('.');
    throwsCode(
      () => verifyJwtSignature(`${h}.${b64u('{"a":2}')}.${s}`, p256.publicKey),
      'ERR_KBS_PROTOCOL_JWT_INVALID',
    );
  });
  for (const [name, token] of [
    ['fail_two_parts', 'a.b'],
    ['fail_bad_base64', 'a=.b.c'],
    ['fail_payload_not_object', `${b64u('{}')}.${b64u('1')}.`],
  ] as const) {
    test(name, () => void throwsCode(() => decodeJwt(token), 'ERR_KBS_PROTOCOL_JWT_INVALID'));
  }
  test('fail_rsa_signing_key', () =>
    void throwsCode(
      () => signJwt({}, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
      'ERR_KBS_PROTOCOL_ALG_UNSUPPORTED',
    ));
  test('pass_time_checks', () => {
    const d = decodeJwt(signJwt({ exp: 100, nbf: 50 }, ed.privateKey));
    assert.equal(jwtTimeFailure(d, { nowSeconds: 99 }), undefined);
    assert.equal(jwtTimeFailure(d, { nowSeconds: 101 }), 'expired');
    assert.equal(jwtTimeFailure(d, { nowSeconds: 130, leewaySeconds: 60 }), undefined);
    assert.equal(jwtTimeFailure(d, { nowSeconds: 10 }), 'not-yet-valid');
    assert.equal(jwtTimeFailure(decodeJwt(signJwt({}, ed.privateKey)), { nowSeconds: 1 }), 'missing-exp');
    assert.equal(
      jwtTimeFailure(decodeJwt(signJwt({ exp: '9' }, ed.privateKey)), { nowSeconds: 1 }),
      'missing-exp',
    );
  });
});

describe('EAR', () => {
  const tiers: [number, string][] = [
    [0, 'none'],
    [-1, 'none'],
    [1, 'none'],
    [2, 'affirming'],
    [31, 'affirming'],
    [32, 'warning'],
    [-95, 'warning'],
    [96, 'contraindicated'],
    [-128, 'contraindicated'],
  ];
  for (const [v, want] of tiers) test(`pass_tier_${v}`, () => assert.equal(tierOf(v), want));
  test('pass_status_is_worst_tier', () => {
    const tv = zeroTrustVector();
    assert.equal(statusOf(tv), 'none');
    tv.executables = 3;
    tv.hardware = 2;
    tv.configuration = 2;
    assert.equal(statusOf(tv), 'affirming');
    tv.executables = 33;
    assert.equal(statusOf(tv), 'warning');
    tv.hardware = 97;
    assert.equal(statusOf(tv), 'contraindicated');
  });
  test('pass_tee_pubkey_lookup_order', () => {
    const ear = {
      submods: {
        cpu0: { 'ear.veraison.annotated-evidence': { runtime_data_claims: { 'tee-pubkey': 'ear' } } },
      },
    };
    assert.equal(teePubKeyCandidate(ear), 'ear');
    assert.equal(
      teePubKeyCandidate({ ...ear, customized_claims: { runtime_data: { 'tee-pubkey': 'legacy' } } }),
      'legacy',
    );
    assert.equal(teePubKeyCandidate({ 'tee-pubkey': 'generic' }), 'generic');
    assert.equal(teePubKeyCandidate({}), undefined);
  });
});

describe('JWT off the event loop (signJwtAsync / verifyJwtSignatureAsync)', () => {
  const kinds = [
    ['ES256', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })],
    ['EdDSA', () => generateKeyPairSync('ed25519')],
  ] as const;
  for (const [alg, gen] of kinds) {
    test(`pass_${alg}_async_and_sync_interoperate`, async () => {
      const { privateKey, publicKey } = gen();
      const a = await signJwtAsync({ sub: 'x', exp: 10 }, privateKey, { kid: 'k' });
      const s = signJwt({ sub: 'x', exp: 10 }, privateKey, { kid: 'k' });
      assert.equal(a.split('.').slice(0, 2).join('.'), s.split('.').slice(0, 2).join('.'));
      assert.equal(verifyJwtSignature(a, publicKey).payload['sub'], 'x');
      assert.equal((await verifyJwtSignatureAsync(s, publicKey)).header['alg'], alg);
    });

    test(`fail_${alg}_async_verify_tampered_or_other_key`, async () => {
      const { privateKey, publicKey } = gen();
      const t = await signJwtAsync({ sub: 'x' }, privateKey);
      const [h, p, sig] = t.split('.') as [string, string, string];
      const flipped = Buffer.from(sig, 'base64url');
      flipped[0]! ^= 1;
      await rejectsCode(
        verifyJwtSignatureAsync(`${h}.${p}.${flipped.toString('base64url')}`, publicKey),
        'ERR_KBS_PROTOCOL_JWT_INVALID',
      );
      const other = gen().publicKey;
      await rejectsCode(verifyJwtSignatureAsync(t, other), 'ERR_KBS_PROTOCOL_JWT_INVALID');
      const forged = `${h}.${Buffer.from('{"sub":"admin"}').toString('base64url')}.${sig}`;
      await rejectsCode(verifyJwtSignatureAsync(forged, publicKey), 'ERR_KBS_PROTOCOL_JWT_INVALID');
    });
  }

  test('fail_async_alg_of_token_must_match_key', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const ed = generateKeyPairSync('ed25519');
    const t = await signJwtAsync({ sub: 'x' }, ec.privateKey);
    await rejectsCode(verifyJwtSignatureAsync(t, ed.publicKey), 'ERR_KBS_PROTOCOL_JWT_INVALID');
  });
});
