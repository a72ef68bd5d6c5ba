/**
 * OCI distribution client (distribution-spec v1.1 "pull"): manifests by tag or digest, image
 * index → platform, digest-verified blobs, bearer-token and basic auth challenges
 * (distribution token spec: `WWW-Authenticate: Bearer realm=…,service=…,scope=…`). Shared by the
 * host pull (ImageStore), the metadata-only guest pull (cri-kata.md §3.9 option A) and the
 * simulated guest's in-guest pull (guest.md §5).
 */
import { CocoonError, messageOf } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/clock.js';
import { DigestVerifier, sha256Digest, verifyBytes } from './digest.js';
import { apiHost, parseDigest, parseImageRef, type ImageRef } from './ref.js';
import {
  MANIFEST_MEDIA_TYPES,
  MediaType,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type Platform,
  type RegistryAuth,
} from './types.js';

/** A fetch-compatible transport (the global `fetch` by default; tests may wrap it). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Default bound on a request until its response headers (and a manifest's body) arrive. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Default bound on silence while a blob body streams. */
export const DEFAULT_BLOB_IDLE_TIMEOUT_MS = 60_000;
/** Largest manifest or index accepted (containerd uses 4 MiB too). */
export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Largest image config accepted. */
export const DEFAULT_MAX_CONFIG_BYTES = 8 * 1024 * 1024;
/** Largest token-service response accepted. */
const MAX_TOKEN_BYTES = 1024 * 1024;
/** Token lifetime assumed when the token service does not say (token spec: 60 s). */
const DEFAULT_TOKEN_TTL_S = 60;

/** Options of a RegistryClient; every field has a documented default. */
export interface RegistryClientOptions {
  /**
   * Registries (host or host:port) that may be reached over plain HTTP. Loopback hosts
   * (localhost, 127.0.0.0/8, ::1) are always allowed, as Docker allows. Default: none.
   */
  readonly insecureRegistries?: readonly string[];
  /** The HTTP transport. Default: the global fetch. */
  readonly fetch?: FetchLike;
  /** Bound on each request until headers arrive (ms). Default DEFAULT_REQUEST_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** Bound on silence while a blob streams (ms). Default DEFAULT_BLOB_IDLE_TIMEOUT_MS. */
  readonly blobIdleTimeoutMs?: number;
  /** Largest manifest/index (bytes). Default DEFAULT_MAX_MANIFEST_BYTES. */
  readonly maxManifestBytes?: number;
  /** Largest image config (bytes). Default DEFAULT_MAX_CONFIG_BYTES. */
  readonly maxConfigBytes?: number;
  /** Platform chosen from an image index. Default: linux + process.arch in Go naming. */
  readonly defaultPlatform?: Platform;
  /** Time source for the token cache. Default: system clock. */
  readonly clock?: Clock;
  /** User-Agent header. Default `cocoon/0.1`. */
  readonly userAgent?: string;
}

/** Per-call options shared by resolve and fetchBlob. */
export interface RegistryCallOptions {
  /** Credentials for this call (CRI AuthConfig shape). Default: anonymous. */
  readonly auth?: RegistryAuth;
  /** Cancels the call; rejects with ERR_COMMON_CANCELLED. */
  readonly signal?: AbortSignal;
}

/** Options of `resolve`. */
export interface ResolveOptions extends RegistryCallOptions {
  /** Platform to select from an image index. Default: the client's default platform. */
  readonly platform?: Platform;
}

/** Options of `fetchBlob`. */
export interface FetchBlobOptions extends RegistryCallOptions {
  /** Size from the descriptor; enforced while streaming. */
  readonly expectedSize?: number;
  /** Which counter the request is booked under. Default `blob`. */
  readonly kind?: 'blob' | 'config';
}

/** What `resolve` learns: manifest and config, never a layer. */
export interface ResolvedImage {
  /** The normalised reference that was resolved. */
  readonly ref: ImageRef;
  /** Digest of the platform manifest (what `name@digest` pins). */
  readonly manifestDigest: string;
  /** Digest of the image index when the reference named one. */
  readonly indexDigest?: string;
  /** The platform manifest. */
  readonly manifest: ImageManifest;
  /** Raw bytes of the platform manifest (digest-verified). */
  readonly manifestBytes: Buffer;
  /** Media type of the platform manifest. */
  readonly mediaType: string;
  /** The image config. */
  readonly config: ImageConfig;
  /** Raw bytes of the config (digest-verified). */
  readonly configBytes: Buffer;
  /** Digest of the config blob; the image ID. */
  readonly configDigest: string;
  /** Sum of the layer sizes as the manifest declares them (cri-kata.md §3.9 option A). */
  readonly size: number;
  /** Layer descriptors, bottom first. */
  readonly layers: readonly Descriptor[];
  /** Platform of the image (from the config). */
  readonly platform: Platform;
}

