/**
 * The subset of the OCI runtime spec (runtime-spec config.md / config-linux.md) that Cocoon
 * writes into bundles. Field names are the spec's JSON names, so objects serialise as-is.
 */

/** OCI `process.user`. */
export interface OciUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

/** OCI `process.capabilities`. */
export interface OciCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

/** OCI `process.rlimits[]`. */
export interface OciRlimit {
  type: string;
  hard: number;
  soft: number;
}

/** OCI `process` (also the JSON carried in ExecProcessRequest.spec, cri-kata.md §4.1). */
export interface OciProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: OciUser;
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: OciCapabilities;
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

/** OCI `mounts[]`. */
export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** OCI `linux.namespaces[]`. */
export interface OciNamespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';
  path?: string;
}

/** OCI `linux.resources` (LinuxResources, also the JSON carried by UpdateTaskRequest.resources). */
export interface OciLinuxResources {
  devices?: { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[];
  memory?: { limit?: number; reservation?: number; swap?: number; kernel?: number; swappiness?: number };
  cpu?: {
    shares?: number;
    quota?: number;
    period?: number;
    realtimeRuntime?: number;
    realtimePeriod?: number;
    cpus?: string;
    mems?: string;
  };
  pids?: { limit: number };
  hugepageLimits?: { pageSize: string; limit: number }[];
  unified?: Record<string, string>;
}

/** OCI `linux`. */
export interface OciLinux {
  namespaces?: OciNamespace[];
  resources?: OciLinuxResources;
  cgroupsPath?: string;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  seccomp?: unknown;
}

/** An OCI runtime spec (config.json). */
export interface OciSpec {
  ociVersion: string;
  process?: OciProcess;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  mounts?: OciMount[];
  annotations?: Record<string, string>;
  linux?: OciLinux;
}
