/** Unix-socket helpers: listening with stale-socket cleanup. */
import { connect, type Server } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { CocoonError } from '../common/errors.js';

function listenOnce(server: Server, path: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => {
      server.off('listening', onListening);
      reject(e);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(path);
  });
}

/** True when something accepts connections on the Unix socket at `path`. */
function isLive(path: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Listens on a Unix socket path. A stale socket file left by a dead process (nothing accepts on
 * it) is removed first; a live one is an error (ERR_TRANSPORT_LISTEN_FAILED), never stolen.
 */
export async function listenUnixServer(server: Server, path: string): Promise<void> {
  try {
    await listenOnce(server, path);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    let stale = false;
    if (code === 'EADDRINUSE') {
      try {
        stale = lstatSync(path).isSocket() && !(await isLive(path));
      } catch {
        stale = false;
      }
    }
    if (!stale) {
      throw new CocoonError('ERR_TRANSPORT_LISTEN_FAILED', `cannot listen on unix socket ${path}`, {
        cause: e,
        details: { path, errno: code },
      });
    }
  }
  unlinkSync(path);
  try {
    await listenOnce(server, path);
  } catch (e) {
    throw new CocoonError('ERR_TRANSPORT_LISTEN_FAILED', `cannot listen on unix socket ${path}`, {
      cause: e,
      details: { path, errno: (e as NodeJS.ErrnoException).code },
    });
  }
}
