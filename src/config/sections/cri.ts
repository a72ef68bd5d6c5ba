/**
 * `[cri]` section: the CRI server (socket, state directory, metrics listener, queue bounds) and
 * its RuntimeClass handlers (`[cri.handlers.<name>]`). Handler names are configuration, never
 * hard-coded (cri-kata.md §3.7: OpenShift uses other names than kata-deploy).
 */
import {
  asObject,
  configError,
  rejectUnknownKeys,
  takeBool,
  takeInt,
  takeString,
  takeStringArray,
  type ConfigSection,
} from '../schema.js';

/** How a handler runs pods. */
export const HANDLER_KINDS = ['shim', 'passthrough', 'test-noop'] as const;
/** One of HANDLER_KINDS; `test-noop` is the in-process test/bench backend, never a default. */
export type HandlerKind = (typeof HANDLER_KINDS)[number];

/** TEEs a confidential handler can target (`none` for non-confidential handlers). */
export const HANDLER_TEES = ['tdx', 'snp', 'sample', 'none'] as const;
/** One of HANDLER_TEES. */
export type HandlerTee = (typeof HANDLER_TEES)[number];

/** cgroup drivers the RuntimeConfig RPC can report (cri-kata.md Appendix A.2 CgroupDriver). */
export const CGROUP_DRIVERS = ['systemd', 'cgroupfs'] as const;

/** One RuntimeClass handler. */
export interface CriHandlerConfig {
  /** Handler (RuntimeClass) name. */
  readonly name: string;
  /** shim | passthrough | test-noop; default shim. */
  readonly kind: HandlerKind;
  /** Shim command: a binary path, or "builtin:sim" for `cocoon shim sim`; required for kind shim. */
  readonly shim: string;
  /** Kata configuration TOML handed to the shim as runtimeoptions config_path; "" = none. */
  readonly configPath: string;
  /** True for a confidential (TEE) handler; default false. */
  readonly confidential: boolean;
  /** Target TEE; default none. */
  readonly tee: HandlerTee;
  /** True: PullImage resolves metadata only and the guest pulls (cri-kata.md §3.9 option A). */
  readonly guestPull: boolean;
  /** KBS URL substituted into the initdata template; "" = no initdata. */
  readonly kbsUrl: string;
  /** Initdata TOML with `${kbs_url}`, `${tee}` placeholders; "" = built-in template. */
  readonly initdataTemplate: string;
  /** Shim namespace (`-namespace`); default "k8s.io". */
  readonly namespace: string;
}

/** Effective `[cri]` configuration. */
export interface CriConfig {
  /** gRPC listen address; default unix:///run/cocoon/cri.sock. */
  readonly listen: string;
  /** State directory (store, bundles); default /var/lib/cocoon/cri. */
  readonly stateDir: string;
  /** Prometheus listener (host:port or tcp://host:port); "" disables it. */
  readonly metricsListen: string;
  /** Handler used when RunPodSandbox names none; default "runc". */
  readonly defaultRuntimeHandler: string;
  /** CRI endpoint for handlers of kind passthrough (unix:///…); "" = none. */
  readonly passthroughEndpoint: string;
  /** cgroup driver reported by RuntimeConfig; default cgroupfs. */
  readonly cgroupDriver: (typeof CGROUP_DRIVERS)[number];
  /** Heavy operations (create/start/stop/pull) running at once; default 8. */
  readonly maxConcurrentOps: number;
  /** Heavy operations waiting beyond those; more are rejected with ERR_CRI_BUSY; default 1024. */
  readonly maxQueuedOps: number;
  /** Deadline of a detached create in seconds (≥ Kata create_container_timeout); default 600. */
  readonly createTimeoutSeconds: number;
  /** Pod annotations copied into the sandbox OCI spec (globs); default io.katacontainers.*. */
  readonly podAnnotations: readonly string[];
  /** Registries reached over plain HTTP besides loopback; default none. */
  readonly insecureRegistries: readonly string[];
  /** Pod networking: "cni" (netns + CNI, built-in default network) or "host" (none); default cni. */
  readonly network: (typeof NETWORK_MODES)[number];
  /** CNI configuration folder; default /etc/cni/net.d. */
  readonly cniConfDir: string;
  /** CNI plugin folders; default /opt/cni/bin, /usr/libexec/cni, /usr/lib/cni. */
  readonly cniBinDirs: readonly string[];
  /** Handlers by name. */
  readonly handlers: Readonly<Record<string, CriHandlerConfig>>;
}

/** Pod network modes. */
export const NETWORK_MODES = ['cni', 'host'] as const;

