/**
 * Typed, camelCase request/response shapes of the shim v2 Task API (cri-kata.md §4.1) and of the
 * task events shims publish. The wire names live in proto/containerd; conversion is in
 * task-client.ts and events-server.ts.
 */
import type { TaskMount } from './guest-pull.js';
import type { OciLinuxResources, OciProcess } from './oci-spec.types.js';
import type { AnyMessage } from './protos.js';

/** containerd.v1.types.Status values (cri-kata.md §4.1). */
export const TaskStatus = {
  UNKNOWN: 0,
  CREATED: 1,
  RUNNING: 2,
  STOPPED: 3,
  PAUSED: 4,
  PAUSING: 5,
} as const;

/** One of the TaskStatus numbers. */
export type TaskStatusCode = (typeof TaskStatus)[keyof typeof TaskStatus];

/** Lower-case name of a status number ('unknown' for values outside the enum). */
export function taskStatusName(code: number): string {
  for (const [k, v] of Object.entries(TaskStatus)) if (v === code) return k.toLowerCase();
  return 'unknown';
}

/** Any type URL of ExecProcessRequest.spec: JSON OCI Process (cri-kata.md §4.1). */
export const PROCESS_SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
/** Any type URL of UpdateTaskRequest.resources: JSON OCI LinuxResources (cri-kata.md §4.1). */
export const LINUX_RESOURCES_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources';
/** Any type URL of CreateTaskRequest.options for Kata (cri-kata.md §4.1). */
export const RUNTIME_OPTIONS_TYPE_URL = 'runtimeoptions.v1.Options';

/** CreateTaskRequest. */
export interface CreateTaskRequest {
  readonly id: string;
  /** Absolute bundle directory. */
  readonly bundle: string;
  /** Rootfs mounts: none (use <bundle>/rootfs) or exactly one guest-pull mount (§3.4). */
  readonly rootfs?: readonly TaskMount[];
  readonly terminal?: boolean;
  /** stdin FIFO path or ''. */
  readonly stdin?: string;
  /** stdout FIFO path; set both stdout and stderr or neither (env-notes.md, 1.6.20 bug). */
  readonly stdout?: string;
  readonly stderr?: string;
  readonly checkpoint?: string;
  readonly parentCheckpoint?: string;
  /** Runtime options Any; for Kata use runtimeOptions(configPath). */
  readonly options?: AnyMessage;
}

/** ExecProcessRequest, with the OCI Process as an object (sent as JSON Any). */
export interface ExecRequest {
  readonly id: string;
  readonly execId: string;
  readonly spec: OciProcess;
  readonly terminal?: boolean;
  readonly stdin?: string;
  readonly stdout?: string;
  readonly stderr?: string;
}

/** StateResponse. */
export interface TaskState {
  readonly id: string;
  readonly bundle: string;
  readonly pid: number;
  readonly status: number;
  /** 'created', 'running', 'stopped', … */
  readonly statusName: string;
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly terminal: boolean;
  readonly exitStatus: number;
  /** Absent while the process has not exited. */
  readonly exitedAt?: Date;
  readonly execId: string;
}

/** WaitResponse / DeleteResponse exit information. */
export interface ExitInfo {
  readonly exitStatus: number;
  readonly exitedAt?: Date;
}

/** DeleteResponse. */
export interface DeleteResult extends ExitInfo {
  readonly pid: number;
}

/** ConnectResponse. */
export interface ConnectResult {
  readonly shimPid: number;
  readonly taskPid: number;
  readonly version: string;
}

/** One entry of PidsResponse. */
export interface ProcessInfo {
  readonly pid: number;
  readonly info?: AnyMessage;
}

/** Summary numbers taken from the cgroup metrics of StatsResponse (cri-kata.md §6). */
export interface TaskStatsSummary {
  /** Cumulative CPU time in ns (v1 cpu.usage.total; v2 cpu.usage_usec × 1000). */
  readonly cpuUsageNanos?: number;
  /** Memory usage in bytes. */
  readonly memoryUsageBytes?: number;
  /** Working set: usage minus inactive file pages (what the kubelet evicts on). */
  readonly memoryWorkingSetBytes?: number;
  readonly memoryRssBytes?: number;
  readonly pageFaults?: number;
  readonly majorPageFaults?: number;
  readonly pidsCurrent?: number;
  readonly oomKills?: number;
}

/** StatsResponse: the raw Any plus what could be decoded. */
export interface TaskStats {
  readonly raw?: AnyMessage;
  /** 'v1' / 'v2' when the type URL named a known cgroups Metrics, else undefined. */
  readonly cgroups?: 'v1' | 'v2';
  /** The decoded Metrics (proto field names) when `cgroups` is set. */
  readonly metrics?: Record<string, unknown>;
  readonly summary: TaskStatsSummary;
}

/** UpdateTaskRequest. */
export interface UpdateRequest {
  readonly id: string;
  readonly resources: OciLinuxResources;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Fields shared by every task event. */
interface TaskEventBase {
  /** Envelope topic, e.g. /tasks/exit. */
  readonly topic: string;
  /** Envelope namespace. */
  readonly namespace: string;
  /** Envelope timestamp. */
  readonly timestamp?: Date;
}

/** /tasks/create. */
export interface TaskCreateEvent extends TaskEventBase {
  readonly type: 'TaskCreate';
  readonly containerId: string;
  readonly bundle: string;
  readonly pid: number;
  readonly io: { stdin: string; stdout: string; stderr: string; terminal: boolean };
  readonly rootfs: TaskMount[];
  readonly checkpoint: string;
}

/** /tasks/start. */
export interface TaskStartEvent extends TaskEventBase {
  readonly type: 'TaskStart';
  readonly containerId: string;
  readonly pid: number;
}

/** /tasks/exit. */
export interface TaskExitEvent extends TaskEventBase {
  readonly type: 'TaskExit';
  readonly containerId: string;
  /** Exec id, or the container id for the init process. */
  readonly id: string;
  readonly pid: number;
  readonly exitStatus: number;
  readonly exitedAt?: Date;
}

/** /tasks/delete. */
export interface TaskDeleteEvent extends TaskEventBase {
  readonly type: 'TaskDelete';
  readonly containerId: string;
  readonly id: string;
  readonly pid: number;
  readonly exitStatus: number;
  readonly exitedAt?: Date;
}

/** /tasks/oom. */
export interface TaskOOMEvent extends TaskEventBase {
  readonly type: 'TaskOOM';
  readonly containerId: string;
}

/** /tasks/exec-added, /tasks/exec-started. */
export interface TaskExecEvent extends TaskEventBase {
  readonly type: 'TaskExecAdded' | 'TaskExecStarted';
  readonly containerId: string;
  readonly execId: string;
  readonly pid: number;
}

/** /tasks/paused, /tasks/resumed. */
export interface TaskPauseEvent extends TaskEventBase {
  readonly type: 'TaskPaused' | 'TaskResumed';
  readonly containerId: string;
}

/** Any other event: kept raw. */
export interface UnknownTaskEvent extends TaskEventBase {
  readonly type: 'Unknown';
  readonly event?: AnyMessage;
}

/** A decoded event forwarded by a shim. */
export type TaskEvent =
  | TaskCreateEvent
  | TaskStartEvent
  | TaskExitEvent
  | TaskDeleteEvent
  | TaskOOMEvent
  | TaskExecEvent
  | TaskPauseEvent
  | UnknownTaskEvent;
