/**
 * A typed client of the shim v2 Task API (`containerd.task.v2.Task`, cri-kata.md §4.1) over
 * ttrpc. Every call carries the `containerd-namespace-ttrpc` metadata (§4.2) and a deadline;
 * ttrpc statuses become ERR_KATA_* codes (shim-errors.ts); a closed connection marks the shim
 * dead and fails pending and later calls with ERR_KATA_SHIM_DEAD.
 */
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import { CocoonError } from '../common/errors.js';
import type { TaskMount } from './guest-pull.js';
import type { OciLinuxResources, OciProcess } from './oci-spec.types.js';
import { decodeMessage, encodeMessage, timestampToDate, toAny, type AnyMessage } from './protos.js';
import { mapShimError } from './shim-errors.js';
import {
  LINUX_RESOURCES_TYPE_URL,
  PROCESS_SPEC_TYPE_URL,
  RUNTIME_OPTIONS_TYPE_URL,
  taskStatusName,
  type ConnectResult,
  type CreateTaskRequest,
  type DeleteResult,
  type ExecRequest,
  type ExitInfo,
  type ProcessInfo,
  type TaskState,
  type TaskStats,
  type TaskStatsSummary,
  type UpdateRequest,
} from './task-types.js';
import type { TtrpcLink, UnaryChannel } from './ttrpc-link.js';
import { defaultTtrpcLink } from './default-link.js';

/** ttrpc service name of the Task API (cri-kata.md §4.1). */
export const TASK_SERVICE = 'containerd.task.v2.Task';

/** ttrpc metadata key carrying the containerd namespace (cri-kata.md §4.2). */
export const NAMESPACE_METADATA_KEY = 'containerd-namespace-ttrpc';

/** Default deadline of a Task API call other than Wait, in ms. */
export const DEFAULT_TASK_CALL_TIMEOUT_MS = 30_000;

/** Default deadline of dialing the shim's socket, in ms. */
export const DEFAULT_SHIM_DIAL_TIMEOUT_MS = 10_000;

/** Options of TaskClient.connect. */
export interface TaskClientOptions {
  /** containerd namespace sent as metadata; must equal the shim's -namespace. */
  readonly namespace: string;
  /** ttrpc plumbing; default the src/ttrpc implementation (defaultTtrpcLink()). */
  readonly link?: TtrpcLink;
  /** Deadline of each call other than Wait, in ms; default DEFAULT_TASK_CALL_TIMEOUT_MS. */
  readonly callTimeoutMs?: number;
  /** Dial deadline in ms; default DEFAULT_SHIM_DIAL_TIMEOUT_MS. */
  readonly dialTimeoutMs?: number;
  /** Logger for shim death and call failures; default silent. */
  readonly logger?: Logger;
}

/** Per-call override of the deadline. */
export interface CallOptions {
  /** Deadline in ms; 0 = none (only for Wait; a dead shim still fails the call). */
  readonly timeoutMs?: number;
}

/** What a death listener learns. */
export interface ShimDeath {
  /** True when Shutdown had been requested on this client (an expected exit). */
  readonly afterShutdown: boolean;
  /** The transport error, if the connection failed rather than closed. */
  readonly error?: Error;
}

/** Shapes the runtime options Any for Kata's CreateTaskRequest.options (config_path, §4.1). */
export function runtimeOptions(configPath: string): AnyMessage {
  const value = encodeMessage('runtimeoptions.v1.Options', { config_path: configPath });
  return { typeUrl: RUNTIME_OPTIONS_TYPE_URL, value: Buffer.from(value) };
}

function anyObj(a: AnyMessage | undefined): Record<string, unknown> | undefined {
  return a === undefined ? undefined : { type_url: a.typeUrl, value: a.value };
}

function jsonAny(typeUrl: string, v: unknown): Record<string, unknown> {
  return { type_url: typeUrl, value: Buffer.from(JSON.stringify(v), 'utf8') };
}

function mountObj(m: TaskMount): Record<string, unknown> {
  return { type: m.type, source: m.source, target: m.target, options: [...m.options] };
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
}

