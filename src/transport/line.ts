/**
 * Reads one LF-terminated line off a socket for the hybrid vsock handshake and pushes every byte
 * after the LF back into the socket (guest.md §6.1: data may arrive in the same read as `OK`).
 */
import type { Socket } from 'node:net';
import { CocoonError } from '../common/errors.js';

/** Longest handshake line accepted (Firecracker caps the command at 32 bytes; guest.md §6.1). */
export const HANDSHAKE_LINE_MAX = 64;

/** Options of readLine. */
export interface ReadLineOptions {
  /** Give up after this many milliseconds (ERR_TRANSPORT_TIMEOUT). */
  readonly timeoutMs: number;
  /** Aborts the read (ERR_TRANSPORT_CANCELLED). */
  readonly signal?: AbortSignal;
  /** Words for error messages ("reply", "command"). */
  readonly what: string;
}

/**
 * Resolves with the line (without LF, trailing CR trimmed); the socket is left with the rest of
 * the bytes unshifted and no 'readable' listener, so the next consumer sees them first.
 */
export function readLine(socket: Socket, opts: ReadLineOptions): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let got: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (err: CocoonError | undefined, line?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onEnd);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) reject(err);
      else resolve(line!);
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while (!done && (chunk = socket.read() as Buffer | null) !== null) {
        got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
        const lf = got.indexOf(0x0a);
        if (lf >= 0 && lf < HANDSHAKE_LINE_MAX) {
          const rest = got.subarray(lf + 1);
          if (rest.length > 0) socket.unshift(rest);
          finish(undefined, got.subarray(0, lf).toString('latin1').replace(/\r$/, ''));
          return;
        }
        if (got.length >= HANDSHAKE_LINE_MAX) {
          finish(
            new CocoonError('ERR_TRANSPORT_HANDSHAKE_FAILED', `hybrid vsock ${opts.what} line is too long`, {
              details: { stage: opts.what },
            }),
          );
          return;
        }
      }
    };
    const onEnd = (): void =>
      finish(
        new CocoonError(
          'ERR_TRANSPORT_HANDSHAKE_FAILED',
          `hybrid vsock peer closed before the ${opts.what} line`,
          {
            details: { stage: opts.what, received: got.length },
          },
        ),
      );
    const onError = (e: Error): void =>
      finish(
        new CocoonError(
          'ERR_TRANSPORT_HANDSHAKE_FAILED',
          `hybrid vsock socket failed during the ${opts.what}`,
          {
            cause: e,
            details: { stage: opts.what },
          },
        ),
      );
    const onAbort = (): void =>
      finish(
        new CocoonError('ERR_TRANSPORT_CANCELLED', 'hybrid vsock handshake aborted', {
          details: { stage: opts.what },
        }),
      );
    const timer = setTimeout(
      () =>
        finish(
          new CocoonError(
            'ERR_TRANSPORT_TIMEOUT',
            `no hybrid vsock ${opts.what} line within ${opts.timeoutMs} ms`,
            {
              details: { stage: opts.what, timeoutMs: opts.timeoutMs },
            },
          ),
        ),
      opts.timeoutMs,
    );
    if (opts.signal?.aborted === true) {
      onAbort();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    onReadable();
  });
}
