/**
 * Admin authentication (kbs-protocol.md §5.2): `Authorization: Bearer <JWT>` signed by the
 * configured admin public key (Ed25519 as Trustee's docker set-up mints, or EC P-256/ES256), with
 * a required, unexpired `exp`. No key configured means every admin call is refused (fail closed,
 * like Trustee's DenyAll).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import { CocoonError } from '../common/errors.js';
import { jwtTimeFailure, verifyJwtSignature } from '../kbs-protocol/index.js';

/** Leeway for admin token times, as jsonwebtoken's default (60 s). */
export const ADMIN_TOKEN_LEEWAY_S = 60;

/** Parses a PEM public key for admin auth; must be Ed25519 or EC P-256. */
export function parseAdminPublicKey(pem: string | Buffer): KeyObject {
  let k: KeyObject;
  try {
    k = createPublicKey(pem);
  } catch (e) {
    throw new CocoonError('ERR_KBS_CONFIG_INVALID', 'admin public key is not a PEM public key', { cause: e });
  }
  const ok =
    k.asymmetricKeyType === 'ed25519' ||
    (k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1');
  if (!ok) throw new CocoonError('ERR_KBS_CONFIG_INVALID', 'admin public key must be Ed25519 or EC P-256');
  return k;
}

/** What a verified admin call carries (logged; never the token itself). */
export interface AdminIdentity {
  readonly subject: string;
}

/** Verifies the Authorization header of an admin call. */
export function authenticateAdmin(
  authorization: string | undefined,
  key: KeyObject | undefined,
  clock: Clock,
): AdminIdentity {
  const deny = (why: string): CocoonError =>
    new CocoonError('ERR_KBS_ADMIN_UNAUTHORIZED', `admin auth failed: ${why}`);
  if (key === undefined) throw deny('no admin public key is configured (admin API disabled)');
  if (authorization === undefined) throw deny('missing Authorization header');
  const m = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(authorization.trim());
  if (m === null) throw deny('Authorization is not "Bearer <JWT>"');
  let payload: Readonly<Record<string, unknown>>;
  try {
    const d = verifyJwtSignature(m[1]!, key);
    const t = jwtTimeFailure(d, {
      nowSeconds: Math.floor(clock.now().getTime() / 1000),
      leewaySeconds: ADMIN_TOKEN_LEEWAY_S,
    });
    if (t !== undefined) throw deny(`token ${t}`);
    payload = d.payload;
  } catch (e) {
    if (e instanceof CocoonError && e.code === 'ERR_KBS_ADMIN_UNAUTHORIZED') throw e;
    throw new CocoonError('ERR_KBS_ADMIN_UNAUTHORIZED', 'admin auth failed: bad token', { cause: e });
  }
  const sub = payload['sub'];
  return { subject: typeof sub === 'string' ? sub.slice(0, 128) : 'admin' };
}
