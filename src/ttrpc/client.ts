/**
 * ttrpc client (containerd/ttrpc client.go semantics; cri-kata.md §4.6): many calls multiplexed
 * on one connection by odd, increasing stream ids; responses matched by id in any order.
 * ttrpc has no cancellation frame: a deadline or an abort only stops the caller waiting (and
 * timeout_nano tells the server), later frames for that id are ignored.
 */
import type { Duplex } from 'node:stream';
import { CocoonError } from '../common/errors.js';
import { dial, type DialOptions } from '../transport/index.js';
import {
  encodeFrame,
  FrameDecoder,
  Flags,
  MessageType,
  type FrameHeader,
  MESSAGE_LENGTH_MAX,
} from './frame.js';
import { decodeResponse, encodeRequestFrame } from './messages.js';
import { MessageQueue } from './queue.js';
import { errorFromStatus } from './status.js';

/** Metadata as callers write it; keys are lower-cased on the wire (§4.6). */
export type Metadata = Readonly<Record<string, string | readonly string[]>>;

/** Per-call options. */
export interface CallOptions {
  /** Deadline in ms from now; sent as timeout_nano and enforced locally (default: none). */
  readonly timeoutMs?: number;
  /** Metadata for this call, added to the client's default metadata. */
  readonly metadata?: Metadata;
  /** Cancels the call with ERR_TTRPC_CANCELLED. */
  readonly signal?: AbortSignal;
}

/** Options of a client. */
export interface TtrpcClientOptions {
  /** Metadata sent with every call (e.g. `containerd-namespace-ttrpc`); default none. */
  readonly metadata?: Metadata;
}

/** Options of TtrpcClient.connect. */
export interface TtrpcConnectOptions extends TtrpcClientOptions {
  /** How to dial (timeout, retry, abort); default: transport dial defaults. */
  readonly dial?: DialOptions;
}

/** A client-streaming call: send messages, then close and receive the one response. */
export interface ClientStreamCall {
  /** Sends one message (a Data frame); waits while the socket is congested. */
  send(payload: Uint8Array): Promise<void>;
  /** Closes the sending side (Data 0x05) and resolves with the server's Response payload. */
  closeAndRecv(): Promise<Uint8Array>;
}

/** A bidirectional call: send and receive independently. */
export interface BidiCall extends AsyncIterable<Uint8Array> {
  /** Sends one message (a Data frame). */
  send(payload: Uint8Array): Promise<void>;
  /** Closes the sending side (Data 0x05); receiving continues until the server closes. */
  closeSend(): Promise<void>;
}

/** Highest stream id (u32); the client refuses to wrap. */
const STREAM_ID_MAX = 0xffffffff;

interface ActiveStream {
  frame(h: FrameHeader, payload: Buffer): void;
  oversize(h: FrameHeader): void;
  fail(e: CocoonError): void;
}

function toWireMetadata(...mds: (Metadata | undefined)[]): [string, string][] {
  const out: [string, string][] = [];
  for (const md of mds) {
    if (md === undefined) continue;
    for (const [k, v] of Object.entries(md)) {
      const key = k.toLowerCase();
      if (typeof v === 'string') out.push([key, v]);
      else for (const one of v) out.push([key, one]);
    }
  }
  return out;
}

/** A ttrpc client over any duplex byte stream. */
export class TtrpcClient {
  /** Dials `address` (transport syntax) and returns a client on the new connection. */
  static async connect(address: string, opts: TtrpcConnectOptions = {}): Promise<TtrpcClient> {
    const stream = await dial(address, opts.dial);
    return new TtrpcClient(stream, opts);
  }

  private readonly stream: Duplex;
  private readonly decoder: FrameDecoder;
  private readonly streams = new Map<number, ActiveStream>();
  private readonly defaultMetadata: Metadata | undefined;
  private nextId = 1;
  private closeReason: { reason: string; midFrame: boolean; cause?: unknown } | undefined;
  private ignored = 0;
  private corked = false;
  private resolveClosed!: () => void;
  /** Resolves once the connection is closed, for whatever reason. */
  readonly closed: Promise<void>;

