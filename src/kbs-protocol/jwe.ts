/**
 * Flattened JWE (RFC 7516 §7.2.2) as the KBS returns resources (kbs-protocol.md §4.3): A256GCM
 * content encryption; CEK wrapped with ECDH-ES+A256KW (default), RSA-OAEP-256, or RSA1_5 when
 * explicitly enabled. Decryption takes explicit algorithm allowlists (STYLE.md rule 6); the
 * defaults are the protocol's algorithms only, and tests widen them for RFC 7520 §5 vectors.
 *
 * Interop trap (§4.3): Rust clients rebuild the protected header (alg, enc, then the remaining
 * members in alphabetical order, compact, `/` unescaped) and use that as GCM AAD, so we emit
 * exactly that text. On decryption we use the received `protected` string, as RFC 7516 §5.2 says.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { CocoonError } from '../common/errors.js';
import { b64u, fromB64u } from './base64.js';
import {
  defaultEcdh,
  EC_CURVE_COORD_BYTES,
  deriveSync,
  ephemeralSync,
  OPENSSL_CURVE,
  type EcCurve,
  type EcdhEngine,
  type EphemeralAgreement,
  type RawEcPrivateKey,
} from './ecdh.js';
import { toPublicKeyObject, type EcTeePubKey, type RsaTeePubKey, type TeePubKey } from './jwk.js';
import { parseJsonText } from './types.js';

/** The flattened JSON serialization Trustee emits: exactly these five members (§4.3). */
export interface FlattenedJwe {
  readonly protected: string;
  readonly encrypted_key: string;
  readonly iv: string;
  readonly ciphertext: string;
  readonly tag: string;
}

/** Key-management algorithms the decryptor knows; allowlists pick from these. */
export type JweAlg =
  'ECDH-ES+A128KW' | 'ECDH-ES+A192KW' | 'ECDH-ES+A256KW' | 'RSA-OAEP' | 'RSA-OAEP-256' | 'RSA1_5';
/** Content-encryption algorithms the decryptor knows. */
export type JweEnc = 'A128GCM' | 'A192GCM' | 'A256GCM';

/** Default key-management allowlist: the protocol's algorithms (§4.3), RSA1_5 excluded. */
export const DEFAULT_JWE_ALGS: readonly JweAlg[] = ['ECDH-ES+A256KW', 'RSA-OAEP-256'];
/** Default content-encryption allowlist: Trustee always uses A256GCM (§4.3). */
export const DEFAULT_JWE_ENCS: readonly JweEnc[] = ['A256GCM'];

/** Largest JWE ciphertext accepted for decryption (bytes); resources are secrets, not payloads. */
export const JWE_MAX_CIPHERTEXT = 16 * 1024 * 1024;

const KW_BITS: Record<string, number> = {
  'ECDH-ES+A128KW': 128,
  'ECDH-ES+A192KW': 192,
  'ECDH-ES+A256KW': 256,
};
/** JWK `crv` names of node:crypto named curves: the inverse of ecdh.ts OPENSSL_CURVE. */
const CURVE_OF_NAMED: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(OPENSSL_CURVE).map(([jose, openssl]) => [openssl, jose]),
);
const GCM_BITS: Record<JweEnc, number> = { A128GCM: 128, A192GCM: 192, A256GCM: 256 };
/** RFC 3394 §2.2.3.1 default initial value. */
const KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');
const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;

function jweError(message: string, cause?: unknown): CocoonError {
  return new CocoonError('ERR_KBS_PROTOCOL_JWE_INVALID', message, cause === undefined ? {} : { cause });
}

function decryptFailed(cause?: unknown): CocoonError {
  return new CocoonError(
    'ERR_KBS_PROTOCOL_JWE_DECRYPT_FAILED',
    'JWE decryption failed (wrong key or tampered data)',
    cause === undefined ? {} : { cause },
  );
}

/** Concat KDF of RFC 7518 §4.6.2 (NIST SP 800-56A, SHA-256) with empty PartyU/PartyV info. */
export function concatKdf(z: Uint8Array, alg: string, keyBits: number): Buffer {
  const algId = Buffer.from(alg, 'ascii');
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const otherInfo = Buffer.concat([u32(algId.length), algId, u32(0), u32(0), u32(keyBits)]);
  const out: Buffer[] = [];
  const rounds = Math.ceil(keyBits / 256);
  for (let i = 1; i <= rounds; i++)
    out.push(createHash('sha256').update(u32(i)).update(z).update(otherInfo).digest());
  return Buffer.concat(out).subarray(0, keyBits / 8);
}

function aesKw(kek: Buffer, data: Buffer, wrap: boolean): Buffer {
  const name = `id-aes${kek.length * 8}-wrap`;
  const c = wrap ? createCipheriv(name, kek, KW_IV) : createDecipheriv(name, kek, KW_IV);
  return Buffer.concat([c.update(data), c.final()]);
}

