/**
 * The local OCI registry `cocoon up` runs when none is configured: Debian's `docker-registry`
 * (distribution 2.8) on 127.0.0.1 with storage under the state directory, behind a small counting
 * proxy that tells host-side pulls from in-guest pulls by User-Agent (the simulated guest pulls
 * as GUEST_USER_AGENT). `seedDemoImage` pushes a busybox-static image built here from the
 * busybox-static package, so a fresh machine needs no external registry.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CocoonError, messageOf } from '../common/errors.js';
import { MediaType, writeTar, type TarWriteEntry } from '../oci/index.js';
import { GUEST_USER_AGENT } from '../kata/sim/guest.js';

/** Debian's registry binary. */
export const REGISTRY_BINARY = '/usr/bin/docker-registry';
/** busybox-static's binary, the demo image's only file. */
export const BUSYBOX_BINARY = '/bin/busybox';
/** Repository and tag of the demo image. */
export const DEMO_REPOSITORY = 'cocoon/demo';
export const DEMO_TAG = 'latest';

/** Path where the proxy reports its counters. */
export const COUNTERS_PATH = '/_cocoon/counters';

/** Counts of the requests that reached the registry, split by who asked. */
export interface RegistryCounters {
  /** Layer blob GETs by the host side (anything not identifying as the guest). */
  hostBlobRequests: number;
  /** Layer/config blob GETs by the simulated guest. */
  guestBlobRequests: number;
  /** Manifest requests by anyone. */
  manifestRequests: number;
}

/** A running local registry. */
export interface LocalRegistry {
  /** `127.0.0.1:PORT`: the registry host in image references (the counting proxy). */
  readonly host: string;
  readonly url: string;
  readonly counters: RegistryCounters;
  /** Digests of config blobs (not layers), so counters can tell them apart. */
  readonly configDigests: Set<string>;
  stop(): Promise<void>;
}

function listenServer(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  const p = await listenServer(s, 0);
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new CocoonError('ERR_UP_REGISTRY', `docker-registry exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline)
      throw new CocoonError('ERR_UP_REGISTRY', `docker-registry did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A docker-registry process listening on 127.0.0.1. */
export interface RegistryBackend {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>;
}

/**
 * Starts Debian's docker-registry with filesystem storage under `dir` on a free loopback port
 * and waits (bounded) until `/v2/` answers. Shared by `cocoon up` and the test registry helper.
 */
export async function spawnRegistryBackend(dir: string, startTimeoutMs = 15_000): Promise<RegistryBackend> {
  if (!existsSync(REGISTRY_BINARY)) {
    throw new CocoonError(
      'ERR_UP_REGISTRY',
      `${REGISTRY_BINARY} is missing: install Debian's docker-registry (scripts/install-deps.sh)`,
    );
  }
  await mkdir(join(dir, 'storage'), { recursive: true });
  const port = await freePort();
  const config = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'storage')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'config.yml'), config);
  const child = spawn(REGISTRY_BINARY, ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  };
  try {
    await waitReady(url, child, startTimeoutMs);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return { url, port, child, stop };
}

/**
 * Starts docker-registry with storage in `dir`, and the counting proxy on `port` (0 = free port;
 * `cocoon up` passes the port it used before so image references stay valid across down/up).
 */
export async function startLocalRegistry(dir: string, port = 0): Promise<LocalRegistry> {
  const backend = await spawnRegistryBackend(dir);
  const backendPort = backend.port;
  const counters: RegistryCounters = { hostBlobRequests: 0, guestBlobRequests: 0, manifestRequests: 0 };
  const configDigests = new Set<string>();
  const proxy = createServer((req, res) => {
    const path = req.url ?? '/';
    // Cocoon's own endpoint (outside the /v2/ API): the counters, for `cocoon demo`.
    if (path === COUNTERS_PATH) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counters));
      return;
    }
    const blob = /\/blobs\/(sha256:[0-9a-f]{64})/.exec(path);
    if (req.method === 'GET' && blob !== null && !configDigests.has(blob[1]!)) {
      if ((req.headers['user-agent'] ?? '').startsWith(GUEST_USER_AGENT.split(' ')[0]!))
        counters.guestBlobRequests++;
      else counters.hostBlobRequests++;
    }
    if (path.includes('/manifests/')) counters.manifestRequests++;
    const up = request(
      { host: '127.0.0.1', port: backendPort, method: req.method, path, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502).end(messageOf(e));
      else res.destroy();
    });
    req.pipe(up);
  });
  const p = await listenServer(proxy, port).catch(async (e: unknown) => {
    if (port === 0) throw e;
    return listenServer(proxy, 0);
  });
  return {
    host: `127.0.0.1:${p}`,
    url: `http://127.0.0.1:${p}`,
    counters,
    configDigests,
    async stop() {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
      await backend.stop();
    },
  };
}

