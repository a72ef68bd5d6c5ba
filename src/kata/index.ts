/**
 * The shim v2 driver (docs/kata.md): OCI bundles and specs shaped for Kata and runc, guest-pull
 * volumes, initdata, launching shims, the Task API client, the events endpoint, re-attach after
 * restart, and container stdio in the CRI log format. The CRI server (src/cri) uses only this
 * entry point.
 */
export {
  CRI_ANNOTATIONS,
  CONTAINER_TYPE,
  KATA_ANNOTATIONS,
  KATA_VOLUME_OPTION_PREFIX,
  DEFAULT_POD_ANNOTATION_ALLOWLIST,
  annotationAllowed,
  filterAnnotations,
} from './annotations.js';
export type {
  OciSpec,
  OciProcess,
  OciUser,
  OciMount,
  OciNamespace,
  OciLinux,
  OciLinuxResources,
  OciCapabilities,
  OciRlimit,
} from './oci-spec.types.js';
export {
  buildSandboxSpec,
  buildContainerSpec,
  resolveExecutable,
  defaultMounts,
  OCI_VERSION,
  DEFAULT_PATH,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  type SandboxSpecInput,
  type ContainerSpecInput,
  type CommonSpecInput,
  type SandboxSizing,
  type SharedNamespaces,
} from './spec.js';
export {
  writeBundle,
  readBundleSpec,
  removeBundle,
  attachShimLog,
  SHIM_LOG_MAX_LINE,
  type Bundle,
  type WriteBundleOptions,
} from './bundle.js';
export {
  guestPullVolume,
  guestPullMount,
  decodeGuestPullMount,
  decodeVolumeOption,
  encodeVolumeOption,
  VOLUME_TYPE_IMAGE_GUEST_PULL,
  GUEST_PULL_MOUNT_TYPE,
  type GuestPullVolume,
  type GuestPullInput,
  type DecodedGuestPull,
  type TaskMount,
} from './guest-pull.js';
export {
  encodeInitData,
  decodeInitData,
  validateInitData,
  adjustDigest,
  INITDATA_VERSION,
  INITDATA_ALGORITHMS,
  TDX_MRCONFIGID_SIZE,
  SNP_HOSTDATA_SIZE,
  DEFAULT_MAX_INITDATA_BYTES,
  type InitDataAlgorithm,
  type InitDataDocument,
  type EncodedInitData,
  type DecodeInitDataOptions,
} from './initdata.js';
export {
  startShim,
  deleteShim,
  reattachShim,
  parseShimAddress,
  readShimAddress,
  readShimPid,
  processAlive,
  DEFAULT_SHIM_COMMAND_TIMEOUT_MS,
  type ShimCommandOptions,
  type StartShimOptions,
  type StartedShim,
  type ReattachOptions,
} from './shim.js';
export {
  TaskClient,
  runtimeOptions,
  decodeTaskStats,
  TASK_SERVICE,
  NAMESPACE_METADATA_KEY,
  DEFAULT_TASK_CALL_TIMEOUT_MS,
  DEFAULT_SHIM_DIAL_TIMEOUT_MS,
  type TaskClientOptions,
  type CallOptions,
  type ShimDeath,
} from './task-client.js';
export {
  TaskStatus,
  taskStatusName,
  PROCESS_SPEC_TYPE_URL,
  LINUX_RESOURCES_TYPE_URL,
  RUNTIME_OPTIONS_TYPE_URL,
  type TaskStatusCode,
  type CreateTaskRequest,
  type ExecRequest,
  type TaskState,
  type ExitInfo,
  type DeleteResult,
  type ConnectResult,
  type ProcessInfo,
  type TaskStats,
  type TaskStatsSummary,
  type UpdateRequest,
  type TaskEvent,
  type TaskCreateEvent,
  type TaskStartEvent,
  type TaskExitEvent,
  type TaskDeleteEvent,
  type TaskOOMEvent,
  type TaskExecEvent,
  type TaskPauseEvent,
  type UnknownTaskEvent,
} from './task-types.js';
export {
  EventsServer,
  EVENTS_SERVICE,
  decodeForwardRequest,
  encodeForwardRequest,
  decodeTaskEvent,
  type EventsServerOptions,
  type TaskEventHandler,
} from './events-server.js';
export {
  createStdioFifos,
  pumpContainerLogs,
  CriLogWriter,
  formatCriLogLine,
  formatRfc3339Nano,
  CRI_LOG_MAX_LINE,
  type StdioPaths,
  type CriStream,
  type CriLogWriterOptions,
  type ContainerLogPump,
} from './stdio.js';
export {
  execSync,
  DEFAULT_EXEC_MAX_OUTPUT_BYTES,
  EXEC_DRAIN_TIMEOUT_MS,
  type ExecSyncOptions,
  type ExecSyncResult,
} from './exec.js';
export { makeFifo, openFifoReader, LineSplitter, type FifoReader } from './fifo.js';
export { mapShimError, statusOf, STATUS_TO_KATA_CODE } from './shim-errors.js';
export { createTtrpcLink, defaultTtrpcLink } from './default-link.js';
export type {
  TtrpcLink,
  UnaryChannel,
  UnaryCallOptions,
  ChannelDialer,
  UnaryServe,
  UnaryServer,
  UnaryHandler,
  UnaryServerContext,
} from './ttrpc-link.js';
export {
  containerdRoot,
  containerdProtoDir,
  containerdProtoPaths,
  CONTAINERD_PROTO_FILES,
  encodeMessage as encodeContainerdMessage,
  decodeMessage as decodeContainerdMessage,
  type AnyMessage,
} from './protos.js';