/** Decodes a StatsResponse.stats Any: cgroups v1/v2 Metrics by type URL, else raw only. */
export function decodeTaskStats(raw: AnyMessage | undefined): TaskStats {
  if (raw === undefined) return { summary: {} };
  const url = raw.typeUrl;
  if (url.endsWith('io.containerd.cgroups.v1.Metrics')) {
    const m = decodeMessage('io.containerd.cgroups.v1.Metrics', raw.value);
    const mem = obj(m['memory']);
    const usage = num(obj(mem['usage'])['usage']);
    const inactive = num(mem['total_inactive_file']) ?? 0;
    const summary: TaskStatsSummary = {
      cpuUsageNanos: num(obj(obj(m['cpu'])['usage'])['total']),
      memoryUsageBytes: usage,
      memoryWorkingSetBytes: usage === undefined ? undefined : Math.max(0, usage - inactive),
      memoryRssBytes: num(mem['total_rss']) ?? num(mem['rss']),
      pageFaults: num(mem['pg_fault']),
      majorPageFaults: num(mem['pg_maj_fault']),
      pidsCurrent: num(obj(m['pids'])['current']),
      oomKills: num(obj(m['memory_oom_control'])['oom_kill']),
    };
    return { raw, cgroups: 'v1', metrics: m, summary };
  }
  if (url.endsWith('io.containerd.cgroups.v2.Metrics')) {
    const m = decodeMessage('io.containerd.cgroups.v2.Metrics', raw.value);
    const mem = obj(m['memory']);
    const cpuUsec = num(obj(m['cpu'])['usage_usec']);
    const usage = num(mem['usage']);
    const inactive = num(mem['inactive_file']) ?? 0;
    const summary: TaskStatsSummary = {
      cpuUsageNanos: cpuUsec === undefined ? undefined : cpuUsec * 1000,
      memoryUsageBytes: usage,
      memoryWorkingSetBytes: usage === undefined ? undefined : Math.max(0, usage - inactive),
      memoryRssBytes: num(mem['anon']),
      pageFaults: num(mem['pgfault']),
      majorPageFaults: num(mem['pgmajfault']),
      pidsCurrent: num(obj(m['pids'])['current']),
      oomKills: num(obj(m['memory_events'])['oom_kill']),
    };
    return { raw, cgroups: 'v2', metrics: m, summary };
  }
  return { raw, summary: {} };
}

/** A connection to one shim, speaking the Task API. */
export class TaskClient {
  /** The shim's ttrpc address. */
  readonly address: string;
  /** The containerd namespace sent with every call. */
  readonly namespace: string;
  private readonly channel: UnaryChannel;
  private readonly callTimeoutMs: number;
  private readonly logger: Logger;
  private deadReason: Error | undefined;
  private closedByUs = false;
  private shutdownRequested = false;
  private readonly deathListeners = new Set<(death: ShimDeath) => void>();

  private constructor(address: string, channel: UnaryChannel, opts: TaskClientOptions) {
    this.address = address;
    this.namespace = opts.namespace;
    this.channel = channel;
    this.callTimeoutMs = opts.callTimeoutMs ?? DEFAULT_TASK_CALL_TIMEOUT_MS;
    this.logger = opts.logger ?? silentLogger;
    channel.onClose((err) => {
      this.deadReason = err ?? new Error('connection closed');
      // close() ends the connection on purpose: not a death. After Shutdown the shim may exit
      // (runc) or stay for other containers of the pod (Kata), so listeners are told which.
      if (this.closedByUs) return;
      this.logger.warn({ address, err: err?.message }, 'shim connection closed');
      for (const cb of [...this.deathListeners]) {
        try {
          cb({ afterShutdown: this.shutdownRequested, ...(err === undefined ? {} : { error: err }) });
        } catch {
          // A failing listener must not stop the others.
        }
      }
    });
  }

