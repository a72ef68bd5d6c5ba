/**
 * The RuntimeBackend over the shim v2 driver (src/kata): one shim per pod, started with the
 * `start` protocol and driven through the Task API, following the call sequences of
 * cri-kata.md §4.4. Works with containerd-shim-runc-v2 (host rootfs, the pod's pause process
 * from busybox-static), containerd-shim-kata-v2 and the simulated guest (guest pull: empty
 * bundle rootfs + the image_guest_pull rootfs mount, §3.3–3.4).
 *
 * Layout under `stateDir`: bundles/<id>/ (config.json, rootfs/, log FIFO, address, meta.json),
 * io/<id>-stdout|-stderr FIFOs, events.sock (the Events/Forward endpoint shims publish to).
 */
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { CocoonError, isCocoonError, messageOf } from '../common/errors.js';
import { packagePath } from '../common/paths.js';
import { BUILTIN_SIM_SHIM, type CriHandlerConfig } from '../config/sections/cri.js';
import {
  buildContainerSpec,
  buildSandboxSpec,
  createStdioFifos,
  deleteShim,
  execSync as kataExecSync,
  EventsServer,
  guestPullMount,
  processAlive,
  pumpContainerLogs,
  readShimPid,
  reattachShim,
  runtimeOptions,
  startShim,
  TaskClient,
  writeBundle,
  type Bundle,
  type ContainerLogPump,
  type TaskMount,
} from '../kata/index.js';
import type {
  BackendExit,
  BackendResources,
  BackendTaskState,
  BackendUsage,
  ContainerLaunch,
  ExecResult,
  ReattachResult,
  RuntimeBackend,
  SandboxLaunch,
} from './backend.js';

/** Where Debian's busybox-static lives; the runc pod's pause process is a busybox shell. */
export const DEFAULT_BUSYBOX = '/bin/busybox';
/** Grace between SIGTERM and SIGKILL for the sandbox (pause) task. */
export const SANDBOX_STOP_GRACE_MS = 2_000;
/** How long a shim may take to exit after Shutdown before it is killed by pid. */
export const SHIM_EXIT_GRACE_MS = 3_000;
/** Ceiling for an ExecSync without its own timeout. */
export const DEFAULT_EXEC_TIMEOUT_MS = 120_000;

/** The pause process: exits 0 on TERM/INT, otherwise sleeps forever. */
const PAUSE_ARGS = [
  '/bin/busybox',
  'sh',
  '-c',
  'trap "exit 0" TERM INT; while :; do /bin/busybox sleep 3600 & wait $!; done',
];

/** Options of ShimBackend. */
export interface ShimBackendOptions {
  /** State directory (bundles, FIFOs, events socket). */
  readonly stateDir: string;
  readonly logger?: Logger;
  /** busybox-static binary for the runc pause rootfs; default DEFAULT_BUSYBOX. */
  readonly busybox?: string;
  /** Command for builtin:sim; default the cocoon CLI (`bin/cocoon shim sim`) via a wrapper. */
  readonly simShim?: string;
}

interface Meta {
  readonly sandboxId: string;
  readonly logPath: string;
  readonly stdout: string;
  readonly stderr: string;
}

interface PodConn {
  readonly client: TaskClient;
  readonly handler: CriHandlerConfig;
  pid: number;
}

function stateName(status: number): BackendTaskState['status'] {
  // containerd.v1.types.Status: CREATED=1, RUNNING=2, STOPPED=3, PAUSED=4, PAUSING=5 (§4.1).
  if (status === 1) return 'created';
  if (status === 2 || status === 4 || status === 5) return 'running';
  if (status === 3) return 'exited';
  return 'unknown';
}

function gone(e: unknown): boolean {
  return isCocoonError(e) && (e.code === 'ERR_KATA_NOT_FOUND' || e.code === 'ERR_KATA_SHIM_DEAD');
}

