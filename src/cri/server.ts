/**
 * The CRI gRPC server: RuntimeService + ImageService on a Unix socket (grpc-js), every RPC
 * wired to its handler file, errors mapped once (status.ts), metrics per RPC. `startCriServer`
 * opens the store, recovers state (re-attaching shims), binds, and returns a handle.
 */
import * as grpc from '@grpc/grpc-js';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { CocoonError, messageOf } from '../common/errors.js';
import type { CriConfig, CriHandlerConfig } from '../config/sections/cri.js';
import { ImageStore, RegistryClient } from '../oci/index.js';
import type { RuntimeBackend } from './backend.js';
import { ShimBackend } from './backend-shim.js';
import { TestNoopBackend } from './backend-noop.js';
import { callContextOf } from './call-context.js';
import { ImageManager } from './images.js';
import { CriMetrics } from './metrics.js';
import { PassthroughClient } from './passthrough.js';
import { HostOnlyNetwork, type PodNetwork } from './pod-network.js';
import { CniPodNetwork } from './network-cni.js';
import { criServices, MAX_MESSAGE_BYTES } from './proto.js';
import type { CriDeps, StreamRpc, UnaryRpc } from './rpc.js';
import { CriRuntime, type RecoveryReport } from './runtime.js';
import { StateStore, type StoreOptions } from './state/store.js';
import { toGrpcStatus } from './status.js';
import { RUNTIME_UNARY, RUNTIME_STREAMS, IMAGE_UNARY, IMAGE_STREAMS } from './handlers.js';
import { KIND, type Msg, type RuntimeRecord } from './state/model.js';

/** Options of startCriServer. */
export interface CriServerOptions {
  readonly config: CriConfig;
  /** Cocoon's version for VersionResponse; default "0.1.0". */
  readonly version?: string;
  readonly logger?: Logger;
  /** Backend for a handler; default ShimBackend for "shim", TestNoopBackend for "test-noop". */
  readonly backendFor?: (h: CriHandlerConfig) => RuntimeBackend;
  /** Pod networking; default from config.network (CNI or host-only). */
  readonly network?: PodNetwork;
  /** Image store; default <state_dir>/images with the configured insecure registries. */
  readonly imageStore?: ImageStore;
  /** State store options (fsync). */
  readonly store?: StoreOptions;
  /** Serve metrics; default config.metricsListen !== "". */
  readonly metrics?: boolean;
  /** Unclaimed-create TTL (tests); default 2 min. */
  readonly unclaimedTtlMs?: number;
}

/** A running CRI server. */
export interface CriServer {
  /** The bound unix:// address. */
  readonly address: string;
  /** /metrics URL when serving metrics. */
  readonly metricsUrl: string | undefined;
  readonly runtime: CriRuntime;
  readonly recovery: RecoveryReport;
  /** Stops serving; pods keep running (their shims stay up for the next start). */
  close(): Promise<void>;
}

function socketPath(listen: string): string {
  if (!listen.startsWith('unix://'))
    throw new CocoonError('ERR_CRI_SERVER', `listen address must be unix://, got ${listen}`);
  return listen.slice('unix://'.length);
}