/** Protected header text in the member order Rust clients rebuild (§4.3 interop trap). */
export function protectedHeaderText(
  alg: string,
  enc: string,
  extra: Readonly<Record<string, unknown>> = {},
): string {
  const sortDeep = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, sortDeep(o[k])]),
    );
  };
  const header: Record<string, unknown> = { alg, enc };
  for (const k of Object.keys(extra).sort()) if (k !== 'alg' && k !== 'enc') header[k] = sortDeep(extra[k]);
  return JSON.stringify(header);
}

/** Options of encryptJwe. */
export interface JweEncryptOptions {
  /** Allow `RSA1_5` keys (deprecated; default false). */
  readonly allowRsa15?: boolean;
}

/** Options of encryptJweAsync. */
export interface JweEncryptAsyncOptions extends JweEncryptOptions {
  /** Where the ECDH runs; default the process-wide engine (a worker thread on multi-core hosts). */
  readonly ecdh?: EcdhEngine;
}

/** Uncompressed SEC 1 point of an EC tee-pubkey (its coordinates are fixed-length, §3.4). */
export function ecPointOf(key: EcTeePubKey): Buffer {
  return Buffer.concat([Buffer.of(0x04), fromB64u(key.x, 'tee-pubkey.x'), fromB64u(key.y, 'tee-pubkey.y')]);
}

/** ECDH-ES+A256KW key wrapping for the sender: the encrypted CEK and the `epk` header member. */
function wrapForEc(
  key: EcTeePubKey,
  cek: Buffer,
  agreement: EphemeralAgreement,
): { encryptedKey: Buffer; extra: Record<string, unknown> } {
  const kek = concatKdf(agreement.z, key.alg, 256);
  const n = (agreement.publicPoint.length - 1) / 2;
  const epk = {
    crv: key.crv,
    kty: 'EC',
    x: b64u(agreement.publicPoint.subarray(1, 1 + n)),
    y: b64u(agreement.publicPoint.subarray(1 + n)),
  };
  return { encryptedKey: aesKw(kek, cek, true), extra: { epk } };
}

function wrapForRsa(key: RsaTeePubKey, cek: Buffer, opts: JweEncryptOptions): Buffer {
  const pub = toPublicKeyObject(key);
  if (key.alg === 'RSA-OAEP-256') {
    return publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
  }
  if (opts.allowRsa15 !== true) {
    throw new CocoonError('ERR_KBS_PROTOCOL_ALG_UNSUPPORTED', 'RSA1_5 is disabled (enable it explicitly)');
  }
  return publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_PADDING }, cek);
}

/** A256GCM content encryption with AAD = ASCII(BASE64URL(protected)) (RFC 7516 §5.1 step 14). */
function seal(
  plaintext: Uint8Array,
  alg: string,
  cek: Buffer,
  encryptedKey: Buffer,
  extra: Record<string, unknown>,
): FlattenedJwe {
  const protectedB64 = b64u(protectedHeaderText(alg, 'A256GCM', extra));
  const iv = randomBytes(GCM_IV_BYTES);
  const c = createCipheriv('aes-256-gcm', cek, iv, { authTagLength: GCM_TAG_BYTES });
  c.setAAD(Buffer.from(protectedB64, 'ascii'));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return {
    protected: protectedB64,
    encrypted_key: b64u(encryptedKey),
    iv: b64u(iv),
    ciphertext: b64u(ct),
    tag: b64u(c.getAuthTag()),
  };
}

/** Encrypts `plaintext` to a tee-pubkey as Trustee's KBS does (§4.3), on the calling thread. */
export function encryptJwe(
  plaintext: Uint8Array,
  key: TeePubKey,
  opts: JweEncryptOptions = {},
): FlattenedJwe {
  const cek = randomBytes(32);
  if (key.kty === 'EC') {
    let agreement: EphemeralAgreement;
    try {
      agreement = ephemeralSync(key.crv, ecPointOf(key));
    } catch (e) {
      throw new CocoonError('ERR_KBS_PROTOCOL_JWK_INVALID', 'tee-pubkey is not a valid public key', {
        cause: e,
      });
    }
    const { encryptedKey, extra } = wrapForEc(key, cek, agreement);
    return seal(plaintext, key.alg, cek, encryptedKey, extra);
  }
  return seal(plaintext, key.alg, cek, wrapForRsa(key, cek, opts), {});
}

