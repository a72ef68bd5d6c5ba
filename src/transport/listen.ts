/** Listening on a transport address: unix, tcp (port 0 allowed), hybrid vsock, AF_VSOCK. */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CocoonError } from '../common/errors.js';
import { formatAddress, toAddress, type Address } from './address.js';
import { listenHvsock } from './hvsock.js';
import { listenUnixServer } from './unix.js';
import { listenVsock } from './vsock.js';
import { unlink } from 'node:fs/promises';

/** A listening endpoint returned by listen(). */
export interface Listener {
  /** The address actually bound, in address syntax (tcp port 0 → the real port). */
  readonly address: string;
  /** Stops accepting, destroys the connections it accepted and removes a Unix socket file. */
  close(): Promise<void>;
}

function trackingServer(onConnection: (s: Duplex) => void): { server: Server; sockets: Set<Socket> } {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    onConnection(s);
  });
  return { server, sockets };
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Listens on `address` and hands every accepted byte stream to `onConnection`. */
export async function listen(
  address: string | Address,
  onConnection: (s: Duplex) => void,
): Promise<Listener> {
  const a = toAddress(address);
  switch (a.kind) {
    case 'unix': {
      const { server, sockets } = trackingServer(onConnection);
      await listenUnixServer(server, a.path);
      return {
        address: formatAddress(a),
        async close() {
          await closeServer(server, sockets);
          await unlink(a.path).catch(() => undefined);
        },
      };
    }
    case 'tcp': {
      const { server, sockets } = trackingServer(onConnection);
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) =>
          reject(
            new CocoonError('ERR_TRANSPORT_LISTEN_FAILED', `cannot listen on ${formatAddress(a)}`, {
              cause: e,
              details: { address: formatAddress(a), errno: (e as NodeJS.ErrnoException).code },
            }),
          ),
        );
        server.listen(a.port, a.host, () => resolve());
      });
      const port = (server.address() as AddressInfo).port;
      return { address: formatAddress({ ...a, port }), close: () => closeServer(server, sockets) };
    }
    case 'hvsock': {
      const stop = await listenHvsock(a.path, a.port, onConnection);
      return { address: formatAddress(a), close: stop };
    }
    case 'vsock': {
      const l = listenVsock(a.cid, a.port, onConnection);
      return {
        address: formatAddress({ kind: 'vsock', cid: a.cid, port: l.port }),
        close: () => {
          l.close();
          return Promise.resolve();
        },
      };
    }
  }
}
