/**
 * Hybrid vsock (Cloud Hypervisor, Firecracker; cri-kata.md §5, guest.md §6.1): a Unix socket
 * where the host writes `CONNECT <port>\n` and the VMM answers `OK <n>\n` once the guest
 * listener accepted. Both sides live here: the dialer, and a listener that plays the VMM for
 * tests and the simulated guest.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { CocoonError } from '../common/errors.js';
import { readLine } from './line.js';
import { listenUnixServer } from './unix.js';

/** How long the listening side waits for a `CONNECT` line (VMMs use 2 s; guest.md §6.1). */
export const HVSOCK_COMMAND_TIMEOUT_MS = 2000;

/**
 * Runs the client half of the handshake on a connected socket: sends `CONNECT <port>\n`, reads
 * one line and requires it to start with `OK`. Bytes after the line stay in the socket.
 */
export async function hvsockHandshake(
  socket: Socket,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  socket.write(`CONNECT ${port}\n`);
  const line = await readLine(socket, {
    timeoutMs,
    what: 'reply',
    ...(signal === undefined ? {} : { signal }),
  });
  if (!/^OK( |$)/.test(line)) {
    throw new CocoonError('ERR_TRANSPORT_HANDSHAKE_FAILED', `hybrid vsock CONNECT ${port} refused`, {
      details: { stage: 'reply', port, reply: line.slice(0, 64) },
    });
  }
}

type ConnHandler = (s: Socket) => void;

/** One Unix listener per socket path, shared by every port registered on it (as one VMM). */
interface Mux {
  readonly server: Server;
  readonly ports: Map<number, ConnHandler>;
  /** Every open connection, handshaken or not. */
  readonly sockets: Set<Socket>;
  /** Connections handed to each port's handler, destroyed when that port closes. */
  readonly accepted: Map<number, Set<Socket>>;
}

const MUXES = new Map<string, Mux>();

function parseCommand(line: string): number | undefined {
  // Keyword case-insensitive, spaces trimmed (Cloud Hypervisor's muxer; guest.md §6.1).
  const m = /^\s*connect\s+([0-9]{1,10})\s*$/i.exec(line);
  if (m === null) return undefined;
  const port = Number(m[1]);
  return port <= 0xffffffff ? port : undefined;
}

function onMuxConnection(mux: Mux, socket: Socket): void {
  mux.sockets.add(socket);
  socket.on('close', () => mux.sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  readLine(socket, { timeoutMs: HVSOCK_COMMAND_TIMEOUT_MS, what: 'command' }).then(
    (line) => {
      const port = parseCommand(line);
      const handler = port === undefined ? undefined : mux.ports.get(port);
      // Unknown port or malformed command: the VMM just drops the connection (guest.md §6.1).
      if (handler === undefined || port === undefined) {
        socket.destroy();
        return;
      }
      socket.write(`OK ${port}\n`);
      const mine = mux.accepted.get(port);
      mine?.add(socket);
      socket.on('close', () => mine?.delete(socket));
      handler(socket);
    },
    () => socket.destroy(),
  );
}

/**
 * Listens on `path` for hybrid vsock connections to `port`; several ports may share one path.
 * Returns a function that unregisters the port, destroys the connections it accepted, and
 * closes the listener after the last port.
 */
export async function listenHvsock(
  path: string,
  port: number,
  onConnection: ConnHandler,
): Promise<() => Promise<void>> {
  let mux = MUXES.get(path);
  if (mux === undefined) {
    const ports = new Map<number, ConnHandler>();
    const sockets = new Set<Socket>();
    const m: Mux = { server: createServer(), ports, sockets, accepted: new Map() };
    m.server.on('connection', (s: Socket) => onMuxConnection(m, s));
    MUXES.set(path, m);
    try {
      await listenUnixServer(m.server, path);
    } catch (e) {
      MUXES.delete(path);
      throw e;
    }
    mux = m;
  }
  if (mux.ports.has(port)) {
    throw new CocoonError(
      'ERR_TRANSPORT_LISTEN_FAILED',
      `hybrid vsock port ${port} is already served on ${path}`,
      {
        details: { path, port },
      },
    );
  }
  mux.ports.set(port, onConnection);
  mux.accepted.set(port, new Set());
  const m = mux;
  return async () => {
    if (m.ports.get(port) !== onConnection) return;
    m.ports.delete(port);
    for (const s of m.accepted.get(port) ?? []) s.destroy();
    m.accepted.delete(port);
    if (m.ports.size > 0) return;
    MUXES.delete(path);
    for (const s of m.sockets) s.destroy();
    await new Promise<void>((resolve) => m.server.close(() => resolve()));
  };
}
