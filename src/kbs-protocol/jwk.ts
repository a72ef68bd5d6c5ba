/**
 * The `tee-pubkey` JWK of protocol 0.4.0 (kbs-protocol.md §3.4). Trustee deserializes it into a
 * kty-tagged enum and re-serializes it before hashing, so only the members listed here survive;
 * a key with any other member (`kid`, `use`, …) would break the runtime-data binding, and we
 * reject it outright instead of dropping members silently.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { CocoonError } from '../common/errors.js';
import { fromB64u } from './base64.js';
import { assertOnCurve, EC_CURVE_COORD_BYTES } from './ecdh.js';

/** Key-management algorithms a tee-pubkey may name. */
export const TEE_KEY_ALGS = ['ECDH-ES+A256KW', 'RSA-OAEP-256', 'RSA1_5'] as const;
/** One of TEE_KEY_ALGS. */
export type TeeKeyAlg = (typeof TEE_KEY_ALGS)[number];

/** EC tee-pubkey: exactly kty, crv, alg, x, y. */
export interface EcTeePubKey {
  readonly kty: 'EC';
  readonly crv: 'P-256' | 'P-521';
  readonly alg: 'ECDH-ES+A256KW';
  readonly x: string;
  readonly y: string;
}

/** RSA tee-pubkey: exactly kty, alg, n, e. */
export interface RsaTeePubKey {
  readonly kty: 'RSA';
  readonly alg: 'RSA-OAEP-256' | 'RSA1_5';
  readonly n: string;
  readonly e: string;
}

/** A tee-pubkey JWK as it travels in `runtime-data`. */
export type TeePubKey = EcTeePubKey | RsaTeePubKey;

/** Coordinate sizes per curve (kbs-protocol.md §3.4: fixed length, 32 or 66 bytes). */
export const EC_COORD_BYTES = {
  'P-256': EC_CURVE_COORD_BYTES['P-256'],
  'P-521': EC_CURVE_COORD_BYTES['P-521'],
} as const;

/** Smallest RSA modulus accepted, in bits (guest-components generates 2048). */
export const RSA_MIN_BITS = 2048;
/** Largest RSA modulus accepted, in bits (bounds the work an attacker can request). */
export const RSA_MAX_BITS = 8192;

/** Options of parseTeePubKey. */
export interface TeePubKeyOptions {
  /** Accept `alg: "RSA1_5"` (deprecated; default false, so only RSA-OAEP-256 is accepted). */
  readonly allowRsa15?: boolean;
}

function bad(message: string): CocoonError {
  return new CocoonError('ERR_KBS_PROTOCOL_JWK_INVALID', message);
}

function exactMembers(o: Record<string, unknown>, members: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!members.includes(k)) throw bad(`tee-pubkey has member "${k}", allowed: ${members.join(', ')}`);
  }
  for (const k of members) if (!(k in o)) throw bad(`tee-pubkey lacks member "${k}"`);
}

function b64uMember(v: unknown, name: string): Buffer {
  if (typeof v !== 'string') throw bad(`tee-pubkey member "${name}" must be a string`);
  try {
    return fromB64u(v, `tee-pubkey.${name}`);
  } catch (e) {
    throw new CocoonError(
      'ERR_KBS_PROTOCOL_JWK_INVALID',
      `tee-pubkey member "${name}" is not unpadded base64url`,
      {
        cause: e,
      },
    );
  }
}

