/**
 * OCI runtime specs for pod sandboxes and containers, shaped as containerd's CRI plugin shapes
 * them so that Kata (cri-kata.md §4.3) and its genpolicy (§3.8) accept them, and so that runc
 * here runs them (env-notes.md: absolute process args, no negative oom_score_adj).
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, posix } from 'node:path';
import { CocoonError } from '../common/errors.js';
import {
  CONTAINER_TYPE,
  CRI_ANNOTATIONS,
  DEFAULT_POD_ANNOTATION_ALLOWLIST,
  filterAnnotations,
} from './annotations.js';
import type {
  OciLinuxResources,
  OciMount,
  OciNamespace,
  OciProcess,
  OciSpec,
  OciUser,
} from './oci-spec.types.js';

/** OCI runtime-spec version written into config.json (containerd 1.7/2.x write 1.1.0). */
export const OCI_VERSION = '1.1.0';

/** PATH used when the image config sets none (containerd's defaultUnixEnv). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Capabilities containerd's CRI plugin grants a non-privileged container. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Paths masked in every container (containerd's defaultUnixSpec). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];

/** Paths mounted read-only in every container (containerd's defaultUnixSpec). */
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/** The default mounts of a container (containerd's defaultUnixSpec plus the CRI cgroup mount). */
export function defaultMounts(): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
    },
  ];
}

/** Pod-level CPU/memory sizing (LinuxPodSandboxConfig.resources plus overhead), cri-kata.md §4.3. */
export interface SandboxSizing {
  /** CFS period in µs; omitted ⇒ annotation not written. */
  readonly cpuPeriod?: number;
  /** CFS quota in µs; omitted ⇒ annotation not written. */
  readonly cpuQuota?: number;
  /** CPU shares; omitted ⇒ annotation not written. */
  readonly cpuShares?: number;
  /** Memory limit in bytes; omitted ⇒ annotation not written. */
  readonly memoryLimitBytes?: number;
}

/** Namespaces a container shares with its sandbox (paths of the sandbox's namespaces). */
export interface SharedNamespaces {
  /** IPC namespace path (e.g. /proc/<sandbox pid>/ns/ipc); omitted ⇒ a new one. */
  readonly ipc?: string;
  /** UTS namespace path; omitted ⇒ a new one. */
  readonly uts?: string;
  /** PID namespace path (pod-level PID sharing); omitted ⇒ a new one. */
  readonly pid?: string;
}

/** Fields common to sandbox and container specs. */
export interface CommonSpecInput {
  /** Process arguments; args[0] is made absolute (env-notes.md) when `rootfs` is given. */
  readonly args: readonly string[];
  /** Environment as KEY=VALUE; PATH defaults to DEFAULT_PATH when absent. */
  readonly env?: readonly string[];
  /** Working directory; default "/". */
  readonly cwd?: string;
  /** Process user; default root (0:0). */
  readonly user?: OciUser;
  /** Allocate a terminal; default false. */
  readonly terminal?: boolean;
  /** Network namespace path from CNI; omitted ⇒ a new (empty) network namespace. */
  readonly netnsPath?: string;
  /** Hostname; omitted ⇒ not set. */
  readonly hostname?: string;
  /** Extra mounts appended after the defaults (a later mount on the same destination wins). */
  readonly mounts?: readonly OciMount[];
  /** cgroups path; omitted ⇒ runtime default. */
  readonly cgroupsPath?: string;
  /** Linux resources; the device deny-all rule is always prepended. */
  readonly resources?: OciLinuxResources;
  /** oom_score_adj; negative values are clamped to 0 (env-notes.md: runc here lacks CAP_SYS_RESOURCE). */
  readonly oomScoreAdj?: number;
  /** Sysctls. */
  readonly sysctls?: Readonly<Record<string, string>>;
  /** Root filesystem path written to root.path; default "rootfs" (the bundle's rootfs/). */
  readonly rootPath?: string;
  /** Host directory holding the rootfs, used only to resolve args[0] against PATH. */
  readonly rootfs?: string;
  /** Read-only root filesystem; default false. */
  readonly readonlyRootfs?: boolean;
  /** Extra annotations (e.g. the CRI config's own annotations); Cocoon's keys win on conflict. */
  readonly extraAnnotations?: Readonly<Record<string, string>>;
}

/** Input of buildSandboxSpec. */
export interface SandboxSpecInput extends CommonSpecInput {
  /** Sandbox id (also the shim id). */
  readonly id: string;
  /** Pod name (PodSandboxMetadata.name). */
  readonly name: string;
  /** Pod namespace (PodSandboxMetadata.namespace). */
  readonly namespace: string;
  /** Pod UID (PodSandboxMetadata.uid). */
  readonly uid: string;
  /** Pod log directory; omitted ⇒ annotation written empty, as containerd does. */
  readonly logDirectory?: string;
  /** The pause image name; omitted ⇒ annotation not written. */
  readonly sandboxImage?: string;
  /** Pod sizing for Kata's static resource management. */
  readonly sizing?: SandboxSizing;
  /** Pod annotations; those matching `podAnnotationAllowlist` are forwarded. */
  readonly podAnnotations?: Readonly<Record<string, string>>;
  /** Allow-list patterns for pod annotations; default DEFAULT_POD_ANNOTATION_ALLOWLIST. */
  readonly podAnnotationAllowlist?: readonly string[];
}

