/**
 * Paths of a simulated guest. Guest folders hold Unix sockets (the hybrid-vsock AA socket and
 * the api-server-rest socket), and a Unix socket path may not exceed 107 bytes on Linux
 * (sun_path is 108 bytes with the terminating NUL). Sandbox ids are 64 hex characters, so the
 * folder is named by a 16-hex digest of the id instead of the id itself.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { CocoonError } from '../../common/errors.js';

/** Longest Unix socket path Linux accepts. */
export const MAX_UNIX_SOCKET_PATH = 107;

/** Folder name of the guest of `sandboxId`. */
export function guestDirName(sandboxId: string): string {
  return createHash('sha256').update(sandboxId).digest('hex').slice(0, 16);
}

/** Folder of the guest of `sandboxId` under `root` (`<run dir>/vm`). */
export function guestDir(root: string, sandboxId: string): string {
  return join(root, guestDirName(sandboxId));
}

/** Throws ERR_KATA_SIM_CONFIG_INVALID when a socket path is too long to bind. */
export function checkSocketPath(path: string): void {
  if (Buffer.byteLength(path) > MAX_UNIX_SOCKET_PATH) {
    throw new CocoonError(
      'ERR_KATA_SIM_CONFIG_INVALID',
      `socket path ${path} is ${Buffer.byteLength(path)} bytes; Unix sockets allow ${MAX_UNIX_SOCKET_PATH}: use a shorter state or run directory`,
    );
  }
}
