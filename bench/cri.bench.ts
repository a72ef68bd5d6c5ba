/**
 * CRI server benchmark (issue 7): the lifecycle of 1,000 pods (RunPodSandbox, CreateContainer,
 * StartContainer, StopContainer, RemovePodSandbox) over the Unix socket on the in-process
 * test-noop backend at concurrency 1, 10 and 50, per-RPC p50/p99 next to a bare grpc-js unary
 * echo on a Unix socket measured in the same run (goal ≤ 3× for RPCs that do not wait on a
 * shim); memory per running pod (JS heap and RSS after a forced GC); recovery time with
 * 10,000 pods in the store (goal < 2 s). Each level runs all its pods (a 60 s cap per level is
 * reported if hit), first with the store's fsync on (the durable default), then off.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { validateCriConfig } from '../src/config/sections/cri.js';
import { TestNoopBackend } from '../src/cri/backend-noop.js';
import type { BackendTaskState, ReattachResult, SandboxLaunch } from '../src/cri/backend.js';
import { startCriServer } from '../src/cri/server.js';
import { KIND, type ContainerRecord, type PodRecord } from '../src/cri/state/model.js';
import { StateStore } from '../src/cri/state/store.js';
import { busyboxLayerTar, pushImage, startRegistry } from '../test/helpers/registry.js';
import { CriTestClient, containerConfig, podConfig, type Reply } from '../test/unit/cri/helpers.js';
import { measure, report, type Series } from './harness.js';

/** Pods per lifecycle level (COCOON_BENCH_CRI_PODS overrides, e.g. for profiling). */
const PODS = Number(process.env['COCOON_BENCH_CRI_PODS'] ?? 1000);
/** Running pods held at once for the memory figure. */
const MEMORY_PODS = PODS;
const RECOVERY_PODS = 10_000;
const LEVELS = [1, 10, 50];
const RPCS = [
  'RunPodSandbox',
  'CreateContainer',
  'StartContainer',
  'StopContainer',
  'RemovePodSandbox',
] as const;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** Per-RPC series: throughput from the time callers spent in this RPC (Σ latency ÷ concurrency). */
function seriesOf(name: string, lat: number[], concurrency: number): Series {
  const s = [...lat].sort((a, b) => a - b);
  const seconds = s.reduce((a, b) => a + b, 0) / 1000 / concurrency;
  return {
    name,
    ops: s.length,
    seconds,
    opsPerSec: s.length / seconds,
    p50Ms: pct(s, 50),
    p99Ms: pct(s, 99),
  };
}

/** Generous wall-clock cap of one lifecycle level; reaching it is reported, never silent. */
const LEVEL_CAP_MS = 60_000;

/** Forces a full GC (the flag can be set at run time; gc() is then reachable from a new context). */
function gcFunction(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return () => {
    // Two passes: the first may only schedule finalisers whose objects the second frees.
    gc();
    gc();
  };
}

/** A bare grpc-js unary echo on a Unix socket: the baseline. */
async function startEcho(path: string): Promise<{ call: () => Promise<unknown>; close: () => void }> {
  const def = {
    Echo: {
      path: '/bench.Echo/Echo',
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  } as const;
  const server = new grpc.Server();
  server.addService(def, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, call.request),
  });
  await new Promise<void>((res, rej) =>
    server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())),
  );
  const Client = grpc.makeGenericClientConstructor(def, 'Echo');
  const client = new Client(`unix://${path}`, grpc.credentials.createInsecure()) as unknown as {
    Echo: (b: Buffer, cb: (e: unknown, r: Buffer) => void) => void;
    close: () => void;
  };
  const payload = Buffer.alloc(200, 1);
  return {
    call: () => new Promise((res, rej) => client.Echo(payload, (e, r) => (e ? rej(e) : res(r)))),
    close: () => {
      client.close();
      server.forceShutdown();
    },
  };
}

/** TEST/BENCH backend whose pods are all alive after a restart (as re-attached shims would be). */
class AliveNoopBackend extends TestNoopBackend {
  override async reattach(_s: SandboxLaunch, ids: readonly string[]): Promise<ReattachResult> {
    const st: BackendTaskState = { status: 'running', pid: 1, exitCode: 0 };
    return { alive: true, containers: new Map(ids.map((id) => [id, st])) };
  }
}