  /** Dials the shim at `address` (unix://… as printed by `start`). */
  static async connect(address: string, opts: TaskClientOptions): Promise<TaskClient> {
    if (typeof address !== 'string' || !address.startsWith('unix://') || address.length <= 'unix://'.length) {
      throw new CocoonError('ERR_KATA_ADDRESS_INVALID', `not a unix:// shim address: ${String(address)}`, {
        details: { address },
      });
    }
    if (typeof opts.namespace !== 'string' || opts.namespace.length === 0) {
      throw new CocoonError('ERR_KATA_INVALID_ARGUMENT', 'namespace must be non-empty', { details: {} });
    }
    const link = opts.link ?? defaultTtrpcLink();
    let channel: UnaryChannel;
    try {
      channel = await link.dial(address, { timeoutMs: opts.dialTimeoutMs ?? DEFAULT_SHIM_DIAL_TIMEOUT_MS });
    } catch (e) {
      const m = mapShimError(e, 'dial');
      throw m.code === 'ERR_KATA_SHIM_TIMEOUT' || m.code === 'ERR_KATA_SHIM_DEAD'
        ? m
        : new CocoonError('ERR_KATA_SHIM_DEAD', `cannot reach shim at ${address}`, {
            cause: e,
            details: { address },
          });
    }
    return new TaskClient(address, channel, opts);
  }

  /** True once the connection closed (shim exited, was killed, or close() was called). */
  get dead(): boolean {
    return this.deadReason !== undefined;
  }

  /** Registers a callback run when the shim connection closes (not by close()); returns an unsubscribe. */
  onDeath(cb: (death: ShimDeath) => void): () => void {
    this.deathListeners.add(cb);
    return () => this.deathListeners.delete(cb);
  }

  /** Closes the connection (does not stop the shim; use shutdown()). */
  async close(): Promise<void> {
    this.closedByUs = true;
    await this.channel.close();
  }

  private async call<T>(
    method: string,
    reqType: string,
    req: Record<string, unknown>,
    resType: string,
    timeoutMs: number,
  ): Promise<T> {
    if (this.deadReason !== undefined) {
      throw new CocoonError('ERR_KATA_SHIM_DEAD', `${method}: shim connection is closed`, {
        cause: this.deadReason,
        details: { method, address: this.address },
      });
    }
    const payload = encodeMessage(reqType, req);
    let out: Uint8Array;
    try {
      out = await this.channel.call(TASK_SERVICE, method, payload, {
        timeoutMs,
        metadata: { [NAMESPACE_METADATA_KEY]: this.namespace },
      });
    } catch (e) {
      throw mapShimError(e, method);
    }
    return decodeMessage<T>(resType, out);
  }

  private t(o?: CallOptions): number {
    return o?.timeoutMs ?? this.callTimeoutMs;
  }

  /** Connect: the shim's pid, the task's pid and the shim version. */
  async connect(id: string, o?: CallOptions): Promise<ConnectResult> {
    const r = await this.call<Record<string, unknown>>(
      'Connect',
      'containerd.task.v2.ConnectRequest',
      { id },
      'containerd.task.v2.ConnectResponse',
      this.t(o),
    );
    return { shimPid: Number(r['shim_pid']), taskPid: Number(r['task_pid']), version: String(r['version']) };
  }

  /** Create: creates the task from the bundle; returns its pid. */
  async create(req: CreateTaskRequest, o?: CallOptions): Promise<{ pid: number }> {
    // env-notes.md: containerd-shim-runc-v2 1.6.20 crashes with stdout set and stderr empty.
    if (Boolean(req.stdout) !== Boolean(req.stderr)) {
      throw new CocoonError('ERR_KATA_INVALID_ARGUMENT', 'set both stdout and stderr, or neither', {
        details: { id: req.id },
      });
    }
    const r = await this.call<Record<string, unknown>>(
      'Create',
      'containerd.task.v2.CreateTaskRequest',
      {
        id: req.id,
        bundle: req.bundle,
        rootfs: (req.rootfs ?? []).map(mountObj),
        terminal: req.terminal ?? false,
        stdin: req.stdin ?? '',
        stdout: req.stdout ?? '',
        stderr: req.stderr ?? '',
        checkpoint: req.checkpoint ?? '',
        parent_checkpoint: req.parentCheckpoint ?? '',
        ...(req.options === undefined ? {} : { options: anyObj(req.options) }),
      },
      'containerd.task.v2.CreateTaskResponse',
      this.t(o),
    );
    return { pid: Number(r['pid']) };
  }

