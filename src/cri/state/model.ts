/**
 * Durable records of the CRI server. Configs are kept as the decoded request objects so labels
 * and annotations round-trip byte for byte (cri-kata.md §1.3).
 */

/** Store kinds. */
export const KIND = { pod: 'pod', container: 'ctr', image: 'img', runtime: 'rt' } as const;

/** Life of a pod record. `creating` is never shown to the kubelet (§2.5 item 3). */
export type PodPhase = 'creating' | 'ready' | 'notready';

/** Life of a container record. */
export type ContainerPhase = 'creating' | 'created' | 'running' | 'exited' | 'unknown';

/** A decoded protobuf message object (proto-loader: keepCase, longs and enums as strings). */
export type Msg = Record<string, unknown>;

/** A pod sandbox. */
export interface PodRecord {
  readonly id: string;
  /** Reservation name (ids.ts sandboxName). */
  readonly name: string;
  readonly handler: string;
  /** RunPodSandboxRequest.runtime_handler as sent ("" = default), echoed back (cri-kata.md §1.4). */
  readonly requestedHandler?: string;
  /** Decoded PodSandboxConfig. */
  readonly config: Msg;
  readonly createdAtMs: number;
  readonly phase: PodPhase;
  /** True once RunPodSandbox returned its id to a live caller. */
  readonly claimed: boolean;
  /** Pod network (undefined for host network). */
  readonly netnsPath?: string;
  readonly ip?: string;
  readonly additionalIps?: readonly string[];
  /** From UpdatePodSandboxResources (1.33). */
  readonly resources?: Msg;
  /** True when the pod lives on the pass-through runtime (never stored; marker in lists). */
  readonly passthrough?: false;
}

/** A container. */
export interface ContainerRecord {
  readonly id: string;
  readonly podId: string;
  readonly name: string;
  /** Decoded ContainerConfig. */
  readonly config: Msg;
  /** image_ref given back in ContainerStatus (the image id). */
  readonly imageRef: string;
  /** ContainerConfig.image.image as the kubelet sent it. */
  readonly imageName: string;
  readonly createdAtMs: number;
  readonly startedAtMs?: number;
  readonly finishedAtMs?: number;
  readonly exitCode: number;
  readonly phase: ContainerPhase;
  readonly claimed: boolean;
  readonly reason: string;
  readonly message: string;
  /** Absolute log path ("" ⇒ none). */
  readonly logPath: string;
  readonly pid: number;
  /** Last resources applied (UpdateContainerResources), decoded LinuxContainerResources. */
  readonly resources?: Msg;
}

/** Image metadata (host-pulled, guest-pull resolved, or both). */
export interface ImageRecord {
  /** Image id: sha256:<config digest>. */
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  /** Sum of layer sizes + config (what ImageStatus reports; never 0, §1.3). */
  readonly size: number;
  /** Numeric user from the config (undefined when named or absent). */
  readonly uid?: number;
  /** Named user from the config ("" when numeric or absent). */
  readonly username: string;
  /** Image config process defaults. */
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly env: readonly string[];
  readonly workingDir: string;
  readonly user: string;
  /** Unpacked rootfs when host-pulled. */
  readonly rootfsPath?: string;
  /** True when only metadata was fetched for guest pull. */
  readonly guestPull: boolean;
  /** Handlers whose pulls produced this record. */
  readonly handlers: readonly string[];
  /** Pinned from Image.pinned (never GC'd by the kubelet). */
  readonly pinned: boolean;
}

/** Runtime-wide settings from UpdateRuntimeConfig. */
export interface RuntimeRecord {
  readonly podCidr: string;
}