/** The shim-driver backend (the default for every handler of kind "shim"). */
export class ShimBackend implements RuntimeBackend {
  readonly name = 'shim';
  private readonly dir: string;
  private readonly log: Logger | undefined;
  private readonly busybox: string;
  private readonly simShim: string | undefined;
  private readonly pods = new Map<string, PodConn>();
  private readonly bundles = new Map<string, Bundle>();
  private readonly pumps = new Map<string, ContainerLogPump>();
  private readonly waiting = new Set<string>();
  private events: Promise<EventsServer> | undefined;
  private listener: ((e: BackendExit) => void) | undefined;

  constructor(o: ShimBackendOptions) {
    this.dir = resolve(o.stateDir);
    this.log = o.logger;
    this.busybox = o.busybox ?? DEFAULT_BUSYBOX;
    this.simShim = o.simShim;
  }

  private bundleDir(id: string): string {
    return join(this.dir, 'bundles', id);
  }

  private binary(h: CriHandlerConfig): string {
    if (h.shim !== BUILTIN_SIM_SHIM) return h.shim;
    return this.simShim ?? packagePath('bin', 'containerd-shim-cocoon-sim-v2');
  }

  /** Environment for the shim: the simulated guest learns its TEE and run directory here. */
  private shimEnv(h: CriHandlerConfig): Record<string, string> {
    if (h.shim !== BUILTIN_SIM_SHIM) return {};
    return { COCOON_SIM_TEE: h.tee, COCOON_SIM_RUN_DIR: join(this.dir, 'sim-run') };
  }

  private eventsServer(): Promise<EventsServer> {
    this.events ??= (async () => {
      await mkdir(this.dir, { recursive: true });
      const path = join(this.dir, 'events.sock');
      await rm(path, { force: true });
      const ev = await EventsServer.listen(path, this.log === undefined ? {} : { logger: this.log });
      ev.subscribe((e) => {
        if (e.type === 'TaskExit' && e.id === e.containerId) {
          const meta = this.metaSync(e.containerId);
          this.listener?.({
            sandboxId: meta?.sandboxId ?? e.containerId,
            id: e.containerId,
            exitCode: e.exitStatus,
            exitedAt: e.exitedAt?.getTime() ?? Date.now(),
          });
        }
      });
      return ev;
    })();
    return this.events;
  }

  private metaSync(id: string): Meta | undefined {
    try {
      return JSON.parse(readFileSync(join(this.bundleDir(id), 'meta.json'), 'utf8')) as Meta;
    } catch {
      return undefined;
    }
  }

  private conn(sandboxId: string): PodConn {
    const c = this.pods.get(sandboxId);
    if (c === undefined)
      throw new CocoonError('ERR_CRI_NOT_FOUND', `no shim connection for pod ${sandboxId}`);
    return c;
  }

  /** The runc pod's pause rootfs: busybox-static only, prepared once. */
  private pauseRootfs(): string {
    const root = join(this.dir, 'pause-rootfs');
    const bb = join(root, 'bin', 'busybox');
    if (!existsSync(bb)) {
      if (!existsSync(this.busybox)) {
        throw new CocoonError(
          'ERR_CRI_BACKEND',
          `${this.busybox} is missing: install busybox-static for runc pods`,
        );
      }
      mkdirSync(join(root, 'bin'), { recursive: true });
      copyFileSync(this.busybox, bb);
    }
    return root;
  }

  private rootfsMounts(h: CriHandlerConfig, source: string): TaskMount[] {
    return h.guestPull ? [guestPullMount({ source })] : [];
  }

  private watchExit(sandboxId: string, id: string, client: TaskClient): void {
    if (this.waiting.has(id)) return;
    this.waiting.add(id);
    client.wait(id, '', { timeoutMs: 0 }).then(
      (x) => {
        this.waiting.delete(id);
        this.listener?.({
          sandboxId,
          id,
          exitCode: x.exitStatus,
          exitedAt: x.exitedAt?.getTime() ?? Date.now(),
        });
      },
      () => this.waiting.delete(id),
    );
  }

