/**
 * A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on
 * 127.0.0.1:<free port> with a temporary storage folder, behind a small counting HTTP proxy
 * whose `requestLog` records every request a client under test sends (so a test can prove
 * that no blob was requested). The proxy can also demand auth (basic, or bearer with a token
 * service it runs) and inject faults (corrupt a byte, hang). `seedBusybox` builds a
 * busybox-static image in Node and pushes it with the registry HTTP API.
 * Recipe: fixtures/images/README.md.
 */
import { spawnRegistryBackend, type RegistryBackend } from '../../src/up/registry.js';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { writeTar, type TarWriteEntry } from '../../src/oci/tar.js';
import { MediaType } from '../../src/oci/types.js';

/** Debian's registry binary. */
export const REGISTRY_BIN = '/usr/bin/docker-registry';
/** Debian busybox-static's binary. */
export const BUSYBOX_BIN = '/bin/busybox';

/** One request seen by the proxy. */
export interface LoggedRequest {
  readonly method: string;
  readonly path: string;
  /** `manifest`, `blob`, `token`, `ping` or `other`, from the path. */
  readonly kind: 'manifest' | 'blob' | 'ping' | 'other';
  readonly status: number;
}

/**
 * A fault injected by the proxy for matching requests. corrupt: flip one byte; truncate: send
 * half; hang: never answer; slow: 16 KiB every 20 ms; stall: headers and half the body, then silence.
 */
export type Fault = 'corrupt' | 'hang' | 'truncate' | 'slow' | 'stall' | undefined;

/** Auth the proxy enforces in front of the registry. */
export type ProxyAuth =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | {
      readonly kind: 'bearer';
      readonly username: string;
      readonly password: string;
      readonly service?: string;
      /** Refresh token the token service accepts on POST (Docker identity tokens). */
      readonly refreshToken?: string;
    };

/** A running test registry. */
export interface TestRegistry {
  /** Base URL clients use (the counting proxy): `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** `127.0.0.1:<port>` of the proxy: the registry host in image references. */
  readonly host: string;
  readonly port: number;
  /** Base URL of the registry itself (seeding goes here, not through the proxy). */
  readonly directUrl: string;
  /** Every request that reached the proxy, in order. */
  readonly requestLog: LoggedRequest[];
  /** Requests the token service answered (bearer mode). */
  readonly tokenLog: { readonly authorized: boolean; readonly scope: string | null }[];
  /** The token service URL (bearer mode), for tests that fetch a token themselves. */
  readonly tokenUrl: string;
  /** Fault selector, consulted per request; settable by tests. */
  fault: (method: string, path: string) => Fault;
  /** Stops the proxy, the token service and the registry (by PID) and deletes storage. */
  stop(): Promise<void>;
}

/** Options of startRegistry. */
export interface StartRegistryOptions {
  /** Auth the proxy enforces. Default: none. */
  readonly auth?: ProxyAuth;
  /** Bound on registry start-up (ms). Default 15000. */
  readonly startTimeoutMs?: number;
}

