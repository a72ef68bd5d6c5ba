/**
 * Pod networking for the CRI server: one network namespace per pod, CNI ADD/CHECK/DEL with the
 * real plugins, and a built-in default network (bridge + host-local + loopback) when no CNI
 * configuration exists, as CRI-O ships one. See docs/networking.md.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CocoonError, messageOf } from '../../common/errors.js';
import {
  DEFAULT_CNI_BIN_DIRS,
  DEFAULT_CNI_CONF_DIR,
  DEFAULT_PLUGIN_TIMEOUT_MS,
  BUILTIN_NETWORK_NAME,
  addNetworkList,
  builtinNetwork,
  checkNetworkList,
  delNetworkList,
  findPlugin,
  loadNetwork,
  loopbackNetwork,
  resultIps,
  type BuiltinNetworkOptions,
  type ChainInvocation,
  type CniInterface,
  type CniResult,
  type NetworkConfList,
} from './cni.js';
import { DEFAULT_NETNS_DIR, createNetns, deleteNetns, isNetnsMounted, type NetnsTools } from './netns.js';

export * from './cni.js';
export { DEFAULT_NETNS_DIR, createNetns, deleteNetns, isNetnsMounted, type NetnsTools } from './netns.js';

/** Where ADD results are cached for CHECK/DEL (libcni keeps them under /var/lib/cni too). */
export const DEFAULT_CNI_CACHE_DIR = '/var/lib/cni/cocoon';
/** Interface name inside the pod. */
export const DEFAULT_POD_IFNAME = 'eth0';

/** Which pod a network belongs to and where things live; every path has a default. */
export interface PodNetworkOptions {
  /** Pod sandbox ID (CNI_CONTAINERID): letters, digits, `_`, `.`, `-`. */
  readonly podId: string;
  /** Pod name (K8S_POD_NAME). */
  readonly name: string;
  /** Pod namespace (K8S_POD_NAMESPACE). */
  readonly namespace: string;
  /** Pod UID (K8S_POD_UID). Default: not passed. */
  readonly uid?: string;
  /** Folder of pod namespace files. Default DEFAULT_NETNS_DIR. */
  readonly netnsDir?: string;
  /** CNI configuration folder. Default DEFAULT_CNI_CONF_DIR. */
  readonly cniConfDir?: string;
  /** Plugin folders. Default DEFAULT_CNI_BIN_DIRS. */
  readonly cniBinDirs?: readonly string[];
  /** Network name to pick from the conf folder. Default: the first file (libcni order). */
  readonly defaultNetwork?: string;
  /** Settings of the built-in network used when the conf folder is empty. */
  readonly builtin?: BuiltinNetworkOptions;
  /** ADD-result cache folder. Default DEFAULT_CNI_CACHE_DIR. */
  readonly cacheDir?: string;
  /** Interface name in the pod. Default DEFAULT_POD_IFNAME. */
  readonly ifName?: string;
  /** Bound on each plugin call (ms). Default DEFAULT_PLUGIN_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** unshare/umount binaries. */
  readonly tools?: NetnsTools;
}

/** A pod's network as PodSandboxStatus needs it. */
export interface PodNetwork {
  /** Path of the pod's network namespace (for the OCI spec's `linux.namespaces`). */
  readonly netnsPath: string;
  /** Primary pod IP (IPv4 first), or undefined when the network gave none. */
  readonly ip: string | undefined;
  /** Every pod IP (PodSandboxNetworkStatus.additional_ips are ips[1..]). */
  readonly ips: readonly string[];
  /** Interfaces from the CNI result. */
  readonly interfaces: readonly CniInterface[];
  /** The final CNI result. */
  readonly result: CniResult;
  /** Network name used. */
  readonly network: string;
  /** The configuration file used, or `builtin`. */
  readonly source: string;
}

/** What is cached per pod so DEL and CHECK use exactly what ADD used. */
interface CacheEntry {
  readonly podId: string;
  readonly netnsPath: string;
  readonly ifName: string;
  readonly conf: NetworkConfList;
  readonly source: string;
  readonly result: CniResult;
}

const POD_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
// CNI_ARGS values are `;`/`=`-separated: Kubernetes names never contain them, but check.
const ARG_VALUE = /^[A-Za-z0-9_.:-]{0,253}$/;

