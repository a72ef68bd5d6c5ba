/**
 * Crash-safe file writes: temp file in the same directory, fsync, rename over the target, fsync
 * the directory. A kill -9 at any point leaves either the old content or the new, never a torn
 * file; temp names start with "." so they can never be read as a resource (resource-path.ts).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Prefix of temp files; resource segments may not start with "." so they never collide. */
export const TEMP_PREFIX = '.tmp-';

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeTemp(path: string, data: Uint8Array, mode: number): Promise<string> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `${TEMP_PREFIX}${basename(path)}-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  return tmp;
}

/** Atomically replaces `path` with `data` (mode default 0600). */
export async function writeFileAtomic(path: string, data: Uint8Array, mode = 0o600): Promise<void> {
  const tmp = await writeTemp(path, data, mode);
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fsyncDir(dirname(path));
}

/**
 * Atomically creates `path` only if it does not exist (link(2) fails with EEXIST), so two
 * processes racing to create a key both end up reading the same file. Returns false when it existed.
 */
export async function createFileExclusive(path: string, data: Uint8Array, mode = 0o600): Promise<boolean> {
  const tmp = await writeTemp(path, data, mode);
  try {
    await link(tmp, path);
    await fsyncDir(dirname(path));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Removes `path` and makes the removal durable; false when it did not exist. */
export async function unlinkDurable(path: string): Promise<boolean> {
  try {
    await unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  await fsyncDir(dirname(path));
  return true;
}