async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!statSync(path).isSocket())
    throw new CocoonError('ERR_CRI_SERVER', `${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new CocoonError('ERR_CRI_SERVER', `another server is listening on ${path}`);
  rmSync(path, { force: true });
}

function wrapUnary(
  name: string,
  fn: UnaryRpc,
  d: CriDeps,
  metrics: CriMetrics | undefined,
): grpc.handleUnaryCall<Msg, Msg> {
  return (call, callback) => {
    const t0 = process.hrtime.bigint();
    fn(d, call.request, callContextOf(call)).then(
      (res) => {
        metrics?.observe(name, grpc.status.OK, Number(process.hrtime.bigint() - t0) / 1e9);
        callback(null, res);
      },
      (e: unknown) => {
        const st = toGrpcStatus(e);
        metrics?.observe(name, st.code, Number(process.hrtime.bigint() - t0) / 1e9, st.cocoonCode);
        if (st.cocoonCode === 'ERR_COMMON_INTERNAL')
          d.logger?.error({ rpc: name, err: messageOf(e), stack: (e as Error).stack }, 'internal error');
        else d.logger?.debug({ rpc: name, code: st.cocoonCode, msg: st.details }, 'rpc failed');
        callback(st);
      },
    );
  };
}

function wrapStream(
  name: string,
  fn: StreamRpc,
  d: CriDeps,
  metrics: CriMetrics | undefined,
): grpc.handleServerStreamingCall<Msg, Msg> {
  return (call) => {
    const t0 = process.hrtime.bigint();
    const ctx = callContextOf(call);
    fn(d, call.request, { write: (m) => void call.write(m), ctx }).then(
      () => {
        metrics?.observe(name, grpc.status.OK, Number(process.hrtime.bigint() - t0) / 1e9);
        if (!ctx.cancelled) call.end();
      },
      (e: unknown) => {
        const st = toGrpcStatus(e);
        metrics?.observe(name, st.code, Number(process.hrtime.bigint() - t0) / 1e9, st.cocoonCode);
        call.emit('error', st);
      },
    );
  };
}

/** Starts the CRI server described by `o`. */
export async function startCriServer(o: CriServerOptions): Promise<CriServer> {
  const cfg = o.config;
  const log = o.logger;
  mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
  const store = await StateStore.open(join(cfg.stateDir, 'store'), o.store ?? {});
  const shim = new ShimBackend({
    stateDir: join(cfg.stateDir, 'shim'),
    ...(log === undefined ? {} : { logger: log }),
  });
  const noop = new TestNoopBackend({ stateDir: join(cfg.stateDir, 'test-noop') });
  const backendFor =
    o.backendFor ??
    ((h: CriHandlerConfig): RuntimeBackend => {
      if (h.kind === 'test-noop') return noop;
      if (h.kind === 'shim') return shim;
      throw new CocoonError('ERR_CRI_FAILED_PRECONDITION', `handler ${h.name} is passthrough`);
    });
  const network =
    o.network ??
    (cfg.network === 'host'
      ? new HostOnlyNetwork()
      : new CniPodNetwork({
          stateDir: join(cfg.stateDir, 'net'),
          confDir: cfg.cniConfDir,
          binDirs: cfg.cniBinDirs,
        }));
  const rtRec = store.get<RuntimeRecord>(KIND.runtime, 'config');
  if (rtRec !== undefined && rtRec.podCidr !== '') network.setPodCidr(rtRec.podCidr);
  const imageStore =
    o.imageStore ??
    new ImageStore(join(cfg.stateDir, 'images'), {
      client: new RegistryClient({ insecureRegistries: cfg.insecureRegistries }),
    });
  // PullImage finds the pod's handler through the runtime, which is built right after.
  const holder: { runtime?: CriRuntime } = {};
  const images = new ImageManager(imageStore, cfg, (sc) => holder.runtime?.handlerOfSandboxConfig(sc));
  const runtime = new CriRuntime({
    config: cfg,
    store,
    backendFor,
    network,
    images,
    ...(log === undefined ? {} : { logger: log }),
    ...(o.unclaimedTtlMs === undefined ? {} : { unclaimedTtlMs: o.unclaimedTtlMs }),
  });
  holder.runtime = runtime;
  const recovery = await runtime.recover();
  log?.info({ ...recovery, store: store.recovery }, 'state recovered');
  const passthrough =
    cfg.passthroughEndpoint === '' ? undefined : new PassthroughClient(cfg.passthroughEndpoint);
  const deps: CriDeps = {
    runtime,
    images,
    passthrough,
    config: cfg,
    version: o.version ?? '0.1.0',
    ...(log === undefined ? {} : { logger: log }),
  };
  const rt = runtime;
  const metrics = (o.metrics ?? cfg.metricsListen !== '') ? new CriMetrics(() => rt.queueDepth()) : undefined;
  const server = new grpc.Server({
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  });
  const { runtime: runtimeDef, image: imageDef } = criServices();
  const impl = (
    unary: Record<string, UnaryRpc>,
    streams: Record<string, StreamRpc>,
  ): grpc.UntypedServiceImplementation => {
    const out: grpc.UntypedServiceImplementation = {};
    for (const [n, fn] of Object.entries(unary)) out[n] = wrapUnary(n, fn, deps, metrics);
    for (const [n, fn] of Object.entries(streams)) out[n] = wrapStream(n, fn, deps, metrics);
    return out;
  };
  server.addService(runtimeDef, impl(RUNTIME_UNARY, RUNTIME_STREAMS));
  server.addService(imageDef, impl(IMAGE_UNARY, IMAGE_STREAMS));
  const path = socketPath(cfg.listen);
  mkdirSync(dirname(path), { recursive: true });
  await removeStaleSocket(path);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (e) =>
      e === null
        ? resolve()
        : reject(new CocoonError('ERR_CRI_SERVER', `cannot bind ${cfg.listen}: ${e.message}`, { cause: e })),
    ),
  );
  let metricsHandle: { url: string; close: () => Promise<void> } | undefined;
  if (metrics !== undefined) {
    try {
      metricsHandle = await metrics.listen(cfg.metricsListen);
    } catch (e) {
      server.forceShutdown();
      throw e;
    }
  }
  log?.info({ listen: cfg.listen, metrics: metricsHandle?.url }, 'cri server listening');
  return {
    address: `unix://${path}`,
    metricsUrl: metricsHandle?.url,
    runtime: rt,
    recovery,
    async close() {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
      await metricsHandle?.close();
      rt.close();
      passthrough?.close();
      await shim.close();
      await noop.close();
      await store.close();
      rmSync(path, { force: true });
    },
  };
}
