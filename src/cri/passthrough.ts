/**
 * Forwarding to another CRI runtime (containerd or CRI-O) for handlers of kind "passthrough".
 * Requests are re-sent as decoded objects through a grpc-js client of the same proto, so every
 * field we decode is forwarded unchanged.
 */
import * as grpc from '@grpc/grpc-js';
import { CocoonError } from '../common/errors.js';
import { criClientConstructor, MAX_MESSAGE_BYTES } from './proto.js';
import type { Msg } from './state/model.js';

/** Default deadline of a forwarded call (the kubelet's runtimeRequestTimeout, §2.3). */
export const DEFAULT_PASSTHROUGH_TIMEOUT_MS = 120_000;

/** A client of a second CRI endpoint. */
export class PassthroughClient {
  readonly endpoint: string;
  private readonly runtime: grpc.Client;
  private readonly image: grpc.Client;

  constructor(endpoint: string) {
    this.endpoint = endpoint;
    const opts = {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.default_authority': 'localhost',
    };
    this.runtime = new (criClientConstructor('RuntimeService'))(
      endpoint,
      grpc.credentials.createInsecure(),
      opts,
    );
    this.image = new (criClientConstructor('ImageService'))(
      endpoint,
      grpc.credentials.createInsecure(),
      opts,
    );
  }

  /** Forwards one unary call; gRPC errors keep their code (NotFound stays NotFound). */
  call(
    service: 'runtime' | 'image',
    method: string,
    req: Msg,
    timeoutMs = DEFAULT_PASSTHROUGH_TIMEOUT_MS,
  ): Promise<Msg> {
    const client = service === 'runtime' ? this.runtime : this.image;
    const fn = (client as unknown as Record<string, grpc.requestCallback<Msg> | undefined>)[method];
    if (typeof fn !== 'function')
      return Promise.reject(new CocoonError('ERR_CRI_UNIMPLEMENTED', `no method ${method}`));
    return new Promise<Msg>((resolve, reject) => {
      (
        fn as unknown as (
          r: Msg,
          o: grpc.CallOptions,
          cb: (e: grpc.ServiceError | null, v?: Msg) => void,
        ) => void
      ).call(client, req, { deadline: Date.now() + timeoutMs }, (e, v) =>
        e === null ? resolve(v ?? {}) : reject(new PassthroughError(e)),
      );
    });
  }

  /** Closes both channels. */
  close(): void {
    this.runtime.close();
    this.image.close();
  }
}

/** A gRPC error from the pass-through runtime, re-sent with its own code. */
export class PassthroughError extends Error {
  readonly grpcCode: number;
  constructor(e: grpc.ServiceError) {
    super(e.details || e.message);
    this.name = 'PassthroughError';
    this.grpcCode = e.code;
  }
}
