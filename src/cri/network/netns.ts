/**
 * Persistent network namespaces: a namespace bind-mounted on a file, the way `ip netns add`
 * does it, so it outlives the process that made it and plugins can enter it by path.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, rm, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CocoonError, messageOf } from '../../common/errors.js';

/** Where `ip netns` keeps namespaces; pods' namespaces go here by default. */
export const DEFAULT_NETNS_DIR = '/var/run/netns';
/** statfs magic of nsfs (linux/magic.h NSFS_MAGIC): the file is a namespace mount. */
const NSFS_MAGIC = 0x6e736673;
/** Bound on unshare/umount. */
const HELPER_TIMEOUT_MS = 10_000;

/** Binaries used to make and remove namespaces (injectable for odd systems). */
export interface NetnsTools {
  /** util-linux unshare. Default `unshare` from PATH. */
  readonly unshare?: string;
  /** umount. Default `umount` from PATH. */
  readonly umount?: string;
}

function run(bin: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, HELPER_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${bin} ${args.join(' ')}: exit ${code}: ${stderr.trim()}`));
    });
  });
}

/** True when `path` is a mounted namespace file. */
export async function isNetnsMounted(path: string): Promise<boolean> {
  try {
    return (await statfs(path)).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

/** Creates a new network namespace pinned at `path` (idempotent when it is already one). */
export async function createNetns(path: string, tools: NetnsTools = {}): Promise<void> {
  if (await isNetnsMounted(path)) return;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    const fh = await open(path, 'a', 0o444);
    await fh.close();
    await run(tools.unshare ?? 'unshare', [`--net=${path}`, 'true']);
  } catch (e) {
    await rm(path, { force: true }).catch(() => undefined);
    throw new CocoonError('ERR_CNI_NETNS_FAILED', `creating network namespace ${path}: ${messageOf(e)}`, {
      cause: e,
      details: { path },
    });
  }
}

/** Unmounts and removes a namespace file (idempotent: a missing one is not an error). */
export async function deleteNetns(path: string, tools: NetnsTools = {}): Promise<void> {
  try {
    if (await isNetnsMounted(path)) {
      try {
        await run(tools.umount ?? 'umount', [path]);
      } catch {
        // Still busy (a process inside): detach it lazily; the kernel frees it with the last user.
        await run(tools.umount ?? 'umount', ['-l', path]);
      }
    }
    await rm(path, { force: true });
  } catch (e) {
    throw new CocoonError('ERR_CNI_NETNS_FAILED', `deleting network namespace ${path}: ${messageOf(e)}`, {
      cause: e,
      details: { path },
    });
  }
}