function validate(o: PodNetworkOptions): void {
  if (typeof o.podId !== 'string' || !POD_ID.test(o.podId)) {
    throw new CocoonError(
      'ERR_CNI_INVALID_ARGUMENT',
      'podId must be letters, digits, _ . - (CNI container ID)',
      { details: { field: 'podId' } },
    );
  }
  for (const [field, v] of [
    ['name', o.name],
    ['namespace', o.namespace],
    ['uid', o.uid ?? ''],
  ] as const) {
    if (typeof v !== 'string' || !ARG_VALUE.test(v)) {
      throw new CocoonError('ERR_CNI_INVALID_ARGUMENT', `${field} is not a valid Kubernetes name`, {
        details: { field },
      });
    }
  }
  if (o.ifName !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(o.ifName)) {
    throw new CocoonError('ERR_CNI_INVALID_ARGUMENT', 'ifName must be 1-15 characters', {
      details: { field: 'ifName' },
    });
  }
}

/** Path of a pod's namespace file. */
export function podNetnsPath(podId: string, netnsDir: string = DEFAULT_NETNS_DIR): string {
  return join(netnsDir, `cocoon-${podId}`);
}

function cachePath(o: Pick<PodNetworkOptions, 'podId' | 'cacheDir'>): string {
  return join(o.cacheDir ?? DEFAULT_CNI_CACHE_DIR, `${o.podId}.json`);
}

async function readCache(o: Pick<PodNetworkOptions, 'podId' | 'cacheDir'>): Promise<CacheEntry | undefined> {
  try {
    return JSON.parse(await readFile(cachePath(o), 'utf8')) as CacheEntry;
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new CocoonError(
      'ERR_CNI_RESULT_INVALID',
      `CNI result cache of pod ${o.podId} is unreadable: ${messageOf(e)}`,
      { cause: e },
    );
  }
}

async function writeCache(o: PodNetworkOptions, entry: CacheEntry): Promise<void> {
  const dir = o.cacheDir ?? DEFAULT_CNI_CACHE_DIR;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${o.podId}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(tmp, JSON.stringify(entry), { mode: 0o600 });
  await rename(tmp, cachePath(o));
}

function invocation(o: PodNetworkOptions, netnsPath: string, ifName: string): ChainInvocation {
  return {
    containerId: o.podId,
    netns: netnsPath,
    ifName,
    args: {
      IgnoreUnknown: '1',
      K8S_POD_NAMESPACE: o.namespace,
      K8S_POD_NAME: o.name,
      K8S_POD_INFRA_CONTAINER_ID: o.podId,
      ...(o.uid !== undefined && o.uid !== '' ? { K8S_POD_UID: o.uid } : {}),
    },
    binDirs: o.cniBinDirs ?? DEFAULT_CNI_BIN_DIRS,
    timeoutMs: o.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS,
  };
}

function toPodNetwork(entry: CacheEntry): PodNetwork {
  const ips = resultIps(entry.result);
  return {
    netnsPath: entry.netnsPath,
    ip: ips[0],
    ips,
    interfaces: entry.result.interfaces ?? [],
    result: entry.result,
    network: entry.conf.name,
    source: entry.source,
  };
}

/**
 * The network a pod would get: the configured one, else the built-in default. Naming the
 * built-in network (`cocoon`) as `defaultNetwork` selects it when no file defines that name.
 */
export async function selectNetwork(
  o: Pick<PodNetworkOptions, 'cniConfDir' | 'defaultNetwork' | 'builtin'>,
): Promise<{ conf: NetworkConfList; source: string }> {
  let loaded;
  try {
    loaded = await loadNetwork(o.cniConfDir ?? DEFAULT_CNI_CONF_DIR, o.defaultNetwork);
  } catch (e) {
    if (!(
      e instanceof CocoonError &&
      e.code === 'ERR_CNI_NETWORK_NOT_FOUND' &&
      o.defaultNetwork === BUILTIN_NETWORK_NAME
    )) {
      throw e;
    }
  }
  return loaded ?? { conf: builtinNetwork(o.builtin), source: 'builtin' };
}

/** Readiness of pod networking, shaped for CRI `Status` (condition NetworkReady). */
export interface NetworkReadiness {
  /** True when the selected network's plugins (and loopback) are all installed. */
  readonly ready: boolean;
  /** CRI condition reason when not ready (`NetworkPluginNotReady`, as containerd says). */
  readonly reason: string;
  /** Human-readable detail. */
  readonly message: string;
  /** Network that would be used, if one could be selected. */
  readonly network?: string;
  /** Its configuration file or `builtin`. */
  readonly source?: string;
  /** Plugin types not found in the plugin folders. */
  readonly missingPlugins: readonly string[];
}

/**
 * Checks that pod networking can work right now: a network can be selected and every plugin
 * it names (plus `loopback`, and IPAM plugins) is an executable in a plugin folder. Runs no plugin.
 */