  async startSandbox(s: SandboxLaunch): Promise<{ pid: number }> {
    const ev = await this.eventsServer();
    const dir = this.bundleDir(s.id);
    await mkdir(dir, { recursive: true });
    const host = !s.handler.guestPull;
    const spec = buildSandboxSpec({
      id: s.id,
      name: s.name,
      namespace: s.namespace,
      uid: s.uid,
      logDirectory: s.logDirectory,
      args: host ? PAUSE_ARGS : ['/pause'],
      ...(s.hostname === '' ? {} : { hostname: s.hostname }),
      ...(s.netnsPath === undefined ? {} : { netnsPath: s.netnsPath }),
      podAnnotations: { ...s.annotations, ...s.extraAnnotations },
      podAnnotationAllowlist: [...s.podAnnotationAllowlist, ...Object.keys(s.extraAnnotations)],
      ...(host ? { rootfs: this.pauseRootfs(), readonlyRootfs: true } : {}),
    });
    const bundle = writeBundle(dir, spec, {
      ...(host ? { rootfs: this.pauseRootfs() } : {}),
      ...(this.log === undefined ? {} : { logger: this.log }),
    });
    this.bundles.set(s.id, bundle);
    await writeFile(
      join(dir, 'meta.json'),
      JSON.stringify({ sandboxId: s.id, logPath: '', stdout: '', stderr: '' }),
    );
    await writeFile(
      join(dir, 'shim.json'),
      JSON.stringify({ binary: this.binary(s.handler), namespace: s.handler.namespace }),
    );
    const started = await startShim({
      binary: this.binary(s.handler),
      id: s.id,
      namespace: s.handler.namespace,
      bundle: dir,
      eventsAddress: ev.path,
      env: this.shimEnv(s.handler),
    });
    const client = await TaskClient.connect(started.address, {
      namespace: s.handler.namespace,
      ...(this.log === undefined ? {} : { logger: this.log }),
    });
    const conn: PodConn = { client, handler: s.handler, pid: 0 };
    this.pods.set(s.id, conn);
    await client.create({
      id: s.id,
      bundle: dir,
      rootfs: this.rootfsMounts(s.handler, 'pause'),
      ...(s.handler.configPath === '' ? {} : { options: runtimeOptions(s.handler.configPath) }),
    });
    const { pid } = await client.start(s.id);
    conn.pid = pid;
    this.watchExit(s.id, s.id, client);
    return { pid };
  }

