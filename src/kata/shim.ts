/**
 * Launching and cleaning up shim v2 processes (cri-kata.md §4.2): the `start` subcommand (cwd =
 * bundle, stdin at EOF, address on stdout as a plain string or JSON), the `delete` subcommand
 * (marshalled DeleteResponse on stdout), and re-attaching to a running shim after a Cocoon
 * restart from `<bundle>/address` and `<bundle>/shim.pid`.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import { CocoonError, isCocoonError } from '../common/errors.js';
import { decodeMessage, timestampToDate } from './protos.js';
import { TaskClient, type TaskClientOptions } from './task-client.js';
import type { DeleteResult } from './task-types.js';

/** Default deadline of the `start` and `delete` subcommands, in ms. */
export const DEFAULT_SHIM_COMMAND_TIMEOUT_MS = 10_000;

/** How long the stdout/stderr pipes may stay open after the subcommand exited, in ms. */
export const EXIT_PIPE_GRACE_MS = 1000;

/** Largest stdout accepted from `start` / `delete` (an address or a DeleteResponse is tiny). */
export const MAX_SHIM_STDOUT_BYTES = 64 * 1024;

/** Options shared by startShim and deleteShim. */
export interface ShimCommandOptions {
  /** Absolute path of the shim binary (containerd-shim-kata-v2, containerd-shim-runc-v2, …). */
  readonly binary: string;
  /** Task id: the sandbox id for the sandbox, the container id for containers. */
  readonly id: string;
  /** containerd namespace (`-namespace`, required by the runc shim; env-notes.md). */
  readonly namespace: string;
  /** Absolute bundle directory (the command's cwd). */
  readonly bundle: string;
  /**
   * `-address`: the containerd gRPC address; the shim hashes it into its socket name. Use the
   * same value for a sandbox and its containers (one shim per pod, §4.2). Default ''.
   */
  readonly containerdAddress?: string;
  /** `-publish-binary`; default '' (events go to TTRPC_ADDRESS instead). */
  readonly publishBinary?: string;
  /** Extra environment for the shim; default none (PATH is inherited). */
  readonly env?: Readonly<Record<string, string>>;
  /** Deadline in ms; the process is killed by pid after it. Default DEFAULT_SHIM_COMMAND_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** Pass `-debug`; default false. */
  readonly debug?: boolean;
}

/** Options of startShim. */
export interface StartShimOptions extends ShimCommandOptions {
  /** Events endpoint (EventsServer address or path), exported as TTRPC_ADDRESS; omitted ⇒ not set. */
  readonly eventsAddress?: string;
}

/** What `start` reported. */
export interface StartedShim {
  /** The ttrpc address (unix://…). */
  readonly address: string;
  /** The shim daemon's pid from `<bundle>/shim.pid`, when the shim wrote one. */
  readonly pid?: number;
  /** Protocol the address speaks (only ttrpc is supported). */
  readonly protocol: 'ttrpc';
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

function checkCommon(
  o: ShimCommandOptions,
  errCode: 'ERR_KATA_SHIM_START_FAILED' | 'ERR_KATA_SHIM_DELETE_FAILED',
): void {
  const bad = (field: string): never => {
    throw new CocoonError(errCode, `${field} is missing or invalid`, { details: { field } });
  };
  if (typeof o.binary !== 'string' || !isAbsolute(o.binary)) bad('binary');
  if (typeof o.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(o.id)) bad('id');
  if (typeof o.namespace !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,75}$/.test(o.namespace))
    bad('namespace');
  if (typeof o.bundle !== 'string' || !isAbsolute(o.bundle)) bad('bundle');
}

function shimArgs(o: ShimCommandOptions): string[] {
  const args = [
    '-namespace',
    o.namespace,
    '-address',
    o.containerdAddress ?? '',
    '-publish-binary',
    o.publishBinary ?? '',
    '-id',
    o.id,
  ];
  if (o.debug === true) args.push('-debug');
  return args;
}