  /** Start: starts the task (execId '' ) or an exec process; returns its pid. */
  async start(id: string, execId = '', o?: CallOptions): Promise<{ pid: number }> {
    const r = await this.call<Record<string, unknown>>(
      'Start',
      'containerd.task.v2.StartRequest',
      { id, exec_id: execId },
      'containerd.task.v2.StartResponse',
      this.t(o),
    );
    return { pid: Number(r['pid']) };
  }

  /** State of the task or an exec process. */
  async state(id: string, execId = '', o?: CallOptions): Promise<TaskState> {
    const r = await this.call<Record<string, unknown>>(
      'State',
      'containerd.task.v2.StateRequest',
      { id, exec_id: execId },
      'containerd.task.v2.StateResponse',
      this.t(o),
    );
    const status = Number(r['status']);
    const exitedAt = timestampToDate(r['exited_at']);
    return {
      id: String(r['id']),
      bundle: String(r['bundle']),
      pid: Number(r['pid']),
      status,
      statusName: taskStatusName(status),
      stdin: String(r['stdin']),
      stdout: String(r['stdout']),
      stderr: String(r['stderr']),
      terminal: Boolean(r['terminal']),
      exitStatus: Number(r['exit_status']),
      ...(exitedAt === undefined ? {} : { exitedAt }),
      execId: String(r['exec_id']),
    };
  }

  /** Pids: the processes of the task. */
  async pids(id: string, o?: CallOptions): Promise<ProcessInfo[]> {
    const r = await this.call<{ processes: Record<string, unknown>[] }>(
      'Pids',
      'containerd.task.v2.PidsRequest',
      { id },
      'containerd.task.v2.PidsResponse',
      this.t(o),
    );
    return r.processes.map((p) => {
      const info = toAny(p['info']);
      return info === undefined ? { pid: Number(p['pid']) } : { pid: Number(p['pid']), info };
    });
  }

  /** Kill: sends `signal` to the task, an exec process, or (all) every process of the task. */
  async kill(
    id: string,
    signal: number,
    opts: { execId?: string; all?: boolean } & CallOptions = {},
  ): Promise<void> {
    if (!Number.isInteger(signal) || signal <= 0 || signal > 64) {
      throw new CocoonError('ERR_KATA_INVALID_ARGUMENT', `invalid signal ${signal}`, { details: { signal } });
    }
    await this.call(
      'Kill',
      'containerd.task.v2.KillRequest',
      { id, exec_id: opts.execId ?? '', signal, all: opts.all ?? false },
      'google.protobuf.Empty',
      this.t(opts),
    );
  }

  /**
   * Wait: resolves when the process exits. The default deadline is none (timeoutMs 0): a task
   * may run for days; a dead shim still fails the call through the closed connection.
   */
  async wait(id: string, execId = '', o?: CallOptions): Promise<ExitInfo> {
    const r = await this.call<Record<string, unknown>>(
      'Wait',
      'containerd.task.v2.WaitRequest',
      { id, exec_id: execId },
      'containerd.task.v2.WaitResponse',
      o?.timeoutMs ?? 0,
    );
    const exitedAt = timestampToDate(r['exited_at']);
    return { exitStatus: Number(r['exit_status']), ...(exitedAt === undefined ? {} : { exitedAt }) };
  }

  /** Delete: removes the task or an exec process; returns its exit information. */
  async delete(id: string, execId = '', o?: CallOptions): Promise<DeleteResult> {
    const r = await this.call<Record<string, unknown>>(
      'Delete',
      'containerd.task.v2.DeleteRequest',
      { id, exec_id: execId },
      'containerd.task.v2.DeleteResponse',
      this.t(o),
    );
    const exitedAt = timestampToDate(r['exited_at']);
    return {
      pid: Number(r['pid']),
      exitStatus: Number(r['exit_status']),
      ...(exitedAt === undefined ? {} : { exitedAt }),
    };
  }

