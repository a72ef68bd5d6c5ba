/**
 * Connecting to a transport address with bounded retry and exponential backoff: a guest agent
 * is not listening yet while its VM boots (cri-kata.md §5: Kata retries until its dial timeout).
 */
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CocoonError, isCocoonError } from '../common/errors.js';
import { formatAddress, toAddress, type Address } from './address.js';
import { hvsockHandshake } from './hvsock.js';
import { dialVsock } from './vsock.js';

/** Overall dial budget when none is given (Kata's client default, cri-kata.md §5). */
export const DEFAULT_DIAL_TIMEOUT_MS = 30_000;
/** Connection attempts when none is given. */
export const DEFAULT_DIAL_ATTEMPTS = 5;
/** First backoff delay; it doubles after each failed attempt. */
export const DEFAULT_DIAL_INITIAL_DELAY_MS = 50;
/** Largest backoff delay. */
export const DEFAULT_DIAL_MAX_DELAY_MS = 2000;
/** Longest wait for one hybrid vsock `OK` reply (Kata's per-attempt handshake timeout, §5). */
export const HVSOCK_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Retry policy of dial(). */
export interface RetryOptions {
  /** Connection attempts in total, at least 1 (default DEFAULT_DIAL_ATTEMPTS). */
  readonly attempts?: number;
  /** Delay before the second attempt (default DEFAULT_DIAL_INITIAL_DELAY_MS); doubles each time. */
  readonly initialDelayMs?: number;
  /** Cap of the backoff delay (default DEFAULT_DIAL_MAX_DELAY_MS). */
  readonly maxDelayMs?: number;
}

/** Options of dial(). */
export interface DialOptions {
  /** Overall budget for all attempts and handshakes (default DEFAULT_DIAL_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /** Retry policy; absent means the defaults above. */
  readonly retry?: RetryOptions;
  /** Aborts the dial with ERR_TRANSPORT_CANCELLED. */
  readonly signal?: AbortSignal;
}

function connectSocket(
  opts: { path: string } | { host: string; port: number },
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const s = connect(opts);
    const cleanup = (): void => {
      clearTimeout(timer);
      s.off('connect', onConnect);
      s.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    const onConnect = (): void => {
      cleanup();
      resolve(s);
    };
    const onError = (e: Error): void => {
      cleanup();
      s.destroy();
      reject(e);
    };
    const onAbort = (): void => {
      cleanup();
      s.destroy();
      reject(new CocoonError('ERR_TRANSPORT_CANCELLED', 'dial aborted'));
    };
    const timer = setTimeout(() => {
      cleanup();
      s.destroy();
      reject(
        new CocoonError('ERR_TRANSPORT_TIMEOUT', `connect did not finish within ${timeoutMs} ms`, {
          details: { timeoutMs },
        }),
      );
    }, timeoutMs);
    s.once('connect', onConnect);
    s.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function dialOnce(a: Address, timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
  switch (a.kind) {
    case 'unix':
      return connectSocket({ path: a.path }, timeoutMs, signal);
    case 'tcp':
      return connectSocket({ host: a.host, port: a.port }, timeoutMs, signal);
    case 'hvsock': {
      const s = await connectSocket({ path: a.path }, timeoutMs, signal);
      try {
        await hvsockHandshake(s, a.port, Math.min(timeoutMs, HVSOCK_HANDSHAKE_TIMEOUT_MS), signal);
      } catch (e) {
        s.destroy();
        throw e;
      }
      return s;
    }
    case 'vsock':
      return dialVsock(a.cid, a.port, timeoutMs, signal);
  }
}

function cancelled(address: string): CocoonError {
  return new CocoonError('ERR_TRANSPORT_CANCELLED', `dial ${address} aborted`, { details: { address } });
}

/**
 * Opens a byte stream to `address`, retrying failed attempts with exponential backoff until the
 * attempts or the overall timeout run out. Errors: ERR_TRANSPORT_ADDRESS_INVALID (no retry),
 * ERR_TRANSPORT_CANCELLED, ERR_TRANSPORT_TIMEOUT, ERR_TRANSPORT_VSOCK_UNAVAILABLE (no retry),
 * else ERR_TRANSPORT_CONNECT_FAILED / ERR_TRANSPORT_HANDSHAKE_FAILED of the last attempt.
 */
export async function dial(address: string | Address, opts: DialOptions = {}): Promise<Duplex> {
  const a = toAddress(address);
  const text = formatAddress(a);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
  const attempts = Math.max(1, Math.floor(opts.retry?.attempts ?? DEFAULT_DIAL_ATTEMPTS));
  const maxDelay = opts.retry?.maxDelayMs ?? DEFAULT_DIAL_MAX_DELAY_MS;
  let delay = opts.retry?.initialDelayMs ?? DEFAULT_DIAL_INITIAL_DELAY_MS;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    if (opts.signal?.aborted === true) throw cancelled(text);
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      return await dialOnce(a, left, opts.signal);
    } catch (e) {
      last = e;
      if (isCocoonError(e, 'ERR_TRANSPORT_CANCELLED')) throw cancelled(text);
      if (isCocoonError(e, 'ERR_TRANSPORT_VSOCK_UNAVAILABLE')) throw e;
    }
    if (i + 1 >= attempts) break;
    const wait = Math.min(delay, maxDelay, Math.max(0, deadline - Date.now()));
    delay = Math.min(delay * 2, maxDelay);
    try {
      await sleep(wait, undefined, opts.signal === undefined ? {} : { signal: opts.signal });
    } catch {
      throw cancelled(text);
    }
  }
  const details = { address: text, attempts, timeoutMs };
  if (Date.now() >= deadline) {
    throw new CocoonError('ERR_TRANSPORT_TIMEOUT', `dial ${text} did not succeed within ${timeoutMs} ms`, {
      cause: last,
      details,
    });
  }
  if (isCocoonError(last, 'ERR_TRANSPORT_HANDSHAKE_FAILED')) {
    throw new CocoonError('ERR_TRANSPORT_HANDSHAKE_FAILED', `dial ${text}: ${last.message}`, {
      cause: last,
      details: { ...last.details, ...details },
    });
  }
  throw new CocoonError('ERR_TRANSPORT_CONNECT_FAILED', `dial ${text} failed after ${attempts} attempt(s)`, {
    cause: last,
    details: { ...details, errno: (last as NodeJS.ErrnoException | undefined)?.code },
  });
}
