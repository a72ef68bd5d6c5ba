/**
 * ECDH engines (src/kbs-protocol/ecdh.ts) and the asynchronous JWE paths built on them: the worker
 * and the calling thread agree with node:crypto's own diffieHellman, points off the curve are
 * typed errors on both, a worker that goes away hands its jobs back, and JWEs made or opened off
 * the event loop interoperate with `jose` and the RFC 7520 §5.4 vector exactly as the sync ones.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as jose from 'jose';
import { packagePath } from '../../../src/common/paths.js';
import {
  assertOnCurve,
  b64u,
  decryptJweAsync,
  encryptJweAsync,
  inlineEcdh,
  parseTeePubKey,
  teePubKeyFromKeyObject,
  workerEcdh,
  type EcCurve,
  type EcdhEngine,
  type FlattenedJwe,
} from '../../../src/kbs-protocol/index.js';
import { rejectsCode, throwsCode } from '../../helpers/assert-code.js';

const worker = workerEcdh();
after(() => worker.close());

const engines: [string, EcdhEngine][] = [
  ['inline', inlineEcdh],
  ['worker', worker],
];

const curves: [EcCurve, string][] = [
  ['P-256', 'prime256v1'],
  ['P-384', 'secp384r1'],
  ['P-521', 'secp521r1'],
];

/** A point with valid length whose coordinates do not satisfy the curve equation. */
function offCurve(bytes: number): Buffer {
  return Buffer.concat([Buffer.of(4), Buffer.alloc(bytes, 1), Buffer.alloc(bytes, 2)]);
}

describe('ECDH engines', () => {
  for (const [name, engine] of engines) {
    for (const [curve, named] of curves) {
      test(`pass_${name}_derive_matches_node_diffieHellman_${curve}`, async () => {
        const a = generateKeyPairSync('ec', { namedCurve: named });
        const b = generateKeyPairSync('ec', { namedCurve: named });
        const d = Buffer.from(a.privateKey.export({ format: 'jwk' }).d!, 'base64url');
        const jwk = b.publicKey.export({ format: 'jwk' });
        const peer = Buffer.concat([
          Buffer.of(4),
          Buffer.from(jwk.x!, 'base64url'),
          Buffer.from(jwk.y!, 'base64url'),
        ]);
        const want = diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey });
        assert.deepEqual(await engine.derive(curve, d, peer), want);
      });
    }

    test(`pass_${name}_ephemeral_agrees_with_recipient`, async () => {
      const r = createECDH('prime256v1');
      const rPub = r.generateKeys();
      const { publicPoint, z } = await engine.ephemeral('P-256', rPub);
      assert.equal(publicPoint.length, 65);
      assert.equal(publicPoint[0], 4);
      assertOnCurve('P-256', publicPoint);
      assert.deepEqual(r.computeSecret(publicPoint), z);
    });

    test(`fail_${name}_peer_off_curve`, async () => {
      const d = createECDH('prime256v1');
      d.generateKeys();
      await rejectsCode(
        engine.derive('P-256', d.getPrivateKey(), offCurve(32)),
        'ERR_KBS_PROTOCOL_JWK_INVALID',
      );
      await rejectsCode(engine.ephemeral('P-256', offCurve(32)), 'ERR_KBS_PROTOCOL_JWK_INVALID');
      await rejectsCode(engine.ephemeral('P-256', Buffer.alloc(3)), 'ERR_KBS_PROTOCOL_JWK_INVALID');
    });
  }

  test('pass_worker_many_concurrent_jobs_each_answered_correctly', async () => {
    const r = createECDH('prime256v1');
    const rPub = r.generateKeys();
    const results = await Promise.all(Array.from({ length: 200 }, () => worker.ephemeral('P-256', rPub)));
    for (const { publicPoint, z } of results) assert.deepEqual(r.computeSecret(publicPoint), z);
    assert.equal(new Set(results.map((x) => x.publicPoint.toString('hex'))).size, 200);
  });

  test('pass_closed_worker_hands_pending_and_later_jobs_to_the_calling_thread', async () => {
    const w = workerEcdh();
    const r = createECDH('prime256v1');
    const rPub = r.generateKeys();
    const inFlight = Array.from({ length: 20 }, () => w.ephemeral('P-256', rPub));
    await w.close();
    for (const { publicPoint, z } of await Promise.all(inFlight))
      assert.deepEqual(r.computeSecret(publicPoint), z);
    const later = await w.ephemeral('P-256', rPub);
    assert.deepEqual(r.computeSecret(later.publicPoint), later.z);
  });

  test('fail_assertOnCurve_off_curve_and_wrong_length', () => {
    throwsCode(() => assertOnCurve('P-256', offCurve(32)), 'ERR_KBS_PROTOCOL_JWK_INVALID');
    throwsCode(() => assertOnCurve('P-256', offCurve(31)), 'ERR_KBS_PROTOCOL_JWK_INVALID');
    throwsCode(() => assertOnCurve('P-521', Buffer.of(0)), 'ERR_KBS_PROTOCOL_JWK_INVALID');
  });

  test('fail_parseTeePubKey_off_curve_point_refused_by_on_curve_check', () => {
    throwsCode(
      () =>
        parseTeePubKey({
          kty: 'EC',
          crv: 'P-256',
          alg: 'ECDH-ES+A256KW',
          x: b64u(Buffer.alloc(32, 1)),
          y: b64u(Buffer.alloc(32, 2)),
        }),
      'ERR_KBS_PROTOCOL_JWK_INVALID',
    );
  });
});