/** Counts of requests sent, by kind (tests use it to prove zero blob requests). */
export interface RegistryStats {
  manifest: number;
  config: number;
  blob: number;
  token: number;
}

/** A verified blob body: iterate it once; the last step throws on a digest mismatch. */
export interface BlobStream extends AsyncIterable<Uint8Array> {
  /** Content-Length when the registry sent one. */
  readonly size: number | undefined;
}

type RequestKind = keyof RegistryStats;

interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Go's GOARCH names for Node's process.arch values. */
const GO_ARCH: Readonly<Record<string, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

/** The platform of this process in OCI/Go naming (linux/amd64 on x64). */
export function hostPlatform(): Platform {
  return { os: 'linux', architecture: GO_ARCH[process.arch] ?? process.arch };
}

/** True for localhost, 127.0.0.0/8 and ::1 (with or without a port). */
export function isLoopbackHost(hostPort: string): boolean {
  let host = hostPort;
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(hostPort);
  if (v6 !== null) host = v6[1]!;
  else if ((hostPort.match(/:/g) ?? []).length === 1) host = hostPort.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Parses a `WWW-Authenticate` header into scheme and parameters (RFC 7235 §4.1). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s*(.*)$/.exec(header);
  if (m === null) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?\s*/g;
  const rest = m[2]!;
  let p: RegExpExecArray | null;
  while ((p = re.exec(rest)) !== null) {
    if (p[0].length === 0) break;
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

function basicCredentials(
  auth: RegistryAuth | undefined,
): { username: string; password: string } | undefined {
  if (auth === undefined) return undefined;
  if (auth.username !== undefined && auth.username !== '') {
    return { username: auth.username, password: auth.password ?? '' };
  }
  if (auth.auth !== undefined && auth.auth !== '') {
    const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) throw new CocoonError('ERR_OCI_UNAUTHORIZED', 'auth field is not base64 of user:password');
    return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
  }
  return undefined;
}

function authKey(auth: RegistryAuth | undefined): string {
  if (auth === undefined) return 'anon';
  return JSON.stringify([
    auth.username ?? '',
    auth.password ?? '',
    auth.auth ?? '',
    auth.identityToken ?? '',
    auth.registryToken ?? '',
  ]);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function manifestInvalid(what: string, why: string, details: Record<string, unknown> = {}): CocoonError {
  return new CocoonError('ERR_OCI_MANIFEST_INVALID', `${what}: ${why}`, { details: { what, ...details } });
}

function checkDescriptor(d: unknown, what: string): Descriptor {
  if (!isObject(d)) throw manifestInvalid(what, 'descriptor is not an object');
  if (typeof d['mediaType'] !== 'string' || d['mediaType'].length === 0)
    throw manifestInvalid(what, 'descriptor mediaType missing');
  if (typeof d['digest'] !== 'string') throw manifestInvalid(what, 'descriptor digest missing');
  try {
    parseDigest(d['digest']);
  } catch (e) {
    throw manifestInvalid(what, `descriptor digest ${JSON.stringify(d['digest'])} is malformed`, {
      cause: messageOf(e),
    });
  }
  const size = d['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw manifestInvalid(what, 'descriptor size must be a non-negative integer');
  return d as unknown as Descriptor;
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw manifestInvalid(what, 'not valid JSON', { cause: messageOf(e) });
  }
}

/** Validates an image manifest document (OCI or Docker schema 2). */
export function parseManifest(bytes: Buffer): ImageManifest {
  const m = parseJson(bytes, 'manifest');
  if (!isObject(m) || m['schemaVersion'] !== 2) throw manifestInvalid('manifest', 'schemaVersion must be 2');
  const config = checkDescriptor(m['config'], 'manifest config');
  if (!Array.isArray(m['layers'])) throw manifestInvalid('manifest', 'layers must be an array');
  m['layers'].forEach((l, i) => checkDescriptor(l, `manifest layer ${i}`));
  void config;
  return m as unknown as ImageManifest;
}

/** Validates an image index / manifest list document. */
export function parseIndex(bytes: Buffer): ImageIndex {
  const m = parseJson(bytes, 'index');
  if (!isObject(m) || m['schemaVersion'] !== 2) throw manifestInvalid('index', 'schemaVersion must be 2');
  if (!Array.isArray(m['manifests'])) throw manifestInvalid('index', 'manifests must be an array');
  m['manifests'].forEach((d, i) => checkDescriptor(d, `index entry ${i}`));
  return m as unknown as ImageIndex;
}

/** Validates an image config document (image-spec config.md: os, architecture, rootfs). */
export function parseImageConfig(bytes: Buffer): ImageConfig {
  const c = parseJson(bytes, 'config');
  if (!isObject(c)) throw manifestInvalid('config', 'not an object');
  if (typeof c['architecture'] !== 'string' || typeof c['os'] !== 'string')
    throw manifestInvalid('config', 'os and architecture are required');
  const rootfs = c['rootfs'];
  if (!isObject(rootfs) || !Array.isArray(rootfs['diff_ids']))
    throw manifestInvalid('config', 'rootfs.diff_ids is required');
  if (c['config'] !== undefined && c['config'] !== null && !isObject(c['config']))
    throw manifestInvalid('config', 'config must be an object');
  const rc = c['config'];
  if (isObject(rc) && rc['User'] !== undefined && typeof rc['User'] !== 'string')
    throw manifestInvalid('config', 'config.User must be a string');
  return c as unknown as ImageConfig;
}

/**
 * Picks the manifest for `want` from an index: os and architecture must match; a requested
 * variant must match (arm64's default variant v8 matches an absent one); attestation
 * manifests (`vnd.docker.reference.type`) are never chosen.
 */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor | undefined {
  const normVariant = (arch: string, v: string | undefined): string | undefined =>
    arch === 'arm64' && (v === undefined || v === 'v8') ? undefined : v;
  const candidates = index.manifests.filter((d) => {
    if (d.annotations?.['vnd.docker.reference.type'] !== undefined) return false;
    const p = d.platform;
    if (p === undefined) return false;
    if (p.os !== want.os || p.architecture !== want.architecture) return false;
    if (want.variant !== undefined)
      return normVariant(p.architecture, p.variant) === normVariant(want.architecture, want.variant);
    return true;
  });
  // Without a requested variant prefer the entry without one (or the first).
  return (
    candidates.find((d) => normVariant(d.platform!.architecture, d.platform!.variant) === undefined) ??
    candidates[0]
  );
}

function statusError(status: number, what: string, body: string, url: string): CocoonError {
  let registryErrors: unknown;
  try {
    const j = JSON.parse(body) as unknown;
    if (isObject(j) && Array.isArray(j['errors'])) registryErrors = j['errors'];
  } catch {
    // not JSON: keep no registry error list
  }
  const details = { status, url, ...(registryErrors !== undefined ? { registryErrors } : {}) };
  if (status === 401)
    return new CocoonError('ERR_OCI_UNAUTHORIZED', `${what}: registry requires valid credentials (401)`, {
      details,
    });
  if (status === 403) return new CocoonError('ERR_OCI_DENIED', `${what}: access denied (403)`, { details });
  if (status === 404) return new CocoonError('ERR_OCI_NOT_FOUND', `${what}: not found (404)`, { details });
  return new CocoonError('ERR_OCI_REGISTRY_ERROR', `${what}: registry answered HTTP ${status}`, { details });
}

/** A client for OCI distribution registries; one instance may serve many registries. */
export class RegistryClient {
  private readonly insecure: ReadonlySet<string>;
  private readonly fetchFn: FetchLike;
  private readonly timeoutMs: number;
  private readonly blobIdleTimeoutMs: number;
  private readonly maxManifestBytes: number;
  private readonly maxConfigBytes: number;
  private readonly defaultPlatform: Platform;
  private readonly clock: Clock;
  private readonly userAgent: string;
  private readonly counters: RegistryStats = { manifest: 0, config: 0, blob: 0, token: 0 };
  /** Scheme that worked per registry host (Docker tries https first for insecure hosts). */
  private readonly schemes = new Map<string, 'https' | 'http'>();
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();

  constructor(options: RegistryClientOptions = {}) {
    this.insecure = new Set(options.insecureRegistries ?? []);
    this.fetchFn = options.fetch ?? ((url, init) => fetch(url, init));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.blobIdleTimeoutMs = options.blobIdleTimeoutMs ?? DEFAULT_BLOB_IDLE_TIMEOUT_MS;
    this.maxManifestBytes = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    this.maxConfigBytes = options.maxConfigBytes ?? DEFAULT_MAX_CONFIG_BYTES;
    this.defaultPlatform = options.defaultPlatform ?? hostPlatform();
    this.clock = options.clock ?? systemClock;
    this.userAgent = options.userAgent ?? 'cocoon/0.1';
  }

  /** Request counts by kind since construction (or the last resetStats). */
  stats(): RegistryStats {
    return { ...this.counters };
  }

  /** Zeroes the request counters. */
  resetStats(): void {
    this.counters.manifest = 0;
    this.counters.config = 0;
    this.counters.blob = 0;
    this.counters.token = 0;
  }

  /** True when plain HTTP is allowed to `host` (loopback or configured insecure). */
  allowsPlainHttp(host: string): boolean {
    return isLoopbackHost(host) || this.insecure.has(host);
  }

  /**
   * Resolves a reference to its platform manifest and config, fetching no layer: the image
   * index (if any) → the manifest for the platform → the config blob. Every document is
   * digest-verified (a pinned digest or the index's descriptor).
   */
  async resolve(ref: string | ImageRef, options: ResolveOptions = {}): Promise<ResolvedImage> {
    const r = typeof ref === 'string' ? parseImageRef(ref) : ref;
    const want = options.platform ?? this.defaultPlatform;
    const first = await this.fetchManifest(r, r.reference, r.digest, options);
    let manifestBytes = first.bytes;
    let mediaType = first.mediaType;
    let manifestDigest = first.digest;
    let indexDigest: string | undefined;
    if (mediaType === MediaType.OCI_INDEX || mediaType === MediaType.DOCKER_MANIFEST_LIST) {
      const index = parseIndex(first.bytes);
      const chosen = selectPlatform(index, want);
      if (chosen === undefined) {
        throw new CocoonError(
          'ERR_OCI_PLATFORM_NOT_FOUND',
          `${r.canonical}: no manifest for ${want.os}/${want.architecture}${want.variant !== undefined ? `/${want.variant}` : ''}`,
          {
            details: {
              ref: r.canonical,
              platform: want,
              available: index.manifests.map((d) => d.platform).filter((p) => p !== undefined),
            },
          },
        );
      }
      if (chosen.size > this.maxManifestBytes)
        throw new CocoonError(
          'ERR_OCI_TOO_LARGE',
          `${r.canonical}: manifest of ${chosen.size} bytes exceeds the limit`,
        );
      indexDigest = first.digest;
      const second = await this.fetchManifest(r, chosen.digest, chosen.digest, options, chosen.size);
      if (second.mediaType === MediaType.OCI_INDEX || second.mediaType === MediaType.DOCKER_MANIFEST_LIST) {
        throw manifestInvalid('index', 'an index entry points at another index', { digest: chosen.digest });
      }
      manifestBytes = second.bytes;
      mediaType = second.mediaType;
      manifestDigest = chosen.digest;
    }
    const manifest = parseManifest(manifestBytes);
    if (manifest.config.size > this.maxConfigBytes) {
      throw new CocoonError(
        'ERR_OCI_TOO_LARGE',
        `${r.canonical}: config of ${manifest.config.size} bytes exceeds the limit`,
        {
          details: { size: manifest.config.size, limit: this.maxConfigBytes },
        },
      );
    }
    const configBytes = await this.fetchBlobBytes(r, manifest.config.digest, {
      ...options,
      expectedSize: manifest.config.size,
      kind: 'config',
    });
    const config = parseImageConfig(configBytes);
    const size = manifest.layers.reduce((n, l) => n + l.size, 0);
    return {
      ref: r,
      manifestDigest,
      ...(indexDigest !== undefined ? { indexDigest } : {}),
      manifest,
      manifestBytes,
      mediaType,
      config,
      configBytes,
      configDigest: manifest.config.digest,
      size,
      layers: manifest.layers,
      platform: {
        os: config.os,
        architecture: config.architecture,
        ...(config.variant !== undefined ? { variant: config.variant } : {}),
      },
    };
  }

  /**
   * Streams a blob. The returned stream verifies size and digest as it goes; the final step
   * of iteration throws ERR_OCI_DIGEST_MISMATCH when the content is wrong, so a consumer must
   * not commit what it read until iteration completes.
   */
  async fetchBlob(
    ref: string | ImageRef,
    digest: string,
    options: FetchBlobOptions = {},
  ): Promise<BlobStream> {
    const r = typeof ref === 'string' ? parseImageRef(ref) : ref;
    parseDigest(digest);
    const kind = options.kind ?? 'blob';
    const { response, idle } = await this.request(kind, r, `/v2/${r.path}/blobs/${digest}`, {
      accept: '*/*',
      ...options,
    });
    const lengthHeader = response.headers.get('content-length');
    const size = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    if (options.expectedSize !== undefined && size !== undefined && size !== options.expectedSize) {
      idle.clear();
      await response.body?.cancel().catch(() => undefined);
      throw new CocoonError(
        'ERR_OCI_DIGEST_MISMATCH',
        `blob ${digest}: Content-Length ${size} differs from descriptor size ${options.expectedSize}`,
        {
          details: { digest, expectedSize: options.expectedSize, contentLength: size },
        },
      );
    }
    const verifier = new DigestVerifier(digest, `blob ${digest}`, options.expectedSize);
    const body = response.body;
    let used = false;
    const iterate = async function* (this: void): AsyncGenerator<Uint8Array> {
      if (used) throw new TypeError('a BlobStream can be iterated once');
      used = true;
      try {
        if (body !== null) {
          const reader = body.getReader();
          try {
            for (;;) {
              idle.touch();
              const step = await reader.read().catch((e: unknown) => {
                throw idle.translate(e, `blob ${digest}`);
              });
              if (step.done) break;
              verifier.update(step.value);
              yield step.value;
            }
          } finally {
            reader.releaseLock();
            await body.cancel().catch(() => undefined);
          }
        }
        verifier.finish();
      } finally {
        idle.clear();
      }
    };
    return { size, [Symbol.asyncIterator]: () => iterate() };
  }

  /** Fetches a whole blob into memory (bounded by `maxBytes`), digest-verified. */
  async fetchBlobBytes(
    ref: string | ImageRef,
    digest: string,
    options: FetchBlobOptions & { maxBytes?: number } = {},
  ): Promise<Buffer> {
    const max = options.maxBytes ?? options.expectedSize ?? this.maxConfigBytes;
    const stream = await this.fetchBlob(ref, digest, options);
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of stream) {
      n += c.length;
      if (n > max)
        throw new CocoonError('ERR_OCI_TOO_LARGE', `blob ${digest} exceeds ${max} bytes`, {
          details: { digest, limit: max },
        });
      chunks.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    }
    return Buffer.concat(chunks);
  }

  private async fetchManifest(
    r: ImageRef,
    reference: string,
    pinned: string | undefined,
    options: RegistryCallOptions,
    expectedSize?: number,
  ): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
    const { response, idle } = await this.request('manifest', r, `/v2/${r.path}/manifests/${reference}`, {
      accept: MANIFEST_MEDIA_TYPES.join(', '),
      ...options,
    });
    let bytes: Buffer;
    try {
      bytes = await readBounded(
        response,
        expectedSize ?? this.maxManifestBytes,
        `manifest ${r.name}:${reference}`,
        idle,
      );
    } finally {
      idle.clear();
    }
    if (expectedSize !== undefined && bytes.length !== expectedSize) {
      throw new CocoonError(
        'ERR_OCI_DIGEST_MISMATCH',
        `manifest ${reference}: ${bytes.length} bytes, descriptor says ${expectedSize}`,
        {
          details: { digest: reference, expectedSize, size: bytes.length },
        },
      );
    }
    let digest: string;
    if (pinned !== undefined) {
      verifyBytes(bytes, pinned, `manifest ${pinned}`);
      digest = pinned;
    } else {
      // By tag: the digest is what we computed over the bytes we got (distribution-spec:
      // Docker-Content-Digest is advisory; a mismatching one means a confused registry).
      digest = sha256Digest(bytes);
      const header = response.headers.get('docker-content-digest');
      if (header !== null && header.startsWith('sha256:') && header !== digest) {
        throw new CocoonError(
          'ERR_OCI_DIGEST_MISMATCH',
          `manifest ${r.canonical}: Docker-Content-Digest ${header} differs from the content (${digest})`,
          {
            details: { header, computed: digest },
          },
        );
      }
    }
    const mediaType = detectManifestType(bytes, response.headers.get('content-type'));
    return { bytes, mediaType, digest };
  }

  /** Sends one GET with auth-challenge handling, scheme fallback, timeouts and counters. */
  private async request(
    kind: RequestKind,
    r: ImageRef,
    path: string,
    opts: RegistryCallOptions & { accept: string },
  ): Promise<{ response: Response; idle: IdleTimer }> {
    const host = apiHost(r.domain);
    const scope = `repository:${r.path}:pull`;
    const key = authKey(opts.auth);
    let authorization = this.cachedAuthorization(host, scope, key, opts.auth);
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers: Record<string, string> = { accept: opts.accept, 'user-agent': this.userAgent };
      if (authorization !== undefined) headers['authorization'] = authorization;
      const { response, idle } = await this.send(kind, host, path, headers, opts.signal);
      if (response.status >= 200 && response.status < 300) return { response, idle };
      const body = await readBounded(response, 64 * 1024, path, idle).catch(() => Buffer.alloc(0));
      idle.clear();
      if (response.status === 401 && attempt === 0) {
        const header = response.headers.get('www-authenticate');
        const challenge = header === null ? undefined : parseChallenge(header);
        if (challenge === undefined) throw statusError(401, path, body.toString('utf8'), path);
        authorization = await this.answerChallenge(host, scope, key, challenge, opts);
        continue;
      }
      throw statusError(
        response.status,
        `${r.name} ${path.includes('/blobs/') ? 'blob' : 'manifest'}`,
        body.toString('utf8'),
        `${host}${path}`,
      );
    }
    throw new CocoonError(
      'ERR_OCI_UNAUTHORIZED',
      `${r.name}: credentials rejected after the auth challenge`,
      { details: { host } },
    );
  }

  private cachedAuthorization(
    host: string,
    scope: string,
    key: string,
    auth: RegistryAuth | undefined,
  ): string | undefined {
    if (auth?.registryToken !== undefined && auth.registryToken !== '') return `Bearer ${auth.registryToken}`;
    const t = this.tokens.get(`${host}|${scope}|${key}`);
    if (t !== undefined && t.expiresAt > this.clock.now().getTime()) return `Bearer ${t.token}`;
    return undefined;
  }

  private async answerChallenge(
    host: string,
    scope: string,
    key: string,
    challenge: Challenge,
    opts: RegistryCallOptions,
  ): Promise<string> {
    if (challenge.scheme === 'basic') {
      const creds = basicCredentials(opts.auth);
      if (creds === undefined)
        throw new CocoonError(
          'ERR_OCI_UNAUTHORIZED',
          `${host}: registry requires basic auth and no credentials were given`,
          { details: { host } },
        );
      return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    if (challenge.scheme !== 'bearer') {
      throw new CocoonError('ERR_OCI_UNAUTHORIZED', `${host}: unsupported auth scheme ${challenge.scheme}`, {
        details: { host },
      });
    }
    if (opts.auth?.registryToken !== undefined && opts.auth.registryToken !== '') {
      throw new CocoonError('ERR_OCI_UNAUTHORIZED', `${host}: the registry token was rejected`, {
        details: { host },
      });
    }
    const realm = challenge.params['realm'];
    if (realm === undefined || realm === '')
      throw new CocoonError('ERR_OCI_UNAUTHORIZED', `${host}: bearer challenge without realm`, {
        details: { host },
      });
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch (e) {
      throw new CocoonError('ERR_OCI_UNAUTHORIZED', `${host}: bearer realm is not a URL`, {
        cause: e,
        details: { host },
      });
    }
    if (
      realmUrl.protocol !== 'https:' &&
      !(realmUrl.protocol === 'http:' && this.allowsPlainHttp(realmUrl.host))
    ) {
      // Fail closed: credentials never travel in clear text to a non-loopback token service.
      throw new CocoonError(
        'ERR_OCI_INSECURE_REGISTRY',
        `token realm ${realmUrl.origin} is not HTTPS and not allowed insecure`,
        {
          details: { realm: realmUrl.origin },
        },
      );
    }
    const tokenScope = challenge.params['scope'] ?? scope;
    const service = challenge.params['service'];
    const creds = basicCredentials(opts.auth);
    const headers: Record<string, string> = { 'user-agent': this.userAgent, accept: 'application/json' };
    let init: RequestInit;
    if (opts.auth?.identityToken !== undefined && opts.auth.identityToken !== '') {
      // OAuth2 refresh-token grant (distribution docs/spec/auth/oauth.md).
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: opts.auth.identityToken,
        client_id: 'cocoon',
        scope: tokenScope,
      });
      if (service !== undefined) form.set('service', service);
      headers['content-type'] = 'application/x-www-form-urlencoded';
      init = { method: 'POST', headers, body: form.toString() };
    } else {
      if (service !== undefined) realmUrl.searchParams.set('service', service);
      for (const s of tokenScope.split(' ')) if (s !== '') realmUrl.searchParams.append('scope', s);
      if (creds !== undefined)
        headers['authorization'] =
          `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      init = { method: 'GET', headers };
    }
    this.counters.token++;
    const { response, idle } = await this.sendUrl(
      realmUrl.toString(),
      init,
      opts.signal,
      `token service ${realmUrl.origin}`,
    );
    let body: Buffer;
    try {
      body = await readBounded(response, MAX_TOKEN_BYTES, 'token response', idle);
    } finally {
      idle.clear();
    }
    if (response.status === 401 || response.status === 403) {
      throw new CocoonError(
        'ERR_OCI_UNAUTHORIZED',
        `${host}: the token service rejected the credentials (${response.status})`,
        {
          details: { host, status: response.status },
        },
      );
    }
    if (response.status < 200 || response.status >= 300)
      throw statusError(response.status, 'token service', body.toString('utf8'), realmUrl.origin);
    let token: string | undefined;
    let ttl = DEFAULT_TOKEN_TTL_S;
    try {
      const j = JSON.parse(body.toString('utf8')) as unknown;
      if (isObject(j)) {
        const t = j['token'] ?? j['access_token'];
        if (typeof t === 'string' && t !== '') token = t;
        if (typeof j['expires_in'] === 'number' && j['expires_in'] > 0) ttl = j['expires_in'];
      }
    } catch {
      token = undefined;
    }
    if (token === undefined)
      throw new CocoonError('ERR_OCI_UNAUTHORIZED', `${host}: token service response has no token`, {
        details: { host },
      });
    // Refresh a little early so a token never expires between check and use.
    this.tokens.set(`${host}|${scope}|${key}`, {
      token,
      expiresAt: this.clock.now().getTime() + Math.max(1, ttl - 5) * 1000,
    });
    return `Bearer ${token}`;
  }

  private async send(
    kind: RequestKind,
    host: string,
    path: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<{ response: Response; idle: IdleTimer }> {
    const known = this.schemes.get(host);
    const order: ('https' | 'http')[] =
      known !== undefined ? [known] : this.allowsPlainHttp(host) ? ['https', 'http'] : ['https'];
    let lastError: unknown;
    for (const [i, scheme] of order.entries()) {
      try {
        const res = await this.sendUrl(
          `${scheme}://${host}${path}`,
          { method: 'GET', headers },
          signal,
          `registry ${host}`,
        );
        this.counters[kind]++;
        this.schemes.set(host, scheme);
        return res;
      } catch (e) {
        lastError = e;
        // A failed HTTPS probe of an insecure registry is not a request; the final failure is.
        if (
          i === order.length - 1 ||
          !(e instanceof CocoonError) ||
          e.code !== 'ERR_OCI_REGISTRY_UNREACHABLE'
        )
          this.counters[kind]++;
        // Docker falls back to plain HTTP for insecure registries only when HTTPS fails at the
        // transport level; timeouts and cancellation are final.
        if (!(e instanceof CocoonError) || e.code !== 'ERR_OCI_REGISTRY_UNREACHABLE') throw e;
      }
    }
    throw lastError;
  }

  private async sendUrl(
    url: string,
    init: RequestInit,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<{ response: Response; idle: IdleTimer }> {
    if (signal?.aborted === true) throw new CocoonError('ERR_COMMON_CANCELLED', `${what}: cancelled`);
    const idle = new IdleTimer(this.timeoutMs, this.blobIdleTimeoutMs, signal);
    try {
      const response = await this.fetchFn(url, { ...init, signal: idle.signal, redirect: 'follow' });
      idle.headersReceived();
      return { response, idle };
    } catch (e) {
      idle.clear();
      throw idle.translate(e, what);
    }
  }
}