/** Runs a shim subcommand with a bounded time and bounded stdout; never rejects for exit codes. */
function runShimCommand(
  o: ShimCommandOptions,
  args: string[],
  env: Record<string, string>,
  errCode: 'ERR_KATA_SHIM_START_FAILED' | 'ERR_KATA_SHIM_DELETE_FAILED',
): Promise<RunResult> {
  const timeoutMs = o.timeoutMs ?? DEFAULT_SHIM_COMMAND_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    // stdin 'ignore' is /dev/null: the shim reads options from stdin and sees EOF at once.
    const child = spawn(o.binary, args, {
      cwd: o.bundle,
      env: { ...(process.env as Record<string, string>), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let outLen = 0;
    let err = '';
    let settled = false;
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      finish(() =>
        reject(
          new CocoonError(errCode, `${basename(o.binary)} ${args.at(-1)} timed out after ${timeoutMs} ms`, {
            details: { id: o.id, timeoutMs },
          }),
        ),
      );
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      outLen += c.length;
      if (outLen <= MAX_SHIM_STDOUT_BYTES) out.push(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 8192) err += c.toString('utf8');
    });
    child.on('error', (e) =>
      finish(() =>
        reject(
          new CocoonError(errCode, `cannot run ${o.binary}: ${e.message}`, {
            cause: e,
            details: { id: o.id },
          }),
        ),
      ),
    );
    const done = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (outLen > MAX_SHIM_STDOUT_BYTES) {
        finish(() =>
          reject(new CocoonError(errCode, 'shim printed too much on stdout', { details: { id: o.id } })),
        );
        return;
      }
      finish(() => resolve({ code, signal, stdout: Buffer.concat(out), stderr: err.trim() }));
    };
    // 'close' waits for the pipes to drain. A daemon that inherited them (a shim that forgot
    // to redirect its child's stdio) would hold them open for ever, so after 'exit' the pipes
    // get a short grace and then the output so far counts.
    child.on('close', (code, signal) => done(code, signal));
    child.on('exit', (code, signal) => {
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        done(code, signal);
      }, EXIT_PIPE_GRACE_MS).unref();
    });
  });
}

/**
 * Parses what `start` printed: a plain address, or JSON {version, address, protocol} as newer
 * shims print (CRI-O ParseShimAddress: JSON with version ≥ 2 ⇒ use `address`), §4.2.
 */
export function parseShimAddress(stdout: string): { address: string; protocol: 'ttrpc' } {
  const text = stdout.trim();
  let address = text;
  let protocol = 'ttrpc';
  if (text.startsWith('{')) {
    let j: unknown;
    try {
      j = JSON.parse(text);
    } catch (e) {
      throw new CocoonError('ERR_KATA_ADDRESS_INVALID', 'shim printed malformed JSON', {
        cause: e,
        details: {},
      });
    }
    const o = (j ?? {}) as { version?: unknown; address?: unknown; protocol?: unknown };
    if (typeof o.version !== 'number' || o.version < 2 || typeof o.address !== 'string') {
      throw new CocoonError('ERR_KATA_ADDRESS_INVALID', 'shim JSON lacks version ≥ 2 and address', {
        details: {},
      });
    }
    address = o.address;
    if (o.protocol !== undefined) protocol = String(o.protocol);
  }
  if (protocol !== 'ttrpc') {
    throw new CocoonError('ERR_KATA_ADDRESS_INVALID', `unsupported shim protocol ${protocol}`, {
      details: { protocol },
    });
  }
  if (!address.startsWith('unix://') || address.length <= 'unix://'.length || /\s/.test(address)) {
    throw new CocoonError(
      'ERR_KATA_ADDRESS_INVALID',
      `not a unix:// shim address: ${JSON.stringify(address.slice(0, 200))}`,
      {
        details: {},
      },
    );
  }
  return { address, protocol: 'ttrpc' };
}