describe('asynchronous JWE', () => {
  for (const [name, engine] of engines) {
    test(`pass_${name}_ours_to_jose_ec`, async () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const jwe = await encryptJweAsync(Buffer.from('hello kbs'), teePubKeyFromKeyObject(publicKey), {
        ecdh: engine,
      });
      const out = await jose.flattenedDecrypt(jwe, privateKey, {
        keyManagementAlgorithms: ['ECDH-ES+A256KW'],
        contentEncryptionAlgorithms: ['A256GCM'],
      });
      assert.equal(Buffer.from(out.plaintext).toString(), 'hello kbs');
      assert.match(
        Buffer.from(jwe.protected, 'base64url').toString(),
        /^\{"alg":"ECDH-ES\+A256KW","enc":"A256GCM","epk":\{"crv":"P-256","kty":"EC","x":"[^"]+","y":"[^"]+"\}\}$/,
      );
    });

    test(`pass_${name}_jose_to_ours_ec_and_rsa`, async () => {
      for (const [gen, alg] of [
        [() => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }), 'ECDH-ES+A256KW'],
        [() => generateKeyPairSync('rsa', { modulusLength: 2048 }), 'RSA-OAEP-256'],
      ] as const) {
        const { privateKey, publicKey } = gen();
        const jwe = await new jose.FlattenedEncrypt(Buffer.from('from jose'))
          .setProtectedHeader({ alg, enc: 'A256GCM' })
          .encrypt(publicKey);
        assert.equal((await decryptJweAsync(jwe, privateKey, { ecdh: engine })).toString(), 'from jose');
      }
    });

    test(`pass_${name}_rfc7520_5_4_p384_vector`, async () => {
      const v = JSON.parse(
        readFileSync(packagePath('fixtures/jose', 'rfc7520-5.4-ecdh-es-a128kw-a128gcm.json'), 'utf8'),
      ) as { plaintext: string; key: Record<string, string>; json_flat: FlattenedJwe };
      const key = createPrivateKey({ key: v.key, format: 'jwk' });
      const pt = await decryptJweAsync(v.json_flat, key, {
        algorithms: ['ECDH-ES+A128KW'],
        encryptions: ['A128GCM'],
        ecdh: engine,
      });
      assert.equal(pt.toString('utf8'), v.plaintext);
    });

    test(`fail_${name}_negative_cases_keep_their_codes`, async () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const good = await encryptJweAsync(Buffer.from('secret'), teePubKeyFromKeyObject(publicKey), {
        ecdh: engine,
      });
      const flip = (s: string): string => {
        const b = Buffer.from(s, 'base64url');
        b[b.length - 1]! ^= 1;
        return b64u(b);
      };
      const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
      const offCurveHeader = b64u(
        `{"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{"crv":"P-256","kty":"EC","x":"${b64u(Buffer.alloc(32, 1))}","y":"${b64u(Buffer.alloc(32, 2))}"}}`,
      );
      const cases: [unknown, string, typeof privateKey][] = [
        [{ ...good, tag: flip(good.tag) }, 'ERR_KBS_PROTOCOL_JWE_DECRYPT_FAILED', privateKey],
        [
          { ...good, encrypted_key: flip(good.encrypted_key) },
          'ERR_KBS_PROTOCOL_JWE_DECRYPT_FAILED',
          privateKey,
        ],
        [good, 'ERR_KBS_PROTOCOL_JWE_DECRYPT_FAILED', other],
        [{ ...good, protected: offCurveHeader }, 'ERR_KBS_PROTOCOL_JWE_INVALID', privateKey],
        [
          { ...good, protected: b64u('{"alg":"ECDH-ES+A256KW","enc":"A256GCM"}') },
          'ERR_KBS_PROTOCOL_JWE_INVALID',
          privateKey,
        ],
        [
          { ...good, protected: b64u('{"alg":"none","enc":"A256GCM"}') },
          'ERR_KBS_PROTOCOL_ALG_UNSUPPORTED',
          privateKey,
        ],
      ];
      for (const [jwe, code, key] of cases)
        await rejectsCode(decryptJweAsync(jwe, key, { ecdh: engine }), code);
      assert.equal((await decryptJweAsync(good, privateKey, { ecdh: engine })).toString(), 'secret');
    });
  }

  test('pass_rsa_tee_key_async_round_trip', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwe = await encryptJweAsync(Buffer.from('rsa'), teePubKeyFromKeyObject(publicKey));
    assert.equal((await decryptJweAsync(jwe, privateKey)).toString(), 'rsa');
    assert.equal(createPublicKey(privateKey).asymmetricKeyType, 'rsa');
  });
});

