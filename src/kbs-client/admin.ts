/**
 * Admin client (kbs-protocol.md §5): set/delete resources, attestation and resource policies,
 * reference values. Authenticates with `Authorization: Bearer <JWT>`, either a pre-minted token
 * (Trustee ≥ v0.21 `--admin-token-file`) or one minted per call from an Ed25519/P-256 private key
 * (Trustee ≤ v0.20 `--auth-private-key`, claims iat/exp).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/clock.js';
import { CocoonError } from '../common/errors.js';
import {
  b64std,
  b64u,
  errorVariant,
  ERROR_CODE_HEADER,
  KBS_PATH_PREFIX,
  parseErrorInformation,
  signJwt,
} from '../kbs-protocol/index.js';
import { httpCall, type HttpOptions, type HttpResponse } from './http.js';

/** Lifetime of a minted admin token (Trustee's old kbs-client: 2 h). */
export const ADMIN_TOKEN_LIFETIME_S = 2 * 60 * 60;

/** Options of KbsAdminClient. */
export interface KbsAdminClientOptions extends HttpOptions {
  /** Private key that mints admin tokens (Ed25519 or EC P-256). */
  readonly adminKey?: KeyObject;
  /** A pre-minted admin token (wins over adminKey). */
  readonly adminToken?: string;
  /** Time source for minted tokens; default the system clock. */
  readonly clock?: Clock;
}

/** Loads an admin private key from PEM. */
export function adminKeyFromPem(pem: string | Buffer): KeyObject {
  let k: KeyObject;
  try {
    k = createPrivateKey(pem);
  } catch (e) {
    throw new CocoonError('ERR_KBS_CLIENT_KEY_INVALID', 'admin key is not a PEM private key', { cause: e });
  }
  const ok =
    k.asymmetricKeyType === 'ed25519' ||
    (k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1');
  if (!ok) throw new CocoonError('ERR_KBS_CLIENT_KEY_INVALID', 'admin key must be Ed25519 or EC P-256');
  return k;
}

/** Mints an admin bearer token. */
export function mintAdminToken(
  key: KeyObject,
  clock: Clock = systemClock,
  lifetimeS = ADMIN_TOKEN_LIFETIME_S,
): string {
  const iat = Math.floor(clock.now().getTime() / 1000);
  return signJwt({ iat, exp: iat + lifetimeS, sub: 'admin', role: 'admin' }, key);
}

/** The admin client. */
export class KbsAdminClient {
  private readonly opts: KbsAdminClientOptions;

  constructor(opts: KbsAdminClientOptions) {
    this.opts = opts;
  }

  private authHeader(): Record<string, string> {
    if (this.opts.adminToken !== undefined) return { authorization: `Bearer ${this.opts.adminToken.trim()}` };
    if (this.opts.adminKey !== undefined) {
      return {
        authorization: `Bearer ${mintAdminToken(this.opts.adminKey, this.opts.clock ?? systemClock)}`,
      };
    }
    return {};
  }

  private async call(
    method: string,
    path: string,
    body?: Uint8Array,
    contentType?: string,
  ): Promise<HttpResponse> {
    const h = { ...this.authHeader(), ...(contentType === undefined ? {} : { 'content-type': contentType }) };
    const r = await httpCall(this.opts, method, `${KBS_PATH_PREFIX}${path}`, h, body);
    if (r.status !== 200) {
      let info;
      try {
        info = parseErrorInformation(JSON.parse(r.body.toString('utf8')));
      } catch {
        info = undefined;
      }
      const code = r.headers[ERROR_CODE_HEADER];
      throw new CocoonError(
        'ERR_KBS_CLIENT_ADMIN_REJECTED',
        `KBS ${method} ${path} failed with ${r.status}${info === undefined ? '' : `: ${errorVariant(info)}: ${info.detail}`}`,
        { details: { status: r.status, serverCode: typeof code === 'string' ? code : undefined } },
      );
    }
    return r;
  }

  /** Stores a resource at repo/type/tag (raw bytes, §5.1). */
  async setResource(path: string, data: Uint8Array): Promise<void> {
    await this.call('POST', `/resource/${path.replace(/^\/+/, '')}`, data, 'application/octet-stream');
  }

  /** Deletes a resource. */
  async deleteResource(path: string): Promise<void> {
    await this.call('DELETE', `/resource/${path.replace(/^\/+/, '')}`);
  }

  /** Sets an attestation policy (`policy` is base64url without padding, §5.1). */
  async setAttestationPolicy(text: string, id = 'default_cpu', type = 'rego'): Promise<void> {
    const body = JSON.stringify({ type, policy_id: id, policy: b64u(text) });
    await this.call('POST', '/attestation-policy', Buffer.from(body), 'application/json');
  }

  /** Sets the resource policy. */
  async setResourcePolicy(text: string): Promise<void> {
    await this.call(
      'POST',
      '/resource-policy',
      Buffer.from(JSON.stringify({ policy: b64u(text) })),
      'application/json',
    );
  }

  /** Registers reference values with the sample extractor (payload = std base64 of {name: value}, §7.4). */
  async setReferenceValues(values: Readonly<Record<string, unknown>>): Promise<void> {
    const message = {
      version: '0.1.0',
      type: 'sample',
      payload: b64std(Buffer.from(JSON.stringify(values))),
    };
    await this.call('POST', '/reference-value', Buffer.from(JSON.stringify(message)), 'application/json');
  }

  /** Reads a stored reference value. */
  async getReferenceValue(id: string): Promise<unknown> {
    const r = await this.call('GET', `/reference-value/${id}`);
    return JSON.parse(r.body.toString('utf8')) as unknown;
  }
}
