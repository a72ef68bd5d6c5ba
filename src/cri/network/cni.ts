/**
 * A CNI runtime (containernetworking/cni SPEC.md): loads network configurations, runs plugin
 * binaries with the CNI environment and the configuration on stdin, chains `prevResult`
 * through a conflist, and turns plugin failures into typed errors carrying the plugin's error
 * JSON (`{code, msg, details}`).
 */
import { spawn } from 'node:child_process';
import { access, constants, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CocoonError, messageOf } from '../../common/errors.js';

/** Folders searched for plugin binaries, in order (upstream default, then Debian's). */
export const DEFAULT_CNI_BIN_DIRS: readonly string[] = ['/opt/cni/bin', '/usr/libexec/cni', '/usr/lib/cni'];
/** Folder of network configuration files. */
export const DEFAULT_CNI_CONF_DIR = '/etc/cni/net.d';
/** Bound on one plugin invocation. */
export const DEFAULT_PLUGIN_TIMEOUT_MS = 60_000;
/** Largest plugin output read. */
const MAX_PLUGIN_OUTPUT = 1024 * 1024;
/** CNI version the built-in network speaks (plugins 1.1.1 support up to 1.0.0). */
export const BUILTIN_CNI_VERSION = '1.0.0';
/** Name of the built-in default network. */
export const BUILTIN_NETWORK_NAME = 'cocoon';
/** Bridge of the built-in network. */
export const BUILTIN_BRIDGE = 'cocoon0';
/** Private range of the built-in network (RFC 1918; distinct from CRI-O's 10.85/16 and podman's 10.88/16). */
export const BUILTIN_SUBNET = '10.89.0.0/16';
/** Environment PATH handed to plugins when the process has none (bridge's ipMasq runs iptables). */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** One plugin's configuration inside a list. */
export interface PluginConf {
  readonly type: string;
  readonly [key: string]: unknown;
}

/** A network configuration list (SPEC.md §Configuration format). */
export interface NetworkConfList {
  readonly cniVersion: string;
  readonly name: string;
  readonly disableCheck?: boolean;
  readonly plugins: readonly PluginConf[];
}

/** A loaded network and where it came from. */
export interface LoadedNetwork {
  readonly conf: NetworkConfList;
  /** The file it was read from, or `builtin`. */
  readonly source: string;
}

/** An interface in a CNI result. */
export interface CniInterface {
  readonly name: string;
  readonly mac?: string;
  readonly sandbox?: string;
}

/** An IP configuration in a CNI result. */
export interface CniIpConfig {
  /** CIDR form, e.g. 10.89.0.2/16. */
  readonly address: string;
  readonly gateway?: string;
  readonly interface?: number;
}

/** A CNI ADD result (SPEC.md §Success, version 1.0.0 shape). */
export interface CniResult {
  readonly cniVersion: string;
  readonly interfaces?: readonly CniInterface[];
  readonly ips?: readonly CniIpConfig[];
  readonly routes?: readonly { dst: string; gw?: string }[];
  readonly dns?: Readonly<Record<string, unknown>>;
  readonly [key: string]: unknown;
}

/** Options of the built-in default network. */
export interface BuiltinNetworkOptions {
  /** Subnet for host-local. Default BUILTIN_SUBNET. */
  readonly subnet?: string;
  /** Bridge name. Default BUILTIN_BRIDGE. */
  readonly bridge?: string;
  /** host-local state folder. Default: the plugin's own (/var/lib/cni/networks). */
  readonly ipamDataDir?: string;
  /** Masquerade traffic leaving the subnet (needs iptables). Default true, as CRI-O ships. */
  readonly ipMasq?: boolean;
}

/** The built-in network: bridge + host-local on a private range (loopback is run separately). */
export function builtinNetwork(options: BuiltinNetworkOptions = {}): NetworkConfList {
  return {
    cniVersion: BUILTIN_CNI_VERSION,
    name: BUILTIN_NETWORK_NAME,
    plugins: [
      {
        type: 'bridge',
        bridge: options.bridge ?? BUILTIN_BRIDGE,
        isGateway: true,
        ipMasq: options.ipMasq ?? true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          routes: [{ dst: '0.0.0.0/0' }],
          ranges: [[{ subnet: options.subnet ?? BUILTIN_SUBNET }]],
          ...(options.ipamDataDir !== undefined ? { dataDir: options.ipamDataDir } : {}),
        },
      },
    ],
  };
}

