/**
 * The narrow slice of ttrpc the shim driver needs: one unary call over a connection, and a
 * unary server for the events endpoint. Payloads are already-encoded protobuf bytes (the driver
 * owns its protos). The default implementation sits on src/ttrpc; tests may inject another.
 */

/** Per-call options of a unary ttrpc request. */
export interface UnaryCallOptions {
  /** Deadline in ms, sent as Request.timeout_nano (cri-kata.md §4.6). */
  readonly timeoutMs: number;
  /** Request metadata (e.g. containerd-namespace-ttrpc). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A connected ttrpc client channel. */
export interface UnaryChannel {
  /** Sends Request{service, method, payload}; resolves with Response.payload or rejects with a CocoonError. */
  call(service: string, method: string, payload: Uint8Array, opts: UnaryCallOptions): Promise<Uint8Array>;
  /** Closes the connection. Idempotent. */
  close(): Promise<void>;
  /** Registers a callback run once when the connection closes (peer gone or close()). */
  onClose(cb: (err?: Error) => void): void;
}

/** Dials `address` (unix://…) and returns a channel. */
export type ChannelDialer = (address: string, opts: { timeoutMs: number }) => Promise<UnaryChannel>;

/** Context of a served unary call. */
export interface UnaryServerContext {
  /** Request metadata (keys lower-cased, cri-kata.md §4.6). */
  readonly metadata: Readonly<Record<string, string>>;
}

/** A unary method handler: request payload bytes → response payload bytes. */
export type UnaryHandler = (payload: Uint8Array, ctx: UnaryServerContext) => Promise<Uint8Array>;

/** A listening ttrpc server. */
export interface UnaryServer {
  /** The address shims dial (unix:///…). */
  readonly address: string;
  /** Stops listening and closes connections. Idempotent. */
  close(): Promise<void>;
}

/** Serves `service` with `handlers` (method → handler) at `address`. */
export type UnaryServe = (
  address: string,
  service: string,
  handlers: Readonly<Record<string, UnaryHandler>>,
) => Promise<UnaryServer>;

/** ttrpc plumbing injected into TaskClient / EventsServer (default: src/ttrpc). */
export interface TtrpcLink {
  readonly dial: ChannelDialer;
  readonly serve: UnaryServe;
}