/** Reads `<bundle>/shim.pid` (undefined when absent or malformed). */
export function readShimPid(bundle: string): number | undefined {
  try {
    const s = readFileSync(join(bundle, 'shim.pid'), 'utf8').trim();
    const n = Number(s);
    return /^[0-9]+$/.test(s) && Number.isSafeInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Reads `<bundle>/address` (undefined when absent). */
export function readShimAddress(bundle: string): string | undefined {
  try {
    return readFileSync(join(bundle, 'address'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `<shim> -namespace NS -address A -publish-binary P -id ID start` in the bundle and returns
 * the address it printed. For Kata, a container (container-type `container`) gets the sandbox
 * shim's address back: one shim per pod (§4.2).
 */
export async function startShim(o: StartShimOptions): Promise<StartedShim> {
  checkCommon(o, 'ERR_KATA_SHIM_START_FAILED');
  const env: Record<string, string> = { ...o.env, NAMESPACE: o.namespace, MAX_SHIM_VERSION: '2' };
  if (o.eventsAddress !== undefined) env['TTRPC_ADDRESS'] = o.eventsAddress.replace(/^unix:\/\//, '');
  if (o.containerdAddress !== undefined) env['GRPC_ADDRESS'] = o.containerdAddress;
  const r = await runShimCommand(o, [...shimArgs(o), 'start'], env, 'ERR_KATA_SHIM_START_FAILED');
  if (r.code !== 0) {
    throw new CocoonError(
      'ERR_KATA_SHIM_START_FAILED',
      `shim start exited with ${r.code ?? r.signal}: ${r.stderr}`,
      {
        details: { id: o.id, code: r.code, stderr: r.stderr.slice(0, 2000) },
      },
    );
  }
  let parsed: { address: string; protocol: 'ttrpc' };
  try {
    parsed = parseShimAddress(r.stdout.toString('utf8'));
  } catch (e) {
    throw new CocoonError('ERR_KATA_SHIM_START_FAILED', `shim start printed no usable address`, {
      cause: e,
      details: { id: o.id },
    });
  }
  const pid = readShimPid(o.bundle);
  return pid === undefined ? parsed : { ...parsed, pid };
}

/**
 * Runs `<shim> … -id ID -bundle B delete` to clean up after a dead shim and decodes the
 * DeleteResponse it prints (§4.2).
 */
export async function deleteShim(o: ShimCommandOptions): Promise<DeleteResult> {
  checkCommon(o, 'ERR_KATA_SHIM_DELETE_FAILED');
  const env: Record<string, string> = { ...o.env, NAMESPACE: o.namespace };
  const r = await runShimCommand(
    o,
    [...shimArgs(o), '-bundle', o.bundle, 'delete'],
    env,
    'ERR_KATA_SHIM_DELETE_FAILED',
  );
  if (r.code !== 0) {
    throw new CocoonError(
      'ERR_KATA_SHIM_DELETE_FAILED',
      `shim delete exited with ${r.code ?? r.signal}: ${r.stderr}`,
      {
        details: { id: o.id, code: r.code, stderr: r.stderr.slice(0, 2000) },
      },
    );
  }
  let m: Record<string, unknown>;
  try {
    m = decodeMessage('containerd.task.v2.DeleteResponse', r.stdout);
  } catch (e) {
    throw new CocoonError('ERR_KATA_SHIM_DELETE_FAILED', 'shim delete printed no DeleteResponse', {
      cause: e,
      details: { id: o.id },
    });
  }
  const exitedAt = timestampToDate(m['exited_at']);
  return {
    pid: Number(m['pid']),
    exitStatus: Number(m['exit_status']),
    ...(exitedAt === undefined ? {} : { exitedAt }),
  };
}

/** True when a process with `pid` exists (signal 0). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Options of reattachShim. */
export interface ReattachOptions extends Omit<TaskClientOptions, 'namespace'> {
  /** The bundle directory the shim was started in. */
  readonly bundle: string;
  /** containerd namespace the shim was started with. */
  readonly namespace: string;
  /** Task id to Connect with; default the bundle directory's name. */
  readonly id?: string;
  /** Logger; default silent. */
  readonly logger?: Logger;
  /**
   * When set, a dead shim is cleaned up at once with deleteShim (this binary, same namespace,
   * id and bundle); a failing cleanup is logged, the result stays 'dead'. Omitted ⇒ no cleanup.
   */
  readonly cleanup?: Pick<ShimCommandOptions, 'binary' | 'containerdAddress' | 'timeoutMs'>;
}

/**
 * Re-attaches to a shim after a Cocoon restart: reads `<bundle>/address` (and `shim.pid`),
 * dials, and calls Connect. Returns 'dead' when the address is missing, the pid is gone, or the
 * shim does not answer; with `cleanup` set it then runs deleteShim itself.
 */
export async function reattachShim(o: ReattachOptions): Promise<TaskClient | 'dead'> {
  const r = await reattachOnce(o);
  if (r !== 'dead' || o.cleanup === undefined) return r;
  const id = o.id ?? basename(o.bundle);
  try {
    await deleteShim({ ...o.cleanup, id, namespace: o.namespace, bundle: o.bundle });
  } catch (e) {
    (o.logger ?? silentLogger).warn(
      { bundle: o.bundle, err: (e as Error).message },
      'dead shim cleanup failed',
    );
  }
  return 'dead';
}

async function reattachOnce(o: ReattachOptions): Promise<TaskClient | 'dead'> {
  const logger = o.logger ?? silentLogger;
  const address = readShimAddress(o.bundle);
  if (address === undefined) return 'dead';
  const pid = readShimPid(o.bundle);
  if (pid !== undefined && !processAlive(pid)) return 'dead';
  let client: TaskClient;
  try {
    client = await TaskClient.connect(address, { ...o, logger });
  } catch (e) {
    if (isCocoonError(e) && e.code === 'ERR_KATA_ADDRESS_INVALID') throw e;
    logger.info({ bundle: o.bundle, err: (e as Error).message }, 'shim unreachable on re-attach');
    return 'dead';
  }
  try {
    await client.connect(o.id ?? basename(o.bundle));
    return client;
  } catch (e) {
    // The shim answers but no longer knows the task: it is alive, the caller reconciles state.
    if (isCocoonError(e) && e.code === 'ERR_KATA_NOT_FOUND') return client;
    await client.close().catch(() => undefined);
    if (isCocoonError(e) && (e.code === 'ERR_KATA_SHIM_DEAD' || e.code === 'ERR_KATA_SHIM_TIMEOUT'))
      return 'dead';
    throw e;
  }
}
