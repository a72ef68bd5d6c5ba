/**
 * The Task API (`containerd.task.v2.Task`, cri-kata.md §4.1) of the simulated confidential guest.
 * One instance serves one pod: the sandbox task "boots" the SimGuest; container tasks must carry
 * the image_guest_pull volume (on a guest-pull handler) and run with runc inside the guest once
 * the guest attested and pulled their image.
 *
 * Where the simulation differs from a Kata VM (docs/kata-sim.md): the in-guest pull happens at
 * task Start rather than Create, so a refused attestation surfaces as a start failure that the
 * CRI reports in ContainerStatus (reason StartError + message), as containerd does; and guest
 * containers share the shim daemon's network namespace (the guest's), where the api-server-rest
 * listens on 127.0.0.1.
 */
import { open, readFile, mkdir, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { CocoonError, messageOf } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/log.js';
import { TtrpcClient, type TtrpcServer } from '../../ttrpc/index.js';
import { serveService } from '../../ttrpc/service.js';
import { CRI_ANNOTATIONS, KATA_ANNOTATIONS } from '../annotations.js';
import { decodeGuestPullMount, type TaskMount } from '../guest-pull.js';
import { decodeInitData } from '../initdata.js';
import type { OciSpec } from '../oci-spec.types.js';
import { containerdRoot, dateToTimestamp, encodeMessage as encodeContainerd } from '../protos.js';
import { SimGuest, type GuestEvent } from './guest.js';
import { guestDir } from './paths.js';
import type { SimTee } from './attester.js';
import {
  runcDelete,
  runcExec,
  runcKill,
  runcPids,
  runcRun,
  runcStats,
  type RuncOptions,
  type RuncProcess,
} from './runc.js';

/** containerd.v1.types.Status (cri-kata.md §4.1). */
export const TaskStatus = { UNKNOWN: 0, CREATED: 1, RUNNING: 2, STOPPED: 3, PAUSED: 4 } as const;

/** Annotation choosing the firmware the simulated VM measures (a real Kata hypervisor annotation). */
export const FIRMWARE_ANNOTATION = 'io.katacontainers.config.hypervisor.firmware';

interface Proc {
  readonly id: string;
  readonly execId: string;
  status: number;
  pid: number;
  exitStatus: number;
  exitedAt: Date | undefined;
  stdout: string;
  stderr: string;
  terminal: boolean;
  run: RuncProcess | undefined;
  /** Stdio sinks opened at Create (tasks) like containerd-shim-runc-v2 does, or at Start (execs). */
  sinks: { out: Writable | undefined; err: Writable | undefined } | undefined;
  readonly exited: Promise<void>;
  markExited(status: number): void;
  processSpec?: object;
}

interface Task extends Proc {
  readonly bundle: string;
  readonly kind: 'sandbox' | 'container';
  readonly image?: string;
  readonly spec: OciSpec;
  readonly execs: Map<string, Proc>;
}

/** Options of SimTaskService. */
export interface SimTaskServiceOptions {
  readonly namespace: string;
  /** Directory under which each guest gets its private folder. */
  readonly guestRoot: string;
  /** TEE to simulate; default tdx. */
  readonly tee: SimTee;
  /** Refuse containers without an image_guest_pull volume (default true). */
  readonly guestPull?: boolean;
  /** TTRPC_ADDRESS of the events endpoint; events are not published when absent. */
  readonly eventsAddress?: string;
  readonly runcBinary?: string;
  readonly insecureRegistries?: readonly string[];
  readonly logger?: Logger;
  /** Called after Shutdown was answered (the daemon exits). */
  readonly onShutdown?: () => void;
  readonly onGuestEvent?: (e: GuestEvent) => void;
}

function newProc(id: string, execId: string, stdout: string, stderr: string, terminal: boolean): Proc {
  let resolve!: () => void;
  const exited = new Promise<void>((r) => (resolve = r));
  const p: Proc = {
    id,
    execId,
    status: TaskStatus.CREATED,
    pid: 0,
    exitStatus: 0,
    exitedAt: undefined,
    stdout,
    stderr,
    terminal,
    run: undefined,
    sinks: undefined,
    exited,
    markExited(status: number) {
      if (p.status === TaskStatus.STOPPED) return;
      p.status = TaskStatus.STOPPED;
      p.exitStatus = status;
      p.exitedAt = new Date();
      resolve();
    },
  };
  return p;
}

function notFound(what: string): CocoonError {
  return new CocoonError('ERR_KATA_SIM_NOT_FOUND', `${what}: not found`);
}

async function openSink(path: string): Promise<Writable | undefined> {
  if (path === '') return undefined;
  const p = path.startsWith('file://')
    ? path.slice('file://'.length)
    : path.startsWith('fifo://')
      ? path.slice(7)
      : path;
  const fh = await open(p, 'w');
  return fh.createWriteStream();
}

/** The simulated shim's Task service. */
export class SimTaskService {
  private readonly o: SimTaskServiceOptions;
  private readonly log: Logger;
  private readonly tasks = new Map<string, Task>();
  private guest: SimGuest | undefined;
  private events: TtrpcClient | undefined;

  constructor(o: SimTaskServiceOptions) {
    this.o = o;
    this.log = o.logger ?? silentLogger;
  }

  /** The booted guest, once the sandbox task exists. */
  get currentGuest(): SimGuest | undefined {
    return this.guest;
  }

  private runc(): RuncOptions {
    if (this.guest === undefined)
      throw new CocoonError('ERR_KATA_SIM_STATE', 'no sandbox task: the guest is not running');
    return {
      root: join(this.guest.dir, 'runc'),
      ...(this.o.runcBinary === undefined ? {} : { binary: this.o.runcBinary }),
    };
  }

  private task(id: string): Task {
    const t = this.tasks.get(id);
    if (t === undefined) throw notFound(`task ${id}`);
    return t;
  }

  private proc(id: string, execId: string): Proc {
    const t = this.task(id);
    if (execId === '') return t;
    const e = t.execs.get(execId);
    if (e === undefined) throw notFound(`exec ${execId} of task ${id}`);
    return e;
  }

  /** Publishes a containerd task event to TTRPC_ADDRESS (best effort, never blocks a call). */
  private publish(topic: string, type: string, event: Record<string, unknown>): void {
    const addr = this.o.eventsAddress;
    if (addr === undefined || addr === '') return;
    const send = async (): Promise<void> => {
      this.events ??= await TtrpcClient.connect(addr.includes('://') ? addr : `unix://${addr}`, {
        dial: { timeoutMs: 5000 },
      });
      const env = {
        envelope: {
          timestamp: dateToTimestamp(new Date()),
          namespace: this.o.namespace,
          topic,
          event: {
            type_url: `containerd.events.${type}`,
            value: Buffer.from(encodeContainerd(`containerd.events.${type}`, event)),
          },
        },
      };
      const payload = encodeContainerd('containerd.services.events.ttrpc.v1.ForwardRequest', env);
      await this.events.unary('containerd.services.events.ttrpc.v1.Events', 'Forward', payload, {
        timeoutMs: 5000,
      });
    };
    send().catch((e: unknown) => {
      this.events = undefined;
      this.log.warn({ topic, err: messageOf(e) }, 'event not delivered');
    });
  }

  /** Registers the Task service on a ttrpc server. */
  register(server: TtrpcServer): void {
    serveService(server, containerdRoot(), 'containerd.task.v2.Task', {
      Create: (r) => this.create(r),
      Start: (r) => this.start(String(r['id']), String(r['exec_id'] ?? '')),
      State: (r) => Promise.resolve(this.state(String(r['id']), String(r['exec_id'] ?? ''))),
      Kill: (r) =>
        this.kill(String(r['id']), String(r['exec_id'] ?? ''), Number(r['signal'] ?? 15), r['all'] === true),
      Wait: (r) => this.wait(String(r['id']), String(r['exec_id'] ?? '')),
      Delete: (r) => this.delete(String(r['id']), String(r['exec_id'] ?? '')),
      Exec: (r) => this.exec(r),
      Pids: (r) => this.pids(String(r['id'])),
      Stats: (r) => this.stats(String(r['id'])),
      CloseIO: (r) => {
        this.proc(String(r['id']), String(r['exec_id'] ?? ''));
        // Guest processes get no stdin (stdin is /dev/null), so closing it has nothing to do.
        return Promise.resolve({});
      },
      ResizePty: (r) => {
        const p = this.proc(String(r['id']), String(r['exec_id'] ?? ''));
        if (!p.terminal)
          throw new CocoonError('ERR_KATA_SIM_STATE', `process ${p.execId || p.id} has no terminal`);
        return Promise.resolve({});
      },
      Connect: () =>
        Promise.resolve({
          shim_pid: process.pid,
          task_pid: this.tasks.size > 0 ? process.pid : 0,
          version: 'cocoon-sim/1',
        }),
      Shutdown: (r) => {
        const live = [...this.tasks.values()].some((t) => t.status !== TaskStatus.STOPPED);
        if (!live || r['now'] === true)
          setTimeout(() => void this.close().then(() => this.o.onShutdown?.()), 20);
        return Promise.resolve({});
      },
    });
  }

  private async create(r: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = String(r['id'] ?? '');
    const bundle = String(r['bundle'] ?? '');
    if (id === '' || bundle === '')
      throw new CocoonError('ERR_KATA_SIM_CONFIG_INVALID', 'Create needs id and bundle');
    if (this.tasks.has(id)) throw new CocoonError('ERR_KATA_SIM_STATE', `task ${id} already exists`);
    if (r['terminal'] === true) {
      throw new CocoonError(
        'ERR_KATA_SIM_CONFIG_INVALID',
        'terminals (tty) are not supported by the simulated guest',
      );
    }
    let spec: OciSpec;
    try {
      spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as OciSpec;
    } catch (e) {
      throw new CocoonError(
        'ERR_KATA_SIM_CONFIG_INVALID',
        `cannot read ${bundle}/config.json: ${messageOf(e)}`,
        { cause: e },
      );
    }
    const ann = spec.annotations ?? {};
    const kind: 'sandbox' | 'container' =
      ann[CRI_ANNOTATIONS.containerType] === 'container' ? 'container' : 'sandbox';
    const base = newProc(id, '', String(r['stdout'] ?? ''), String(r['stderr'] ?? ''), false);
    let image: string | undefined;
    if (kind === 'sandbox') {
      if (this.guest !== undefined)
        throw new CocoonError('ERR_KATA_SIM_STATE', 'this shim already runs a sandbox');
      const initAnn = ann[KATA_ANNOTATIONS.initData];
      const initData = initAnn === undefined || initAnn === '' ? undefined : decodeInitData(initAnn);
      this.guest = new SimGuest({
        sandboxId: id,
        dir: guestDir(this.o.guestRoot, id),
        launch: {
          tee: this.o.tee,
          ...(initData === undefined ? {} : { initData }),
          ...(ann[FIRMWARE_ANNOTATION] === undefined ? {} : { firmware: ann[FIRMWARE_ANNOTATION] }),
        },
        ...(this.o.insecureRegistries === undefined ? {} : { insecureRegistries: this.o.insecureRegistries }),
        logger: this.log,
        ...(this.o.onGuestEvent === undefined ? {} : { onEvent: this.o.onGuestEvent }),
      });
      await this.guest.boot();
      base.pid = process.pid;
    } else {
      if (this.guest === undefined)
        throw new CocoonError('ERR_KATA_SIM_STATE', 'the sandbox task must be created first');
      const rootfs = (r['rootfs'] as TaskMount[] | undefined) ?? [];
      if (this.o.guestPull !== false) {
        try {
          image = decodeGuestPullMount(rootfs).source;
        } catch (e) {
          throw new CocoonError(
            'ERR_KATA_SIM_GUEST_PULL_REQUIRED',
            `container ${id} has no image_guest_pull volume; a confidential guest never uses a host-provided rootfs`,
            { cause: e },
          );
        }
      } else {
        image = ann[CRI_ANNOTATIONS.imageName];
      }
      if (image === undefined || image === '')
        throw new CocoonError('ERR_KATA_SIM_CONFIG_INVALID', `container ${id} names no image`);
      // Open the stdio FIFOs now, while the caller holds them open for us (the runc shim opens a
      // task's FIFOs at Create; callers drop their own write end once Create returned).
      const [out, err] = await Promise.all([openSink(base.stdout), openSink(base.stderr)]);
      base.sinks = { out, err };
    }
    const t: Task = Object.assign(base, {
      bundle,
      kind,
      spec,
      execs: new Map<string, Proc>(),
      ...(image === undefined ? {} : { image }),
    });
    this.tasks.set(id, t);
    this.publish('/tasks/create', 'TaskCreate', { container_id: id, bundle, pid: t.pid });
    return { pid: t.pid };
  }

  private async start(id: string, execId: string): Promise<Record<string, unknown>> {
    const t = this.task(id);
    if (execId !== '') return this.startExec(t, this.proc(id, execId));
    if (t.status !== TaskStatus.CREATED)
      throw new CocoonError('ERR_KATA_SIM_STATE', `task ${id} is not in CREATED state`);
    if (t.kind === 'sandbox') {
      t.status = TaskStatus.RUNNING;
      this.publish('/tasks/start', 'TaskStart', { container_id: id, pid: t.pid });
      return { pid: t.pid };
    }
    const guest = this.guest!;
    let rootfs: string;
    try {
      ({ rootfs } = await guest.pullImage(t.image!));
    } catch (e) {
      t.sinks?.out?.end();
      t.sinks?.err?.end();
      t.sinks = undefined;
      t.markExited(128);
      this.publish('/tasks/exit', 'TaskExit', {
        container_id: id,
        id,
        pid: 0,
        exit_status: 128,
        exited_at: dateToTimestamp(t.exitedAt!),
      });
      throw e;
    }
    const guestBundle = join(guest.dir, 'bundles', id);
    await mkdir(guestBundle, { recursive: true });
    const spec = structuredClone(t.spec) as OciSpec & { root?: { path: string; readonly?: boolean } };
    spec.root = { path: rootfs, readonly: false };
    // Guest containers share the guest's network namespace (Kata), here the shim daemon's.
    if (spec.linux?.namespaces !== undefined) {
      (spec.linux as { namespaces: { type: string }[] }).namespaces = spec.linux.namespaces.filter(
        (n) => n.type !== 'network',
      );
    }
    if (spec.process !== undefined && guest.restUrl !== undefined) {
      const env = [...(spec.process.env ?? [])];
      env.push(`COCOON_GUEST_API=${guest.restUrl}`);
      (spec.process as { env: string[] }).env = env;
    }
    await writeFile(join(guestBundle, 'config.json'), JSON.stringify(spec));
    const run = runcRun(this.runc(), id, guestBundle);
    await this.attachIo(t, run);
    t.run = run;
    t.pid = run.child.pid ?? 0;
    t.status = TaskStatus.RUNNING;
    this.publish('/tasks/start', 'TaskStart', { container_id: id, pid: t.pid });
    void run.exited.then((status) => {
      t.markExited(status);
      this.publish('/tasks/exit', 'TaskExit', {
        container_id: id,
        id,
        pid: t.pid,
        exit_status: status,
        exited_at: dateToTimestamp(t.exitedAt!),
      });
    });
    return { pid: t.pid };
  }

  private async attachIo(p: Proc, run: RuncProcess): Promise<void> {
    const { out, err } = p.sinks ?? { out: await openSink(p.stdout), err: await openSink(p.stderr) };
    p.sinks = undefined;
    if (out !== undefined) run.stdout.pipe(out);
    else run.stdout.resume();
    if (err !== undefined) run.stderr.pipe(err);
    else run.stderr.resume();
  }

  private async startExec(t: Task, e: Proc): Promise<Record<string, unknown>> {
    if (t.status !== TaskStatus.RUNNING || t.kind !== 'container') {
      throw new CocoonError('ERR_KATA_SIM_STATE', `task ${t.id} is not a running container`);
    }
    if (e.status !== TaskStatus.CREATED)
      throw new CocoonError('ERR_KATA_SIM_STATE', `exec ${e.execId} already started`);
    const run = await runcExec(
      this.runc(),
      t.id,
      e.processSpec ?? {},
      join(this.guest!.dir, 'bundles', t.id),
      e.execId,
    );
    await this.attachIo(e, run);
    e.run = run;
    e.pid = run.child.pid ?? 0;
    e.status = TaskStatus.RUNNING;
    void run.exited.then((status) => {
      e.markExited(status);
      this.publish('/tasks/exit', 'TaskExit', {
        container_id: t.id,
        id: e.execId,
        pid: e.pid,
        exit_status: status,
        exited_at: dateToTimestamp(e.exitedAt!),
      });
    });
    return { pid: e.pid };
  }

  private exec(r: Record<string, unknown>): Promise<Record<string, unknown>> {
    const t = this.task(String(r['id']));
    const execId = String(r['exec_id'] ?? '');
    if (execId === '') throw new CocoonError('ERR_KATA_SIM_CONFIG_INVALID', 'Exec needs exec_id');
    if (t.execs.has(execId)) throw new CocoonError('ERR_KATA_SIM_STATE', `exec ${execId} already exists`);
    if (r['terminal'] === true)
      throw new CocoonError(
        'ERR_KATA_SIM_CONFIG_INVALID',
        'terminals (tty) are not supported by the simulated guest',
      );
    const spec = r['spec'] as { value?: Uint8Array } | undefined;
    let processSpec: object;
    try {
      processSpec = JSON.parse(Buffer.from(spec?.value ?? new Uint8Array(0)).toString('utf8')) as object;
    } catch (e) {
      throw new CocoonError('ERR_KATA_SIM_CONFIG_INVALID', 'Exec spec is not a JSON OCI Process', {
        cause: e,
      });
    }
    const p = newProc(t.id, execId, String(r['stdout'] ?? ''), String(r['stderr'] ?? ''), false);
    p.processSpec = processSpec;
    t.execs.set(execId, p);
    this.publish('/tasks/exec-added', 'TaskExecAdded', { container_id: t.id, exec_id: execId });
    return Promise.resolve({});
  }

  private state(id: string, execId: string): Record<string, unknown> {
    const t = this.task(id);
    const p = this.proc(id, execId);
    return {
      id,
      bundle: t.bundle,
      pid: p.pid,
      status: p.status,
      stdin: '',
      stdout: p.stdout,
      stderr: p.stderr,
      terminal: p.terminal,
      exit_status: p.exitStatus,
      ...(p.exitedAt === undefined ? {} : { exited_at: dateToTimestamp(p.exitedAt) }),
      exec_id: execId,
    };
  }

  private async kill(
    id: string,
    execId: string,
    signal: number,
    all: boolean,
  ): Promise<Record<string, unknown>> {
    const t = this.task(id);
    const p = this.proc(id, execId);
    if (p.status === TaskStatus.STOPPED) throw notFound(`process ${execId || id} already finished;`);
    if (t.kind === 'sandbox' && execId === '') {
      // The sandbox "VM" stops: every guest container goes with it.
      for (const c of this.tasks.values()) {
        if (c.kind === 'container' && c.status === TaskStatus.RUNNING)
          await runcKill(this.runc(), c.id, 9, true).catch(() => undefined);
      }
      p.markExited(128 + signal);
      this.publish('/tasks/exit', 'TaskExit', {
        container_id: id,
        id,
        pid: p.pid,
        exit_status: p.exitStatus,
        exited_at: dateToTimestamp(p.exitedAt!),
      });
      return {};
    }
    if (p.status === TaskStatus.CREATED) {
      p.markExited(128 + signal);
      return {};
    }
    if (execId === '') await runcKill(this.runc(), id, signal, all);
    else p.run?.child.kill(signal);
    return {};
  }

  private async wait(id: string, execId: string): Promise<Record<string, unknown>> {
    const p = this.proc(id, execId);
    await p.exited;
    return { exit_status: p.exitStatus, exited_at: dateToTimestamp(p.exitedAt ?? new Date()) };
  }

  private async delete(id: string, execId: string): Promise<Record<string, unknown>> {
    const t = this.task(id);
    const p = this.proc(id, execId);
    if (p.status === TaskStatus.RUNNING)
      throw new CocoonError('ERR_KATA_SIM_STATE', `process ${execId || id} is still running; kill it first`);
    const out = {
      pid: p.pid,
      exit_status: p.exitStatus,
      exited_at: dateToTimestamp(p.exitedAt ?? new Date()),
    };
    if (execId !== '') {
      t.execs.delete(execId);
      return out;
    }
    if (t.kind === 'container') {
      await runcDelete(this.runc(), id);
      await rm(join(this.guest!.dir, 'bundles', id), { recursive: true, force: true });
    } else {
      if ([...this.tasks.values()].some((c) => c.kind === 'container')) {
        throw new CocoonError('ERR_KATA_SIM_STATE', 'delete the sandbox containers before the sandbox');
      }
      await this.guest?.shutdown();
      this.guest = undefined;
    }
    this.tasks.delete(id);
    this.publish('/tasks/delete', 'TaskDelete', {
      container_id: id,
      pid: out.pid,
      exit_status: out.exit_status,
      exited_at: out.exited_at,
      id,
    });
    return out;
  }

  private async pids(id: string): Promise<Record<string, unknown>> {
    const t = this.task(id);
    if (t.kind === 'sandbox' || t.status !== TaskStatus.RUNNING)
      return { processes: t.pid > 0 ? [{ pid: t.pid }] : [] };
    const pids = await runcPids(this.runc(), id);
    return { processes: pids.map((pid) => ({ pid })) };
  }

  private async stats(id: string): Promise<Record<string, unknown>> {
    const t = this.task(id);
    const metrics: Record<string, unknown> = {};
    if (t.kind === 'container' && t.status === TaskStatus.RUNNING) {
      const s = (await runcStats(this.runc(), id)) as {
        cpu?: { usage?: { total?: number; kernel?: number; user?: number } };
        memory?: { usage?: { usage?: number; limit?: number; max?: number } };
        pids?: { current?: number; limit?: number };
      };
      metrics['cpu'] = {
        usage: {
          total: s.cpu?.usage?.total ?? 0,
          kernel: s.cpu?.usage?.kernel ?? 0,
          user: s.cpu?.usage?.user ?? 0,
        },
      };
      metrics['memory'] = {
        usage: {
          usage: s.memory?.usage?.usage ?? 0,
          limit: s.memory?.usage?.limit ?? 0,
          max: s.memory?.usage?.max ?? 0,
        },
      };
      metrics['pids'] = { current: s.pids?.current ?? 0, limit: s.pids?.limit ?? 0 };
    }
    const value = encodeContainerd('io.containerd.cgroups.v1.Metrics', metrics);
    return { stats: { type_url: 'io.containerd.cgroups.v1.Metrics', value: Buffer.from(value) } };
  }

  /** Kills every guest process and stops the guest (Shutdown, or the daemon exiting). */
  async close(): Promise<void> {
    for (const t of this.tasks.values()) {
      if (t.kind === 'container') {
        if (t.status === TaskStatus.RUNNING)
          await runcKill(this.runc(), t.id, 9, true).catch(() => undefined);
        await runcDelete(this.runc(), t.id).catch(() => undefined);
      }
    }
    this.tasks.clear();
    await this.guest?.shutdown().catch(() => undefined);
    this.guest = undefined;
    this.events?.close();
    this.events = undefined;
  }
}