/** Input of buildContainerSpec. */
export interface ContainerSpecInput extends CommonSpecInput {
  /** Container id. */
  readonly id: string;
  /** Container name (ContainerMetadata.name). */
  readonly name: string;
  /** Sandbox id: Kata joins the container to this sandbox's shim and VM (§4.3). */
  readonly sandboxId: string;
  /** Pod name. */
  readonly sandboxName: string;
  /** Pod namespace. */
  readonly sandboxNamespace: string;
  /** Pod UID. */
  readonly sandboxUid: string;
  /** Image name for io.kubernetes.cri.image-name: user_specified_image when non-empty (§3.2). */
  readonly imageName: string;
  /** Namespaces shared with the sandbox. */
  readonly shared?: SharedNamespaces;
}

function fail(message: string, field: string): never {
  throw new CocoonError('ERR_KATA_SPEC_INVALID', message, { details: { field } });
}

function requireText(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(`${field} must be a non-empty string`, field);
  return v;
}

function envValue(env: readonly string[], key: string): string | undefined {
  for (let i = env.length - 1; i >= 0; i--) {
    const e = env[i]!;
    if (e.startsWith(`${key}=`)) return e.slice(key.length + 1);
  }
  return undefined;
}

/**
 * Resolves a relative args[0] against PATH inside `rootfs` (env-notes.md: runc here needs
 * absolute paths). Without a rootfs (guest pull: the image is only in the guest) the argument
 * is returned unchanged and the guest resolves it.
 */
export function resolveExecutable(arg0: string, env: readonly string[], rootfs?: string): string {
  if (arg0.length === 0) fail('process args[0] is empty', 'args');
  if (isAbsolute(arg0) || rootfs === undefined) return arg0;
  const path = envValue(env, 'PATH') ?? DEFAULT_PATH;
  if (arg0.includes('/')) return posix.join('/', arg0);
  for (const dir of path.split(':')) {
    if (!dir.startsWith('/')) continue;
    const candidate = posix.join(dir, arg0);
    const host = join(rootfs, candidate);
    try {
      if (existsSync(host) && statSync(host).isFile()) return candidate;
    } catch {
      // An unreadable entry is not a match; keep searching PATH.
    }
  }
  return fail(`executable ${arg0} not found in PATH of the rootfs`, 'args');
}

function buildProcess(input: CommonSpecInput): OciProcess {
  if (!Array.isArray(input.args) || input.args.length === 0) fail('process args must not be empty', 'args');
  for (const a of input.args) if (typeof a !== 'string') fail('process args must be strings', 'args');
  const env = [...(input.env ?? [])];
  if (envValue(env, 'PATH') === undefined) env.unshift(`PATH=${DEFAULT_PATH}`);
  const args = [...input.args];
  args[0] = resolveExecutable(args[0]!, env, input.rootfs);
  const cwd = input.cwd ?? '/';
  if (!cwd.startsWith('/')) fail('cwd must be absolute', 'cwd');
  const user = input.user ?? { uid: 0, gid: 0 };
  if (!Number.isInteger(user.uid) || user.uid < 0 || !Number.isInteger(user.gid) || user.gid < 0) {
    fail('user uid/gid must be non-negative integers', 'user');
  }
  const caps = [...DEFAULT_CAPABILITIES];
  const proc: OciProcess = {
    terminal: input.terminal ?? false,
    user: { ...user },
    args,
    env,
    cwd,
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    noNewPrivileges: true,
  };
  // env-notes.md: lowering oom_score_adj fails without CAP_SYS_RESOURCE and runc reports it as
  // "can't get final child's PID from pipe: EOF"; never write a negative value.
  if (input.oomScoreAdj !== undefined) {
    if (!Number.isInteger(input.oomScoreAdj) || input.oomScoreAdj > 1000) {
      fail('oomScoreAdj must be an integer ≤ 1000', 'oomScoreAdj');
    }
    proc.oomScoreAdj = Math.max(0, input.oomScoreAdj);
  }
  return proc;
}

function mergeMounts(extra: readonly OciMount[] | undefined): OciMount[] {
  const mounts = defaultMounts();
  for (const m of extra ?? []) {
    if (typeof m.destination !== 'string' || !m.destination.startsWith('/')) {
      fail('mount destination must be absolute', 'mounts');
    }
    const i = mounts.findIndex((d) => d.destination === m.destination);
    if (i >= 0) mounts.splice(i, 1);
    mounts.push({ ...m, ...(m.options ? { options: [...m.options] } : {}) });
  }
  return mounts;
}

function buildResources(r: OciLinuxResources | undefined): OciLinuxResources {
  return { ...r, devices: [{ allow: false, access: 'rwm' }, ...(r?.devices ?? [])] };
}