/** Default gRPC socket (issue 7). */
export const DEFAULT_CRI_LISTEN = 'unix:///run/cocoon/cri.sock';
/** Default state directory. */
export const DEFAULT_CRI_STATE_DIR = '/var/lib/cocoon/cri';
/** Default metrics listener. */
export const DEFAULT_CRI_METRICS_LISTEN = '127.0.0.1:9464';
/** Default handler for an empty RuntimeClass handler name. */
export const DEFAULT_CRI_RUNTIME_HANDLER = 'runc';
/** Default heavy-operation concurrency. */
export const DEFAULT_CRI_MAX_CONCURRENT_OPS = 8;
/** Default heavy-operation queue length. */
export const DEFAULT_CRI_MAX_QUEUED_OPS = 1024;
/** Default detached create deadline (seconds); Kata's default create_container_timeout is 60 s. */
export const DEFAULT_CRI_CREATE_TIMEOUT_SECONDS = 600;
/** Where kata-deploy installs the Kata shim. */
export const DEFAULT_KATA_SHIM = '/opt/kata/bin/containerd-shim-kata-v2';
/** Debian's runc shim. */
export const DEFAULT_RUNC_SHIM = '/usr/bin/containerd-shim-runc-v2';
/** The built-in simulated guest (`cocoon shim sim`). */
export const BUILTIN_SIM_SHIM = 'builtin:sim';
/** Kata's shipped TEE configurations directory (kata-deploy layout). */
export const KATA_CONFIG_DIR = '/opt/kata/share/defaults/kata-containers';

function handler(name: string, h: Partial<CriHandlerConfig>): CriHandlerConfig {
  return {
    name,
    kind: 'shim',
    shim: '',
    configPath: '',
    confidential: false,
    tee: 'none',
    guestPull: false,
    kbsUrl: '',
    initdataTemplate: '',
    namespace: 'k8s.io',
    ...h,
  };
}

/** The handlers the default configuration ships (issue 7; names from cri-kata.md §3.7). */
export function defaultHandlers(): Record<string, CriHandlerConfig> {
  const kata = (tee: HandlerTee, file: string): Partial<CriHandlerConfig> => ({
    shim: DEFAULT_KATA_SHIM,
    configPath: `${KATA_CONFIG_DIR}/${file}`,
    confidential: true,
    tee,
    guestPull: true,
  });
  const sim = (tee: HandlerTee): Partial<CriHandlerConfig> => ({
    shim: BUILTIN_SIM_SHIM,
    confidential: true,
    tee,
    guestPull: true,
  });
  return {
    'kata-qemu-tdx': handler('kata-qemu-tdx', kata('tdx', 'configuration-qemu-tdx.toml')),
    'kata-qemu-snp': handler('kata-qemu-snp', kata('snp', 'configuration-qemu-snp.toml')),
    'kata-qemu-coco-dev': handler('kata-qemu-coco-dev', kata('sample', 'configuration-qemu-coco-dev.toml')),
    'sim-tdx': handler('sim-tdx', sim('tdx')),
    'sim-snp': handler('sim-snp', sim('snp')),
    runc: handler('runc', { shim: DEFAULT_RUNC_SHIM }),
  };
}

const HANDLER_KEYS = [
  'kind',
  'shim',
  'config_path',
  'confidential',
  'tee',
  'guest_pull',
  'kbs_url',
  'initdata_template',
  'namespace',
] as const;

const HANDLER_NAME = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/;

function oneOf<T extends string>(v: string, allowed: readonly T[], where: string): T {
  if (!(allowed as readonly string[]).includes(v)) {
    throw configError(`${where} must be one of ${allowed.join(', ')}; got "${v}"`);
  }
  return v as T;
}

function validateHandler(name: string, raw: unknown, base: CriHandlerConfig | undefined): CriHandlerConfig {
  const where = `cri.handlers.${name}`;
  if (!HANDLER_NAME.test(name)) throw configError(`${where}: handler name must be a DNS label`);
  const o = asObject(raw, where);
  rejectUnknownKeys(o, [...HANDLER_KEYS, 'name'], where);
  // `name` is optional (the table key names the handler); `config print` writes it back.
  if (o['name'] !== undefined && o['name'] !== name)
    throw configError(`${where}.name must equal the table name "${name}"`);
  const d = base ?? handler(name, {});
  const kind = oneOf(takeString(o, 'kind', where, d.kind), HANDLER_KINDS, `${where}.kind`);
  const h: CriHandlerConfig = {
    name,
    kind,
    shim: takeString(o, 'shim', where, d.shim),
    configPath: takeString(o, 'config_path', where, d.configPath),
    confidential: takeBool(o, 'confidential', where, d.confidential),
    tee: oneOf(takeString(o, 'tee', where, d.tee), HANDLER_TEES, `${where}.tee`),
    guestPull: takeBool(o, 'guest_pull', where, d.guestPull),
    kbsUrl: takeString(o, 'kbs_url', where, d.kbsUrl),
    initdataTemplate: takeString(o, 'initdata_template', where, d.initdataTemplate),
    namespace: takeString(o, 'namespace', where, d.namespace),
  };
  if (h.kind === 'shim' && h.shim === '') throw configError(`${where}.shim is required for kind "shim"`);
  if (h.confidential && h.tee === 'none') throw configError(`${where}: a confidential handler needs tee`);
  if (!h.confidential && h.tee !== 'none')
    throw configError(`${where}: tee set on a non-confidential handler`);
  if (h.namespace === '') throw configError(`${where}.namespace must not be empty`);
  return h;
}