/** Validates an untrusted tee-pubkey; each member is read once into the returned snapshot. */
export function parseTeePubKey(raw: unknown, opts: TeePubKeyOptions = {}): TeePubKey {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw bad('tee-pubkey must be a JSON object');
  const o = raw as Record<string, unknown>;
  const kty = o['kty'];
  if (kty === 'EC') {
    exactMembers(o, ['kty', 'crv', 'alg', 'x', 'y']);
    const crv = o['crv'];
    const alg = o['alg'];
    const x = o['x'];
    const y = o['y'];
    if (crv !== 'P-256' && crv !== 'P-521') throw bad(`EC tee-pubkey curve must be P-256 or P-521`);
    if (alg !== 'ECDH-ES+A256KW') {
      throw new CocoonError('ERR_KBS_PROTOCOL_ALG_UNSUPPORTED', `EC tee-pubkey alg must be ECDH-ES+A256KW`);
    }
    const size = EC_COORD_BYTES[crv];
    const xb = b64uMember(x, 'x');
    const yb = b64uMember(y, 'y');
    if (xb.length !== size || yb.length !== size) {
      throw bad(`EC ${crv} coordinates must be ${size} bytes each`);
    }
    // The point must be on the curve. An on-curve check is enough (cofactor 1, see ecdh.ts) and
    // far cheaper than a KeyObject import, which the ECDH-ES path no longer needs.
    try {
      assertOnCurve(crv, Buffer.concat([Buffer.of(0x04), xb, yb]));
    } catch (e) {
      throw new CocoonError('ERR_KBS_PROTOCOL_JWK_INVALID', 'tee-pubkey is not a valid public key', {
        cause: e,
      });
    }
    return { kty, crv, alg, x: x as string, y: y as string };
  }
  if (kty === 'RSA') {
    exactMembers(o, ['kty', 'alg', 'n', 'e']);
    const alg = o['alg'];
    const n = o['n'];
    const e = o['e'];
    if (alg === 'RSA1_5') {
      if (opts.allowRsa15 !== true) {
        throw new CocoonError(
          'ERR_KBS_PROTOCOL_ALG_UNSUPPORTED',
          'RSA1_5 is disabled (enable it explicitly)',
        );
      }
    } else if (alg !== 'RSA-OAEP-256') {
      throw new CocoonError('ERR_KBS_PROTOCOL_ALG_UNSUPPORTED', 'RSA tee-pubkey alg must be RSA-OAEP-256');
    }
    const nb = b64uMember(n, 'n');
    const eb = b64uMember(e, 'e');
    if (nb.length === 0 || nb[0] === 0) throw bad('RSA modulus must be big-endian without leading zeros');
    const bits = nb.length * 8 - Math.clz32(nb[0]!) + 24;
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
      throw bad(`RSA modulus is ${bits} bits, need ${RSA_MIN_BITS}..${RSA_MAX_BITS}`);
    if (eb.length === 0 || eb.length > 4 || eb[0] === 0) throw bad('RSA exponent is malformed');
    const key: RsaTeePubKey = { kty, alg, n: n as string, e: e as string };
    toPublicKeyObject(key);
    return key;
  }
  throw bad(`tee-pubkey kty must be EC or RSA`);
}

/** Entries kept by the import cache of toPublicKeyObject (bounded: FIFO eviction). */
export const PUBLIC_KEY_CACHE_SIZE = 1024;
const publicKeyCache = new Map<string, KeyObject>();

/**
 * Converts a validated tee-pubkey into a node:crypto public key. One handshake imports the same
 * key up to three times (/attest validation, GET validation, JWE encryption) and a JWK import
 * (point decoding and on-curve check) costs more than the ECDH itself, so imports are cached by
 * the key's members: the result is a pure function of them, and failures are never cached.
 */
export function toPublicKeyObject(key: TeePubKey): KeyObject {
  const id = key.kty === 'EC' ? `EC.${key.crv}.${key.x}.${key.y}` : `RSA.${key.n}.${key.e}`;
  const hit = publicKeyCache.get(id);
  if (hit !== undefined) return hit;
  try {
    const jwk =
      key.kty === 'EC' ? { kty: 'EC', crv: key.crv, x: key.x, y: key.y } : { kty: 'RSA', n: key.n, e: key.e };
    const k = createPublicKey({ key: jwk, format: 'jwk' });
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_SIZE) {
      publicKeyCache.delete(publicKeyCache.keys().next().value as string);
    }
    publicKeyCache.set(id, k);
    return k;
  } catch (e) {
    throw new CocoonError('ERR_KBS_PROTOCOL_JWK_INVALID', 'tee-pubkey is not a valid public key', {
      cause: e,
    });
  }
}

/** Exports a node:crypto public key as a tee-pubkey with only the protocol members. */
export function teePubKeyFromKeyObject(pub: KeyObject, alg?: TeeKeyAlg): TeePubKey {
  const jwk = pub.export({ format: 'jwk' });
  if (jwk.kty === 'EC') {
    if (jwk.crv !== 'P-256' && jwk.crv !== 'P-521') throw bad(`unsupported curve ${String(jwk.crv)}`);
    return { kty: 'EC', crv: jwk.crv, alg: 'ECDH-ES+A256KW', x: jwk.x!, y: jwk.y! };
  }
  if (jwk.kty === 'RSA') {
    return { kty: 'RSA', alg: alg === 'RSA1_5' ? 'RSA1_5' : 'RSA-OAEP-256', n: jwk.n!, e: jwk.e! };
  }
  throw bad(`unsupported key type ${String(jwk.kty)}`);
}