describe('TEE keys from createECDH', () => {
  test('pass_generated_key_decrypts_with_raw_scalar_and_lazy_key_object', async () => {
    const { generateTeeKey, generateTeeKeyAsync } = await import('../../../src/kbs-client/tee-key.js');
    for (const k of [generateTeeKey(), await generateTeeKeyAsync()]) {
      assert.equal(k.ecdhPrivate?.d.length, 32);
      const jwe = await encryptJweAsync(Buffer.from('both ways'), parseTeePubKey(k.publicJwk));
      assert.equal((await decryptJweAsync(jwe, k.ecdhPrivate!)).toString(), 'both ways');
      assert.equal((await decryptJweAsync(jwe, k.privateKey)).toString(), 'both ways');
      // The lazily built KeyObject is the same key as the published JWK.
      const pub = createPublicKey(k.privateKey).export({ format: 'jwk' });
      assert.deepEqual(
        [pub.x, pub.y],
        [k.publicJwk.kty === 'EC' && k.publicJwk.x, k.publicJwk.kty === 'EC' && k.publicJwk.y],
      );
    }
  });

  test('fail_raw_ec_scalar_for_an_rsa_jwe_or_other_curve', async () => {
    const { generateTeeKey } = await import('../../../src/kbs-client/tee-key.js');
    const k = generateTeeKey();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwe = await encryptJweAsync(Buffer.from('x'), teePubKeyFromKeyObject(rsa.publicKey));
    await rejectsCode(decryptJweAsync(jwe, k.ecdhPrivate!), 'ERR_KBS_PROTOCOL_JWE_DECRYPT_FAILED');
    const p521 = generateKeyPairSync('ec', { namedCurve: 'secp521r1' });
    const jwe521 = await encryptJweAsync(Buffer.from('x'), teePubKeyFromKeyObject(p521.publicKey));
    await rejectsCode(decryptJweAsync(jwe521, k.ecdhPrivate!), 'ERR_KBS_PROTOCOL_JWE_INVALID');
  });
});