const KEYS = [
  'listen',
  'state_dir',
  'metrics_listen',
  'default_runtime_handler',
  'passthrough_endpoint',
  'cgroup_driver',
  'max_concurrent_ops',
  'max_queued_ops',
  'create_timeout_seconds',
  'pod_annotations',
  'insecure_registries',
  'network',
  'cni_conf_dir',
  'cni_bin_dirs',
  'handlers',
] as const;

function defaults(): CriConfig {
  return {
    listen: DEFAULT_CRI_LISTEN,
    stateDir: DEFAULT_CRI_STATE_DIR,
    metricsListen: DEFAULT_CRI_METRICS_LISTEN,
    defaultRuntimeHandler: DEFAULT_CRI_RUNTIME_HANDLER,
    passthroughEndpoint: '',
    cgroupDriver: 'cgroupfs',
    maxConcurrentOps: DEFAULT_CRI_MAX_CONCURRENT_OPS,
    maxQueuedOps: DEFAULT_CRI_MAX_QUEUED_OPS,
    createTimeoutSeconds: DEFAULT_CRI_CREATE_TIMEOUT_SECONDS,
    podAnnotations: ['io.katacontainers.*'],
    insecureRegistries: [],
    network: 'cni',
    cniConfDir: '/etc/cni/net.d',
    cniBinDirs: ['/opt/cni/bin', '/usr/libexec/cni', '/usr/lib/cni'],
    handlers: defaultHandlers(),
  };
}

/** Validates `[cri]`; handler tables override or extend the shipped handlers key by key. */
export function validateCriConfig(raw: unknown): CriConfig {
  const o = asObject(raw, 'cri');
  rejectUnknownKeys(o, KEYS, 'cri');
  const d = defaults();
  const handlers: Record<string, CriHandlerConfig> = { ...d.handlers };
  for (const [name, h] of Object.entries(asObject(o['handlers'], 'cri.handlers'))) {
    handlers[name] = validateHandler(name, h, d.handlers[name]);
  }
  const cfg: CriConfig = {
    listen: takeString(o, 'listen', 'cri', d.listen),
    stateDir: takeString(o, 'state_dir', 'cri', d.stateDir),
    metricsListen: takeString(o, 'metrics_listen', 'cri', d.metricsListen),
    defaultRuntimeHandler: takeString(o, 'default_runtime_handler', 'cri', d.defaultRuntimeHandler),
    passthroughEndpoint: takeString(o, 'passthrough_endpoint', 'cri', d.passthroughEndpoint),
    cgroupDriver: oneOf(
      takeString(o, 'cgroup_driver', 'cri', d.cgroupDriver),
      CGROUP_DRIVERS,
      'cri.cgroup_driver',
    ),
    maxConcurrentOps: takeInt(o, 'max_concurrent_ops', 'cri', d.maxConcurrentOps, 1, 1024),
    maxQueuedOps: takeInt(o, 'max_queued_ops', 'cri', d.maxQueuedOps, 0, 1 << 20),
    createTimeoutSeconds: takeInt(o, 'create_timeout_seconds', 'cri', d.createTimeoutSeconds, 1, 86400),
    podAnnotations: takeStringArray(o, 'pod_annotations', 'cri', [...d.podAnnotations]),
    insecureRegistries: takeStringArray(o, 'insecure_registries', 'cri', []),
    network: oneOf(takeString(o, 'network', 'cri', d.network), NETWORK_MODES, 'cri.network'),
    cniConfDir: takeString(o, 'cni_conf_dir', 'cri', d.cniConfDir),
    cniBinDirs: takeStringArray(o, 'cni_bin_dirs', 'cri', [...d.cniBinDirs]),
    handlers,
  };
  if (!cfg.listen.startsWith('unix://')) throw configError('cri.listen must be a unix:// address');
  if (cfg.passthroughEndpoint !== '' && !cfg.passthroughEndpoint.startsWith('unix://')) {
    throw configError('cri.passthrough_endpoint must be a unix:// address');
  }
  if (handlers[cfg.defaultRuntimeHandler] === undefined) {
    throw configError(
      `cri.default_runtime_handler "${cfg.defaultRuntimeHandler}" is not a configured handler`,
    );
  }
  for (const h of Object.values(handlers)) {
    if (h.kind === 'passthrough' && cfg.passthroughEndpoint === '') {
      throw configError(`cri.handlers.${h.name} is passthrough but cri.passthrough_endpoint is empty`);
    }
  }
  return cfg;
}

/** The `[cri]` configuration section. */
export const criSection: ConfigSection<CriConfig> = {
  name: 'cri',
  defaults,
  validate: validateCriConfig,
};