/** The loopback network every pod gets on `lo` (as ocicni runs it). */
export function loopbackNetwork(): NetworkConfList {
  return { cniVersion: BUILTIN_CNI_VERSION, name: 'cni-loopback', plugins: [{ type: 'loopback' }] };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function configInvalid(file: string, why: string): CocoonError {
  return new CocoonError('ERR_CNI_CONFIG_INVALID', `CNI config ${file}: ${why}`, {
    details: { file, reason: why },
  });
}

/** Parses a `.conflist` or a single-plugin `.conf`/`.json` into a configuration list. */
export function parseNetworkConfig(text: string, file: string): NetworkConfList {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw configInvalid(file, `not JSON: ${messageOf(e)}`);
  }
  if (!isObject(j)) throw configInvalid(file, 'not an object');
  if (typeof j['name'] !== 'string' || j['name'] === '') throw configInvalid(file, 'name is required');
  const cniVersion = typeof j['cniVersion'] === 'string' ? j['cniVersion'] : '0.2.0';
  if (file.endsWith('.conflist') || Array.isArray(j['plugins'])) {
    const plugins = j['plugins'];
    if (!Array.isArray(plugins) || plugins.length === 0)
      throw configInvalid(file, 'plugins must be a non-empty array');
    for (const p of plugins)
      if (!isObject(p) || typeof p['type'] !== 'string' || p['type'] === '')
        throw configInvalid(file, 'every plugin needs a type');
    return {
      cniVersion,
      name: j['name'],
      ...(j['disableCheck'] === true ? { disableCheck: true } : {}),
      plugins: plugins as PluginConf[],
    };
  }
  if (typeof j['type'] !== 'string' || j['type'] === '') throw configInvalid(file, 'type is required');
  const { name, cniVersion: _v, ...plugin } = j;
  return { cniVersion, name: name as string, plugins: [plugin as PluginConf] };
}

/**
 * Loads the network to use from `confDir` (libcni order: `.conf`, `.conflist`, `.json` files
 * sorted by name; the first valid one, or the one named `wanted`). Invalid files are skipped
 * unless named. Returns undefined when the folder holds no usable configuration.
 */
export async function loadNetwork(confDir: string, wanted?: string): Promise<LoadedNetwork | undefined> {
  let names: string[];
  try {
    names = (await readdir(confDir)).filter((n) => /\.(conf|conflist|json)$/.test(n)).sort();
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') names = [];
    else
      throw new CocoonError('ERR_CNI_CONFIG_INVALID', `CNI config folder ${confDir}: ${messageOf(e)}`, {
        cause: e,
      });
  }
  const errors: CocoonError[] = [];
  for (const n of names) {
    const file = join(confDir, n);
    let conf: NetworkConfList;
    try {
      conf = parseNetworkConfig(await readFile(file, 'utf8'), file);
    } catch (e) {
      if (e instanceof CocoonError) errors.push(e);
      continue;
    }
    if (wanted === undefined || conf.name === wanted) return { conf, source: file };
  }
  if (wanted !== undefined) {
    throw new CocoonError(
      'ERR_CNI_NETWORK_NOT_FOUND',
      `CNI network ${wanted} is not configured in ${confDir}`,
      {
        details: { network: wanted, confDir, invalidFiles: errors.map((e) => e.details['file']) },
      },
    );
  }
  return undefined;
}

/** Finds a plugin binary; throws ERR_CNI_PLUGIN_NOT_FOUND. */
export async function findPlugin(type: string, binDirs: readonly string[]): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(type)) {
    throw new CocoonError(
      'ERR_CNI_CONFIG_INVALID',
      `plugin type ${JSON.stringify(type)} is not a file name`,
      { details: { type } },
    );
  }
  for (const d of binDirs) {
    const p = join(d, type);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // try the next folder
    }
  }
  throw new CocoonError('ERR_CNI_PLUGIN_NOT_FOUND', `CNI plugin ${type} not found in ${binDirs.join(':')}`, {
    details: { type, binDirs: [...binDirs] },
  });
}

/** What one plugin invocation needs. */
export interface PluginInvocation {
  readonly command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION';
  readonly containerId: string;
  /** Path of the network namespace (may be empty for DEL when it is gone). */
  readonly netns: string;
  readonly ifName: string;
  /** `CNI_ARGS` key/value pairs. */
  readonly args: Readonly<Record<string, string>>;
  readonly binDirs: readonly string[];
  readonly timeoutMs: number;
}

/**
 * Runs one plugin with the CNI environment and `config` on stdin; returns its parsed stdout
 * (undefined when empty). A non-zero exit → ERR_CNI_PLUGIN_FAILED with the plugin's error
 * JSON in details; over time → the plugin is killed and ERR_CNI_PLUGIN_TIMEOUT.
 */