  async stopSandbox(sandboxId: string): Promise<void> {
    const c = this.pods.get(sandboxId);
    if (c === undefined) return;
    try {
      const st = await c.client.state(sandboxId);
      if (stateName(st.status) === 'exited') return;
      await c.client.kill(sandboxId, 15);
      const exited = await Promise.race([
        c.client.wait(sandboxId, '', { timeoutMs: 0 }).then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), SANDBOX_STOP_GRACE_MS).unref()),
      ]);
      if (!exited) {
        await c.client.kill(sandboxId, 9, { all: true });
        await c.client.wait(sandboxId, '', { timeoutMs: 10_000 });
      }
    } catch (e) {
      if (!gone(e)) throw e;
    }
  }

  async removeSandbox(sandboxId: string): Promise<void> {
    const c = this.pods.get(sandboxId);
    const dir = this.bundleDir(sandboxId);
    const shimPid = readShimPid(dir);
    if (c !== undefined) {
      await this.stopSandbox(sandboxId).catch(() => undefined);
      await c.client.delete(sandboxId).catch((e: unknown) => {
        if (!gone(e)) throw e;
      });
      await c.client.shutdown(sandboxId).catch(() => undefined);
      await c.client.close().catch(() => undefined);
      this.pods.delete(sandboxId);
    } else if (existsSync(join(dir, 'config.json'))) {
      // No connection (e.g. after a restart with a dead shim): the `delete` subcommand cleans up.
      const h = this.handlerOf(dir);
      if (h !== undefined)
        await deleteShim({ binary: h.binary, id: sandboxId, namespace: h.namespace, bundle: dir }).catch(
          () => undefined,
        );
    }
    // A shim that ignores Shutdown (or lost its pod) would outlive its bundle: we started it, so
    // we end it by its recorded pid.
    if (shimPid !== undefined) void this.reap(shimPid);
    this.bundles.get(sandboxId)?.close();
    this.bundles.delete(sandboxId);
    await rm(dir, { recursive: true, force: true });
  }

  private async reap(pid: number): Promise<void> {
    const deadline = Date.now() + SHIM_EXIT_GRACE_MS;
    while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (processAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone in between.
      }
    }
  }

  private handlerOf(dir: string): { binary: string; namespace: string } | undefined {
    try {
      return JSON.parse(readFileSync(join(dir, 'shim.json'), 'utf8')) as {
        binary: string;
        namespace: string;
      };
    } catch {
      return undefined;
    }
  }

  async createContainer(c: ContainerLaunch): Promise<{ pid: number }> {
    const pod = this.conn(c.sandboxId);
    const dir = this.bundleDir(c.id);
    await mkdir(dir, { recursive: true });
    const host = c.rootfs.kind === 'host';
    const ns = pod.pid > 0 ? `/proc/${pod.pid}/ns` : undefined;
    const spec = buildContainerSpec({
      id: c.id,
      name: c.name,
      sandboxId: c.sandboxId,
      sandboxName: c.sandboxName,
      sandboxNamespace: c.sandboxNamespace,
      sandboxUid: c.sandboxUid,
      imageName: c.rootfs.kind === 'guest' ? c.rootfs.imageName : c.name,
      args: c.args,
      env: c.env,
      cwd: c.cwd,
      user: { uid: c.uid, gid: c.gid },
      terminal: c.tty,
      ...(c.netnsPath !== undefined
        ? { netnsPath: c.netnsPath }
        : ns !== undefined
          ? { netnsPath: `${ns}/net` }
          : {}),
      ...(ns === undefined ? {} : { shared: { ipc: `${ns}/ipc`, uts: `${ns}/uts` } }),
      mounts: c.mounts.map((m) => ({
        destination: m.containerPath,
        source: m.hostPath,
        type: 'bind',
        options: ['rbind', m.readonly ? 'ro' : 'rw'],
      })),
      ...(host ? { rootfs: join(dir, 'rootfs') } : {}),
      extraAnnotations: c.annotations,
    });
    if (c.rootfs.kind === 'host') {
      // Each container writes to its own copy of the unpacked image.
      await rm(join(dir, 'rootfs'), { recursive: true, force: true });
      await cp(c.rootfs.path, join(dir, 'rootfs'), {
        recursive: true,
        verbatimSymlinks: true,
        preserveTimestamps: true,
      });
    }
    const bundle = writeBundle(dir, spec, this.log === undefined ? {} : { logger: this.log });
    this.bundles.set(c.id, bundle);
    const io = createStdioFifos(join(this.dir, 'io'), c.id);
    const meta: Meta = { sandboxId: c.sandboxId, logPath: c.logPath, stdout: io.stdout, stderr: io.stderr };
    await writeFile(join(dir, 'meta.json'), JSON.stringify(meta));
    await writeFile(
      join(dir, 'shim.json'),
      JSON.stringify({ binary: this.binary(pod.handler), namespace: pod.handler.namespace }),
    );
    const pump = pumpContainerLogs(io, c.logPath === '' ? '/dev/null' : c.logPath);
    this.pumps.set(c.id, pump);
    try {
      const ev = await this.eventsServer();
      // One shim per pod: `start` for a container returns the pod shim's address (§4.2).
      await startShim({
        binary: this.binary(pod.handler),
        id: c.id,
        namespace: pod.handler.namespace,
        bundle: dir,
        eventsAddress: ev.path,
        env: this.shimEnv(pod.handler),
      });
      const r = await pod.client.create({
        id: c.id,
        bundle: dir,
        rootfs: this.rootfsMounts(pod.handler, c.rootfs.kind === 'guest' ? c.rootfs.imageName : ''),
        terminal: c.tty,
        stdout: io.stdout,
        stderr: io.stderr,
        ...(pod.handler.configPath === '' ? {} : { options: runtimeOptions(pod.handler.configPath) }),
      });
      pump.release();
      return r;
    } catch (e) {
      pump.close();
      this.pumps.delete(c.id);
      throw new CocoonError('ERR_CRI_BACKEND', `creating container ${c.id}: ${messageOf(e)}`, { cause: e });
    }
  }

  async startContainer(sandboxId: string, id: string): Promise<{ pid: number }> {
    const pod = this.conn(sandboxId);
    const r = await pod.client.start(id);
    this.watchExit(sandboxId, id, pod.client);
    return r;
  }

  async stopContainer(
    sandboxId: string,
    id: string,
    timeoutSeconds: number,
    signal: number,
  ): Promise<BackendTaskState> {
    const pod = this.conn(sandboxId);
    try {
      const st = await pod.client.state(id);
      if (stateName(st.status) === 'exited') return this.stateOf(st);
      if (timeoutSeconds > 0) {
        await pod.client.kill(id, signal);
        const done = await Promise.race([
          pod.client.wait(id, '', { timeoutMs: 0 }).then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), timeoutSeconds * 1000).unref()),
        ]);
        if (done) return this.stateOf(await pod.client.state(id));
      }
      await pod.client.kill(id, 9, { all: true });
      await pod.client.wait(id, '', { timeoutMs: 30_000 });
      return this.stateOf(await pod.client.state(id));
    } catch (e) {
      if (gone(e)) return { status: 'exited', pid: 0, exitCode: 137 };
      throw e;
    }
  }

  private stateOf(st: {
    status: number;
    pid: number;
    exitStatus: number;
    exitedAt?: Date;
  }): BackendTaskState {
    return {
      status: stateName(st.status),
      pid: st.pid,
      exitCode: st.exitStatus,
      ...(st.exitedAt === undefined ? {} : { exitedAt: st.exitedAt.getTime() }),
    };
  }

  async removeContainer(sandboxId: string, id: string): Promise<void> {
    const pod = this.pods.get(sandboxId);
    if (pod !== undefined) {
      await pod.client.delete(id).catch((e: unknown) => {
        if (!gone(e)) throw e;
      });
    }
    this.pumps.get(id)?.close();
    this.pumps.delete(id);
    this.bundles.get(id)?.close();
    this.bundles.delete(id);
    await rm(this.bundleDir(id), { recursive: true, force: true });
    await rm(join(this.dir, 'io', `${id}-stdout`), { force: true });
    await rm(join(this.dir, 'io', `${id}-stderr`), { force: true });
  }

  async containerState(sandboxId: string, id: string): Promise<BackendTaskState> {
    return this.stateOf(await this.conn(sandboxId).client.state(id));
  }

  async execSync(
    sandboxId: string,
    id: string,
    cmd: readonly string[],
    timeoutMs: number,
  ): Promise<ExecResult> {
    const pod = this.conn(sandboxId);
    const spec = JSON.parse(await readFile(join(this.bundleDir(id), 'config.json'), 'utf8')) as {
      process: { cwd?: string; env?: string[]; user?: { uid: number; gid: number } };
    };
    const execId = `exec-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    try {
      // The exec inherits the container's cwd, env and user, not its whole process (CRI-O does the same).
      const r = await kataExecSync(pod.client, {
        id,
        execId,
        ioDir: join(this.dir, 'io'),
        timeoutMs: timeoutMs > 0 ? timeoutMs : DEFAULT_EXEC_TIMEOUT_MS,
        spec: {
          args: [...cmd],
          cwd: spec.process.cwd ?? '/',
          env: spec.process.env ?? [],
          user: spec.process.user ?? { uid: 0, gid: 0 },
        },
      });
      return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
    } catch (e) {
      if (isCocoonError(e) && e.code === 'ERR_KATA_EXEC_TIMEOUT') {
        throw new CocoonError('ERR_CRI_EXEC_TIMEOUT', `exec in ${id} timed out`, { cause: e });
      }
      throw e;
    }
  }

  async stats(sandboxId: string, id: string): Promise<BackendUsage | undefined> {
    const s = await this.conn(sandboxId).client.stats(id);
    const m = s.summary;
    return {
      timestamp: Date.now(),
      ...(m.cpuUsageNanos === undefined ? {} : { cpuUsageNanos: m.cpuUsageNanos }),
      ...(m.memoryWorkingSetBytes === undefined ? {} : { memoryWorkingSetBytes: m.memoryWorkingSetBytes }),
      ...(m.memoryUsageBytes === undefined ? {} : { memoryUsageBytes: m.memoryUsageBytes }),
      ...(m.memoryRssBytes === undefined ? {} : { memoryRssBytes: m.memoryRssBytes }),
      ...(m.pageFaults === undefined ? {} : { pageFaults: m.pageFaults }),
      ...(m.majorPageFaults === undefined ? {} : { majorPageFaults: m.majorPageFaults }),
      ...(m.pidsCurrent === undefined ? {} : { processCount: m.pidsCurrent }),
    };
  }

  async updateContainer(sandboxId: string, id: string, r: BackendResources): Promise<void> {
    await this.conn(sandboxId).client.update({
      id,
      resources: {
        ...(r.memoryLimitBytes === undefined ? {} : { memory: { limit: r.memoryLimitBytes } }),
        cpu: {
          ...(r.cpuShares === undefined ? {} : { shares: r.cpuShares }),
          ...(r.cpuQuota === undefined ? {} : { quota: r.cpuQuota }),
          ...(r.cpuPeriod === undefined ? {} : { period: r.cpuPeriod }),
          ...(r.cpusetCpus === undefined ? {} : { cpus: r.cpusetCpus }),
          ...(r.cpusetMems === undefined ? {} : { mems: r.cpusetMems }),
        },
      } as never,
    });
  }

  async reopenLog(_sandboxId: string, id: string): Promise<void> {
    const p = this.pumps.get(id);
    if (p === undefined) throw new CocoonError('ERR_CRI_NOT_FOUND', `no log of container ${id}`);
    p.writer.reopen();
  }

  async reattach(s: SandboxLaunch, containerIds: readonly string[]): Promise<ReattachResult> {
    await this.eventsServer();
    const containers = new Map<string, BackendTaskState>();
    const client = await reattachShim({
      bundle: this.bundleDir(s.id),
      namespace: s.handler.namespace,
      id: s.id,
    });
    if (client === 'dead') return { alive: false, containers };
    const conn: PodConn = { client, handler: s.handler, pid: 0 };
    this.pods.set(s.id, conn);
    try {
      const st = await client.state(s.id);
      conn.pid = st.pid;
      if (stateName(st.status) === 'running') this.watchExit(s.id, s.id, client);
      else return { alive: false, containers };
    } catch (e) {
      if (gone(e)) return { alive: false, containers };
      throw e;
    }
    for (const id of containerIds) {
      try {
        const st = this.stateOf(await client.state(id));
        containers.set(id, st);
        const meta = this.metaSync(id);
        if (st.status === 'running' && meta !== undefined && meta.stdout !== '') {
          // The shim still holds the FIFO write ends: reading them again resumes the log.
          const pump = pumpContainerLogs(
            { stdout: meta.stdout, stderr: meta.stderr },
            meta.logPath === '' ? '/dev/null' : meta.logPath,
          );
          pump.release();
          this.pumps.set(id, pump);
          this.watchExit(s.id, id, client);
        }
      } catch (e) {
        if (!gone(e)) this.log?.warn({ id, err: messageOf(e) }, 'container state on re-attach failed');
      }
    }
    return { alive: true, containers };
  }

  onExit(listener: (e: BackendExit) => void): void {
    this.listener = listener;
  }

  async close(): Promise<void> {
    for (const p of this.pumps.values()) p.close();
    this.pumps.clear();
    for (const b of this.bundles.values()) b.close();
    this.bundles.clear();
    for (const c of this.pods.values()) await c.client.close().catch(() => undefined);
    this.pods.clear();
    if (this.events !== undefined) await (await this.events).close().catch(() => undefined);
  }
}