export async function checkNetworkReady(
  o: Pick<PodNetworkOptions, 'cniConfDir' | 'defaultNetwork' | 'builtin' | 'cniBinDirs'> = {},
): Promise<NetworkReadiness> {
  let selected: { conf: NetworkConfList; source: string };
  try {
    selected = await selectNetwork(o);
  } catch (e) {
    return { ready: false, reason: 'NetworkPluginNotReady', message: messageOf(e), missingPlugins: [] };
  }
  const types = new Set<string>(['loopback']);
  for (const p of selected.conf.plugins) {
    types.add(p.type);
    const ipam = p['ipam'];
    if (typeof ipam === 'object' && ipam !== null && typeof (ipam as { type?: unknown }).type === 'string') {
      types.add((ipam as { type: string }).type);
    }
  }
  const missing: string[] = [];
  for (const t of types) {
    try {
      await findPlugin(t, o.cniBinDirs ?? DEFAULT_CNI_BIN_DIRS);
    } catch {
      missing.push(t);
    }
  }
  const base = { network: selected.conf.name, source: selected.source, missingPlugins: missing };
  return missing.length === 0
    ? { ready: true, reason: '', message: '', ...base }
    : {
        ready: false,
        reason: 'NetworkPluginNotReady',
        message: `CNI plugins not installed: ${missing.join(', ')}`,
        ...base,
      };
}

/**
 * Creates the pod's network namespace and runs CNI ADD (loopback on `lo`, then the network on
 * `eth0`). Idempotent for a retried RunPodSandbox: when the pod already has a cached result and
 * its namespace, that network is returned as is. On failure everything made is undone.
 */
export async function createPodNetwork(o: PodNetworkOptions): Promise<PodNetwork> {
  validate(o);
  const netnsPath = podNetnsPath(o.podId, o.netnsDir);
  const cached = await readCache(o);
  if (cached !== undefined && (await isNetnsMounted(cached.netnsPath))) return toPodNetwork(cached);
  const { conf, source } = await selectNetwork(o);
  const ifName = o.ifName ?? DEFAULT_POD_IFNAME;
  await createNetns(netnsPath, o.tools);
  const inv = invocation(o, netnsPath, ifName);
  let added = false;
  try {
    await addNetworkList(loopbackNetwork(), { ...inv, ifName: 'lo' });
    added = true;
    const result = await addNetworkList(conf, inv);
    const entry: CacheEntry = { podId: o.podId, netnsPath, ifName, conf, source, result };
    await writeCache(o, entry);
    return toPodNetwork(entry);
  } catch (e) {
    // Undo: DEL is required to tolerate partial ADDs (SPEC.md §DEL).
    if (added) await delNetworkList(conf, undefined, inv).catch(() => undefined);
    await deleteNetns(netnsPath, o.tools).catch(() => undefined);
    throw e;
  }
}

/** Runs CNI CHECK for a pod's network (throws the plugin's typed error when it is broken). */
export async function checkPodNetwork(o: PodNetworkOptions): Promise<PodNetwork> {
  validate(o);
  const cached = await readCache(o);
  if (cached === undefined) {
    throw new CocoonError('ERR_CNI_NETWORK_NOT_FOUND', `pod ${o.podId} has no network`, {
      details: { podId: o.podId },
    });
  }
  await checkNetworkList(cached.conf, cached.result, invocation(o, cached.netnsPath, cached.ifName));
  return toPodNetwork(cached);
}

/** The cached network of a pod, or undefined (PodSandboxStatus after a restart). */
export async function podNetworkStatus(
  o: Pick<PodNetworkOptions, 'podId' | 'cacheDir'>,
): Promise<PodNetwork | undefined> {
  const cached = await readCache(o);
  return cached === undefined ? undefined : toPodNetwork(cached);
}

/**
 * Runs CNI DEL (network in reverse, then loopback) with the configuration ADD used, then
 * deletes the namespace and the cache entry. Idempotent: a pod without a network is a no-op.
 * When a plugin fails, the namespace and cache are kept so a retry can finish the job.
 */
export async function teardownPodNetwork(o: PodNetworkOptions): Promise<void> {
  validate(o);
  const netnsPath = podNetnsPath(o.podId, o.netnsDir);
  const cached = await readCache(o);
  const mounted = await isNetnsMounted(cached?.netnsPath ?? netnsPath);
  if (cached === undefined && !mounted) return;
  const conf = cached?.conf ?? (await selectNetwork(o)).conf;
  const path = cached?.netnsPath ?? netnsPath;
  // SPEC.md: DEL with a namespace that is gone passes an empty CNI_NETNS.
  const inv = invocation(o, mounted ? path : '', cached?.ifName ?? o.ifName ?? DEFAULT_POD_IFNAME);
  await delNetworkList(conf, cached?.result, inv);
  if (mounted) await delNetworkList(loopbackNetwork(), undefined, { ...inv, ifName: 'lo' });
  await deleteNetns(path, o.tools);
  await rm(cachePath(o), { force: true });
}