export async function execPlugin(config: Record<string, unknown>, inv: PluginInvocation): Promise<unknown> {
  const type = String(config['type']);
  const bin = await findPlugin(type, inv.binDirs);
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? DEFAULT_PATH,
    CNI_COMMAND: inv.command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifName,
    CNI_ARGS: Object.entries(inv.args)
      .map(([k, v]) => `${k}=${v}`)
      .join(';'),
    CNI_PATH: inv.binDirs.join(':'),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, inv.timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      outLen += c.length;
      if (outLen <= MAX_PLUGIN_OUTPUT) out.push(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      if (err.reduce((n, b) => n + b.length, 0) < 64 * 1024) err.push(c);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(
        new CocoonError('ERR_CNI_PLUGIN_FAILED', `CNI plugin ${type} could not start: ${e.message}`, {
          cause: e,
          details: { plugin: type },
        }),
      );
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(config));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8').trim();
      const stderr = Buffer.concat(err).toString('utf8').trim();
      if (timedOut) {
        reject(
          new CocoonError(
            'ERR_CNI_PLUGIN_TIMEOUT',
            `CNI plugin ${type} ${inv.command} did not finish within ${inv.timeoutMs} ms`,
            {
              details: { plugin: type, command: inv.command, timeoutMs: inv.timeoutMs },
            },
          ),
        );
        return;
      }
      if (code !== 0) {
        let pluginError: Record<string, unknown> = {};
        try {
          const j = JSON.parse(stdout) as unknown;
          if (isObject(j)) pluginError = j;
        } catch {
          // not JSON: report stdout/stderr text
        }
        const msg =
          typeof pluginError['msg'] === 'string'
            ? pluginError['msg']
            : stderr || stdout || `exit ${code ?? signal}`;
        reject(
          new CocoonError('ERR_CNI_PLUGIN_FAILED', `CNI plugin ${type} ${inv.command} failed: ${msg}`, {
            details: {
              plugin: type,
              command: inv.command,
              exitCode: code,
              ...(pluginError['code'] !== undefined ? { cniCode: pluginError['code'] } : {}),
              ...(pluginError['msg'] !== undefined ? { msg: pluginError['msg'] } : {}),
              ...(pluginError['details'] !== undefined ? { cniDetails: pluginError['details'] } : {}),
              ...(stderr !== '' ? { stderr: stderr.slice(0, 4096) } : {}),
            },
          }),
        );
        return;
      }
      if (stdout === '') {
        resolve(undefined);
        return;
      }
      try {
        resolve(JSON.parse(stdout));
      } catch (e) {
        reject(
          new CocoonError('ERR_CNI_RESULT_INVALID', `CNI plugin ${type} printed invalid JSON`, {
            cause: e,
            details: { plugin: type },
          }),
        );
      }
    });
  });
}

function pluginConfig(
  list: NetworkConfList,
  plugin: PluginConf,
  prevResult: unknown,
): Record<string, unknown> {
  return {
    ...plugin,
    cniVersion: list.cniVersion,
    name: list.name,
    ...(prevResult !== undefined ? { prevResult } : {}),
  };
}

/** Options for running a configuration list. */
export type ChainInvocation = Omit<PluginInvocation, 'command'>;

/** ADD through the list in order, each plugin getting the previous result; returns the last. */
export async function addNetworkList(list: NetworkConfList, inv: ChainInvocation): Promise<CniResult> {
  let prev: unknown;
  for (const p of list.plugins) {
    const out = await execPlugin(pluginConfig(list, p, prev), { ...inv, command: 'ADD' });
    if (!isObject(out))
      throw new CocoonError('ERR_CNI_RESULT_INVALID', `CNI plugin ${p.type} ADD printed no result`, {
        details: { plugin: p.type },
      });
    prev = out;
  }
  return prev as CniResult;
}

/** CHECK through the list with the cached result (CNI ≥ 0.4.0; skipped when disableCheck). */
export async function checkNetworkList(
  list: NetworkConfList,
  cached: CniResult,
  inv: ChainInvocation,
): Promise<void> {
  if (list.disableCheck === true) return;
  const [major, minor] = list.cniVersion.split('.').map(Number);
  if ((major ?? 0) === 0 && (minor ?? 0) < 4) return;
  for (const p of list.plugins) await execPlugin(pluginConfig(list, p, cached), { ...inv, command: 'CHECK' });
}

/** DEL through the list in reverse order with the cached result (if any). */
export async function delNetworkList(
  list: NetworkConfList,
  cached: CniResult | undefined,
  inv: ChainInvocation,
): Promise<void> {
  for (const p of [...list.plugins].reverse())
    await execPlugin(pluginConfig(list, p, cached), { ...inv, command: 'DEL' });
}

/** The pod IPs of a result, IPv4 first, without prefix length (CNI 0.3+ `ips`, 0.2 `ip4`/`ip6`). */
export function resultIps(result: CniResult): string[] {
  const out: string[] = [];
  if (Array.isArray(result.ips)) {
    for (const ip of result.ips) if (typeof ip?.address === 'string') out.push(ip.address.split('/')[0]!);
  }
  for (const k of ['ip4', 'ip6']) {
    const v = result[k];
    if (isObject(v) && typeof v['ip'] === 'string') out.push(v['ip'].split('/')[0]!);
  }
  return [...out.filter((a) => !a.includes(':')), ...out.filter((a) => a.includes(':'))];
}