export default async function (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cocoon-cri-bench-'));
  const reg = await startRegistry();
  try {
    const image = (
      await pushImage(reg, 'library/busybox', {
        layers: [busyboxLayerTar()],
        runtimeConfig: { Cmd: ['/bin/sh'] },
        tag: '1',
      })
    ).ref;
    const rawConfig = {
      listen: `unix://${join(dir, 'cri.sock')}`,
      metrics_listen: '',
      network: 'host',
      default_runtime_handler: 'noop',
      max_concurrent_ops: 64,
      handlers: { noop: { kind: 'test-noop' } },
    };
    const echo = await startEcho(join(dir, 'echo.sock'));
    let seq = 0;
    let imageId = '';
    // Memory first, in a process not yet churned by the lifecycle levels (their garbage would
    // make the RSS delta meaningless, even negative).
    {
      const server = await startCriServer({
        config: validateCriConfig({ ...rawConfig, state_dir: join(dir, 'state-mem') }),
        store: { fsync: false },
      });
      const client = new CriTestClient(server.address);
      imageId = (await client.call('PullImage', { image: { image } }, { image: true, deadlineMs: 60_000 }))
        .image_ref as string;
      // Memory per pod: MEMORY_PODS running pods (one container each) held at once, measured after
      // a full GC against a baseline taken after a warm-up lifecycle (so JIT code, grpc-js buffers
      // and the store's log handle are in both). Server and client share this process; the
      // client keeps only the pod ids.
      const gc = gcFunction();
      const runPods = async (prefix: string, n: number, out: string[]): Promise<void> => {
        let next = 0;
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            while (next < n) {
              next++;
              const k = seq++;
              const pod = podConfig(`${prefix}${k}`, `u${prefix}${k}`);
              const podId = (await client.call('RunPodSandbox', { config: pod })).pod_sandbox_id as string;
              out.push(podId);
              const cid = (
                await client.call('CreateContainer', {
                  pod_sandbox_id: podId,
                  config: containerConfig('c', imageId),
                })
              ).container_id;
              await client.call('StartContainer', { container_id: cid });
            }
          }),
        );
      };
      const warm: string[] = [];
      await runPods('w', 200, warm);
      for (const id of warm) await client.call('RemovePodSandbox', { pod_sandbox_id: id });
      gc();
      const m0 = process.memoryUsage();
      const ids: string[] = [];
      await runPods('m', MEMORY_PODS, ids);
      gc();
      const m1 = process.memoryUsage();
      const kib = (b: number): string => (b / ids.length / 1024).toFixed(1);
      console.log(
        `\n## memory\n${ids.length} running pods (1 container each), server + client in one process, after a forced GC:\n` +
          `  JS heap per pod: ${kib(m1.heapUsed - m0.heapUsed)} KiB (heapUsed ${(m0.heapUsed / 2 ** 20).toFixed(1)} -> ${(m1.heapUsed / 2 ** 20).toFixed(1)} MiB)\n` +
          `  resident (RSS) per pod: ${kib(m1.rss - m0.rss)} KiB (rss ${(m0.rss / 2 ** 20).toFixed(1)} -> ${(m1.rss / 2 ** 20).toFixed(1)} MiB; RSS also moves with allocator caching, the heap figure is the stable one)`,
      );
      client.close();
      await server.close();
    }
    for (const fsync of [true, false]) {
      const cfg = validateCriConfig({ ...rawConfig, state_dir: join(dir, fsync ? 'state-fsync' : 'state') });
      const server = await startCriServer({ config: cfg, store: { fsync } });
      const client = new CriTestClient(server.address);
      imageId = (await client.call('PullImage', { image: { image } }, { image: true, deadlineMs: 60_000 }))
        .image_ref as string;
      console.log(
        `\n### store ${fsync ? 'with fdatasync per batch (power-loss safe, the default)' : 'without fsync (kill -9 safe)'}`,
      );
      for (const c of LEVELS) {
        const lat: Record<string, number[]> = Object.fromEntries(RPCS.map((r) => [r, []]));
        const t0 = performance.now();
        let started = 0;
        const timed = async (rpc: (typeof RPCS)[number], req: Record<string, unknown>): Promise<Reply> => {
          const st = performance.now();
          const r = await client.call(rpc, req, { deadlineMs: 60_000 });
          lat[rpc]!.push(performance.now() - st);
          return r;
        };
        const worker = async (): Promise<void> => {
          while (started < PODS && performance.now() - t0 < LEVEL_CAP_MS) {
            started++;
            const n = seq++;
            const pod = podConfig(`b${n}`, `ub${n}`);
            const podId = (await timed('RunPodSandbox', { config: pod })).pod_sandbox_id;
            const cid = (
              await timed('CreateContainer', {
                pod_sandbox_id: podId,
                config: containerConfig('c', imageId),
                sandbox_config: pod,
              })
            ).container_id;
            await timed('StartContainer', { container_id: cid });
            await timed('StopContainer', { container_id: cid, timeout: 0 });
            await timed('RemovePodSandbox', { pod_sandbox_id: podId });
          }
        };
        await Promise.all(Array.from({ length: c }, worker));
        const seconds = (performance.now() - t0) / 1000;
        const base = await measure(`grpc-js unary echo (c=${c})`, echo.call, {
          concurrency: c,
          maxOps: 3000,
          maxMs: 1000,
        });
        for (const rpc of RPCS)
          report(
            `${rpc} vs echo, concurrency ${c}${fsync ? ', fsync' : ''}`,
            seriesOf(`${rpc} (c=${c})`, lat[rpc]!, c),
            base,
            3,
          );
        const pods = lat['RunPodSandbox']!.length;
        console.log(
          `lifecycle c=${c}: ${pods} of ${PODS} pods completed${pods < PODS ? ` (stopped at the ${LEVEL_CAP_MS / 1000} s cap)` : ''} in ${seconds.toFixed(2)} s = ${(pods / seconds).toFixed(0)} pods/s`,
        );
        if (!fsync) {
          const st = await measure(`ListPodSandbox (c=${c})`, () => client.call('ListPodSandbox', {}), {
            concurrency: c,
            maxOps: 2000,
            maxMs: 1000,
          });
          report(`ListPodSandbox vs echo, concurrency ${c}`, st, base, 3);
        }
      }
      client.close();
      await server.close();
    }
    echo.close();

    // Recovery with 10,000 pods (+10,000 containers) in the store.
    const rdir = join(dir, 'recovery');
    const store = await StateStore.open(join(rdir, 'store'), { fsync: false });
    const now = Date.now();
    const puts: Promise<void>[] = [];
    for (let i = 0; i < RECOVERY_PODS; i++) {
      const pid = `${i.toString(16).padStart(8, '0')}${'a'.repeat(56)}`;
      const cid = `${i.toString(16).padStart(8, '0')}${'c'.repeat(56)}`;
      const cfg = podConfig(`r${i}`, `ur${i}`);
      const pod: PodRecord = {
        id: pid,
        name: `k8s_r${i}_default_ur${i}_0`,
        handler: 'noop',
        config: cfg,
        createdAtMs: now,
        phase: 'ready',
        claimed: true,
      };
      const ctr: ContainerRecord = {
        id: cid,
        podId: pid,
        name: `k8s_c_${pid}_0`,
        config: containerConfig('c', imageId),
        imageRef: imageId,
        imageName: imageId,
        createdAtMs: now,
        startedAtMs: now,
        exitCode: 0,
        phase: 'running',
        claimed: true,
        reason: '',
        message: '',
        logPath: '',
        pid: 1,
      };
      puts.push(store.put(KIND.pod, pid, pod), store.put(KIND.container, cid, ctr));
    }
    await Promise.all(puts);
    await store.compact();
    await store.close();
    const rconfig = validateCriConfig({
      ...{
        listen: `unix://${join(rdir, 'cri.sock')}`,
        state_dir: rdir,
        metrics_listen: '',
        network: 'host',
        default_runtime_handler: 'noop',
      },
      handlers: { noop: { kind: 'test-noop' } },
    });
    const backend = new AliveNoopBackend();
    const t1 = performance.now();
    const rs = await startCriServer({ config: rconfig, backendFor: () => backend });
    const total = performance.now() - t1;
    const rc = new CriTestClient(rs.address);
    const listed = ((await rc.call('ListPodSandbox', {})).items as unknown[]).length;
    rc.close();
    console.log(
      `\n## recovery\n${RECOVERY_PODS} pods + ${RECOVERY_PODS} containers: store replay + re-attach + bind ${total.toFixed(0)} ms (re-attach/reconcile ${rs.recovery.ms.toFixed(0)} ms), ${listed} pods listed  goal < 2000 ms: ${total < 2000 ? 'met' : 'NOT met'}`,
    );
    await rs.close();
  } finally {
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
