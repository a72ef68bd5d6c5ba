/**
 * The default TtrpcLink: src/ttrpc's TtrpcClient and TtrpcServer over src/transport addresses.
 */
import { TtrpcClient, TtrpcServer } from '../ttrpc/index.js';
import type { Logger } from '../common/log.js';
import type { TtrpcLink, UnaryChannel, UnaryServer } from './ttrpc-link.js';

/** Connection attempts when dialing a shim socket (the shim is already listening after `start`). */
export const SHIM_DIAL_ATTEMPTS = 3;

function channelOf(client: TtrpcClient): UnaryChannel {
  return {
    call: (service, method, payload, opts) =>
      client.unary(service, method, payload, {
        // ttrpc treats an absent deadline as none; 0 from callers means the same (Wait).
        ...(opts.timeoutMs > 0 ? { timeoutMs: opts.timeoutMs } : {}),
        ...(opts.metadata === undefined ? {} : { metadata: opts.metadata }),
      }),
    close: () => client.close(),
    onClose: (cb) => {
      void client.closed.then(() => cb());
    },
  };
}

/** Builds the src/ttrpc-backed link; `logger` receives server-side protocol faults. */
export function createTtrpcLink(logger?: Logger): TtrpcLink {
  return {
    dial: async (address, opts) => {
      const client = await TtrpcClient.connect(address, {
        dial: { timeoutMs: opts.timeoutMs, retry: { attempts: SHIM_DIAL_ATTEMPTS } },
      });
      return channelOf(client);
    },
    serve: async (address, service, handlers): Promise<UnaryServer> => {
      const server = new TtrpcServer(logger === undefined ? {} : { logger });
      for (const [method, h] of Object.entries(handlers)) {
        server.register(service, method, (payload, ctx) => {
          const md: Record<string, string> = {};
          for (const [k, v] of Object.entries(ctx.metadata)) if (v.length > 0) md[k] = v[v.length - 1]!;
          return h(payload, { metadata: md });
        });
      }
      const listener = await server.listen(address);
      let closed = false;
      return {
        address: listener.address,
        close: async () => {
          if (closed) return;
          closed = true;
          await listener.close();
          await server.close();
        },
      };
    },
  };
}

let shared: TtrpcLink | undefined;

/** The process-wide default link (created on first use). */
export function defaultTtrpcLink(): TtrpcLink {
  return (shared ??= createTtrpcLink());
}
