/**
 * Named pipes for shim bundles and container stdio. Node has no mkfifo, so the coreutils
 * binary creates them; readers are opened non-blocking and wrapped in a net.Socket, which libuv
 * drives as a pipe (EAGAIN handled), never a blocking fs read.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, lstatSync, openSync, unlinkSync } from 'node:fs';
import { Socket } from 'node:net';
import { CocoonError } from '../common/errors.js';

/** Path of the mkfifo binary (coreutils). */
export const MKFIFO_BINARY = '/usr/bin/mkfifo';

/** Creates a FIFO at `path` with `mode` (octal string), replacing a non-FIFO file of that name. */
export function makeFifo(path: string, mode = '0700'): void {
  try {
    const st = lstatSync(path);
    if (st.isFIFO()) return;
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new CocoonError('ERR_KATA_BUNDLE_IO', `cannot inspect ${path}`, { cause: e, details: { path } });
    }
  }
  const r = spawnSync(MKFIFO_BINARY, ['-m', mode, path], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) {
    throw new CocoonError('ERR_KATA_BUNDLE_IO', `mkfifo ${path} failed: ${(r.stderr ?? '').trim()}`, {
      cause: r.error,
      details: { path },
    });
  }
}

/** A FIFO opened for reading, with a keep-alive write end until release(). */
export interface FifoReader {
  /** The readable side (emits data, then end once every writer closed after release()). */
  readonly socket: Socket;
  /**
   * Drops our own write end so that EOF arrives when the last real writer closes. Call it once
   * the writer (the shim) has opened the FIFO; before that, our write end keeps a read from
   * seeing a premature EOF.
   */
  release(): void;
  /** Closes everything. Idempotent. */
  close(): void;
}

/**
 * Opens a FIFO for reading without blocking: an O_RDWR descriptor keeps a writer present (Linux
 * allows O_RDWR on a FIFO and it never blocks), and the reader is a separate O_RDONLY|O_NONBLOCK
 * descriptor handed to net.Socket.
 */
export function openFifoReader(path: string): FifoReader {
  let keep: number | undefined;
  let rd: number | undefined;
  try {
    keep = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    rd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if (keep !== undefined) closeSync(keep);
    throw new CocoonError('ERR_KATA_BUNDLE_IO', `cannot open FIFO ${path}`, { cause: e, details: { path } });
  }
  const socket = new Socket({ fd: rd, readable: true, writable: false });
  // A read error on a pipe only ends the stream; the owner learns it through 'close'.
  socket.on('error', () => undefined);
  const release = (): void => {
    if (keep === undefined) return;
    const fd = keep;
    keep = undefined;
    try {
      closeSync(fd);
    } catch {
      // Already closed: nothing left to release.
    }
  };
  return {
    socket,
    release,
    close: () => {
      release();
      socket.destroy();
    },
  };
}

/** Splits a byte stream into lines of at most `maxLine` bytes; longer lines come out in pieces. */
export class LineSplitter {
  private buf: Buffer = Buffer.alloc(0);
  private readonly maxLine: number;
  private readonly onLine: (line: Buffer, complete: boolean) => void;

  /** `onLine(line, complete)`: complete=false for a piece cut at maxLine bytes. */
  constructor(maxLine: number, onLine: (line: Buffer, complete: boolean) => void) {
    this.maxLine = maxLine;
    this.onLine = onLine;
  }

  /** Feeds a chunk. */
  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl >= 0 && nl <= this.maxLine) {
        this.onLine(this.buf.subarray(0, nl), true);
        this.buf = this.buf.subarray(nl + 1);
        continue;
      }
      if (this.buf.length >= this.maxLine && (nl < 0 || nl > this.maxLine)) {
        this.onLine(this.buf.subarray(0, this.maxLine), false);
        this.buf = this.buf.subarray(this.maxLine);
        continue;
      }
      break;
    }
    // Copy the tail so a large chunk is not retained through a small view.
    if (this.buf.length > 0) this.buf = Buffer.from(this.buf);
  }

  /** Emits what is left (a last line without newline) as complete. */
  end(): void {
    if (this.buf.length > 0) this.onLine(this.buf, true);
    this.buf = Buffer.alloc(0);
  }
}
