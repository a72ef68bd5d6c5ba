/**
 * The seam between the CRI handlers and whatever runs pods. Handlers speak only this interface;
 * `backend-shim.ts` implements it with the shim v2 driver (src/kata: runc shim, Kata shim, the
 * simulated guest) and `backend-noop.ts` with an in-process no-op used only by tests and the
 * benchmark. Call sequences follow cri-kata.md §4.4.
 */
import type { CriHandlerConfig } from '../config/sections/cri.js';

/** A mount handed to the runtime (host bind mounts from ContainerConfig.mounts). */
export interface BackendMount {
  readonly containerPath: string;
  readonly hostPath: string;
  readonly readonly: boolean;
}

/** Everything a backend needs to start a pod sandbox. */
export interface SandboxLaunch {
  /** Sandbox id (64 hex). */
  readonly id: string;
  /** The handler the pod runs on. */
  readonly handler: CriHandlerConfig;
  /** Pod metadata. */
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly attempt: number;
  /** Pod hostname (PodSandboxConfig.hostname). */
  readonly hostname: string;
  /** Pod log directory (may be ""). */
  readonly logDirectory: string;
  /** Pod labels and annotations, byte for byte as the kubelet sent them. */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Network namespace path from pod networking; undefined ⇒ host network. */
  readonly netnsPath: string | undefined;
  /** cgroup parent (LinuxPodSandboxConfig.cgroup_parent); "" ⇒ runtime default. */
  readonly cgroupParent: string;
  /** Kata annotations to add to the sandbox spec (initdata, …). */
  readonly extraAnnotations: Readonly<Record<string, string>>;
  /** Pod annotation allow-list (globs) for the sandbox spec (cri-kata.md §3.8). */
  readonly podAnnotationAllowlist: readonly string[];
}

/** How a container's root filesystem is provided. */
export type RootfsSource =
  /** Host pull: an unpacked rootfs directory on the host. */
  | { readonly kind: 'host'; readonly path: string }
  /** Guest pull: the image reference the guest pulls (cri-kata.md §3.3–3.4). */
  | { readonly kind: 'guest'; readonly imageName: string; readonly imageRef: string };

/** Everything a backend needs to create a container. */
export interface ContainerLaunch {
  readonly id: string;
  readonly sandboxId: string;
  readonly handler: CriHandlerConfig;
  /** Container name and pod metadata (for the OCI annotations Kata/genpolicy read). */
  readonly name: string;
  readonly sandboxName: string;
  readonly sandboxNamespace: string;
  readonly sandboxUid: string;
  /** Process: argv (entrypoint+cmd resolved with the image config), env KEY=VALUE, cwd, user. */
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly rootfs: RootfsSource;
  readonly mounts: readonly BackendMount[];
  /** Absolute path of the CRI log file ("" ⇒ no log). */
  readonly logPath: string;
  /** Container annotations from the CRI config (copied into the OCI spec). */
  readonly annotations: Readonly<Record<string, string>>;
  /** Network namespace of the pod (undefined ⇒ host network). */
  readonly netnsPath: string | undefined;
}

/** State of one task as the runtime sees it. */
export interface BackendTaskState {
  readonly status: 'created' | 'running' | 'exited' | 'unknown';
  readonly pid: number;
  readonly exitCode: number;
  /** ms since epoch; undefined while running. */
  readonly exitedAt?: number;
}

/** Result of ExecSync. */
export interface ExecResult {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly exitCode: number;
}

/** Usage numbers for stats RPCs (cri-kata.md §6); undefined fields are unknown. */
export interface BackendUsage {
  /** ms since epoch of the sample. */
  readonly timestamp: number;
  readonly cpuUsageNanos?: number;
  readonly memoryWorkingSetBytes?: number;
  readonly memoryUsageBytes?: number;
  readonly memoryRssBytes?: number;
  readonly pageFaults?: number;
  readonly majorPageFaults?: number;
  readonly processCount?: number;
}

/** A task exit observed by the backend (Wait returned or the shim published /tasks/exit). */
export interface BackendExit {
  readonly sandboxId: string;
  /** Container id, or the sandbox id for the sandbox task. */
  readonly id: string;
  readonly exitCode: number;
  /** ms since epoch. */
  readonly exitedAt: number;
}

/** What re-attaching found for a pod after a restart. */
export interface ReattachResult {
  /** False when the pod's runtime (shim) is gone. */
  readonly alive: boolean;
  /** State per container id asked about; missing ⇒ unknown to the runtime. */
  readonly containers: ReadonlyMap<string, BackendTaskState>;
}

/** Container resources for UpdateContainerResources (subset of LinuxContainerResources). */
export interface BackendResources {
  readonly cpuPeriod?: number;
  readonly cpuQuota?: number;
  readonly cpuShares?: number;
  readonly memoryLimitBytes?: number;
  readonly cpusetCpus?: string;
  readonly cpusetMems?: string;
}

/** The runtime seam. Every method may throw CocoonError; NotFound-style errors are tolerated on stop/remove. */
export interface RuntimeBackend {
  /** Name for logs and docs. */
  readonly name: string;
  /** Starts the pod's shim and sandbox task; returns the sandbox task pid. */
  startSandbox(s: SandboxLaunch): Promise<{ pid: number }>;
  /** Stops the sandbox task (containers were stopped before); idempotent. */
  stopSandbox(sandboxId: string): Promise<void>;
  /** Deletes the sandbox task and shuts the shim down; idempotent. */
  removeSandbox(sandboxId: string): Promise<void>;
  /** Creates a container task (for guest pull this is where the guest pulls). */
  createContainer(c: ContainerLaunch): Promise<{ pid: number }>;
  /** Starts a created container; the exit is reported through onExit. */
  startContainer(sandboxId: string, id: string): Promise<{ pid: number }>;
  /** Signals, waits `timeoutSeconds`, then kills; resolves once exited. Idempotent. */
  stopContainer(
    sandboxId: string,
    id: string,
    timeoutSeconds: number,
    signal: number,
  ): Promise<BackendTaskState>;
  /** Deletes a container task; idempotent. */
  removeContainer(sandboxId: string, id: string): Promise<void>;
  /** Current state of a container task. */
  containerState(sandboxId: string, id: string): Promise<BackendTaskState>;
  /** Runs a command in the container and collects its output. */
  execSync(sandboxId: string, id: string, cmd: readonly string[], timeoutMs: number): Promise<ExecResult>;
  /** Usage of one container (or the sandbox when id = sandboxId); undefined ⇒ not available. */
  stats(sandboxId: string, id: string): Promise<BackendUsage | undefined>;
  /** Applies new resources to a container. */
  updateContainer(sandboxId: string, id: string, r: BackendResources): Promise<void>;
  /** Reopens the container's CRI log file (after the kubelet rotated it). */
  reopenLog(sandboxId: string, id: string): Promise<void>;
  /** Re-attaches to a pod's runtime after a restart and reports its containers. */
  reattach(s: SandboxLaunch, containerIds: readonly string[]): Promise<ReattachResult>;
  /** Registers the exit listener (one per backend). */
  onExit(listener: (e: BackendExit) => void): void;
  /** Releases connections (does not stop pods). */
  close(): Promise<void>;
}
