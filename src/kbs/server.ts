/**
 * The test KBS server (`cocoon kbs serve`, `startKbs()`): node:http(s) routing of the endpoints
 * of kbs-protocol.md §2 over the session, attestation, resource, policy and admin modules of this
 * folder. Every error leaves through http-errors.ts; every admin call is logged without its body
 * or token.
 */
import type { KeyObject } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { systemClock, type Clock } from '../common/clock.js';
import { CocoonError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import {
  checkVersion,
  encryptJweAsync,
  ERROR_CODE_HEADER,
  fromB64u,
  KBS_PATH_PREFIX,
  parseAttestation,
  parseJsonText,
  parseRequest,
  parseTeePubKey,
  SESSION_COOKIE,
  teePubKeyCandidate,
} from '../kbs-protocol/index.js';
import { authenticateAdmin, parseAdminPublicKey } from './admin-auth.js';
import { AttestationService } from './attest.js';
import { toHttpError } from './http-errors.js';
import { createMetrics, type KbsMetrics } from './metrics.js';
import { createBuiltinPolicyEngines, type PolicyEngines } from './policy.js';
import { createRegoPolicyEngines } from './rego-policy.js';
import { ReferenceValueStore } from './reference-values.js';
import { RateLimiter, DEFAULT_AUTH_RATE_LIMIT, type RateLimitOptions } from './rate-limit.js';
import { parseResourcePath, pathText, ResourceStore } from './resource-store.js';
import { cookieValue, SessionStore, DEFAULT_SESSION_LIFETIME_MS, type Session } from './session.js';
import { loadOrCreateSigningKey, TokenBroker, DEFAULT_TOKEN_LIFETIME_S } from './token.js';

/** Default listen address (Trustee http_server.sockets, §11). */
export const DEFAULT_KBS_LISTEN = '127.0.0.1:8080';
/** Default request body limit (Trustee payload_request_size = 2 MiB, §2). */
export const DEFAULT_BODY_LIMIT = 2 * 1024 * 1024;
/** Sweep period of expired sessions (Trustee: 60 s, §3.7). */
export const SESSION_SWEEP_MS = 60_000;
/** Per-request socket timeout (a slow client cannot hold a connection forever). */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Options of startKbs. */
export interface KbsServerOptions {
  /** HOST:PORT; default DEFAULT_KBS_LISTEN (port 0 picks a free port). */
  readonly listen?: string;
  /** Serve plain HTTP (explicit opt-in); otherwise `tls` is required. */
  readonly insecureHttp?: boolean;
  /** TLS certificate chain and key (PEM). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Resource store root (`DIR/<repo>/<type>/<tag>`). Required. */
  readonly resourcesDir: string;
  /** State directory (signing key, reference values); default `<resourcesDir>/.state`. */
  readonly stateDir?: string;
  /** Admin public key (PEM text or KeyObject; Ed25519 or P-256). Absent: admin API refused. */
  readonly adminPublicKey?: string | Buffer | KeyObject;
  /** Accept the sample TEE. Default false. */
  readonly allowSample?: boolean;
  /** Options per TEE passed to createVerifier (e.g. test roots for simulated TDX/SNP). */
  readonly verifierOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Policy engines; default per `policyEngine`, seeded with the two texts below. */
  readonly policies?: PolicyEngines;
  /** Which engines to build when `policies` is absent: 'rego' (default, src/policy) or 'builtin' (TS). */
  readonly policyEngine?: 'rego' | 'builtin';
  /** Attestation policy text for default_cpu: Rego, or `builtin:default`. */
  readonly attestationPolicy?: string;
  /** Resource policy text: Rego, or `builtin:default|allow_all|deny_all|affirming`. */
  readonly resourcePolicy?: string;
  /** Other issuers' token keys accepted on Bearer tokens (passport mode). */
  readonly trustedTokenKeys?: readonly KeyObject[];
  /** Accept RSA1_5 tee-pubkeys. Default false. */
  readonly allowRsa15?: boolean;
  /** Session lifetime ms; default 5 min. */
  readonly sessionLifetimeMs?: number;
  /** Token lifetime s; default 5 min. */
  readonly tokenLifetimeSeconds?: number;
  /** Cap on live sessions. */
  readonly maxSessions?: number;
  /** Body limit bytes; default 2 MiB. */
  readonly bodyLimitBytes?: number;
  /** /auth rate limit per client address; false disables. Default 50/s, burst 100. */
  readonly authRateLimit?: RateLimitOptions | false;
  /** Time source; default the system clock. */
  readonly clock?: Clock;
  /** Logger; default silent. */
  readonly logger?: Logger;
}

/** A running KBS. */
export interface RunningKbs {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly url: string;
  readonly server: Server;
  readonly metrics: KbsMetrics;
  /** Token signing public key (what passport relying parties trust). */
  readonly tokenPublicKey: KeyObject;
  /** Live session count. */
  sessionCount(): number;
  /** Stops listening and releases timers. */
  close(): Promise<void>;
}

function parseListen(listen: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  if (m === null)
    throw new CocoonError('ERR_KBS_CONFIG_INVALID', `--listen must be HOST:PORT, got ${listen}`);
  const port = Number(m[2]);
  if (port > 65535) throw new CocoonError('ERR_KBS_CONFIG_INVALID', `port ${port} out of range`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

class HttpReply {
  readonly status: number;
  readonly body: Buffer | string;
  readonly headers: Record<string, string>;

  constructor(status: number, body: Buffer | string, headers: Record<string, string> = {}) {
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/** Reads a request body, bounded; ERR_KBS_BODY_TOO_LARGE beyond `limit`. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(
      new CocoonError(
        'ERR_KBS_BODY_TOO_LARGE',
        `payload reached size limit: ${declared} bytes > ${limit} (raise --body-limit)`,
      ),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        reject(
          new CocoonError('ERR_KBS_BODY_TOO_LARGE', `payload reached size limit: more than ${limit} bytes`),
        );
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', (e) => {
      if (!done) {
        done = true;
        reject(e);
      }
    });
  });
}

function endpointOf(segments: readonly string[]): string {
  return segments[0] ?? '';
}

const METRIC_ENDPOINTS = [
  'auth',
  'attest',
  'resource',
  'attestation-policy',
  'resource-policy',
  'reference-value',
];

/** Bounded metric label for a request URL (unknown paths share one label). */
function endpointLabel(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!;
  if (path === '/healthz' || path === '/metrics') return path.slice(1);
  if (!path.startsWith(`${KBS_PATH_PREFIX}/`)) return 'other';
  const ep = endpointOf(path.slice(KBS_PATH_PREFIX.length + 1).split('/'));
  return METRIC_ENDPOINTS.includes(ep) ? ep : 'other';
}

/** Starts a KBS and resolves once it listens. */
export async function startKbs(options: KbsServerOptions): Promise<RunningKbs> {
  const clock = options.clock ?? systemClock;
  const log = options.logger ?? silentLogger;
  if (options.insecureHttp !== true && options.tls === undefined) {
    throw new CocoonError(
      'ERR_KBS_CONFIG_INVALID',
      'HTTPS needs --tls-cert and --tls-key (or pass --insecure-http)',
    );
  }
  const { host, port } = parseListen(options.listen ?? DEFAULT_KBS_LISTEN);
  const stateDir = options.stateDir ?? join(options.resourcesDir, '.state');
  await mkdir(options.resourcesDir, { recursive: true, mode: 0o700 });
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const adminKey =
    options.adminPublicKey === undefined
      ? undefined
      : typeof options.adminPublicKey === 'object' && 'asymmetricKeyType' in options.adminPublicKey
        ? parseAdminPublicKey(options.adminPublicKey.export({ format: 'pem', type: 'spki' }) as string)
        : parseAdminPublicKey(options.adminPublicKey as string | Buffer);
  const limit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT;
  const sessions = new SessionStore({
    clock,
    lifetimeMs: options.sessionLifetimeMs ?? DEFAULT_SESSION_LIFETIME_MS,
    ...(options.maxSessions === undefined ? {} : { maxSessions: options.maxSessions }),
  });
  const store = new ResourceStore(options.resourcesDir, limit);
  const rvps = new ReferenceValueStore(stateDir, clock);
  await rvps.load();
  const texts = {
    ...(options.attestationPolicy === undefined ? {} : { attestationPolicy: options.attestationPolicy }),
    ...(options.resourcePolicy === undefined ? {} : { resourcePolicy: options.resourcePolicy }),
  };
  const policies =
    options.policies ??
    (options.policyEngine === 'builtin'
      ? await createBuiltinPolicyEngines(texts)
      : await createRegoPolicyEngines(texts));
  const broker = new TokenBroker({
    signingKey: await loadOrCreateSigningKey(stateDir),
    clock,
    lifetimeSeconds: options.tokenLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_S,
    ...(options.trustedTokenKeys === undefined ? {} : { trustedKeys: options.trustedTokenKeys }),
  });
  const attestation = new AttestationService({
    allowSample: options.allowSample === true,
    verifierOptions: options.verifierOptions ?? {},
    policy: policies.attestation,
    referenceValues: rvps,
    broker,
  });
  const limiter =
    options.authRateLimit === false
      ? undefined
      : new RateLimiter(options.authRateLimit ?? DEFAULT_AUTH_RATE_LIMIT, clock);
  const metrics = createMetrics();
  const allowRsa15 = options.allowRsa15 === true;

  const sessionCookie = (s: Session): string =>
    `${SESSION_COOKIE}=${s.id}; Expires=${new Date(s.expiresAt).toUTCString()}`;
  const json = (v: unknown, headers: Record<string, string> = {}): HttpReply =>
    new HttpReply(200, JSON.stringify(v), { 'content-type': 'application/json', ...headers });

  const admin = (req: IncomingMessage, what: string): void => {
    let who;
    try {
      who = authenticateAdmin(req.headers.authorization, adminKey, clock);
    } catch (e) {
      log.warn({ method: req.method, path: what, code: (e as CocoonError).code }, 'kbs admin call refused');
      throw e;
    }
    // Logged without body or token: the secret never reaches the log.
    log.info({ admin: who.subject, method: req.method, path: what }, 'kbs admin call');
  };

  async function handleAuth(req: IncomingMessage): Promise<HttpReply> {
    const addr = req.socket.remoteAddress ?? 'unknown';
    if (limiter !== undefined && !limiter.take(addr)) {
      throw new CocoonError('ERR_KBS_RATE_LIMITED', 'too many /auth requests from this address');
    }
    const request = parseRequest(parseJsonText(await readBody(req, limit), 'Request'));
    checkVersion(request.version);
    attestation.admit(request.tee);
    const s = sessions.create(request);
    return json({ nonce: s.nonce, 'extra-params': '' }, { 'set-cookie': sessionCookie(s) });
  }

  async function handleAttest(req: IncomingMessage): Promise<HttpReply> {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const body = await readBody(req, limit);
    const s = sessions.get(id);
    sessions.beginAttest(s);
    try {
      const att = parseAttestation(parseJsonText(body, 'Attestation'), { allowRsa15 });
      const r = await attestation.attest(s, att);
      sessions.completeAttest(s, r.token);
      metrics.attestations.inc({ tee: s.request.tee, result: 'ok' });
      log.info({ tee: s.request.tee, status: r.status }, 'kbs attestation ok');
      return json({ token: r.token }, { 'set-cookie': sessionCookie(s) });
    } catch (e) {
      // Single-use challenge: a failed attempt ends the session.
      sessions.delete(s.id);
      metrics.attestations.inc({ tee: s.request.tee, result: 'fail' });
      log.info(
        { tee: s.request.tee, code: (e as CocoonError).code, details: (e as CocoonError).details },
        'kbs attestation failed',
      );
      throw e;
    }
  }

  function bearer(req: IncomingMessage): string | undefined {
    const h = req.headers.authorization;
    if (h === undefined) return undefined;
    const m = /^Bearer\s+(\S+)$/.exec(h.trim());
    if (m === null) throw new CocoonError('ERR_KBS_TOKEN_INVALID', 'Authorization is not "Bearer <token>"');
    return m[1];
  }

  async function handleResourceGet(
    req: IncomingMessage,
    segs: readonly string[],
    query: URLSearchParams,
  ): Promise<HttpReply> {
    // §4.2: attested cookie first, then Bearer, else TokenNotFound; the token is verified every time.
    const session = sessions.attested(cookieValue(req.headers.cookie, SESSION_COOKIE));
    const token = session?.token ?? bearer(req);
    if (token === undefined)
      throw new CocoonError('ERR_KBS_TOKEN_MISSING', 'no attested session and no bearer token');
    const claims = await broker.verifyAsync(token);
    const path = parseResourcePath(segs);
    const allowed = await policies.resource.allow(claims, {
      plugin: 'resource',
      'resource-path': [path.repository, path.type, path.tag],
      query: Object.fromEntries(query),
    });
    if (!allowed) throw new CocoonError('ERR_KBS_POLICY_DENY', `resource policy denied ${pathText(path)}`);
    const secret = await store.get(path);
    let jwe;
    try {
      jwe = await encryptJweAsync(secret, parseTeePubKey(teePubKeyCandidate(claims), { allowRsa15 }), {
        allowRsa15,
      });
    } catch (e) {
      throw new CocoonError('ERR_KBS_JWE_FAILED', 'cannot encrypt to the TEE key of the token', { cause: e });
    }
    return json(jwe);
  }

  async function route(req: IncomingMessage, segs: string[], query: URLSearchParams): Promise<HttpReply> {
    const method = req.method ?? 'GET';
    const ep = endpointOf(segs);
    const rest = segs.slice(1);
    const only = (...methods: string[]): void => {
      if (!methods.includes(method))
        throw new CocoonError('ERR_KBS_METHOD_NOT_ALLOWED', `${method} not allowed on /${ep}`);
    };
    switch (ep) {
      case 'auth':
        only('POST');
        return handleAuth(req);
      case 'attest':
        only('POST');
        return handleAttest(req);
      case 'resource':
        only('GET', 'POST', 'DELETE');
        if (method === 'GET') return handleResourceGet(req, rest, query);
        admin(req, `/resource/${rest.join('/')}`);
        if (method === 'POST') {
          const p = parseResourcePath(rest);
          await store.set(p, await readBody(req, limit));
          return new HttpReply(200, '', { 'content-type': 'text/xml' });
        }
        await store.delete(parseResourcePath(rest));
        return new HttpReply(200, '');
      case 'attestation-policy': {
        only('POST');
        admin(req, '/attestation-policy');
        const b = parseJsonText(await readBody(req, limit), 'attestation policy');
        const o = (b ?? {}) as Record<string, unknown>;
        const id = o['policy_id'] ?? 'default_cpu';
        const text = policyText(o['policy']);
        if (typeof id !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(id)) {
          throw new CocoonError('ERR_KBS_POLICY_INVALID', 'policy_id must match [A-Za-z0-9_.-]{1,64}');
        }
        await policies.attestation.setPolicy(id, text);
        return new HttpReply(200, '');
      }
      case 'resource-policy':
        only('GET', 'POST');
        admin(req, '/resource-policy');
        if (method === 'GET') return json(['resource-policy']);
        {
          const b = parseJsonText(await readBody(req, limit), 'resource policy');
          await policies.resource.setPolicy(policyText(((b ?? {}) as Record<string, unknown>)['policy']));
        }
        return new HttpReply(200, '');
      case 'reference-value':
        only('GET', 'POST');
        admin(req, `/reference-value/${rest.join('/')}`);
        if (method === 'GET') return json(rvps.get(rest.join('/')));
        await rvps.register((await readBody(req, limit)).toString('utf8'));
        return new HttpReply(200, '', { 'content-type': 'application/json' });
      default:
        throw new CocoonError('ERR_KBS_PLUGIN_NOT_FOUND', `no endpoint /${ep.slice(0, 64)}`);
    }
  }

  async function dispatch(req: IncomingMessage): Promise<[string, HttpReply]> {
    const url = new URL(req.url ?? '/', 'http://kbs.invalid');
    // Raw path on purpose: a "%2e%2e" segment must be refused, not decoded into "..".
    const rawPath = (req.url ?? '/').split('?')[0]!;
    if (rawPath === '/healthz')
      return ['healthz', new HttpReply(200, 'ok', { 'content-type': 'text/plain' })];
    if (rawPath === '/metrics') {
      if (req.method !== 'GET') throw new CocoonError('ERR_KBS_METHOD_NOT_ALLOWED', 'GET only');
      metrics.sessions.set(sessions.size);
      return [
        'metrics',
        new HttpReply(200, await metrics.registry.metrics(), {
          'content-type': metrics.registry.contentType,
        }),
      ];
    }
    if (!rawPath.startsWith(`${KBS_PATH_PREFIX}/`))
      throw new CocoonError('ERR_KBS_PLUGIN_NOT_FOUND', 'not a /kbs/v0 path');
    const segs = rawPath.slice(KBS_PATH_PREFIX.length + 1).split('/');
    return [endpointOf(segs), await route(req, segs, url.searchParams)];
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const t0 = process.hrtime.bigint();
    const endpoint = endpointLabel(req.url);
    const finish = (r: HttpReply): void => {
      if (res.headersSent) return;
      res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(r.body) });
      res.end(r.body);
      metrics.requests.inc({ endpoint, status: String(r.status) });
      metrics.duration.observe({ endpoint }, Number(process.hrtime.bigint() - t0) / 1e9);
    };
    dispatch(req)
      .then(([, r]) => finish(r))
      .catch((e: unknown) => {
        const fallback = /^\/kbs\/v0\/resource\//.test(req.url ?? '')
          ? 'PluginInternalError'
          : 'AttestationError';
        const h = toHttpError(e, fallback);
        if (h.status >= 500) log.error({ err: e }, 'kbs internal error');
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          [ERROR_CODE_HEADER]: h.code,
        };
        // A body we stopped reading cannot be drained safely: close the connection after replying.
        if (h.code === 'ERR_KBS_BODY_TOO_LARGE') headers['connection'] = 'close';
        finish(new HttpReply(h.status, JSON.stringify(h.body), headers));
      });
  };

  const server =
    options.insecureHttp === true
      ? createHttpServer(onRequest)
      : createHttpsServer({ cert: options.tls!.cert, key: options.tls!.key }, onRequest);
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const sweeper = setInterval(() => sessions.sweep(), SESSION_SWEEP_MS);
  sweeper.unref();
  const addr = server.address() as AddressInfo;
  const hostText = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${options.insecureHttp === true ? 'http' : 'https'}://${hostText}:${addr.port}`;
  log.info(
    { url, allowSample: options.allowSample === true, admin: adminKey !== undefined },
    'kbs listening',
  );
  return {
    url,
    server,
    metrics,
    tokenPublicKey: broker.publicKey,
    sessionCount: () => sessions.size,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sweeper);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Decodes a policy member: base64url without padding of the policy text (§5.1). */
function policyText(v: unknown): string {
  if (typeof v !== 'string')
    throw new CocoonError('ERR_KBS_POLICY_INVALID', 'policy must be a base64url string');
  try {
    return fromB64u(v, 'policy').toString('utf8');
  } catch (e) {
    throw new CocoonError('ERR_KBS_POLICY_INVALID', 'policy is not unpadded base64url', { cause: e });
  }
}
