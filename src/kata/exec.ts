/**
 * ExecSync through a shim (cri-kata.md §4.4): Exec with stdout/stderr FIFOs, Start, Wait with a
 * deadline, Delete, and the output collected in memory up to a bound. The CRI server answers
 * ExecSync from this.
 */
import { rmSync } from 'node:fs';
import { CocoonError, isCocoonError } from '../common/errors.js';
import { openFifoReader, type FifoReader } from './fifo.js';
import type { OciProcess } from './oci-spec.types.js';
import { createStdioFifos } from './stdio.js';
import type { TaskClient } from './task-client.js';

/** Default cap on collected output per stream (CRI-O caps ExecSync output at 16 MiB). */
export const DEFAULT_EXEC_MAX_OUTPUT_BYTES = 16 << 20;

/** How long to wait for the output streams to drain after the process exited, in ms. */
export const EXEC_DRAIN_TIMEOUT_MS = 2000;

/** Options of execSync. */
export interface ExecSyncOptions {
  /** Task (container) id. */
  readonly id: string;
  /** Exec id, unique within the task. */
  readonly execId: string;
  /** The process to run (args should be absolute, env-notes.md). */
  readonly spec: OciProcess;
  /** Directory for the FIFOs (created if missing); they are removed afterwards. */
  readonly ioDir: string;
  /** Deadline for the process in ms; 0 = none. On expiry the process is SIGKILLed. */
  readonly timeoutMs: number;
  /** Cap per stream in bytes; more output is dropped and `truncated` set. Default 16 MiB. */
  readonly maxOutputBytes?: number;
}

/** What execSync returns. */
export interface ExecSyncResult {
  readonly exitCode: number;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** True when a stream exceeded maxOutputBytes. */
  readonly truncated: boolean;
}

interface Collector {
  readonly reader: FifoReader;
  readonly chunks: Buffer[];
  size: number;
  truncated: boolean;
  readonly ended: Promise<void>;
}

function collect(path: string, max: number): Collector {
  const reader = openFifoReader(path);
  const c: Collector = {
    reader,
    chunks: [],
    size: 0,
    truncated: false,
    ended: new Promise<void>((resolve) => reader.socket.once('close', () => resolve())),
  };
  reader.socket.on('data', (b: Buffer) => {
    const room = max - c.size;
    if (room <= 0) {
      c.truncated = true;
      return;
    }
    const take = b.length > room ? b.subarray(0, room) : b;
    if (take.length < b.length) c.truncated = true;
    c.chunks.push(Buffer.from(take));
    c.size += take.length;
  });
  return c;
}

function drained(ps: Promise<void>[], ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    Promise.all(ps).then(() => undefined),
    new Promise<void>((resolve) => {
      t = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/**
 * Runs one process in a task and returns its exit code and output. A process that outlives
 * `timeoutMs` is killed (SIGKILL) and ERR_KATA_EXEC_TIMEOUT is thrown; the exec is deleted from
 * the shim in every case.
 */
export async function execSync(client: TaskClient, o: ExecSyncOptions): Promise<ExecSyncResult> {
  const max = o.maxOutputBytes ?? DEFAULT_EXEC_MAX_OUTPUT_BYTES;
  const paths = createStdioFifos(o.ioDir, `${o.id}-${o.execId}`);
  let out: Collector | undefined;
  let err: Collector | undefined;
  let added = false;
  try {
    out = collect(paths.stdout, max);
    err = collect(paths.stderr, max);
    await client.exec({
      id: o.id,
      execId: o.execId,
      spec: o.spec,
      stdout: paths.stdout,
      stderr: paths.stderr,
    });
    added = true;
    await client.start(o.id, o.execId);
    // The shim has opened the FIFOs in Start: drop our keep-alive ends so EOF can arrive.
    out.reader.release();
    err.reader.release();
    let exitCode: number;
    try {
      exitCode = (await client.wait(o.id, o.execId, { timeoutMs: o.timeoutMs })).exitStatus;
    } catch (e) {
      if (!isCocoonError(e, 'ERR_KATA_SHIM_TIMEOUT')) throw e;
      await client.kill(o.id, 9, { execId: o.execId }).catch(() => undefined);
      await client.wait(o.id, o.execId, { timeoutMs: EXEC_DRAIN_TIMEOUT_MS }).catch(() => undefined);
      throw new CocoonError('ERR_KATA_EXEC_TIMEOUT', `exec ${o.execId} exceeded ${o.timeoutMs} ms`, {
        cause: e,
        details: { id: o.id, execId: o.execId, timeoutMs: o.timeoutMs },
      });
    }
    await drained([out.ended, err.ended], EXEC_DRAIN_TIMEOUT_MS);
    return {
      exitCode,
      stdout: Buffer.concat(out.chunks),
      stderr: Buffer.concat(err.chunks),
      truncated: out.truncated || err.truncated,
    };
  } finally {
    out?.reader.close();
    err?.reader.close();
    if (added) {
      await client.delete(o.id, o.execId).catch(() => undefined);
    }
    rmSync(paths.stdout, { force: true });
    rmSync(paths.stderr, { force: true });
  }
}
