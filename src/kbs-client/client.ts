/**
 * The RCAR client (kbs-protocol.md §3, §9.1): auth → challenge → evidence bound to the nonce and
 * TEE key → attest → token + session cookie; GET resource and JWE decryption with the TEE private
 * key. Unlike guest-components it attests before the first GET (no guaranteed 401), caches the
 * token until its `exp`, and re-attests on 401 only when the KBS says the token is missing or
 * invalid — a policy denial or a missing resource fails at once instead of costing three
 * handshakes. Background-check (evidence provider) and passport (token provider, Bearer) modes.
 */
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/clock.js';
import { CocoonError } from '../common/errors.js';
import {
  decodeJwt,
  decryptJweAsync,
  deviceRuntimeData,
  errorVariant,
  ERROR_CODE_HEADER,
  KBS_PATH_PREFIX,
  KBS_PROTOCOL_VERSION,
  parseAttestationResponse,
  parseChallenge,
  parseErrorInformation,
  parseJsonText,
  primaryRuntimeDigest,
  runtimeDataDigest,
  selectedHashAlgorithm,
  SESSION_COOKIE,
  SUPPORTED_HASH_ALGORITHMS,
  type InitData,
  type JweAlg,
  type TeePubKey,
} from '../kbs-protocol/index.js';
import type { DeviceAttester, EvidenceProvider } from './evidence-provider.js';
import { httpCall, type HttpOptions, type HttpResponse } from './http.js';
import { generateTeeKey, generateTeeKeyAsync, type TeeKeyPair } from './tee-key.js';
import { createHash } from 'node:crypto';

/** Default bound on handshakes per resource request (guest-components: 3 attempts). */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** Seconds before `exp` at which a cached token counts as expired. */
export const DEFAULT_TOKEN_SKEW_S = 10;

/** Passport mode: a token plus the TEE key it names (e.g. from the AA's GetToken("kbs")). */
export interface TokenProvider {
  getToken(): Promise<{ token: string; teeKey: TeeKeyPair }>;
}

/** Options of KbsClient. */
export interface KbsClientOptions extends HttpOptions {
  /** Background-check mode: evidence source. One of evidence / tokenProvider is required. */
  readonly evidence?: EvidenceProvider;
  /** Passport mode: token source; requests carry `Authorization: Bearer`. */
  readonly tokenProvider?: TokenProvider;
  /** TEE key; default a fresh EC P-256 key. */
  readonly teeKey?: TeeKeyPair;
  /** init-data sent with every Attestation (format "toml"). */
  readonly initData?: InitData;
  /** Secondary devices attested alongside the primary TEE (`additional_evidence`, §3.5). */
  readonly devices?: readonly DeviceAttester[];
  /** Handshakes per request; default DEFAULT_MAX_ATTEMPTS. */
  readonly maxAttempts?: number;
  /** Token expiry skew in seconds; default DEFAULT_TOKEN_SKEW_S. */
  readonly tokenSkewSeconds?: number;
  /** Accept RSA1_5 JWEs (deprecated). Default false. */
  readonly allowRsa15?: boolean;
  /** Time source; default the system clock. */
  readonly clock?: Clock;
}

interface CachedToken {
  readonly token: string;
  readonly exp: number | undefined;
  readonly cookie: string | undefined;
}

/** What a non-200 response means to the retry loop. */
type Verdict = 'reattest' | 'deny' | 'not-found' | 'error';

function initDigest(initData: InitData): Buffer | undefined {
  const m = /^\s*algorithm\s*=\s*"(sha256|sha384|sha512)"\s*$/m.exec(initData.body);
  return m === null ? undefined : createHash(m[1]!).update(initData.body, 'utf8').digest();
}

/** The RCAR / passport client. */
export class KbsClient {
  private readonly opts: KbsClientOptions;
  private readonly clock: Clock;
  private teeKey: TeeKeyPair | undefined;
  private cached: CachedToken | undefined;
  /** Handshakes performed (tests and metrics read it). */
  handshakes = 0;

  constructor(opts: KbsClientOptions) {
    if (opts.evidence === undefined && opts.tokenProvider === undefined) {
      throw new TypeError('KbsClient needs an evidence provider or a token provider');
    }
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    // Generated on first use, off the event loop (attest) or here when asked for synchronously.
    this.teeKey = opts.teeKey;
  }

  /** The TEE key pair in use. */
  get key(): TeeKeyPair {
    this.teeKey ??= generateTeeKey();
    return this.teeKey;
  }

  private now(): number {
    return Math.floor(this.clock.now().getTime() / 1000);
  }

  private valid(c: CachedToken | undefined): c is CachedToken {
    if (c === undefined) return false;
    return c.exp === undefined || this.now() < c.exp - (this.opts.tokenSkewSeconds ?? DEFAULT_TOKEN_SKEW_S);
  }

