/**
 * Container stdio for the CRI server: stdout/stderr FIFOs handed to the shim (scheme-less path =
 * FIFO, cri-kata.md §4.4) and a writer that turns what the container prints into the kubelet's
 * log format `<RFC3339Nano> <stdout|stderr> <F|P> <text>\n` at the CRI log_path.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/clock.js';
import { CocoonError } from '../common/errors.js';
import { LineSplitter, makeFifo, openFifoReader, type FifoReader } from './fifo.js';

/** Longest log line before it is split into partial (P) records (containerd's 16 KiB default). */
export const CRI_LOG_MAX_LINE = 16 * 1024;

/** Stream names of the CRI log format. */
export type CriStream = 'stdout' | 'stderr';

/** Paths of a process's stdio FIFOs, as passed to Create/Exec. */
export interface StdioPaths {
  /** stdin FIFO, or '' when stdin is not attached. */
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Creates `<dir>/<id>-stdout` and `<dir>/<id>-stderr` FIFOs (and `-stdin` when asked). Both
 * stdout and stderr are always set: containerd-shim-runc-v2 1.6.20 crashes when only stdout is
 * (env-notes.md).
 */
export function createStdioFifos(dir: string, id: string, opts: { stdin?: boolean } = {}): StdioPaths {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) {
    throw new CocoonError('ERR_KATA_SPEC_INVALID', 'stdio id must be a plain file name', { details: { id } });
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CocoonError('ERR_KATA_BUNDLE_IO', `cannot create ${dir}`, { cause: e, details: { dir } });
  }
  const stdout = join(dir, `${id}-stdout`);
  const stderr = join(dir, `${id}-stderr`);
  makeFifo(stdout, '0600');
  makeFifo(stderr, '0600');
  let stdin = '';
  if (opts.stdin === true) {
    stdin = join(dir, `${id}-stdin`);
    makeFifo(stdin, '0600');
  }
  return { stdin, stdout, stderr };
}

/** Formats a time as Go's RFC3339Nano in UTC (fraction without trailing zeros). */
export function formatRfc3339Nano(d: Date): string {
  const iso = d.toISOString(); // 2006-01-02T15:04:05.000Z
  const [main, frac] = iso.slice(0, -1).split('.') as [string, string];
  const trimmed = frac.replace(/0+$/, '');
  return trimmed.length > 0 ? `${main}.${trimmed}Z` : `${main}Z`;
}

/** One CRI log record. */
export function formatCriLogLine(
  time: Date,
  stream: CriStream,
  partial: boolean,
  text: Buffer | string,
): Buffer {
  const head = Buffer.from(`${formatRfc3339Nano(time)} ${stream} ${partial ? 'P' : 'F'} `, 'utf8');
  const body = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  return Buffer.concat([head, body, Buffer.from('\n')]);
}

/** Options of CriLogWriter. */
export interface CriLogWriterOptions {
  /** Time source for record timestamps; default the system clock. */
  readonly clock?: Clock;
  /** Maximum line length before splitting into P records; default CRI_LOG_MAX_LINE. */
  readonly maxLine?: number;
}

/**
 * Appends CRI log records to `logPath`. Writes are synchronous appends so records from stdout
 * and stderr never interleave inside a line and nothing is buffered across a crash.
 */
export class CriLogWriter {
  private fd: number | undefined;
  private readonly path: string;
  private readonly clock: Clock;
  private readonly maxLine: number;
  private readonly splitters = new Map<CriStream, LineSplitter>();

  constructor(logPath: string, opts: CriLogWriterOptions = {}) {
    this.path = logPath;
    this.clock = opts.clock ?? systemClock;
    this.maxLine = opts.maxLine ?? CRI_LOG_MAX_LINE;
    this.open();
  }

  private open(): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      this.fd = openSync(this.path, 'a', 0o640);
    } catch (e) {
      throw new CocoonError('ERR_KATA_BUNDLE_IO', `cannot open log ${this.path}`, {
        cause: e,
        details: { path: this.path },
      });
    }
  }

  private splitter(stream: CriStream): LineSplitter {
    let s = this.splitters.get(stream);
    if (s === undefined) {
      s = new LineSplitter(this.maxLine, (line, complete) => this.record(stream, line, !complete));
      this.splitters.set(stream, s);
    }
    return s;
  }

  /** Writes one record directly. */
  record(stream: CriStream, text: Buffer | string, partial = false): void {
    if (this.fd === undefined) return;
    const b = formatCriLogLine(this.clock.now(), stream, partial, text);
    try {
      writeSync(this.fd, b);
    } catch (e) {
      throw new CocoonError('ERR_KATA_BUNDLE_IO', `cannot write log ${this.path}`, {
        cause: e,
        details: { path: this.path },
      });
    }
  }

  /** Feeds raw output of a stream; complete lines become F records, >maxLine pieces P records. */
  write(stream: CriStream, chunk: Buffer): void {
    this.splitter(stream).push(chunk);
  }

  /** Flushes a stream's unterminated last line as an F record (the stream ended). */
  endStream(stream: CriStream): void {
    this.splitters.get(stream)?.end();
  }

  /** Closes and reopens the file (kubelet ReopenContainerLog after rotation). */
  reopen(): void {
    this.closeFd();
    this.open();
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
  }

  /** Flushes pending partial lines and closes the file. Idempotent. */
  close(): void {
    for (const s of this.splitters.keys()) this.endStream(s);
    this.closeFd();
  }
}

/** A running copy from stdio FIFOs into a CRI log file. */
export interface ContainerLogPump {
  /** The log writer (reopen() for ReopenContainerLog). */
  readonly writer: CriLogWriter;
  /**
   * Drops the keep-alive write ends so `done` resolves when the process's output ends. Call it
   * after Start returned (the shim opens an exec's FIFOs only in Start; a release before that
   * lets the reader see EOF and the shim's open then blocks), or at the latest after Wait.
   */
  release(): void;
  /** Resolves when stdout and stderr both reached EOF and the log is closed. */
  readonly done: Promise<void>;
  /** Stops copying now and closes everything. */
  close(): void;
}

/**
 * Starts copying `paths.stdout` and `paths.stderr` into `logPath` in the CRI format. Open the
 * pump before Create/Exec (so the shim finds readers), then release() after Start returned.
 */
export function pumpContainerLogs(
  paths: Pick<StdioPaths, 'stdout' | 'stderr'>,
  logPath: string,
  opts: CriLogWriterOptions = {},
): ContainerLogPump {
  const writer = new CriLogWriter(logPath, opts);
  const readers: [CriStream, FifoReader][] = [];
  try {
    readers.push(['stdout', openFifoReader(paths.stdout)]);
    readers.push(['stderr', openFifoReader(paths.stderr)]);
  } catch (e) {
    for (const [, r] of readers) r.close();
    writer.close();
    throw e;
  }
  const ended = readers.map(
    ([stream, r]) =>
      new Promise<void>((resolveEnd) => {
        r.socket.on('data', (c: Buffer) => {
          try {
            writer.write(stream, c);
          } catch {
            // A failing log file must not crash the runtime; the container keeps running.
          }
        });
        r.socket.on('close', () => {
          try {
            writer.endStream(stream);
          } catch {
            // See above.
          }
          resolveEnd();
        });
      }),
  );
  const done = Promise.all(ended).then(() => writer.close());
  return {
    writer,
    release: () => {
      for (const [, r] of readers) r.release();
    },
    done,
    close: () => {
      for (const [, r] of readers) r.close();
      writer.close();
    },
  };
}