/** The busybox-static root filesystem as an uncompressed layer tar (binary + applet links). */
export function busyboxLayer(): Buffer {
  if (!existsSync(BUSYBOX_BINARY)) {
    throw new CocoonError('ERR_UP_REGISTRY', `${BUSYBOX_BINARY} is missing: install Debian's busybox-static`);
  }
  const bin = readFileSync(BUSYBOX_BINARY);
  const applets = execFileSync(BUSYBOX_BINARY, ['--list-full'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'bin/busybox');
  const dirs = new Set<string>(['bin/', 'tmp/', 'etc/']);
  for (const a of applets) dirs.add(`${a.slice(0, a.lastIndexOf('/'))}/`);
  const entries: TarWriteEntry[] = [
    ...[...dirs].sort().map((d) => ({ name: d, type: 'dir' as const, mode: d === 'tmp/' ? 0o1777 : 0o755 })),
    { name: 'bin/busybox', type: 'file' as const, mode: 0o755, data: bin },
    ...applets.map((a) => ({ name: a, type: 'symlink' as const, linkname: '/bin/busybox' })),
    {
      name: 'etc/passwd',
      type: 'file' as const,
      mode: 0o644,
      data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n'),
    },
    {
      name: 'etc/group',
      type: 'file' as const,
      mode: 0o644,
      data: Buffer.from('root:x:0:\nnobody:x:65534:\n'),
    },
  ];
  return writeTar(entries);
}

async function pushBlob(base: string, repo: string, data: Buffer): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const head = await fetch(`${base}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  if (head.status === 200) return digest;
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const location = start.headers.get('location');
  if (start.status !== 202 || location === null)
    throw new CocoonError('ERR_UP_REGISTRY', `blob upload start: HTTP ${start.status}`);
  const u = new URL(location, base);
  u.searchParams.set('digest', digest);
  const put = await fetch(u, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: data,
  });
  if (put.status !== 201) throw new CocoonError('ERR_UP_REGISTRY', `blob upload: HTTP ${put.status}`);
  return digest;
}

/** Pushes the busybox-static demo image (idempotent); returns its reference. */
export async function seedDemoImage(reg: LocalRegistry): Promise<string> {
  const layer = gzipSync(busyboxLayer());
  const diffId = `sha256:${createHash('sha256').update(busyboxLayer()).digest('hex')}`;
  const config = Buffer.from(
    JSON.stringify({
      created: '2026-01-01T00:00:00Z',
      architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
      os: 'linux',
      config: {
        User: '0',
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: ['/bin/sh'],
        WorkingDir: '/',
      },
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: '2026-01-01T00:00:00Z', created_by: 'cocoon up: busybox-static demo image' }],
    }),
  );
  const layerDigest = await pushBlob(reg.url, DEMO_REPOSITORY, layer);
  const configDigest = await pushBlob(reg.url, DEMO_REPOSITORY, config);
  reg.configDigests.add(configDigest);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    config: { mediaType: MediaType.OCI_CONFIG, digest: configDigest, size: config.length },
    layers: [{ mediaType: MediaType.OCI_LAYER_GZIP, digest: layerDigest, size: layer.length }],
  });
  const r = await fetch(`${reg.url}/v2/${DEMO_REPOSITORY}/manifests/${DEMO_TAG}`, {
    method: 'PUT',
    headers: { 'content-type': MediaType.OCI_MANIFEST },
    body: manifest,
  });
  if (r.status !== 201) throw new CocoonError('ERR_UP_REGISTRY', `manifest push: HTTP ${r.status}`);
  // Seeding went through the proxy with Node's User-Agent: these were uploads, not pulls.
  reg.counters.hostBlobRequests = 0;
  return `${reg.host}/${DEMO_REPOSITORY}:${DEMO_TAG}`;
}