function requireBinary(path: string, pkg: string): void {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: install the Debian package ${pkg} (bash scripts/install-deps.sh)`);
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function classify(path: string): LoggedRequest['kind'] {
  if (/^\/v2\/?$/.test(path)) return 'ping';
  if (path.includes('/manifests/')) return 'manifest';
  if (path.includes('/blobs/')) return 'blob';
  return 'other';
}

/** Starts docker-registry plus the counting proxy; always `stop()` it in `after`. */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  requireBinary(REGISTRY_BIN, 'docker-registry');
  const dir = await mkdtemp(join(tmpdir(), 'cocoon-registry-'));
  const servers: Server[] = [];
  let backend: RegistryBackend;
  try {
    backend = await spawnRegistryBackend(dir, options.startTimeoutMs ?? 15_000);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const port = backend.port;
  const directUrl = backend.url;
  const stopAll = async (): Promise<void> => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
    await backend.stop();
    await rm(dir, { recursive: true, force: true });
  };

  const requestLog: LoggedRequest[] = [];
  const tokenLog: { authorized: boolean; scope: string | null }[] = [];
  const tokens = new Set<string>();
  const auth = options.auth;
  let tokenUrl = '';
  if (auth?.kind === 'bearer') {
    // The token service: checks basic credentials, hands out an opaque token (token spec).
    // GET with basic credentials (token spec), or POST with the OAuth2 refresh-token grant.
    const tokenServer = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://x');
        let ok: boolean;
        let scope: string | null;
        if (req.method === 'POST') {
          const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
          scope = form.get('scope');
          ok =
            form.get('grant_type') === 'refresh_token' &&
            auth.refreshToken !== undefined &&
            form.get('refresh_token') === auth.refreshToken;
        } else {
          scope = u.searchParams.get('scope');
          const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
          ok = req.headers.authorization === expected;
        }
        tokenLog.push({ authorized: ok, scope });
        if (!ok) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end('{"details":"incorrect username or password"}');
          return;
        }
        const token = randomBytes(16).toString('hex');
        tokens.add(token);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify(
            req.method === 'POST' ? { access_token: token, expires_in: 300 } : { token, expires_in: 300 },
          ),
        );
      });
    });
    servers.push(tokenServer);
    tokenUrl = `http://127.0.0.1:${await listen(tokenServer)}/token`;
  }

  const registry: TestRegistry = {
    url: '',
    host: '',
    port: 0,
    directUrl,
    requestLog,
    tokenLog,
    tokenUrl: '',
    fault: () => undefined,
    stop: stopAll,
  };

  const proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const log = (status: number): void => {
      requestLog.push({ method, path, kind: classify(path), status });
    };
    if (auth !== undefined) {
      const h = req.headers.authorization ?? '';
      const ok =
        auth.kind === 'basic'
          ? h === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
          : h.startsWith('Bearer ') && tokens.has(h.slice(7));
      if (!ok) {
        const repo = /^\/v2\/(.+)\/(?:manifests|blobs)\//.exec(path)?.[1];
        const challenge =
          auth.kind === 'basic'
            ? 'Basic realm="cocoon-test"'
            : `Bearer realm="${tokenUrl}",service="${auth.service ?? 'cocoon-test-registry'}"${repo !== undefined ? `,scope="repository:${repo}:pull"` : ''}`;
        res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        log(401);
        return;
      }
    }
    const fault = registry.fault(method, path);
    if (fault === 'hang') {
      log(0);
      return; // never answer; the client's timeout must fire
    }
    const headers = { ...req.headers, host: `127.0.0.1:${port}` };
    delete headers.authorization;
    const upstream = httpRequest(`${directUrl}${path}`, { method, headers }, (up) => {
      const status = up.statusCode ?? 502;
      log(status);
      if (fault === 'stall') {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          res.writeHead(status, up.headers);
          res.write(body.subarray(0, Math.floor(body.length / 2)));
        });
        return;
      }
      if (fault === 'corrupt' || fault === 'truncate') {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          let body = Buffer.concat(chunks);
          if (fault === 'corrupt' && body.length > 0) {
            body = Buffer.from(body);
            const i = Math.floor(body.length / 2);
            body[i] = body[i]! ^ 0x01;
          }
          if (fault === 'truncate') body = body.subarray(0, Math.floor(body.length / 2));
          const headers = { ...up.headers, 'content-length': String(body.length) };
          res.writeHead(status, headers);
          res.end(body);
        });
        return;
      }
      res.writeHead(status, up.headers);
      if (fault === 'slow') {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          let off = 0;
          const tick = (): void => {
            if (res.destroyed) return;
            if (off >= body.length) {
              res.end();
              return;
            }
            res.write(body.subarray(off, off + 16384));
            off += 16384;
            setTimeout(tick, 20).unref();
          };
          tick();
        });
        return;
      }
      up.pipe(res);
    });
    upstream.on('error', () => {
      log(502);
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  servers.push(proxy);
  const proxyPort = await listen(proxy);
  Object.assign(registry, {
    tokenUrl,
    url: `http://127.0.0.1:${proxyPort}`,
    host: `127.0.0.1:${proxyPort}`,
    port: proxyPort,
  });
  return registry;
}

/** Uploads one blob with the monolithic POST + PUT flow (distribution-spec §Pushing blobs). */
export async function pushBlob(baseUrl: string, repo: string, data: Uint8Array): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const head = await fetch(`${baseUrl}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  if (head.status === 200) return digest;
  const start = await fetch(`${baseUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const location = start.headers.get('location');
  if (location === null) throw new Error('blob upload: no Location');
  const u = new URL(location, baseUrl);
  u.searchParams.set('digest', digest);
  const put = await fetch(u, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
    body: data,
  });
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status} ${await put.text()}`);
  return digest;
}

/** PUTs a manifest or index under a tag (or digest); returns its digest. */
export async function pushManifest(
  baseUrl: string,
  repo: string,
  reference: string,
  body: Buffer,
  mediaType: string,
): Promise<string> {
  const res = await fetch(`${baseUrl}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType },
    body,
  });
  if (res.status !== 201) throw new Error(`manifest put: HTTP ${res.status} ${await res.text()}`);
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/** What a pushed image consists of. */
export interface PushedImage {
  /** `host/repo:tag`. */
  readonly ref: string;
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly layerDigests: readonly string[];
  readonly layerSizes: readonly number[];
  readonly manifest: Buffer;
  readonly config: Buffer;
}

