/**
 * How the simulated guest runs containers: runc in the foreground (`runc run`), one child process
 * per container or exec, so the exit status is the child's own (runc returns the container's exit
 * code, or 128+signal). Stdout and stderr are piped to the caller; state lives under a private
 * runc root of the guest. Every runc invocation other than the long-running `run`/`exec` is
 * bounded by a timeout.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CocoonError, messageOf } from '../../common/errors.js';

const execFileP = promisify(execFile);

/** Options shared by every runc call. */
export interface RuncOptions {
  /** runc binary; default "runc" from PATH. */
  readonly binary?: string;
  /** runc state root (`--root`), private to one simulated guest. */
  readonly root: string;
  /** Timeout of short runc commands (kill, delete, ps, events); default 10 s. */
  readonly timeoutMs?: number;
}

/** A running container or exec process. */
export interface RuncProcess {
  readonly child: ChildProcess;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves with the exit status once the process has ended (128+signal when signalled). */
  readonly exited: Promise<number>;
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n =
    signal === null
      ? 0
      : (({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGHUP: 1 } as Record<string, number>)[signal] ?? 1);
  return 128 + n;
}

function track(child: ChildProcess): RuncProcess {
  const exited = new Promise<number>((resolve) => {
    child.once('error', () => resolve(255));
    child.once('exit', (code, signal) => resolve(exitStatus(code, signal)));
  });
  return { child, stdout: child.stdout!, stderr: child.stderr!, exited };
}

/** `runc run --bundle B ID` in the foreground. */
export function runcRun(opts: RuncOptions, id: string, bundle: string): RuncProcess {
  const child = spawn(opts.binary ?? 'runc', ['--root', opts.root, 'run', '--bundle', bundle, id], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(child);
}

/** `runc exec --process P ID` in the foreground, with the OCI Process written to a file. */
export async function runcExec(
  opts: RuncOptions,
  id: string,
  process: object,
  dir: string,
  execId: string,
): Promise<RuncProcess> {
  const p = join(dir, `exec-${execId}.json`);
  await writeFile(p, JSON.stringify(process));
  const child = spawn(opts.binary ?? 'runc', ['--root', opts.root, 'exec', '--process', p, id], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(child);
}

async function short(opts: RuncOptions, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileP(opts.binary ?? 'runc', ['--root', opts.root, ...args], {
      timeout: opts.timeoutMs ?? 10_000,
      maxBuffer: 4 << 20,
    });
    return stdout;
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? '';
    if (/does not exist|not found|container .* is not running|not running/i.test(stderr)) {
      throw new CocoonError('ERR_KATA_SIM_NOT_FOUND', `runc ${args[0]}: ${stderr.trim()}`, { cause: e });
    }
    throw new CocoonError('ERR_KATA_SIM_RUNC', `runc ${args[0]} failed: ${stderr.trim() || messageOf(e)}`, {
      cause: e,
    });
  }
}

/** `runc kill ID SIGNAL` (with --all when asked). */
export async function runcKill(opts: RuncOptions, id: string, signal: number, all = false): Promise<void> {
  await short(opts, ['kill', ...(all ? ['--all'] : []), id, String(signal)]);
}

/** `runc delete --force ID`; a missing container is not an error (delete is idempotent). */
export async function runcDelete(opts: RuncOptions, id: string): Promise<void> {
  try {
    await short(opts, ['delete', '--force', id]);
  } catch (e) {
    if (!(e instanceof CocoonError && e.code === 'ERR_KATA_SIM_NOT_FOUND')) throw e;
  }
}

/** `runc ps --format json ID`: host PIDs of the container's processes. */
export async function runcPids(opts: RuncOptions, id: string): Promise<number[]> {
  const out = await short(opts, ['ps', '--format', 'json', id]);
  const v = JSON.parse(out.trim() || '[]') as unknown;
  return Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : [];
}

/** `runc events --stats ID`: cgroup statistics as runc reports them. */
export async function runcStats(opts: RuncOptions, id: string): Promise<Record<string, unknown>> {
  const out = await short(opts, ['events', '--stats', id]);
  const v = JSON.parse(out) as { data?: Record<string, unknown> };
  return v.data ?? {};
}