  /**
   * Shutdown: asks the shim to exit. The shim may close the connection before answering, so
   * a closed connection counts as success (CRI-O ignores ttrpc closed errors, §4.4).
   */
  async shutdown(id: string, now = false, o?: CallOptions): Promise<void> {
    this.shutdownRequested = true;
    try {
      await this.call(
        'Shutdown',
        'containerd.task.v2.ShutdownRequest',
        { id, now },
        'google.protobuf.Empty',
        this.t(o),
      );
    } catch (e) {
      if (e instanceof CocoonError && e.code === 'ERR_KATA_SHIM_DEAD') return;
      throw e;
    }
  }

  /** Exec: adds an exec process; `spec` travels as a JSON OCI Process Any (§4.1). */
  async exec(req: ExecRequest, o?: CallOptions): Promise<void> {
    if (typeof req.execId !== 'string' || req.execId.length === 0) {
      throw new CocoonError('ERR_KATA_INVALID_ARGUMENT', 'execId must be non-empty', { details: {} });
    }
    if (Boolean(req.stdout) !== Boolean(req.stderr)) {
      throw new CocoonError('ERR_KATA_INVALID_ARGUMENT', 'set both stdout and stderr, or neither', {
        details: { id: req.id },
      });
    }
    const spec: OciProcess = req.spec;
    await this.call(
      'Exec',
      'containerd.task.v2.ExecProcessRequest',
      {
        id: req.id,
        exec_id: req.execId,
        terminal: req.terminal ?? false,
        stdin: req.stdin ?? '',
        stdout: req.stdout ?? '',
        stderr: req.stderr ?? '',
        spec: jsonAny(PROCESS_SPEC_TYPE_URL, spec),
      },
      'google.protobuf.Empty',
      this.t(o),
    );
  }

  /** ResizePty: sets the terminal size of the task or an exec process. */
  async resizePty(id: string, execId: string, width: number, height: number, o?: CallOptions): Promise<void> {
    await this.call(
      'ResizePty',
      'containerd.task.v2.ResizePtyRequest',
      { id, exec_id: execId, width, height },
      'google.protobuf.Empty',
      this.t(o),
    );
  }

  /** CloseIO: closes the process's stdin. */
  async closeIO(id: string, execId = '', o?: CallOptions): Promise<void> {
    await this.call(
      'CloseIO',
      'containerd.task.v2.CloseIORequest',
      { id, exec_id: execId, stdin: true },
      'google.protobuf.Empty',
      this.t(o),
    );
  }

  /** Stats: cgroup metrics of the task, decoded when the type URL is known. */
  async stats(id: string, o?: CallOptions): Promise<TaskStats> {
    const r = await this.call<Record<string, unknown>>(
      'Stats',
      'containerd.task.v2.StatsRequest',
      { id },
      'containerd.task.v2.StatsResponse',
      this.t(o),
    );
    return decodeTaskStats(toAny(r['stats']));
  }

  /** Update: new resources as a JSON OCI LinuxResources Any (§4.1), plus annotations. */
  async update(req: UpdateRequest, o?: CallOptions): Promise<void> {
    const resources: OciLinuxResources = req.resources;
    await this.call(
      'Update',
      'containerd.task.v2.UpdateTaskRequest',
      {
        id: req.id,
        resources: jsonAny(LINUX_RESOURCES_TYPE_URL, resources),
        annotations: { ...req.annotations },
      },
      'google.protobuf.Empty',
      this.t(o),
    );
  }

  /** Pause: freezes the task. */
  async pause(id: string, o?: CallOptions): Promise<void> {
    await this.call('Pause', 'containerd.task.v2.PauseRequest', { id }, 'google.protobuf.Empty', this.t(o));
  }

  /** Resume: thaws the task. */
  async resume(id: string, o?: CallOptions): Promise<void> {
    await this.call('Resume', 'containerd.task.v2.ResumeRequest', { id }, 'google.protobuf.Empty', this.t(o));
  }
}