function detectManifestType(bytes: Buffer, contentType: string | null): string {
  let declared: unknown;
  let shape: Record<string, unknown> | undefined;
  try {
    const j = JSON.parse(bytes.toString('utf8')) as unknown;
    if (isObject(j)) {
      shape = j;
      declared = j['mediaType'];
    }
  } catch {
    throw manifestInvalid('manifest', 'not valid JSON');
  }
  const ct = contentType?.split(';')[0]?.trim();
  const type =
    typeof declared === 'string' && declared !== ''
      ? declared
      : ct !== undefined && ct !== '' && ct !== 'application/json'
        ? ct
        : undefined;
  if (type !== undefined) {
    if (!MANIFEST_MEDIA_TYPES.includes(type)) {
      throw new CocoonError(
        'ERR_OCI_MEDIA_TYPE_UNSUPPORTED',
        `manifest media type ${type} is not supported (schema 1 and artifacts are not images)`,
        {
          details: { mediaType: type },
        },
      );
    }
    return type;
  }
  // OCI manifests may omit mediaType: decide by shape (image-spec manifest.md, image-index.md).
  if (shape !== undefined && Array.isArray(shape['manifests'])) return MediaType.OCI_INDEX;
  if (shape !== undefined && isObject(shape['config'])) return MediaType.OCI_MANIFEST;
  throw new CocoonError(
    'ERR_OCI_MEDIA_TYPE_UNSUPPORTED',
    'manifest has no media type and no recognisable shape',
  );
}