  /** Wraps a connected byte stream; the client owns it from now on. */
  constructor(stream: Duplex, opts: TtrpcClientOptions = {}) {
    this.stream = stream;
    this.defaultMetadata = opts.metadata;
    this.closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));
    this.decoder = new FrameDecoder({
      frame: (h, p) => this.onFrame(h, p),
      oversize: (h) => this.streams.get(h.streamId)?.oversize(h),
    });
    stream.on('data', (c: Buffer) => this.decoder.push(c));
    stream.on('end', () => this.shutdown('the peer closed the connection'));
    stream.on('close', () => this.shutdown('the connection closed'));
    stream.on('error', (e: Error) => this.shutdown('the connection failed', e));
    stream.resume();
    if (stream.destroyed) this.shutdown('the stream was already closed');
  }

  /** True once the connection is closed. */
  get isClosed(): boolean {
    return this.closeReason !== undefined;
  }

  /** Number of calls and streams in flight. */
  get activeStreams(): number {
    return this.streams.size;
  }

  /** Frames received for unknown or finished streams and dropped (client.go ignores them too). */
  get ignoredFrames(): number {
    return this.ignored;
  }

  /** Closes the connection; calls in flight reject with ERR_TTRPC_CONNECTION_CLOSED. */
  async close(): Promise<void> {
    this.shutdown('the client closed the connection');
    await this.closed;
  }

  /** One request, one response. A non-OK status rejects with ERR_TTRPC_STATUS. */
  unary(service: string, method: string, payload: Uint8Array, opts: CallOptions = {}): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      let finish = (): void => undefined;
      const st: ActiveStream = {
        frame: (h, p) => {
          finish();
          if (h.type !== MessageType.RESPONSE) {
            reject(this.protocolError(`unexpected message type ${h.type} on unary stream ${h.streamId}`, h));
            return;
          }
          try {
            const r = decodeResponse(p);
            if (r.status !== undefined && r.status.code !== 0)
              reject(errorFromStatus(r.status, { service, method }));
            else resolve(r.payload);
          } catch (e) {
            reject(e);
          }
        },
        oversize: (h) => {
          finish();
          reject(tooLarge(h));
        },
        fail: (e) => {
          finish();
          reject(e);
        },
      };
      try {
        finish = this.open(service, method, 0, payload, opts, st);
      } catch (e) {
        reject(e);
      }
    });
  }

  /** Server streaming: one request (Request flag 0x01), a stream of Data messages back. */
  serverStream(
    service: string,
    method: string,
    payload: Uint8Array,
    opts: CallOptions = {},
  ): AsyncIterable<Uint8Array> {
    let finish = (): void => undefined;
    const q = new MessageQueue<Uint8Array>(() => finish());
    const st = this.receiver(q, service, method, () => finish());
    try {
      finish = this.open(service, method, Flags.REMOTE_CLOSED, payload, opts, st);
    } catch (e) {
      q.fail(e as CocoonError);
    }
    return q;
  }

  /** Client streaming: Request flag 0x02, Data messages out, one Response back. */
  clientStream(service: string, method: string, opts: CallOptions = {}): ClientStreamCall {
    let finish = (): void => undefined;
    let settled: { value?: Uint8Array; error?: CocoonError } | undefined;
    let waiter: { resolve: (v: Uint8Array) => void; reject: (e: unknown) => void } | undefined;
    const settle = (s: { value?: Uint8Array; error?: CocoonError }): void => {
      if (settled !== undefined) return;
      settled = s;
      finish();
      if (waiter !== undefined) {
        if (s.error !== undefined) waiter.reject(s.error);
        else waiter.resolve(s.value!);
      }
    };
    const st: ActiveStream = {
      frame: (h, p) => {
        if (h.type !== MessageType.RESPONSE) return; // Data on a client stream carries nothing for us.
        try {
          const r = decodeResponse(p);
          if (r.status !== undefined && r.status.code !== 0)
            settle({ error: errorFromStatus(r.status, { service, method }) });
          else settle({ value: r.payload });
        } catch (e) {
          settle({ error: e as CocoonError });
        }
      },
      oversize: (h) => settle({ error: tooLarge(h) }),
      fail: (e) => settle({ error: e }),
    };
    let id = 0;
    let sendClosed = false;
    try {
      ({ id, finish } = this.openStream(service, method, Flags.REMOTE_OPEN, undefined, opts, st));
    } catch (e) {
      settle({ error: e as CocoonError });
    }
    return {
      send: (payload) => {
        if (settled?.error !== undefined) return Promise.reject(settled.error);
        if (sendClosed || settled !== undefined) return Promise.reject(streamClosed(id));
        return this.sendData(id, 0, payload);
      },
      closeAndRecv: async () => {
        if (!sendClosed && settled === undefined) {
          sendClosed = true;
          await this.sendData(id, Flags.REMOTE_CLOSED | Flags.NO_DATA, new Uint8Array(0));
        }
        sendClosed = true;
        if (settled !== undefined) {
          if (settled.error !== undefined) throw settled.error;
          return settled.value!;
        }
        return new Promise<Uint8Array>((resolve, reject) => (waiter = { resolve, reject }));
      },
    };
  }

  /** Bidirectional streaming: Request flag 0x02, Data both ways, ends with server Data 0x05. */
  bidi(service: string, method: string, opts: CallOptions = {}): BidiCall {
    let finish = (): void => undefined;
    const q = new MessageQueue<Uint8Array>(() => finish());
    const st = this.receiver(q, service, method, () => finish());
    let id = 0;
    let sendClosed = false;
    try {
      ({ id, finish } = this.openStream(service, method, Flags.REMOTE_OPEN, undefined, opts, st));
    } catch (e) {
      q.fail(e as CocoonError);
    }
    const guard = (): CocoonError | undefined => {
      if (this.closeReason !== undefined) return this.connectionError();
      if (sendClosed || id === 0 || !this.streams.has(id)) return streamClosed(id);
      return undefined;
    };
    return {
      send: (payload) => {
        const g = guard();
        return g === undefined ? this.sendData(id, 0, payload) : Promise.reject(g);
      },
      closeSend: () => {
        if (sendClosed) return Promise.resolve();
        const g = guard();
        if (g !== undefined) return Promise.reject(g);
        sendClosed = true;
        return this.sendData(id, Flags.REMOTE_CLOSED | Flags.NO_DATA, new Uint8Array(0));
      },
      [Symbol.asyncIterator]: () => q,
    };
  }

  /** The receiving half shared by server-streaming and bidi calls. */
  private receiver(
    q: MessageQueue<Uint8Array>,
    service: string,
    method: string,
    finish: () => void,
  ): ActiveStream {
    return {
      frame: (h, p) => {
        if (h.type === MessageType.DATA) {
          if ((h.flags & Flags.NO_DATA) === 0) q.push(p);
          if ((h.flags & Flags.REMOTE_CLOSED) !== 0) {
            finish();
            q.end();
          }
          return;
        }
        finish();
        if (h.type !== MessageType.RESPONSE) {
          q.fail(this.protocolError(`unexpected message type ${h.type} on stream ${h.streamId}`, h));
          return;
        }
        try {
          const r = decodeResponse(p);
          if (r.status !== undefined && r.status.code !== 0)
            q.fail(errorFromStatus(r.status, { service, method }));
          else {
            if (r.payload.length > 0) q.push(r.payload);
            q.end();
          }
        } catch (e) {
          q.fail(e as CocoonError);
        }
      },
      oversize: (h) => {
        finish();
        q.fail(tooLarge(h));
      },
      fail: (e) => {
        finish();
        q.fail(e);
      },
    };
  }

  /**
   * Opens a stream: allocates the next odd id, sends the Request, arms the deadline and the
   * abort signal. Returns the function that forgets the stream (idempotent).
   */
  private open(
    service: string,
    method: string,
    flags: number,
    payload: Uint8Array | undefined,
    opts: CallOptions,
    st: ActiveStream,
  ): () => void {
    return this.openStream(service, method, flags, payload, opts, st).finish;
  }

  private openStream(
    service: string,
    method: string,
    flags: number,
    payload: Uint8Array | undefined,
    opts: CallOptions,
    st: ActiveStream,
  ): { id: number; finish: () => void } {
    if (this.closeReason !== undefined) throw this.connectionError();
    if (opts.signal?.aborted === true) throw cancelledError(service, method);
    if (this.nextId > STREAM_ID_MAX) {
      throw new CocoonError(
        'ERR_TTRPC_PROTOCOL',
        'ttrpc stream ids are exhausted on this connection; reconnect',
        {
          details: { nextId: this.nextId },
        },
      );
    }
    const timeoutMs = opts.timeoutMs;
    if (timeoutMs !== undefined && !(timeoutMs > 0)) {
      throw new CocoonError(
        'ERR_TTRPC_DEADLINE_EXCEEDED',
        `ttrpc call ${service}/${method}: deadline already passed`,
        {
          details: { service, method, timeoutMs },
        },
      );
    }
    const id = this.nextId;
    const frame = encodeRequestFrame(id, flags, {
      service,
      method,
      ...(payload === undefined ? {} : { payload }),
      timeoutNano: timeoutMs === undefined ? 0 : Math.round(timeoutMs * 1e6),
      metadata: toWireMetadata(this.defaultMetadata, opts.metadata),
    });
    this.nextId += 2;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => st.fail(cancelledError(service, method));
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.streams.delete(id);
      if (timer !== undefined) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    this.streams.set(id, st);
    if (timeoutMs !== undefined) {
      timer = setTimeout(
        () =>
          st.fail(
            new CocoonError(
              'ERR_TTRPC_DEADLINE_EXCEEDED',
              `ttrpc call ${service}/${method} exceeded its ${timeoutMs} ms deadline`,
              {
                details: { service, method, timeoutMs },
              },
            ),
          ),
        timeoutMs,
      );
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    this.write(frame);
    return { id, finish };
  }

  private sendData(id: number, flags: number, payload: Uint8Array): Promise<void> {
    if (this.closeReason !== undefined) return Promise.reject(this.connectionError());
    let frame: Buffer;
    try {
      frame = encodeFrame(id, MessageType.DATA, flags, payload);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.write(frame)) return Promise.resolve();
    // Backpressure: wait until the socket drains (or the connection goes away).
    return new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        this.stream.off('close', onClose);
        resolve();
      };
      const onClose = (): void => {
        this.stream.off('drain', onDrain);
        reject(this.connectionError());
      };
      this.stream.once('drain', onDrain);
      this.stream.once('close', onClose);
    });
  }

  /**
   * Writes one frame. Frames written in the same tick are corked into one writev, so many
   * concurrent calls cost one syscall instead of one each.
   */
  private write(frame: Buffer): boolean {
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(this.uncork);
    }
    return this.stream.write(frame);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.stream.uncork();
  };

  private onFrame(h: FrameHeader, payload: Buffer): void {
    const st = this.streams.get(h.streamId);
    if (st === undefined) {
      this.ignored++;
      return;
    }
    st.frame(h, payload);
  }

  private protocolError(message: string, h: FrameHeader): CocoonError {
    return new CocoonError('ERR_TTRPC_PROTOCOL', message, {
      details: { streamId: h.streamId, type: h.type, flags: h.flags },
    });
  }

  private connectionError(): CocoonError {
    const r = this.closeReason ?? { reason: 'closed', midFrame: false };
    return new CocoonError('ERR_TTRPC_CONNECTION_CLOSED', `ttrpc connection closed: ${r.reason}`, {
      ...(r.cause === undefined ? {} : { cause: r.cause }),
      details: { reason: r.reason, midFrame: r.midFrame },
    });
  }

  private shutdown(reason: string, cause?: unknown): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = { reason, midFrame: this.decoder.midFrame, ...(cause === undefined ? {} : { cause }) };
    this.decoder.stop();
    const pending = [...this.streams.values()];
    this.streams.clear();
    for (const st of pending) st.fail(this.connectionError());
    if (this.stream.destroyed) this.resolveClosed();
    else {
      this.stream.once('close', () => this.resolveClosed());
      this.stream.destroy();
    }
  }
}

function tooLarge(h: FrameHeader): CocoonError {
  return new CocoonError(
    'ERR_TTRPC_FRAME_TOO_LARGE',
    `ttrpc message length ${h.length} exceeds the maximum message size of ${MESSAGE_LENGTH_MAX}`,
    { details: { streamId: h.streamId, length: h.length, max: MESSAGE_LENGTH_MAX } },
  );
}

function cancelledError(service: string, method: string): CocoonError {
  return new CocoonError('ERR_TTRPC_CANCELLED', `ttrpc call ${service}/${method} was cancelled`, {
    details: { service, method },
  });
}

function streamClosed(id: number): CocoonError {
  return new CocoonError('ERR_TTRPC_STREAM_CLOSED', `ttrpc stream ${id} is closed for sending`, {
    details: { streamId: id },
  });
}
