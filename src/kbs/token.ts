/**
 * EAR attestation tokens (kbs-protocol.md §6): ES256 JWTs whose header embeds the public signing
 * JWK, signed with a persistent P-256 key kept in the state directory (created atomically on first
 * start, so restarts keep issued tokens valid). Verification accepts our own key plus any
 * configured trusted public keys (passport mode, §6.5); `exp` is required.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../common/clock.js';
import { CocoonError } from '../common/errors.js';
import {
  decodeJwt,
  EAR_ISSUER,
  EAR_PROFILE,
  jwtTimeFailure,
  signJwt,
  signJwtAsync,
  verifyJwtSignature,
  verifyJwtSignatureAsync,
  type DecodedJwt,
  type EarSubmod,
} from '../kbs-protocol/index.js';
import { createFileExclusive } from './atomic-file.js';

/** File name of the signing key in the state directory. */
export const SIGNING_KEY_FILE = 'token-signing-key.pem';
/** Default token lifetime (attestation_token_broker.duration_min = 5, §6.2). */
export const DEFAULT_TOKEN_LIFETIME_S = 5 * 60;

/** Loads the EC P-256 signing key from `stateDir`, creating it atomically when absent. */
export async function loadOrCreateSigningKey(stateDir: string): Promise<KeyObject> {
  const path = join(stateDir, SIGNING_KEY_FILE);
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new CocoonError('ERR_KBS_SIGNING_KEY_INVALID', `cannot read ${path}`, { cause: e });
    }
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const fresh = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    // Another process may win the race; then we read its key.
    await createFileExclusive(path, Buffer.from(fresh));
    pem = await readFile(path, 'utf8');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new CocoonError('ERR_KBS_SIGNING_KEY_INVALID', `${path} is not a PEM private key`, { cause: e });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new CocoonError(
      'ERR_KBS_SIGNING_KEY_INVALID',
      `${path} must be an EC P-256 key (Trustee signs ES256 only)`,
    );
  }
  return key;
}

/** Options of TokenBroker. */
export interface TokenBrokerOptions {
  readonly signingKey: KeyObject;
  readonly clock: Clock;
  /** Lifetime in seconds; default DEFAULT_TOKEN_LIFETIME_S. */
  readonly lifetimeSeconds?: number;
  /** Other issuers' public keys accepted on Bearer tokens (passport mode). Default none. */
  readonly trustedKeys?: readonly KeyObject[];
  /** `ear.verifier-id.build`. */
  readonly build?: string;
}

/** Issues and verifies EAR tokens. */
export class TokenBroker {
  private readonly key: KeyObject;
  private readonly pub: KeyObject;
  private readonly headerJwk: Record<string, unknown>;
  private readonly clock: Clock;
  private readonly lifetime: number;
  private readonly trusted: readonly KeyObject[];
  private readonly build: string;

  constructor(opts: TokenBrokerOptions) {
    this.key = opts.signingKey;
    this.pub = createPublicKey(opts.signingKey);
    const jwk = this.pub.export({ format: 'jwk' });
    this.headerJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, alg: 'ES256' };
    this.clock = opts.clock;
    this.lifetime = opts.lifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_S;
    this.trusted = [this.pub, ...(opts.trustedKeys ?? [])];
    this.build = opts.build ?? 'cocoon-kbs';
  }

  /** The public signing key (what a relying party trusts). */
  get publicKey(): KeyObject {
    return this.pub;
  }

  /** Issues a token with the given submods (§6.2 layout). */
  issue(submods: Readonly<Record<string, EarSubmod>>): string {
    return signJwt(this.claims(submods), this.key, { jwk: this.headerJwk });
  }

  /** issue() with the signature computed off the event loop (what the server calls). */
  issueAsync(submods: Readonly<Record<string, EarSubmod>>): Promise<string> {
    return signJwtAsync(this.claims(submods), this.key, { jwk: this.headerJwk });
  }

  private claims(submods: Readonly<Record<string, EarSubmod>>): Record<string, unknown> {
    const iat = Math.floor(this.clock.now().getTime() / 1000);
    return {
      eat_profile: EAR_PROFILE,
      iat,
      'ear.verifier-id': { developer: 'https://confidentialcontainers.org', build: this.build },
      submods,
      exp: iat + this.lifetime,
      iss: EAR_ISSUER,
    };
  }

  /** Verifies signature (own or trusted key) and exp; returns the claims. */
  verify(token: string): Readonly<Record<string, unknown>> {
    const decoded = this.decode(token);
    let ok = false;
    for (const k of this.trusted) {
      try {
        verifyJwtSignature(decoded, k);
        ok = true;
        break;
      } catch {
        // try the next trusted key
      }
    }
    return this.accept(decoded, ok);
  }

  /** verify() with the signature checks off the event loop (what the server calls). */
  async verifyAsync(token: string): Promise<Readonly<Record<string, unknown>>> {
    const decoded = this.decode(token);
    let ok = false;
    for (const k of this.trusted) {
      try {
        await verifyJwtSignatureAsync(decoded, k);
        ok = true;
        break;
      } catch {
        // try the next trusted key
      }
    }
    return this.accept(decoded, ok);
  }

  private decode(token: string): DecodedJwt {
    try {
      return decodeJwt(token);
    } catch (e) {
      throw new CocoonError('ERR_KBS_TOKEN_INVALID', 'attestation token is malformed', { cause: e });
    }
  }

  private accept(decoded: DecodedJwt, signedByTrustedKey: boolean): Readonly<Record<string, unknown>> {
    if (!signedByTrustedKey)
      throw new CocoonError('ERR_KBS_TOKEN_INVALID', 'attestation token is not signed by a trusted key');
    const t = jwtTimeFailure(decoded, { nowSeconds: Math.floor(this.clock.now().getTime() / 1000) });
    if (t === 'expired') throw new CocoonError('ERR_KBS_TOKEN_EXPIRED', 'attestation token expired');
    if (t !== undefined)
      throw new CocoonError('ERR_KBS_TOKEN_INVALID', `attestation token time check failed: ${t}`);
    return decoded.payload;
  }
}