/**
 * One AbortController per request: the header timeout until the response starts, then an
 * idle timeout re-armed on every body chunk; a caller's signal aborts it too.
 */
class IdleTimer {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private timedOut = false;
  private readonly onCallerAbort: () => void;
  private readonly caller: AbortSignal | undefined;
  private phaseMs: number;
  private readonly idleMs: number;

  constructor(headerMs: number, idleMs: number, caller: AbortSignal | undefined) {
    this.phaseMs = headerMs;
    this.idleMs = idleMs;
    this.caller = caller;
    this.signal = this.controller.signal;
    this.onCallerAbort = () => this.controller.abort();
    caller?.addEventListener('abort', this.onCallerAbort, { once: true });
    this.arm();
  }

  private arm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, this.phaseMs);
    this.timer.unref?.();
  }

  /** Switches from the header bound to the idle bound. */
  headersReceived(): void {
    this.phaseMs = this.idleMs;
    this.arm();
  }

  /** Re-arms the idle bound (called per chunk). */
  touch(): void {
    if (!this.timedOut && !this.controller.signal.aborted) this.arm();
  }

  /** Stops the timer and detaches from the caller's signal. */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.caller?.removeEventListener('abort', this.onCallerAbort);
  }

  /** Maps a fetch/read failure onto a typed error. */
  translate(e: unknown, what: string): CocoonError {
    if (e instanceof CocoonError) return e;
    if (this.timedOut) {
      return new CocoonError('ERR_OCI_REGISTRY_TIMEOUT', `${what}: no answer within ${this.phaseMs} ms`, {
        cause: e,
        details: { timeoutMs: this.phaseMs },
      });
    }
    if (this.caller?.aborted === true)
      return new CocoonError('ERR_COMMON_CANCELLED', `${what}: cancelled`, { cause: e });
    const cause = (e as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
    const code = typeof cause?.code === 'string' ? cause.code : undefined;
    return new CocoonError('ERR_OCI_REGISTRY_UNREACHABLE', `${what}: ${code ?? messageOf(cause ?? e)}`, {
      cause: e,
      details: code !== undefined ? { errno: code } : {},
    });
  }
}

async function readBounded(response: Response, max: number, what: string, idle: IdleTimer): Promise<Buffer> {
  const len = response.headers.get('content-length');
  if (len !== null && /^\d+$/.test(len) && Number(len) > max) {
    await response.body?.cancel().catch(() => undefined);
    throw new CocoonError('ERR_OCI_TOO_LARGE', `${what}: ${len} bytes exceeds the limit of ${max}`, {
      details: { limit: max, size: Number(len) },
    });
  }
  if (response.body === null) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for (;;) {
      idle.touch();
      const step = await reader.read().catch((e: unknown) => {
        throw idle.translate(e, what);
      });
      if (step.done) break;
      n += step.value.length;
      if (n > max)
        throw new CocoonError('ERR_OCI_TOO_LARGE', `${what}: body exceeds the limit of ${max} bytes`, {
          details: { limit: max },
        });
      chunks.push(Buffer.from(step.value.buffer, step.value.byteOffset, step.value.byteLength));
    }
  } finally {
    reader.releaseLock();
    await response.body.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks);
}