/** encryptJwe with the ECDH on an EcdhEngine (by default off the event loop). */
export async function encryptJweAsync(
  plaintext: Uint8Array,
  key: TeePubKey,
  opts: JweEncryptAsyncOptions = {},
): Promise<FlattenedJwe> {
  const cek = randomBytes(32);
  if (key.kty === 'EC') {
    const agreement = await (opts.ecdh ?? defaultEcdh()).ephemeral(key.crv, ecPointOf(key));
    const { encryptedKey, extra } = wrapForEc(key, cek, agreement);
    return seal(plaintext, key.alg, cek, encryptedKey, extra);
  }
  return seal(plaintext, key.alg, cek, wrapForRsa(key, cek, opts), {});
}

/** Validates an untrusted flattened JWE; members read once; `aad`, `header`, `recipients` refused. */
export function parseJwe(raw: unknown): FlattenedJwe {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw jweError('JWE must be a JSON object');
  const o = raw as Record<string, unknown>;
  const allowed = ['protected', 'encrypted_key', 'iv', 'ciphertext', 'tag'];
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw jweError(`JWE member "${k}" is not supported`);
  const get = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string') throw jweError(`JWE member "${k}" must be a string`);
    return v;
  };
  const encryptedKey = o['encrypted_key'] === undefined ? '' : get('encrypted_key');
  return {
    protected: get('protected'),
    encrypted_key: encryptedKey,
    iv: get('iv'),
    ciphertext: get('ciphertext'),
    tag: get('tag'),
  };
}

/** Options of decryptJwe. */
export interface JweDecryptOptions {
  /** Allowed `alg` values; default DEFAULT_JWE_ALGS. */
  readonly algorithms?: readonly JweAlg[];
  /** Allowed `enc` values; default DEFAULT_JWE_ENCS. */
  readonly encryptions?: readonly JweEnc[];
}

/** Options of decryptJweAsync. */
export interface JweDecryptAsyncOptions extends JweDecryptOptions {
  /** Where the ECDH runs; default the process-wide engine (a worker thread on multi-core hosts). */
  readonly ecdh?: EcdhEngine;
}

/** A received JWE after every structural and allowlist check, before any key is used. */
interface CheckedJwe {
  readonly jwe: FlattenedJwe;
  readonly header: Record<string, unknown>;
  readonly alg: JweAlg;
  readonly enc: JweEnc;
  readonly encryptedKey: Buffer;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly ct: Buffer;
}

function checkJwe(raw: unknown, opts: JweDecryptOptions): CheckedJwe {
  const jwe = parseJwe(raw);
  const header = parseJsonText(fromB64u(jwe.protected, 'JWE protected'), 'JWE protected header');
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw jweError('JWE header must be an object');
  const h = header as Record<string, unknown>;
  const alg = h['alg'];
  const enc = h['enc'];
  const algs = opts.algorithms ?? DEFAULT_JWE_ALGS;
  const encs = opts.encryptions ?? DEFAULT_JWE_ENCS;
  if (typeof alg !== 'string' || !(algs as readonly string[]).includes(alg)) {
    throw new CocoonError('ERR_KBS_PROTOCOL_ALG_UNSUPPORTED', `JWE alg ${String(alg)} is not allowed`);
  }
  if (typeof enc !== 'string' || !(encs as readonly string[]).includes(enc)) {
    throw new CocoonError('ERR_KBS_PROTOCOL_ALG_UNSUPPORTED', `JWE enc ${String(enc)} is not allowed`);
  }
  if ('zip' in h || 'crit' in h) throw jweError('JWE header members zip/crit are not supported');
  const encryptedKey = fromB64u(jwe.encrypted_key, 'JWE encrypted_key');
  const iv = fromB64u(jwe.iv, 'JWE iv');
  const tag = fromB64u(jwe.tag, 'JWE tag');
  if (jwe.ciphertext.length > (JWE_MAX_CIPHERTEXT * 4) / 3 + 4) throw jweError('JWE ciphertext is too large');
  const ct = fromB64u(jwe.ciphertext, 'JWE ciphertext');
  if (iv.length !== GCM_IV_BYTES || tag.length !== GCM_TAG_BYTES)
    throw jweError('JWE iv must be 12 bytes and tag 16');
  return { jwe, header: h, alg: alg as JweAlg, enc: enc as JweEnc, encryptedKey, iv, tag, ct };
}

/** What the recipient's ECDH needs: curve, own private scalar, and the sender's `epk` point. */
interface EcdhInputs {
  readonly curve: EcCurve;
  readonly d: Buffer;
  readonly peer: Buffer;
}

