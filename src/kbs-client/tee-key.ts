/**
 * The ephemeral TEE key pair (kbs-protocol.md §9.1): generated once per client — EC P-256 for
 * ECDH-ES+A256KW by default, RSA-2048 for RSA-OAEP-256 on request — or loaded from PEM.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { CocoonError } from '../common/errors.js';
import { teePubKeyFromKeyObject, type TeePubKey } from '../kbs-protocol/index.js';

/** Key algorithms of guest-components' TeeKeyAlgorithm that we support. */
export const TEE_KEY_ALGORITHMS = ['ECDH-ES+A256KW-P256', 'RSA-OAEP-256'] as const;
/** One TEE key algorithm. */
export type TeeKeyAlgorithm = (typeof TEE_KEY_ALGORITHMS)[number];

/** A TEE key pair: private key for JWE decryption, public JWK for runtime-data. */
export interface TeeKeyPair {
  readonly privateKey: KeyObject;
  readonly publicJwk: TeePubKey;
}

/** Generates a TEE key pair (default EC P-256). */
export function generateTeeKey(alg: TeeKeyAlgorithm = 'ECDH-ES+A256KW-P256'): TeeKeyPair {
  if (alg === 'RSA-OAEP-256') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return { privateKey, publicJwk: teePubKeyFromKeyObject(publicKey, 'RSA-OAEP-256') };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicJwk: teePubKeyFromKeyObject(publicKey) };
}

/** generateTeeKey with the key generation on the libuv thread pool, off the event loop. */
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
    if (alg === 'RSA-OAEP-256') generateKeyPair('rsa', { modulusLength: 2048 }, done);
    else generateKeyPair('ec', { namedCurve: 'prime256v1' }, done);
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