/** Options of pushImage. */
export interface PushImageOptions {
  /** Uncompressed layer tars, bottom first (they are gzipped here). */
  readonly layers: readonly Buffer[];
  /** Image config `config` member (Cmd, Env, User...). */
  readonly runtimeConfig?: Record<string, unknown>;
  readonly architecture?: string;
  readonly os?: string;
  readonly variant?: string;
  /** Manifest annotations. */
  readonly annotations?: Record<string, string>;
  /** Push the manifest under this reference (default: the tag; '' = by digest only). */
  readonly tag?: string;
}

/** Builds and pushes an OCI image (gzip layers, config, manifest) to `registry`. */
export async function pushImage(
  registry: TestRegistry,
  repo: string,
  options: PushImageOptions,
): Promise<PushedImage> {
  const gz = options.layers.map((l) => {
    let g = gzipCache.get(l);
    if (g === undefined) gzipCache.set(l, (g = gzipSync(l, { level: 6 })));
    return g;
  });
  const diffIds = options.layers.map((l) => `sha256:${createHash('sha256').update(l).digest('hex')}`);
  const config = Buffer.from(
    JSON.stringify({
      created: '2026-01-01T00:00:00Z',
      architecture: options.architecture ?? 'amd64',
      os: options.os ?? 'linux',
      ...(options.variant !== undefined ? { variant: options.variant } : {}),
      config: options.runtimeConfig ?? {},
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: options.layers.map(() => ({
        created: '2026-01-01T00:00:00Z',
        created_by: 'cocoon test helper',
      })),
    }),
  );
  const layerDigests: string[] = [];
  for (const g of gz) layerDigests.push(await pushBlob(registry.directUrl, repo, g));
  const configDigest = await pushBlob(registry.directUrl, repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OCI_MANIFEST,
      config: { mediaType: MediaType.OCI_CONFIG, digest: configDigest, size: config.length },
      layers: gz.map((g, i) => ({
        mediaType: MediaType.OCI_LAYER_GZIP,
        digest: layerDigests[i],
        size: g.length,
      })),
      ...(options.annotations !== undefined ? { annotations: options.annotations } : {}),
    }),
  );
  const reference =
    options.tag === ''
      ? `sha256:${createHash('sha256').update(manifest).digest('hex')}`
      : (options.tag ?? 'latest');
  const manifestDigest = await pushManifest(
    registry.directUrl,
    repo,
    reference,
    manifest,
    MediaType.OCI_MANIFEST,
  );
  return {
    ref: `${registry.host}/${repo}${options.tag === '' ? `@${manifestDigest}` : `:${reference}`}`,
    manifestDigest,
    configDigest,
    layerDigests,
    layerSizes: gz.map((g) => g.length),
    manifest,
    config,
  };
}