function ecdhInputs(header: Record<string, unknown>, priv: KeyObject | RawEcPrivateKey): EcdhInputs {
  const raw = 'd' in priv ? priv : undefined;
  const keyObject = raw === undefined ? (priv as KeyObject) : undefined;
  if (keyObject !== undefined && keyObject.asymmetricKeyType !== 'ec') throw decryptFailed();
  const epkRaw = header['epk'];
  if (epkRaw === null || typeof epkRaw !== 'object' || Array.isArray(epkRaw))
    throw jweError('ECDH-ES header lacks epk');
  const e = epkRaw as Record<string, unknown>;
  const crv = e['crv'];
  const x = e['x'];
  const y = e['y'];
  if (e['kty'] !== 'EC' || typeof crv !== 'string' || typeof x !== 'string' || typeof y !== 'string') {
    throw jweError('epk must be an EC public JWK');
  }
  // Curve from the key details: exporting the private key as JWK just to read it is costly.
  const ownCrv = raw?.curve ?? CURVE_OF_NAMED[keyObject?.asymmetricKeyDetails?.namedCurve ?? ''];
  if (crv !== ownCrv) throw jweError(`epk curve ${crv} differs from the key's ${String(ownCrv)}`);
  if (!Object.hasOwn(EC_CURVE_COORD_BYTES, crv)) throw jweError(`epk curve ${crv} is not supported`);
  const curve = crv as EcCurve;
  const size = EC_CURVE_COORD_BYTES[curve];
  const xb = fromB64u(x, 'JWE epk.x');
  const yb = fromB64u(y, 'JWE epk.y');
  if (xb.length !== size || yb.length !== size) throw jweError(`epk coordinates must be ${size} bytes each`);
  const peer = Buffer.concat([Buffer.of(0x04), xb, yb]);
  if (raw !== undefined) return { curve, d: raw.d, peer };
  const d = keyObject!.export({ format: 'jwk' }).d;
  if (d === undefined) throw decryptFailed();
  return { curve, d: fromB64u(d, 'private key d'), peer };
}

function unwrapWithZ(c: CheckedJwe, z: Buffer): Buffer {
  const kek = concatKdf(z, c.alg, KW_BITS[c.alg]!);
  try {
    return aesKw(kek, c.encryptedKey, false);
  } catch (err) {
    throw decryptFailed(err);
  }
}

function unwrapRsa(c: CheckedJwe, priv: KeyObject): Buffer {
  if (priv.asymmetricKeyType !== 'rsa') throw decryptFailed();
  try {
    if (c.alg === 'RSA1_5')
      return privateDecrypt({ key: priv, padding: constants.RSA_PKCS1_PADDING }, c.encryptedKey);
    return privateDecrypt(
      {
        key: priv,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: c.alg === 'RSA-OAEP' ? 'sha1' : 'sha256',
      },
      c.encryptedKey,
    );
  } catch (err) {
    throw decryptFailed(err);
  }
}

function epkInvalid(e: unknown): CocoonError {
  return jweError('epk is not a valid EC point', e);
}

function openJwe(c: CheckedJwe, cek: Buffer): Buffer {
  const bits = GCM_BITS[c.enc];
  if (cek.length * 8 !== bits) throw decryptFailed();
  try {
    const d = createDecipheriv(`aes-${bits}-gcm` as 'aes-256-gcm', cek, c.iv, {
      authTagLength: GCM_TAG_BYTES,
    });
    // RFC 7516 §5.2 step 14: AAD = ASCII(BASE64URL(protected)) as received.
    d.setAAD(Buffer.from(c.jwe.protected, 'ascii'));
    d.setAuthTag(c.tag);
    return Buffer.concat([d.update(c.ct), d.final()]);
  } catch (err) {
    throw decryptFailed(err);
  }
}

/** Decrypts a flattened JWE with a private key, enforcing the algorithm allowlists. */
export function decryptJwe(raw: unknown, privateKey: KeyObject, opts: JweDecryptOptions = {}): Buffer {
  const c = checkJwe(raw, opts);
  if (!c.alg.startsWith('ECDH-ES+')) return openJwe(c, unwrapRsa(c, privateKey));
  const i = ecdhInputs(c.header, privateKey);
  let z: Buffer;
  try {
    z = deriveSync(i.curve, i.d, i.peer);
  } catch (err) {
    throw epkInvalid(err);
  }
  return openJwe(c, unwrapWithZ(c, z));
}

/**
 * decryptJwe with the ECDH on an EcdhEngine (by default off the event loop). The key may also
 * be a raw EC scalar (RawEcPrivateKey), which spares exporting it from a KeyObject.
 */
export async function decryptJweAsync(
  raw: unknown,
  privateKey: KeyObject | RawEcPrivateKey,
  opts: JweDecryptAsyncOptions = {},
): Promise<Buffer> {
  const c = checkJwe(raw, opts);
  if (!c.alg.startsWith('ECDH-ES+')) {
    if ('d' in privateKey) throw decryptFailed();
    return openJwe(c, unwrapRsa(c, privateKey));
  }
  const i = ecdhInputs(c.header, privateKey);
  let z: Buffer;
  try {
    z = await (opts.ecdh ?? defaultEcdh()).derive(i.curve, i.d, i.peer);
  } catch (err) {
    throw epkInvalid(err);
  }
  return openJwe(c, unwrapWithZ(c, z));
}
