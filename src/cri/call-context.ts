/** The part of a gRPC call the create-once logic needs: has the caller gone away? */

/** Cancellation view of one in-flight RPC. */
export interface CallContext {
  /** True once the client cancelled or its deadline passed. */
  readonly cancelled: boolean;
  /** Resolves when the call is cancelled (never rejects). */
  readonly whenCancelled: Promise<void>;
}

/** A context that is never cancelled (internal callers, tests). */
export const LIVE_CALL: CallContext = { cancelled: false, whenCancelled: new Promise<void>(() => undefined) };

/** Builds a CallContext from a grpc-js server call (its 'cancelled' event covers deadlines too). */
export function callContextOf(call: {
  cancelled: boolean;
  once(ev: 'cancelled', cb: () => void): unknown;
}): CallContext {
  let fired = call.cancelled;
  const whenCancelled = new Promise<void>((resolve) => {
    if (fired) resolve();
    else
      call.once('cancelled', () => {
        fired = true;
        resolve();
      });
  });
  return {
    get cancelled() {
      return fired || call.cancelled;
    },
    whenCancelled,
  };
}
