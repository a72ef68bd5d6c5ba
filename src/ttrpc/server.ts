/**
 * ttrpc server (containerd/ttrpc server.go and services.go semantics; cri-kata.md §4.6):
 * a handler registry by service and method, unknown ones answered Unimplemented ("service X" /
 * "method X"), timeout_nano enforced as a deadline, handler errors mapped once in status.ts.
 * A bad frame costs only its own stream: the server answers it with a status and reads on.
 */
import type { Duplex } from 'node:stream';
import { CocoonError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import { Status } from '../common/status.js';
import { systemClock, type Clock } from '../common/clock.js';
import { listen as listenTransport, type Address, type Listener } from '../transport/index.js';
import {
  encodeFrame,
  FrameDecoder,
  Flags,
  MessageType,
  MESSAGE_LENGTH_MAX,
  type FrameHeader,
} from './frame.js';
import {
  decodeRequest,
  encodeResponse,
  encodeResponseFrame,
  type TtrpcRequest,
  type TtrpcStatus,
} from './messages.js';
import { MessageQueue } from './queue.js';
import { statusFromError, unknownMethodStatus, unknownServiceStatus } from './status.js';

/** What a handler learns about its call. */
export interface CallContext {
  readonly service: string;
  readonly method: string;
  /** Request metadata, keys lower-cased, values in wire order. */
  readonly metadata: Record<string, string[]>;
  /** The caller's deadline (from timeout_nano), if any. */
  readonly deadline?: Date;
  /** Aborted when the deadline passes, the connection closes or the server stops. */
  readonly signal: AbortSignal;
}

/** A unary handler: request payload in, response payload out; throw to answer a status. */
export type UnaryHandler = (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array>;

/** The server's view of a streaming call: received messages, and send() for streamed replies. */
export interface ServerStream extends AsyncIterable<Uint8Array> {
  /** Sends one Data message (server-streaming and bidi only). */
  send(payload: Uint8Array): Promise<void>;
}

/**
 * A streaming handler. Its result is the Response payload of a client-streaming call; for
 * server-streaming and bidi calls a result is sent in the final Data 0x01 frame, undefined
 * sends the final frame as 0x05 (no data).
 */
export type StreamHandler = (stream: ServerStream, ctx: CallContext) => Promise<Uint8Array | undefined>;

/** Which sides of a streaming method stream (ttrpc 1.2 StreamDesc). */
export interface StreamKind {
  readonly streamingClient: boolean;
  readonly streamingServer: boolean;
}

/** Options of a server. */
export interface TtrpcServerOptions {
  /** Logger for protocol faults (default: silent). */
  readonly logger?: Logger;
  /** Time source for deadlines shown to handlers (default: the system clock). */
  readonly clock?: Clock;
}

type MethodEntry =
  | { readonly kind: 'unary'; readonly handler: UnaryHandler }
  | { readonly kind: 'stream'; readonly handler: StreamHandler; readonly desc: StreamKind };

/** A ttrpc server: register handlers, then listen() or serveConnection(). */
export class TtrpcServer {
  private readonly services = new Map<string, Map<string, MethodEntry>>();
  private readonly connections = new Set<ServerConnection>();
  private readonly listeners = new Set<Listener>();
  /** Logger used by connections. */
  readonly logger: Logger;
  /** Clock used by connections. */
  readonly clock: Clock;
  private closing = false;

  constructor(opts: TtrpcServerOptions = {}) {
    this.logger = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
  }

  /** Registers a unary handler for service/method (ERR_TTRPC_ALREADY_REGISTERED on a duplicate). */
  register(service: string, method: string, handler: UnaryHandler): void {
    this.add(service, method, { kind: 'unary', handler });
  }

  /** Registers a streaming handler; `desc` says which sides stream. */
  registerStream(service: string, method: string, handler: StreamHandler, desc: StreamKind): void {
    this.add(service, method, { kind: 'stream', handler, desc });
  }

  private add(service: string, method: string, entry: MethodEntry): void {
    let methods = this.services.get(service);
    if (methods === undefined) this.services.set(service, (methods = new Map()));
    if (methods.has(method)) {
      throw new CocoonError(
        'ERR_TTRPC_ALREADY_REGISTERED',
        `ttrpc handler ${service}/${method} is already registered`,
        {
          details: { service, method },
        },
      );
    }
    methods.set(method, entry);
  }

  /** The handler registered for service/method, or the Unimplemented status to answer instead. */
  lookup(service: string, method: string): MethodEntry | TtrpcStatus {
    const methods = this.services.get(service);
    if (methods === undefined) return unknownServiceStatus(service);
    return methods.get(method) ?? unknownMethodStatus(method);
  }

  /** Listens on a transport address and serves every connection. */
  async listen(address: string | Address): Promise<Listener> {
    const l = await listenTransport(address, (s) => this.serveConnection(s));
    this.listeners.add(l);
    return {
      address: l.address,
      close: async () => {
        this.listeners.delete(l);
        await l.close();
      },
    };
  }

  /** Serves ttrpc on an already connected byte stream (the server owns it from now on). */
  serveConnection(stream: Duplex): void {
    if (this.closing) {
      stream.destroy();
      return;
    }
    const c = new ServerConnection(this, stream, () => this.connections.delete(c));
    this.connections.add(c);
  }

  /** Number of open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops listening, closes every connection and aborts the handlers in flight. */
  async close(): Promise<void> {
    this.closing = true;
    const ls = [...this.listeners];
    this.listeners.clear();
    await Promise.all(ls.map((l) => l.close()));
    await Promise.all([...this.connections].map((c) => c.close('the server is shutting down')));
  }
}

interface ServerCall {
  /** Created on first use of ctx.signal (an AbortController per call is costly on the hot path). */
  controller: AbortController | undefined;
  /** Why the call ended before anyone asked for its signal. */
  abortReason: unknown;
  queue: MessageQueue<Uint8Array> | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * A handler's result as (status, payload): anything but bytes is a handler bug, answered
 * INTERNAL as Go's ttrpc answers a nil message ("ttrpc: marshal called with nil").
 */
function resultOf(out: unknown): [TtrpcStatus | undefined, Uint8Array | undefined] {
  if (out instanceof Uint8Array) return [undefined, out];
  return [status(Status.INTERNAL, 'ttrpc: handler returned no message'), undefined];
}

function status(code: number, message: string): TtrpcStatus {
  return { code, message };
}

/** One accepted connection. */
class ServerConnection {
  private readonly server: TtrpcServer;
  private readonly stream: Duplex;
  private readonly decoder: FrameDecoder;
  private readonly calls = new Map<number, ServerCall>();
  private readonly onGone: () => void;
  private lastStreamId = 0;
  private closed = false;
  private corked = false;
  private readonly closedPromise: Promise<void>;

  constructor(server: TtrpcServer, stream: Duplex, onGone: () => void) {
    this.server = server;
    this.stream = stream;
    this.onGone = onGone;
    this.decoder = new FrameDecoder({
      frame: (h, p) => this.onFrame(h, p),
      oversize: (h) => this.onOversize(h),
    });
    this.closedPromise = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    stream.on('data', (c: Buffer) => this.decoder.push(c));
    stream.on('end', () => void this.close('the client closed the connection'));
    stream.on('close', () => void this.close('the connection closed'));
    stream.on('error', (e: Error) => {
      this.server.logger.debug({ err: e.message }, 'ttrpc server connection error');
      void this.close('the connection failed');
    });
    stream.resume();
  }

  close(reason: string): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.decoder.stop();
      for (const [id, call] of this.calls) this.finish(id, call, reason);
      this.onGone();
      this.stream.destroy();
    }
    return this.closedPromise;
  }

  /** Writes one frame; frames of the same tick are corked into one writev (see client.ts). */
  private write(frame: Buffer): boolean {
    if (this.closed) return true;
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

  /** Sends a Response with `st` on `id` (even for an id we never accepted: server.go does). */
  private sendStatus(id: number, st: TtrpcStatus): void {
    this.sendResponse(id, st, undefined);
  }

  private sendResponse(id: number, st: TtrpcStatus | undefined, payload: Uint8Array | undefined): void {
    let frame: Buffer;
    try {
      frame = encodeResponseFrame(id, st, payload);
    } catch (e) {
      const len = (e as CocoonError).details['length'];
      frame = encodeFrame(
        id,
        MessageType.RESPONSE,
        0,
        encodeResponse(
          status(
            Status.RESOURCE_EXHAUSTED,
            `message length ${String(len)} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`,
          ),
        ),
      );
    }
    this.write(frame);
  }

  private finish(id: number, call: ServerCall, reason: string, abortReason?: CocoonError): void {
    if (this.calls.get(id) !== call) return;
    this.calls.delete(id);
    if (call.timer !== undefined) clearTimeout(call.timer);
    call.queue?.fail(
      new CocoonError('ERR_TTRPC_CANCELLED', `ttrpc stream ${id}: ${reason}`, { details: { streamId: id } }),
    );
    const why =
      abortReason ??
      new CocoonError('ERR_TTRPC_CANCELLED', `ttrpc call cancelled: ${reason}`, {
        details: { streamId: id },
      });
    if (call.controller !== undefined) call.controller.abort(why);
    else call.abortReason = why;
  }

  private onOversize(h: FrameHeader): void {
    this.server.logger.debug({ streamId: h.streamId, length: h.length }, 'ttrpc frame too large');
    const call = this.calls.get(h.streamId);
    if (call !== undefined) this.finish(h.streamId, call, 'a frame exceeded the maximum message size');
    this.sendStatus(
      h.streamId,
      status(
        Status.RESOURCE_EXHAUSTED,
        `message length ${h.length} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`,
      ),
    );
  }

  private onFrame(h: FrameHeader, payload: Buffer): void {
    if (h.type !== MessageType.REQUEST && h.type !== MessageType.DATA) return; // ignored for future compat (server.go)
    if (h.streamId % 2 !== 1) {
      this.sendStatus(
        h.streamId,
        status(Status.INVALID_ARGUMENT, 'StreamID must be odd for client initiated streams'),
      );
      return;
    }
    if (h.type === MessageType.DATA) this.onData(h, payload);
    else this.onRequest(h, payload);
  }

  private onData(h: FrameHeader, payload: Buffer): void {
    const call = this.calls.get(h.streamId);
    if (call === undefined) {
      this.sendStatus(h.streamId, status(Status.INVALID_ARGUMENT, 'StreamID is no longer active'));
      return;
    }
    const q = call.queue;
    if (q === undefined || q.done) {
      this.finish(h.streamId, call, 'data after the client closed its side');
      this.sendStatus(h.streamId, status(Status.INVALID_ARGUMENT, 'data handling error: stream closed'));
      return;
    }
    if ((h.flags & Flags.NO_DATA) === 0 && (h.flags & Flags.REMOTE_CLOSED) === 0) q.push(payload);
    else if ((h.flags & Flags.NO_DATA) === 0 && payload.length > 0) {
      this.finish(h.streamId, call, 'data on a close message');
      this.sendStatus(h.streamId, status(Status.INVALID_ARGUMENT, 'data close message cannot include data'));
      return;
    }
    if ((h.flags & Flags.REMOTE_CLOSED) !== 0) q.end();
  }

  private onRequest(h: FrameHeader, payload: Buffer): void {
    const id = h.streamId;
    if (id <= this.lastStreamId) {
      this.sendStatus(id, status(Status.INVALID_ARGUMENT, 'StreamID cannot be re-used and must increment'));
      return;
    }
    this.lastStreamId = id;
    let req: TtrpcRequest;
    try {
      req = decodeRequest(payload);
    } catch (e) {
      this.sendStatus(
        id,
        status(Status.INVALID_ARGUMENT, `unmarshal request error: ${(e as Error).message}`),
      );
      return;
    }
    const entry = this.server.lookup(req.service, req.method);
    if (!('kind' in entry)) {
      this.sendStatus(id, entry);
      return;
    }
    const metadata: Record<string, string[]> = {};
    for (const [k, v] of req.metadata) (metadata[k.toLowerCase()] ??= []).push(v);
    let deadline: Date | undefined;
    const call: ServerCall = {
      controller: undefined,
      abortReason: undefined,
      queue: undefined,
      timer: undefined,
    };
    if (req.timeoutNano !== 0) {
      const ms = Math.max(0, req.timeoutNano / 1e6);
      deadline = new Date(this.server.clock.now().getTime() + ms);
      call.timer = setTimeout(() => this.expire(id, call, req), Math.min(ms, 0x7fffffff));
    }
    const ctx: CallContext = {
      service: req.service,
      method: req.method,
      metadata,
      ...(deadline === undefined ? {} : { deadline }),
      get signal(): AbortSignal {
        if (call.controller === undefined) {
          call.controller = new AbortController();
          if (call.abortReason !== undefined) call.controller.abort(call.abortReason);
        }
        return call.controller.signal;
      },
    };
    if (entry.kind === 'unary') {
      this.calls.set(id, call);
      Promise.resolve()
        .then(() => entry.handler(req.payload, ctx))
        .then(
          (out) => this.complete(id, call, ...resultOf(out)),
          (e: unknown) => this.complete(id, call, statusFromError(e), undefined),
        );
      return;
    }
    this.startStream(id, h, req, entry.handler, entry.desc, ctx, call);
  }

  private startStream(
    id: number,
    h: FrameHeader,
    req: TtrpcRequest,
    handler: StreamHandler,
    desc: StreamKind,
    ctx: CallContext,
    call: ServerCall,
  ): void {
    const queue = new MessageQueue<Uint8Array>();
    call.queue = queue;
    this.calls.set(id, call);
    // The Request payload is the first message unless a streaming client left it out
    // (services.go; ttrpc issue 126: an empty message still counts for a non-streaming client).
    if (req.hasPayload || !desc.streamingClient) queue.push(req.payload);
    if (!desc.streamingClient || (h.flags & Flags.REMOTE_CLOSED) !== 0) queue.end();
    const stream: ServerStream = {
      send: (payload) => {
        if (!desc.streamingServer) {
          return Promise.reject(
            new CocoonError('ERR_TTRPC_PROTOCOL', `${req.service}/${req.method} does not stream responses`),
          );
        }
        if (this.calls.get(id) !== call || this.closed) {
          return Promise.reject(
            new CocoonError('ERR_TTRPC_STREAM_CLOSED', `ttrpc stream ${id} is closed`, {
              details: { streamId: id },
            }),
          );
        }
        let frame: Buffer;
        try {
          frame = encodeFrame(id, MessageType.DATA, 0, payload);
        } catch (e) {
          return Promise.reject(e);
        }
        if (this.write(frame)) return Promise.resolve();
        return new Promise<void>((resolve) => {
          const done = (): void => {
            this.stream.off('drain', done);
            this.stream.off('close', done);
            resolve();
          };
          this.stream.once('drain', done);
          this.stream.once('close', done);
        });
      },
      [Symbol.asyncIterator]: () => queue,
    };
    Promise.resolve()
      .then(() => handler(stream, ctx))
      .then(
        (out) => {
          if (!desc.streamingServer) {
            this.complete(id, call, ...resultOf(out ?? new Uint8Array(0)));
            return;
          }
          if (this.calls.get(id) !== call) return;
          this.finishQuietly(id, call);
          const flags = Flags.REMOTE_CLOSED | (out === undefined ? Flags.NO_DATA : 0);
          try {
            this.write(encodeFrame(id, MessageType.DATA, flags, out ?? new Uint8Array(0)));
          } catch (e) {
            this.sendStatus(id, statusFromError(e));
          }
        },
        (e: unknown) => this.complete(id, call, statusFromError(e), undefined),
      );
  }

  private finishQuietly(id: number, call: ServerCall): void {
    this.calls.delete(id);
    if (call.timer !== undefined) clearTimeout(call.timer);
  }

  /** Sends the final Response of a call unless it already ended (deadline, oversize, close). */
  private complete(
    id: number,
    call: ServerCall,
    st: TtrpcStatus | undefined,
    payload: Uint8Array | undefined,
  ): void {
    if (this.calls.get(id) !== call) return;
    this.finishQuietly(id, call);
    this.sendResponse(id, st, payload);
  }

  /** timeout_nano passed: answer DeadlineExceeded now and abort the handler (its late result is dropped). */
  private expire(id: number, call: ServerCall, req: TtrpcRequest): void {
    if (this.calls.get(id) !== call) return;
    const e = new CocoonError(
      'ERR_TTRPC_DEADLINE_EXCEEDED',
      `${req.service}/${req.method}: context deadline exceeded`,
      {
        details: { streamId: id },
      },
    );
    this.finish(id, call, 'deadline exceeded', e);
    this.sendStatus(id, statusFromError(e));
  }
}