function baseSpec(
  input: CommonSpecInput,
  namespaces: OciNamespace[],
  annotations: Record<string, string>,
): OciSpec {
  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: buildProcess(input),
    root: { path: input.rootPath ?? 'rootfs', readonly: input.readonlyRootfs ?? false },
    mounts: mergeMounts(input.mounts),
    annotations,
    linux: {
      namespaces,
      resources: buildResources(input.resources),
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  if (input.hostname !== undefined) spec.hostname = input.hostname;
  if (input.cgroupsPath !== undefined) spec.linux!.cgroupsPath = input.cgroupsPath;
  if (input.sysctls !== undefined) spec.linux!.sysctl = { ...input.sysctls };
  return spec;
}

function networkNamespace(path: string | undefined): OciNamespace {
  return path === undefined ? { type: 'network' } : { type: 'network', path };
}

function sizingValue(v: number | undefined, field: string): string | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 0) fail(`${field} must be a non-negative integer`, field);
  return String(v);
}

/**
 * Builds the pod sandbox's OCI spec: container-type `sandbox`, the sandbox identity keys, the
 * sizing keys and the allow-listed pod annotations (cri-kata.md §3.2, §3.8, §4.3).
 */
export function buildSandboxSpec(input: SandboxSpecInput): OciSpec {
  const id = requireText(input.id, 'id');
  const annotations: Record<string, string> = {
    ...filterAnnotations(
      input.podAnnotations ?? {},
      input.podAnnotationAllowlist ?? DEFAULT_POD_ANNOTATION_ALLOWLIST,
    ),
    ...input.extraAnnotations,
  };
  annotations[CRI_ANNOTATIONS.containerType] = CONTAINER_TYPE.sandbox;
  annotations[CRI_ANNOTATIONS.sandboxId] = id;
  annotations[CRI_ANNOTATIONS.sandboxNamespace] = requireText(input.namespace, 'namespace');
  annotations[CRI_ANNOTATIONS.sandboxUid] = requireText(input.uid, 'uid');
  annotations[CRI_ANNOTATIONS.sandboxName] = requireText(input.name, 'name');
  annotations[CRI_ANNOTATIONS.sandboxLogDirectory] = input.logDirectory ?? '';
  if (input.sandboxImage !== undefined) annotations[CRI_ANNOTATIONS.sandboxImageName] = input.sandboxImage;
  const sizing: [string, number | undefined, string][] = [
    [CRI_ANNOTATIONS.sandboxCpuPeriod, input.sizing?.cpuPeriod, 'sizing.cpuPeriod'],
    [CRI_ANNOTATIONS.sandboxCpuQuota, input.sizing?.cpuQuota, 'sizing.cpuQuota'],
    [CRI_ANNOTATIONS.sandboxCpuShares, input.sizing?.cpuShares, 'sizing.cpuShares'],
    [CRI_ANNOTATIONS.sandboxMemory, input.sizing?.memoryLimitBytes, 'sizing.memoryLimitBytes'],
  ];
  for (const [key, value, field] of sizing) {
    const s = sizingValue(value, field);
    if (s !== undefined) annotations[key] = s;
  }
  const namespaces: OciNamespace[] = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
    networkNamespace(input.netnsPath),
  ];
  return baseSpec(input, namespaces, annotations);
}

/**
 * Builds a container's OCI spec: container-type `container`, the sandbox it joins, its name and
 * image name (cri-kata.md §3.2, §3.4: Kata's guest pull takes the image from
 * io.kubernetes.cri.image-name, not from the volume's `source`).
 */
export function buildContainerSpec(input: ContainerSpecInput): OciSpec {
  requireText(input.id, 'id');
  const annotations: Record<string, string> = { ...input.extraAnnotations };
  annotations[CRI_ANNOTATIONS.containerType] = CONTAINER_TYPE.container;
  annotations[CRI_ANNOTATIONS.sandboxId] = requireText(input.sandboxId, 'sandboxId');
  annotations[CRI_ANNOTATIONS.sandboxNamespace] = requireText(input.sandboxNamespace, 'sandboxNamespace');
  annotations[CRI_ANNOTATIONS.sandboxUid] = requireText(input.sandboxUid, 'sandboxUid');
  annotations[CRI_ANNOTATIONS.sandboxName] = requireText(input.sandboxName, 'sandboxName');
  annotations[CRI_ANNOTATIONS.containerName] = requireText(input.name, 'name');
  annotations[CRI_ANNOTATIONS.imageName] = requireText(input.imageName, 'imageName');
  const ns = (type: OciNamespace['type'], path: string | undefined): OciNamespace =>
    path === undefined ? { type } : { type, path };
  const namespaces: OciNamespace[] = [
    ns('pid', input.shared?.pid),
    ns('ipc', input.shared?.ipc),
    ns('uts', input.shared?.uts),
    { type: 'mount' },
    networkNamespace(input.netnsPath),
  ];
  return baseSpec(input, namespaces, annotations);
}