  private post(path: string, body: unknown, cookie?: string): Promise<HttpResponse> {
    const h: Record<string, string> = { 'content-type': 'application/json' };
    if (cookie !== undefined) h['cookie'] = cookie;
    return httpCall(this.opts, 'POST', `${KBS_PATH_PREFIX}${path}`, h, Buffer.from(JSON.stringify(body)));
  }

  private rejected(stage: string, r: HttpResponse): CocoonError {
    const info = safeErrorInfo(r.body);
    return new CocoonError(
      'ERR_KBS_CLIENT_ATTESTATION_FAILED',
      `KBS ${stage} failed with ${r.status}${info === undefined ? '' : `: ${errorVariant(info)}: ${info.detail}`}`,
      { details: { status: r.status, stage, serverCode: headerCode(r) } },
    );
  }

  /** Runs one RCAR handshake and caches the token; returns the token. */
  async attest(): Promise<string> {
    const provider = this.opts.evidence;
    if (provider === undefined) {
      const t = await this.opts.tokenProvider!.getToken();
      this.teeKey = t.teeKey;
      this.cached = { token: t.token, exp: tokenExp(t.token), cookie: undefined };
      return t.token;
    }
    this.handshakes++;
    this.teeKey ??= await generateTeeKeyAsync();
    const teeKey = this.teeKey;
    const tee = await provider.teeType();
    const auth = await this.post('/auth', {
      version: KBS_PROTOCOL_VERSION,
      tee,
      'extra-params': { 'supported-hash-algorithms': [...SUPPORTED_HASH_ALGORITHMS] },
    });
    if (auth.status !== 200) throw this.rejected('auth', auth);
    const challenge = parseChallenge(jsonBody(auth));
    const sid = sessionId(auth);
    if (sid === undefined)
      throw new CocoonError('ERR_KBS_CLIENT_RESPONSE_INVALID', 'auth reply lacks the kbs-session-id cookie');
    const cookie = `${SESSION_COOKIE}=${sid}`;
    const additional = await this.additionalEvidence(challenge.nonce, teeKey.publicJwk);
    const digest = primaryRuntimeDigest(
      challenge.nonce,
      teeKey.publicJwk,
      additional,
      selectedHashAlgorithm(challenge['extra-params']),
    );
    const init = this.opts.initData;
    let evidence: unknown;
    try {
      const d = init === undefined ? undefined : initDigest(init);
      evidence = await provider.primaryEvidence(digest, d === undefined ? {} : { initDataDigest: d });
    } catch (e) {
      if (e instanceof CocoonError) throw e;
      throw new CocoonError('ERR_KBS_CLIENT_EVIDENCE_FAILED', 'evidence provider failed', { cause: e });
    }
    const attestation = {
      ...(init === undefined ? {} : { 'init-data': init }),
      'runtime-data': { nonce: challenge.nonce, 'tee-pubkey': teeKey.publicJwk },
      'tee-evidence': { primary_evidence: evidence, additional_evidence: additional },
    };
    const res = await this.post('/attest', attestation, cookie);
    if (res.status !== 200) throw this.rejected('attest', res);
    const { token } = parseAttestationResponse(jsonBody(res));
    this.cached = { token, exp: tokenExp(token), cookie };
    return token;
  }

  /** Returns a cached unexpired token or attests for a new one. */
  async getToken(): Promise<string> {
    if (this.valid(this.cached)) return this.cached.token;
    return this.attest();
  }

  /** Drops the cached token and session (next call re-attests). */
  invalidate(): void {
    this.cached = undefined;
  }

  /**
   * `additional_evidence` (§3.5 steps 1-2): "" without devices, else the JSON text of
   * {device TEE: evidence}, each device's evidence bound to H(JCS({nonce, tee-pubkey})).
   */
  private async additionalEvidence(nonce: string, key: TeePubKey): Promise<string> {
    const devices = this.opts.devices ?? [];
    if (devices.length === 0) return '';
    const digest = runtimeDataDigest(deviceRuntimeData(nonce, key));
    const out: Record<string, unknown> = {};
    for (const d of devices) {
      if (Object.hasOwn(out, d.tee)) {
        throw new CocoonError('ERR_KBS_CLIENT_EVIDENCE_FAILED', `device ${d.tee} is listed twice`);
      }
      try {
        out[d.tee] = await d.evidence(digest);
      } catch (e) {
        if (e instanceof CocoonError) throw e;
        throw new CocoonError('ERR_KBS_CLIENT_EVIDENCE_FAILED', `device attester ${d.tee} failed`, {
          cause: e,
        });
      }
    }
    return JSON.stringify(out);
  }

