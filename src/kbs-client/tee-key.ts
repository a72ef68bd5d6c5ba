/**
 * The ephemeral TEE key pair (kbs-protocol.md §9.1): generated once per client — EC P-256 for
 * ECDH-ES+A256KW by default, RSA-2048 for RSA-OAEP-256 on request — or loaded from PEM.
 */
import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { CocoonError } from '../common/errors.js';
import { b64u, teePubKeyFromKeyObject, type RawEcPrivateKey, type TeePubKey } from '../kbs-protocol/index.js';

/** Key algorithms of guest-components' TeeKeyAlgorithm that we support. */
export const TEE_KEY_ALGORITHMS = ['ECDH-ES+A256KW-P256', 'RSA-OAEP-256'] as const;
/** One TEE key algorithm. */
export type TeeKeyAlgorithm = (typeof TEE_KEY_ALGORITHMS)[number];

/** A TEE key pair: private key for JWE decryption, public JWK for runtime-data. */
export interface TeeKeyPair {
  readonly privateKey: KeyObject;
  readonly publicJwk: TeePubKey;
  /** The EC private scalar, when the pair was generated here (decryption then skips a key export). */
  readonly ecdhPrivate?: RawEcPrivateKey;
}

/**
 * A fresh EC P-256 pair from `createECDH`: it hands out the public point directly, where a
 * KeyObject pair would need an export (a field inversion) to produce the JWK. The KeyObject form
 * of the private key is built only if asked for (PEM export, synchronous decryption).
 */
function generateEcTeeKey(): TeeKeyPair {
  const e = createECDH('prime256v1');
  const point = e.generateKeys();
  const d = Buffer.alloc(32);
  const raw = e.getPrivateKey();
  raw.copy(d, 32 - raw.length); // JWK `d` is fixed-length (RFC 7518 §6.2.2.1)
  const publicJwk: TeePubKey = {
    kty: 'EC',
    crv: 'P-256',
    alg: 'ECDH-ES+A256KW',
    x: b64u(point.subarray(1, 33)),
    y: b64u(point.subarray(33, 65)),
  };
  let privateKey: KeyObject | undefined;
  return {
    publicJwk,
    ecdhPrivate: { curve: 'P-256', d },
    get privateKey(): KeyObject {
      privateKey ??= createPrivateKey({
        key: { kty: 'EC', crv: 'P-256', d: b64u(d), x: publicJwk.x, y: publicJwk.y },
        format: 'jwk',
      });
      return privateKey;
    },
  };
}

/** Generates a TEE key pair (default EC P-256). */
export function generateTeeKey(alg: TeeKeyAlgorithm = 'ECDH-ES+A256KW-P256'): TeeKeyPair {
  if (alg === 'RSA-OAEP-256') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return { privateKey, publicJwk: teePubKeyFromKeyObject(publicKey, 'RSA-OAEP-256') };
  }
  return generateEcTeeKey();
}

/** generateTeeKey with RSA key generation on the libuv thread pool, off the event loop. */
export function generateTeeKeyAsync(alg: TeeKeyAlgorithm = 'ECDH-ES+A256KW-P256'): Promise<TeeKeyPair> {
  return new Promise((resolve, reject) => {
    const done = (e: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => {
      if (e !== null) reject(e);
      else
        resolve({
          privateKey,
          publicJwk: teePubKeyFromKeyObject(publicKey, alg === 'RSA-OAEP-256' ? 'RSA-OAEP-256' : undefined),
        });
    };
    // RSA key generation takes tens of milliseconds: the pool keeps the event loop free. An EC
    // pair costs about as much as the hand-off, so it is made here.
    if (alg === 'RSA-OAEP-256') generateKeyPair('rsa', { modulusLength: 2048 }, done);
    else resolve(generateEcTeeKey());
  });
}

/** Loads a TEE key pair from a PEM private key (RSA PKCS#1/PKCS#8 or EC PKCS#8/SEC1). */
export function teeKeyFromPem(pem: string | Buffer): TeeKeyPair {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (e) {
    throw new CocoonError('ERR_KBS_CLIENT_KEY_INVALID', 'TEE key is not a PEM private key', { cause: e });
  }
  try {
    return { privateKey, publicJwk: teePubKeyFromKeyObject(createPublicKey(privateKey)) };
  } catch (e) {
    throw new CocoonError('ERR_KBS_CLIENT_KEY_INVALID', 'TEE key must be EC P-256/P-521 or RSA', {
      cause: e,
    });
  }
}

/** PEM (PKCS#8) of a TEE private key, e.g. for the AA GetToken reply format. */
export function teeKeyToPem(k: TeeKeyPair): string {
  return k.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
}
