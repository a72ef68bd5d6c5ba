/** Test helpers for the CRI server: a server on a temp socket and a promisified grpc-js client. */
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateCriConfig, type CriConfig } from '../../../src/config/sections/cri.js';
import { criClientConstructor } from '../../../src/cri/proto.js';
import { startCriServer, type CriServer, type CriServerOptions } from '../../../src/cri/server.js';
import type { Msg } from '../../../src/cri/state/model.js';

/** A decoded reply. */
export type Reply = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A CRI client over a Unix socket. */
export class CriTestClient {
  readonly runtime: grpc.Client;
  readonly image: grpc.Client;
  constructor(address: string) {
    this.runtime = new (criClientConstructor('RuntimeService'))(address, grpc.credentials.createInsecure());
    this.image = new (criClientConstructor('ImageService'))(address, grpc.credentials.createInsecure());
  }
  /** Calls a RuntimeService (default) or ImageService unary RPC. */
  call(method: string, req: Msg = {}, o: { image?: boolean; deadlineMs?: number } = {}): Promise<Reply> {
    const c = (o.image === true ? this.image : this.runtime) as unknown as Record<
      string,
      (...a: unknown[]) => unknown
    >;
    return new Promise((resolve, reject) => {
      c[method]!.call(
        o.image === true ? this.image : this.runtime,
        req,
        { deadline: Date.now() + (o.deadlineMs ?? 10_000) },
        (e: grpc.ServiceError | null, v: Reply) => (e === null ? resolve(v) : reject(e)),
      );
    });
  }
  /** Opens a server stream. */
  stream(method: string, req: Msg = {}): grpc.ClientReadableStream<Reply> {
    const c = this.runtime as unknown as Record<string, (...a: unknown[]) => unknown>;
    return c[method]!.call(this.runtime, req) as grpc.ClientReadableStream<Reply>;
  }
  close(): void {
    this.runtime.close();
    this.image.close();
  }
}

/** Raw `[cri]` table for tests: test-noop handlers, temp paths. */
export function testCriRaw(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listen: `unix://${join(dir, 'cri.sock')}`,
    state_dir: join(dir, 'state'),
    metrics_listen: '127.0.0.1:0',
    default_runtime_handler: 'noop',
    network: 'host',
    ...extra,
    handlers: {
      noop: { kind: 'test-noop' },
      'noop-guest': {
        kind: 'test-noop',
        confidential: true,
        tee: 'sample',
        guest_pull: true,
        kbs_url: 'http://127.0.0.1:1',
      },
      ...((extra['handlers'] as Record<string, unknown> | undefined) ?? {}),
    },
  };
}

/** A started server, its client and its temp dir. */
export interface TestServer {
  readonly dir: string;
  readonly config: CriConfig;
  readonly server: CriServer;
  readonly client: CriTestClient;
  close(): Promise<void>;
}

/** Starts a server with test-noop handlers in a fresh temp dir. */
export async function startTestServer(
  opts: Partial<CriServerOptions> & { raw?: Record<string, unknown>; dir?: string } = {},
): Promise<TestServer> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'cocoon-cri-')));
  const config = validateCriConfig(testCriRaw(dir, opts.raw ?? {}));
  const server = await startCriServer({ store: { fsync: false }, ...opts, config });
  const client = new CriTestClient(server.address);
  return {
    dir,
    config,
    server,
    client,
    async close() {
      client.close();
      await server.close();
      if (opts.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A PodSandboxConfig as the kubelet sends it. */
export function podConfig(name: string, uid: string, attempt = 0, extra: Msg = {}): Msg {
  return {
    metadata: { name, namespace: 'default', uid, attempt },
    hostname: name,
    log_directory: '',
    labels: {
      'io.kubernetes.pod.name': name,
      'io.kubernetes.pod.namespace': 'default',
      'io.kubernetes.pod.uid': uid,
    },
    annotations: { 'kubernetes.io/config.seen': '2026-11-24T08:00:00.000000000Z' },
    linux: { security_context: { namespace_options: { network: 'POD' } } },
    ...extra,
  };
}

/** A ContainerConfig as the kubelet sends it. */
export function containerConfig(name: string, image: string, extra: Msg = {}): Msg {
  return {
    metadata: { name, attempt: 0 },
    image: { image, user_specified_image: image },
    command: ['/bin/sh'],
    args: ['-c', 'echo hello; sleep 1000'],
    labels: { 'io.kubernetes.container.name': name },
    annotations: { 'io.kubernetes.container.hash': 'abc123', 'io.kubernetes.container.restartCount': '0' },
    log_path: `${name}/0.log`,
    ...extra,
  };
}

/** Asserts a gRPC error code and optional Cocoon code; returns the error. */
export async function rejectsGrpc(
  p: Promise<unknown>,
  code: number,
  cocoonCode?: string,
): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (e) {
    const err = e as grpc.ServiceError;
    if (err.code !== code) throw new Error(`expected gRPC code ${code}, got ${err.code}: ${err.details}`);
    if (cocoonCode !== undefined) {
      const got = err.metadata?.get('cocoon-error-code')[0];
      if (got !== cocoonCode) throw new Error(`expected ${cocoonCode}, got ${String(got)}: ${err.details}`);
    }
    return err;
  }
  throw new Error(`expected gRPC code ${code}, the call succeeded`);
}
