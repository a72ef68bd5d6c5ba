/** The RPC → handler tables (one handler file per RPC, cri-kata.md Appendix A.1 names). */
import type { StreamRpc, UnaryRpc } from './rpc.js';
import { attach } from './runtime/container-attach.js';
import { checkpointContainer } from './runtime/container-checkpoint.js';
import { createContainer } from './runtime/container-create.js';
import { getContainerEvents } from './runtime/container-events.js';
import { exec } from './runtime/container-exec.js';
import { execSync } from './runtime/container-exec-sync.js';
import { listContainers } from './runtime/container-list.js';
import { removeContainer } from './runtime/container-remove.js';
import { reopenContainerLog } from './runtime/container-reopen-log.js';
import { startContainer } from './runtime/container-start.js';
import { containerStats } from './runtime/container-stats.js';
import { listContainerStats } from './runtime/container-stats-list.js';
import { streamContainerStats } from './runtime/container-stats-stream.js';
import { containerStatus } from './runtime/container-status.js';
import { stopContainer } from './runtime/container-stop.js';
import { streamContainers } from './runtime/container-stream.js';
import { updateContainerResources } from './runtime/container-update-resources.js';
import { listMetricDescriptors } from './runtime/metric-descriptors-list.js';
import { checkpointPod } from './runtime/pod-checkpoint.js';
import { restorePod } from './runtime/pod-restore.js';
import { runtimeConfig } from './runtime/runtime-config.js';
import { updateRuntimeConfig } from './runtime/runtime-config-update.js';
import { status } from './runtime/runtime-status.js';
import { listPodSandbox } from './runtime/sandbox-list.js';
import { listPodSandboxMetrics } from './runtime/sandbox-metrics-list.js';
import { streamPodSandboxMetrics } from './runtime/sandbox-metrics-stream.js';
import { portForward } from './runtime/sandbox-port-forward.js';
import { removePodSandbox } from './runtime/sandbox-remove.js';
import { runPodSandbox } from './runtime/sandbox-run.js';
import { podSandboxStats } from './runtime/sandbox-stats.js';
import { listPodSandboxStats } from './runtime/sandbox-stats-list.js';
import { streamPodSandboxStats } from './runtime/sandbox-stats-stream.js';
import { podSandboxStatus } from './runtime/sandbox-status.js';
import { stopPodSandbox } from './runtime/sandbox-stop.js';
import { streamPodSandboxes } from './runtime/sandbox-stream.js';
import { updatePodSandboxResources } from './runtime/sandbox-update-resources.js';
import { version } from './runtime/version.js';
import { imageFsInfo } from './image/image-fs-info.js';
import { listImages } from './image/image-list.js';
import { pullImage } from './image/image-pull.js';
import { removeImage } from './image/image-remove.js';
import { imageStatus } from './image/image-status.js';
import { streamImages } from './image/image-stream.js';

/** RuntimeService unary RPCs. */
export const RUNTIME_UNARY: Readonly<Record<string, UnaryRpc>> = {
  Version: version,
  RunPodSandbox: runPodSandbox,
  StopPodSandbox: stopPodSandbox,
  RemovePodSandbox: removePodSandbox,
  PodSandboxStatus: podSandboxStatus,
  ListPodSandbox: listPodSandbox,
  CreateContainer: createContainer,
  StartContainer: startContainer,
  StopContainer: stopContainer,
  RemoveContainer: removeContainer,
  ListContainers: listContainers,
  ContainerStatus: containerStatus,
  UpdateContainerResources: updateContainerResources,
  ReopenContainerLog: reopenContainerLog,
  ExecSync: execSync,
  Exec: exec,
  Attach: attach,
  PortForward: portForward,
  ContainerStats: containerStats,
  ListContainerStats: listContainerStats,
  PodSandboxStats: podSandboxStats,
  ListPodSandboxStats: listPodSandboxStats,
  UpdateRuntimeConfig: updateRuntimeConfig,
  Status: status,
  CheckpointContainer: checkpointContainer,
  CheckpointPod: checkpointPod,
  RestorePod: restorePod,
  ListMetricDescriptors: listMetricDescriptors,
  ListPodSandboxMetrics: listPodSandboxMetrics,
  RuntimeConfig: runtimeConfig,
  UpdatePodSandboxResources: updatePodSandboxResources,
};

/** RuntimeService server-streaming RPCs. */
export const RUNTIME_STREAMS: Readonly<Record<string, StreamRpc>> = {
  StreamPodSandboxes: streamPodSandboxes,
  StreamContainers: streamContainers,
  StreamContainerStats: streamContainerStats,
  StreamPodSandboxStats: streamPodSandboxStats,
  GetContainerEvents: getContainerEvents,
  StreamPodSandboxMetrics: streamPodSandboxMetrics,
};

/** ImageService unary RPCs. */
export const IMAGE_UNARY: Readonly<Record<string, UnaryRpc>> = {
  ListImages: listImages,
  ImageStatus: imageStatus,
  PullImage: pullImage,
  RemoveImage: removeImage,
  ImageFsInfo: imageFsInfo,
};

/** ImageService server-streaming RPCs. */
export const IMAGE_STREAMS: Readonly<Record<string, StreamRpc>> = { StreamImages: streamImages };
