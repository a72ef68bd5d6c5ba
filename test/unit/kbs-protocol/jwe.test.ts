/**
 * Flattened JWE (kbs-protocol.md §4.3): RFC 7520 §5.2 and §5.4 published vectors (fixtures/jose),
 * interop with `jose` in both directions, the Rust-client header order, and tampering.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as jose from 'jose';
import { packagePath } from '../../../src/common/paths.js';
import {
  b64u,
  decryptJwe,
  encryptJwe,
  protectedHeaderText,
  teePubKeyFromKeyObject,
  type FlattenedJwe,
  type JweAlg,
  type JweEnc,
} from '../../../src/kbs-protocol/index.js';
import { throwsCode } from '../../helpers/assert-code.js';

interface Vector {
  plaintext: string;
  key: Record<string, string>;
  json_flat: FlattenedJwe;
}
function vector(name: string): Vector {
  return JSON.parse(readFileSync(packagePath('fixtures/jose', name), 'utf8')) as Vector;
}

describe('RFC 7520 §5 vectors', () => {
  const cases: [string, string, JweAlg, JweEnc][] = [
    [
      'pass_rfc7520_5_4_ecdh_es_a128kw_a128gcm',
      'rfc7520-5.4-ecdh-es-a128kw-a128gcm.json',
      'ECDH-ES+A128KW',
      'A128GCM',
    ],
    ['pass_rfc7520_5_2_rsa_oaep_a256gcm', 'rfc7520-5.2-rsa-oaep-a256gcm.json', 'RSA-OAEP', 'A256GCM'],
  ];
  for (const [name, file, alg, enc] of cases) {
    test(name, () => {
      const v = vector(file);
      const key = createPrivateKey({ key: v.key, format: 'jwk' });
      const pt = decryptJwe(v.json_flat, key, { algorithms: [alg], encryptions: [enc] });
      assert.equal(pt.toString('utf8'), v.plaintext);
    });
    test(`${name.replace('pass_', 'fail_')}_not_on_default_allowlist`, () => {
      const v = vector(file);
      throwsCode(
        () => decryptJwe(v.json_flat, createPrivateKey({ key: v.key, format: 'jwk' })),
        'ERR_KBS_PROTOCOL_ALG_UNSUPPORTED',
      );
    });
  }

  test('fail_rfc7520_5_4_tampered_tag', () => {
    const v = vector('rfc7520-5.4-ecdh-es-a128kw-a128gcm.json');
    const tag = Buffer.from(v.json_flat.tag, 'base64url');
    tag[0]! ^= 1;
    throwsCode(
      () =>
        decryptJwe({ ...v.json_flat, tag: b64u(tag) }, createPrivateKey({ key: v.key, format: 'jwk' }), {
          algorithms: ['ECDH-ES+A128KW'],
          encryptions: ['A128GCM'],
        }),
      'ERR_KBS_PROTOCOL_JWE_DECRYPT_FAILED',
    );
  });
});

describe('interop with jose', () => {
  const kinds = [
    ['ec', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }), 'ECDH-ES+A256KW'],
    ['rsa', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), 'RSA-OAEP-256'],
  ] as const;
  for (const [name, gen, alg] of kinds) {
    test(`pass_ours_to_jose_${name}`, async () => {
      const { privateKey, publicKey } = gen();
      const jwe = encryptJwe(Buffer.from('hello kbs'), teePubKeyFromKeyObject(publicKey));
      const out = await jose.flattenedDecrypt(jwe, privateKey, {
        keyManagementAlgorithms: [alg],
        contentEncryptionAlgorithms: ['A256GCM'],
      });
      assert.equal(Buffer.from(out.plaintext).toString(), 'hello kbs');
    });
    test(`pass_jose_to_ours_${name}`, async () => {
      const { privateKey, publicKey } = gen();
      const jwe = await new jose.FlattenedEncrypt(Buffer.from('from jose'))
        .setProtectedHeader({ alg, enc: 'A256GCM' })
        .encrypt(publicKey);
      assert.equal(decryptJwe(jwe, privateKey).toString(), 'from jose');
    });
  }
});

describe('encryptJwe shape', () => {
  test('pass_trustee_members_only', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwe = encryptJwe(Buffer.from('x'), teePubKeyFromKeyObject(publicKey));
    assert.deepEqual(Object.keys(jwe), ['protected', 'encrypted_key', 'iv', 'ciphertext', 'tag']);
    for (const v of Object.values(jwe)) assert.doesNotMatch(v, /[=+/]/);
    assert.equal(Buffer.from(jwe.encrypted_key, 'base64url').length, 40);
  });

  test('pass_rust_header_order: alg, enc, then sorted members, epk sorted', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwe = encryptJwe(Buffer.from('x'), teePubKeyFromKeyObject(publicKey));
    const text = Buffer.from(jwe.protected, 'base64url').toString();
    assert.match(
      text,
      /^\{"alg":"ECDH-ES\+A256KW","enc":"A256GCM","epk":\{"crv":"P-256","kty":"EC","x":"[^"]+","y":"[^"]+"\}\}$/,
    );
    assert.equal(
      protectedHeaderText('RSA-OAEP-256', 'A256GCM', { zz: 1, b: { y: 1, a: 'a/b' } }),
      '{"alg":"RSA-OAEP-256","enc":"A256GCM","b":{"a":"a/b","y":1},"zz":1}',
    );
  });

  test('fail_rsa1_5_needs_opt_in', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const k = teePubKeyFromKeyObject(publicKey, 'RSA1_5');
    throwsCode(() => encryptJwe(Buffer.from('x'), k), 'ERR_KBS_PROTOCOL_ALG_UNSUPPORTED');
    assert.equal(
      JSON.parse(
        Buffer.from(encryptJwe(Buffer.from('x'), k, { allowRsa15: true }).protected, 'base64url').toString(),
      ).alg,
      'RSA1_5',
    );
  });
});

describe('decryptJwe negative table', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const good = encryptJwe(Buffer.from('secret'), teePubKeyFromKeyObject(publicKey));
  const flip = (s: string): string => {
    const b = Buffer.from(s, 'base64url');
    b[b.length - 1]! ^= 1;
    return b64u(b);
  };
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const cases: [string, () => unknown, string][] = [
    [
      'fail_tampered_ciphertext',
      () => decryptJwe({ ...good, ciphertext: flip(good.ciphertext) }, privateKey),
      'ERR_KBS_PROTOCOL_JWE_DECRYPT_FAILED',
    ],
    [
      'fail_tampered_tag',
      () => decryptJwe({ ...good, tag: flip(good.tag) }, privateKey),
      'ERR_KBS_PROTOCOL_JWE_DECRYPT_FAILED',
    ],
    [
      'fail_tampered_encrypted_key',
      () => decryptJwe({ ...good, encrypted_key: flip(good.encrypted_key) }, privateKey),
      'ERR_KBS_PROTOCOL_JWE_DECRYPT_FAILED',
    ],
    [
      'fail_reencoded_protected (AAD is the received string)',
      () =>
        decryptJwe(
          { ...good, protected: b64u(` ${Buffer.from(good.protected, 'base64url').toString()}`) },
          privateKey,
        ),
      'ERR_KBS_PROTOCOL_JWE_DECRYPT_FAILED',
    ],
    ['fail_wrong_key', () => decryptJwe(good, other), 'ERR_KBS_PROTOCOL_JWE_DECRYPT_FAILED'],
    ['fail_wrong_key_type', () => decryptJwe(good, rsa), 'ERR_KBS_PROTOCOL_JWE_DECRYPT_FAILED'],
    [
      'fail_padded_base64',
      () => decryptJwe({ ...good, iv: `${good.iv}=` }, privateKey),
      'ERR_KBS_PROTOCOL_BASE64_INVALID',
    ],
    [
      'fail_extra_member',
      () => decryptJwe({ ...good, aad: 'x' }, privateKey),
      'ERR_KBS_PROTOCOL_JWE_INVALID',
    ],
    ['fail_not_object', () => decryptJwe('x', privateKey), 'ERR_KBS_PROTOCOL_JWE_INVALID'],
    [
      'fail_member_not_string',
      () => decryptJwe({ ...good, tag: 1 }, privateKey),
      'ERR_KBS_PROTOCOL_JWE_INVALID',
    ],
    [
      'fail_alg_none',
      () => decryptJwe({ ...good, protected: b64u('{"alg":"none","enc":"A256GCM"}') }, privateKey),
      'ERR_KBS_PROTOCOL_ALG_UNSUPPORTED',
    ],
    [
      'fail_enc_cbc',
      () =>
        decryptJwe(
          { ...good, protected: b64u('{"alg":"ECDH-ES+A256KW","enc":"A128CBC-HS256"}') },
          privateKey,
        ),
      'ERR_KBS_PROTOCOL_ALG_UNSUPPORTED',
    ],
    [
      'fail_header_not_json',
      () => decryptJwe({ ...good, protected: b64u('{') }, privateKey),
      'ERR_KBS_PROTOCOL_INVALID_MESSAGE',
    ],
    [
      'fail_missing_epk',
      () => decryptJwe({ ...good, protected: b64u('{"alg":"ECDH-ES+A256KW","enc":"A256GCM"}') }, privateKey),
      'ERR_KBS_PROTOCOL_JWE_INVALID',
    ],
    [
      'fail_epk_off_curve',
      () =>
        decryptJwe(
          {
            ...good,
            protected: b64u(
              `{"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{"crv":"P-256","kty":"EC","x":"${b64u(Buffer.alloc(32, 1))}","y":"${b64u(Buffer.alloc(32, 2))}"}}`,
            ),
          },
          privateKey,
        ),
      'ERR_KBS_PROTOCOL_JWE_INVALID',
    ],
    [
      'fail_short_iv',
      () => decryptJwe({ ...good, iv: b64u(Buffer.alloc(8)) }, privateKey),
      'ERR_KBS_PROTOCOL_JWE_INVALID',
    ],
  ];
  for (const [name, fn, code] of cases) test(name, () => void throwsCode(fn, code));

  test('pass_round_trip', () => assert.equal(decryptJwe(good, privateKey).toString(), 'secret'));
});