/** Pushes an image index over already-pushed manifests; returns its digest. */
export async function pushIndex(
  registry: TestRegistry,
  repo: string,
  tag: string,
  entries: readonly {
    image: PushedImage;
    platform: { os: string; architecture: string; variant?: string };
  }[],
): Promise<string> {
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OCI_INDEX,
      manifests: entries.map((e) => ({
        mediaType: MediaType.OCI_MANIFEST,
        digest: e.image.manifestDigest,
        size: e.image.manifest.length,
        platform: e.platform,
      })),
    }),
  );
  return pushManifest(registry.directUrl, repo, tag, index, MediaType.OCI_INDEX);
}

let busyboxLayer: Buffer | undefined;
/** Gzipped layers by identity of the uncompressed buffer (busybox is pushed many times). */
const gzipCache = new WeakMap<Buffer, Buffer>();

/**
 * The busybox rootfs layer (uncompressed tar): /bin/busybox from busybox-static, a symlink
 * per applet in /bin (so /bin/sh exists), /etc/passwd and /etc/group with root and nobody,
 * and /tmp. Built once per process.
 */
export function busyboxLayerTar(): Buffer {
  if (busyboxLayer !== undefined) return busyboxLayer;
  requireBinary(BUSYBOX_BIN, 'busybox-static');
  const applets = execFileSync(BUSYBOX_BIN, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => /^[a-z0-9_.[-]+$/.test(s) && s !== 'busybox')
    .sort();
  const entries: TarWriteEntry[] = [
    { name: 'bin', type: 'dir' },
    { name: 'bin/busybox', type: 'file', mode: 0o755, data: readFileSync(BUSYBOX_BIN) },
    ...applets.map((a): TarWriteEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc', type: 'dir' },
    {
      name: 'etc/passwd',
      type: 'file',
      data: Buffer.from(
        'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
      ),
    },
    { name: 'etc/group', type: 'file', data: Buffer.from('root:x:0:\nnogroup:x:65534:\n') },
    { name: 'root', type: 'dir', mode: 0o700 },
    { name: 'tmp', type: 'dir', mode: 0o1777 },
  ];
  busyboxLayer = writeTar(entries);
  return busyboxLayer;
}

/** Options of seedBusybox. */
export interface SeedBusyboxOptions {
  /** Config `User`. Default `0` (root by uid, so runAsNonRoot checks see a number). */
  readonly user?: string;
  /** Config `Cmd`. Default `["/bin/sh"]`. */
  readonly cmd?: readonly string[];
  /** Extra layers on top (uncompressed tars). */
  readonly extraLayers?: readonly Buffer[];
}

/** Pushes the busybox-static image as `repo:tag`; returns what was pushed. */
export async function seedBusybox(
  registry: TestRegistry,
  repo = 'library/busybox',
  tag = 'latest',
  options: SeedBusyboxOptions = {},
): Promise<PushedImage> {
  return pushImage(registry, repo, {
    tag,
    layers: [busyboxLayerTar(), ...(options.extraLayers ?? [])],
    runtimeConfig: {
      User: options.user ?? '0',
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: options.cmd ?? ['/bin/sh'],
      WorkingDir: '/',
    },
    annotations: { 'org.opencontainers.image.title': 'busybox-static (cocoon test image)' },
  });
}

/**
 * Requests for any of `image`'s layer blobs seen by the proxy. The config is also fetched from
 * a `/blobs/` URL, so "no layer was pulled" means this list is empty, not that no `/blobs/`
 * request was made.
 */
export function layerRequests(registry: TestRegistry, image: PushedImage): LoggedRequest[] {
  return registry.requestLog.filter((q) => image.layerDigests.some((d) => q.path.endsWith(`/blobs/${d}`)));
}