  /** Fetches and decrypts `repo/type/tag`. */
  async getResource(path: string): Promise<Buffer> {
    const clean = path.replace(/^\/+/, '');
    const max = Math.max(1, this.opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    let last: HttpResponse | undefined;
    for (let attempt = 0; attempt < max; attempt++) {
      if (!this.valid(this.cached)) await this.attest();
      const c = this.cached!;
      const headers: Record<string, string> = { authorization: `Bearer ${c.token}` };
      if (c.cookie !== undefined) headers['cookie'] = c.cookie;
      const r = await httpCall(this.opts, 'GET', `${KBS_PATH_PREFIX}/resource/${clean}`, headers);
      if (r.status === 200) return await this.decrypt(r);
      last = r;
      const v = classify(r);
      if (v === 'reattest') {
        this.invalidate();
        continue;
      }
      const info = safeErrorInfo(r.body);
      const detail = info === undefined ? `status ${r.status}` : `${errorVariant(info)}: ${info.detail}`;
      const details = { status: r.status, serverCode: headerCode(r) };
      if (v === 'deny')
        throw new CocoonError('ERR_KBS_CLIENT_POLICY_DENIED', `KBS denied ${clean}: ${detail}`, { details });
      if (v === 'not-found')
        throw new CocoonError('ERR_KBS_CLIENT_RESOURCE_NOT_FOUND', `KBS has no ${clean}: ${detail}`, {
          details,
        });
      throw new CocoonError('ERR_KBS_CLIENT_SERVER_ERROR', `KBS GET ${clean} failed: ${detail}`, { details });
    }
    throw new CocoonError('ERR_KBS_CLIENT_UNAUTHORIZED', `KBS refused the token ${max} times for ${clean}`, {
      details: { status: last?.status, serverCode: last === undefined ? undefined : headerCode(last) },
    });
  }

  private decrypt(r: HttpResponse): Promise<Buffer> {
    const algs: JweAlg[] = [
      'ECDH-ES+A256KW',
      'RSA-OAEP-256',
      ...(this.opts.allowRsa15 === true ? (['RSA1_5'] as const) : []),
    ];
    const k = this.key;
    return decryptJweAsync(jsonBody(r), k.ecdhPrivate ?? k.privateKey, { algorithms: algs });
  }
}

function jsonBody(r: HttpResponse): unknown {
  try {
    return parseJsonText(r.body, 'KBS response');
  } catch (e) {
    throw new CocoonError('ERR_KBS_CLIENT_RESPONSE_INVALID', 'KBS response is not JSON', { cause: e });
  }
}

function safeErrorInfo(body: Buffer): ReturnType<typeof parseErrorInformation> {
  try {
    return parseErrorInformation(JSON.parse(body.toString('utf8')));
  } catch {
    return undefined;
  }
}

function headerCode(r: HttpResponse): string | undefined {
  const v = r.headers[ERROR_CODE_HEADER];
  return typeof v === 'string' ? v : undefined;
}

/** Decides what a failed GET means, from the ErrorInformation variant (kbs-protocol.md §4.4). */
export function classify(r: HttpResponse): Verdict {
  if (r.status === 404) return 'not-found';
  if (r.status !== 401) return 'error';
  const info = safeErrorInfo(r.body);
  const variant = info === undefined ? '' : errorVariant(info);
  if (variant === 'TokenNotFound' || variant === 'TokenVerifierError') return 'reattest';
  if (variant === 'PolicyDeny') return 'deny';
  if (variant === 'PluginInternalError') {
    const code = headerCode(r);
    if (code === 'ERR_KBS_RESOURCE_NOT_FOUND' || info?.detail.startsWith('resource not found'))
      return 'not-found';
    return 'error';
  }
  // A 401 without a recognizable variant (e.g. an older KBS): re-attest, bounded by maxAttempts.
  return 'reattest';
}

function sessionId(r: HttpResponse): string | undefined {
  const sc = r.headers['set-cookie'];
  for (const c of sc ?? []) {
    const first = c.split(';')[0]!;
    const i = first.indexOf('=');
    if (i > 0 && first.slice(0, i).trim() === SESSION_COOKIE) return first.slice(i + 1).trim();
  }
  return undefined;
}

/** `exp` of a token without verifying it (the client cannot; the KBS does, §9.1). */
export function tokenExp(token: string): number | undefined {
  let exp: unknown;
  try {
    exp = decodeJwt(token).payload['exp'];
  } catch (e) {
    throw new CocoonError('ERR_KBS_CLIENT_TOKEN_INVALID', 'attestation token is not a decodable JWT', {
      cause: e,
    });
  }
  return typeof exp === 'number' ? exp : undefined;
}
