/**
 * Compact JWS/JWT (RFC 7515 §7.1, RFC 7519) for the two token kinds of the KBS: EAR attestation
 * tokens (ES256 with the signing key embedded as header `jwk`, kbs-protocol.md §6.1) and admin
 * bearer tokens (EdDSA/Ed25519 or ES256, §5.2). Algorithms are allowlisted per call; `none` and
 * HMAC never verify.
 */
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { CocoonError } from '../common/errors.js';
import { b64u, fromB64u } from './base64.js';
import { parseJsonText } from './types.js';

/** Signature algorithms supported here. */
export type JwsAlg = 'ES256' | 'EdDSA';

/** Largest compact token accepted (bytes); EAR tokens are a few KiB. */
export const JWT_MAX_LENGTH = 256 * 1024;

/** A decoded, not yet verified, compact JWS. */
export interface DecodedJwt {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly signingInput: string;
  readonly signature: Buffer;
}

function jwtError(message: string, cause?: unknown): CocoonError {
  return new CocoonError('ERR_KBS_PROTOCOL_JWT_INVALID', message, cause === undefined ? {} : { cause });
}

function objectOf(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw jwtError(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

/** Splits and decodes a compact JWS without checking the signature. */
export function decodeJwt(token: string): DecodedJwt {
  if (typeof token !== 'string' || token.length > JWT_MAX_LENGTH)
    throw jwtError('token is not a string of sane size');
  const parts = token.split('.');
  if (parts.length !== 3) throw jwtError('token is not a compact JWS (three parts)');
  try {
    const header = objectOf(parseJsonText(fromB64u(parts[0]!, 'JWS header'), 'JWS header'), 'JWS header');
    const payload = objectOf(parseJsonText(fromB64u(parts[1]!, 'JWS payload'), 'JWS payload'), 'JWS payload');
    return {
      header,
      payload,
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: fromB64u(parts[2]!, 'JWS signature'),
    };
  } catch (e) {
    if (e instanceof CocoonError && e.code === 'ERR_KBS_PROTOCOL_JWT_INVALID') throw e;
    throw jwtError('token is not decodable', e);
  }
}

function algOfKey(key: KeyObject): JwsAlg {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new CocoonError('ERR_KBS_PROTOCOL_ALG_UNSUPPORTED', 'signing keys must be Ed25519 or EC P-256');
}

/** Signs a JWT; the header gets `alg` from the key plus the given extra members. */
export function signJwt(
  payload: Readonly<Record<string, unknown>>,
  privateKey: KeyObject,
  extraHeader: Readonly<Record<string, unknown>> = {},
): string {
  const alg = algOfKey(privateKey);
  const header = { typ: 'JWT', alg, ...extraHeader };
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  const sig =
    alg === 'EdDSA'
      ? cryptoSign(null, Buffer.from(input), privateKey)
      : cryptoSign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64u(sig)}`;
}

/** node:crypto's one-shot signature on the libuv thread pool (the callback form), as a promise. */
function signOffLoop(alg: JwsAlg, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (e: Error | null, sig: Buffer): void => (e === null ? resolve(sig) : reject(e));
    if (alg === 'EdDSA') cryptoSign(null, data, key, done);
    else cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, done);
  });
}

function verifyOffLoop(alg: JwsAlg, data: Buffer, key: KeyObject, sig: Buffer): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const done = (e: Error | null, ok: boolean): void => (e === null ? resolve(ok) : reject(e));
    if (alg === 'EdDSA') cryptoVerify(null, data, key, sig, done);
    else cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig, done);
  });
}

/**
 * signJwt with the signature computed on the libuv thread pool: a server signing a token per
 * handshake keeps its event loop for requests. Same output format as signJwt.
 */
export async function signJwtAsync(
  payload: Readonly<Record<string, unknown>>,
  privateKey: KeyObject,
  extraHeader: Readonly<Record<string, unknown>> = {},
): Promise<string> {
  const alg = algOfKey(privateKey);
  const header = { typ: 'JWT', alg, ...extraHeader };
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${b64u(await signOffLoop(alg, Buffer.from(input), privateKey))}`;
}

/** verifyJwtSignature with the check on the libuv thread pool. Same errors. */
export async function verifyJwtSignatureAsync(
  token: string | DecodedJwt,
  publicKey: KeyObject,
): Promise<DecodedJwt> {
  const [d, keyAlg] = decodedForKey(token, publicKey);
  let ok = false;
  try {
    ok = await verifyOffLoop(keyAlg, Buffer.from(d.signingInput), publicKey, d.signature);
  } catch (e) {
    throw jwtError('token signature is malformed', e);
  }
  if (!ok) throw jwtError('token signature does not verify');
  return d;
}

/** Options of verifyJwt. */
export interface VerifyJwtOptions {
  /** Current time in seconds; required (time is injected). */
  readonly nowSeconds: number;
  /** Require an `exp` claim (default true). */
  readonly requireExp?: boolean;
  /** Clock-skew leeway in seconds for exp/nbf (default 0). */
  readonly leewaySeconds?: number;
}

/** Why a signature-valid token was rejected on time. */
export type JwtTimeFailure = 'expired' | 'not-yet-valid' | 'missing-exp';

/** Decodes (if needed) and checks that the token's `alg` is the one the key implies (no confusion). */
function decodedForKey(token: string | DecodedJwt, publicKey: KeyObject): [DecodedJwt, JwsAlg] {
  const d = typeof token === 'string' ? decodeJwt(token) : token;
  const keyAlg = algOfKey(publicKey);
  if (d.header['alg'] !== keyAlg)
    throw jwtError(`token alg ${String(d.header['alg'])} does not match the key (${keyAlg})`);
  return [d, keyAlg];
}

/** Checks a JWT's signature against `publicKey`; returns the decoded token. Throws ERR_KBS_PROTOCOL_JWT_INVALID. */
export function verifyJwtSignature(token: string | DecodedJwt, publicKey: KeyObject): DecodedJwt {
  const [d, keyAlg] = decodedForKey(token, publicKey);
  let ok = false;
  try {
    ok =
      keyAlg === 'EdDSA'
        ? cryptoVerify(null, Buffer.from(d.signingInput), publicKey, d.signature)
        : cryptoVerify(
            'sha256',
            Buffer.from(d.signingInput),
            { key: publicKey, dsaEncoding: 'ieee-p1363' },
            d.signature,
          );
  } catch (e) {
    throw jwtError('token signature is malformed', e);
  }
  if (!ok) throw jwtError('token signature does not verify');
  return d;
}

/** Checks exp/nbf of a decoded token; returns the failure kind or undefined when valid. */
export function jwtTimeFailure(d: DecodedJwt, opts: VerifyJwtOptions): JwtTimeFailure | undefined {
  const leeway = opts.leewaySeconds ?? 0;
  const exp = d.payload['exp'];
  const nbf = d.payload['nbf'];
  if (exp === undefined) return opts.requireExp === false ? undefined : 'missing-exp';
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return 'missing-exp';
  if (opts.nowSeconds > exp + leeway) return 'expired';
  if (typeof nbf === 'number' && opts.nowSeconds + leeway < nbf) return 'not-yet-valid';
  return undefined;
}
