/**
 * File-system resource store laid out as `DIR/<repository>/<type>/<tag>` (Trustee's resource
 * plugin URL, kbs-protocol.md §4.1). Every segment is validated against Trustee's pattern before
 * any path is built, so traversal is impossible: no segment can be "..", start with ".", contain
 * "/" or "%", or be empty. Writes are atomic (atomic-file.ts).
 */
import { constants, lstatSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../common/clock.js';
import { CocoonError } from '../common/errors.js';
import { unlinkDurable, writeFileAtomic } from './atomic-file.js';

/** One path segment (kbs-protocol.md §4.1): may contain dots, may not start with one. */
export const RESOURCE_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
/** Longest segment accepted (file-name limit of common file systems). */
export const RESOURCE_SEGMENT_MAX = 255;
/** Largest resource stored (bytes). */
export const DEFAULT_RESOURCE_MAX_BYTES = 2 * 1024 * 1024;

/** Resources cached in memory at most (FIFO eviction). */
export const RESOURCE_CACHE_ENTRIES = 256;
/** Largest resource cached in memory (bytes); bigger ones are read from disk every time. */
export const RESOURCE_CACHE_MAX_BYTES = 64 * 1024;
/**
 * A file changed less than this long ago is not cached: kernel file timestamps are coarse (one
 * jiffy), so a same-size in-place edit right after the read could keep mtime and ctime unchanged
 * (git's "racily clean" problem). Older files change only with a newer timestamp.
 */
export const RESOURCE_CACHE_SETTLE_MS = 2000;

/** A cached resource and the identity of the file it was read from. */
interface CachedResource {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly data: Buffer;
}

/** A validated resource path. */
export interface ResourcePath {
  readonly repository: string;
  readonly type: string;
  readonly tag: string;
}

function badPath(message: string): CocoonError {
  return new CocoonError('ERR_KBS_RESOURCE_PATH_INVALID', message);
}

/** Validates exactly three segments; throws ERR_KBS_RESOURCE_PATH_INVALID. */
export function parseResourcePath(segments: readonly string[]): ResourcePath {
  if (segments.length !== 3)
    throw badPath(`resource path needs repository/type/tag, got ${segments.length} segments`);
  for (const s of segments) {
    if (s.length === 0 || s.length > RESOURCE_SEGMENT_MAX || !RESOURCE_SEGMENT.test(s)) {
      throw badPath(`resource path segment ${JSON.stringify(s.slice(0, 64))} is not allowed`);
    }
  }
  return { repository: segments[0]!, type: segments[1]!, tag: segments[2]! };
}

/** Parses "repo/type/tag" text (CLI and admin client). */
export function parseResourcePathText(text: string): ResourcePath {
  return parseResourcePath(text.replace(/^\/+/, '').split('/'));
}

/** The store. */
export class ResourceStore {
  /** Root directory. */
  readonly dir: string;
  private readonly maxBytes: number;
  /**
   * Small files by path. A GET costs one lstat instead of open + fstat + read + close; a hit
   * needs the same device, inode, size, mtime and ctime as when read, so an atomic replace (new
   * inode), an in-place edit (new mtime/ctime), a deletion or a planted symlink (not a regular
   * file) all fall through to the authoritative O_NOFOLLOW read below.
   */
  private readonly cache = new Map<string, CachedResource>();
  /** Real time, compared with file timestamps (the settle rule); injected for tests. */
  private readonly clock: Clock;

  constructor(dir: string, maxBytes = DEFAULT_RESOURCE_MAX_BYTES, clock: Clock = systemClock) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.clock = clock;
  }

  private fileOf(p: ResourcePath): string {
    return join(this.dir, p.repository, p.type, p.tag);
  }

  /** Reads a resource; ERR_KBS_RESOURCE_NOT_FOUND when absent. */
  async get(p: ResourcePath): Promise<Buffer> {
    const notFound = (): CocoonError =>
      new CocoonError('ERR_KBS_RESOURCE_NOT_FOUND', `resource not found: ${pathText(p)}`);
    const file = this.fileOf(p);
    const hit = this.cache.get(file);
    if (hit !== undefined) {
      // Synchronous on purpose: one metadata syscall on a hot dentry costs a few µs, far less
      // than the thread-pool round trip of the promise API (profiled at ~150 µs per GET).
      let st;
      try {
        st = lstatSync(file, { bigint: true, throwIfNoEntry: false });
      } catch {
        st = undefined; // ENOTDIR, EACCES…: the authoritative read below reports it
      }
      if (
        st !== undefined &&
        st.isFile() &&
        st.dev === hit.dev &&
        st.ino === hit.ino &&
        st.size === hit.size &&
        st.mtimeNs === hit.mtimeNs &&
        st.ctimeNs === hit.ctimeNs
      ) {
        return Buffer.from(hit.data);
      }
      this.cache.delete(file);
    }
    let fh;
    try {
      // O_NOFOLLOW: a symlink planted in the store must not lead outside it; fstat on the opened
      // descriptor then proves it is a regular file (no race between check and read).
      fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') throw notFound();
      throw new CocoonError('ERR_KBS_RESOURCE_STORE_FAILED', `cannot read resource ${pathText(p)}`, {
        cause: e,
      });
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (!st.isFile()) throw notFound();
      if (st.size > BigInt(this.maxBytes)) {
        throw new CocoonError(
          'ERR_KBS_RESOURCE_STORE_FAILED',
          `resource ${pathText(p)} exceeds ${this.maxBytes} bytes`,
        );
      }
      const data = await fh.readFile();
      const settled =
        BigInt(this.clock.now().getTime() - RESOURCE_CACHE_SETTLE_MS) * 1_000_000n >
        (st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs);
      if (settled && data.length <= RESOURCE_CACHE_MAX_BYTES && BigInt(data.length) === st.size) {
        if (this.cache.size >= RESOURCE_CACHE_ENTRIES) {
          this.cache.delete(this.cache.keys().next().value as string);
        }
        const { dev, ino, size, mtimeNs, ctimeNs } = st;
        this.cache.set(file, { dev, ino, size, mtimeNs, ctimeNs, data: Buffer.from(data) });
      }
      return data;
    } catch (e) {
      if (e instanceof CocoonError) throw e;
      if ((e as NodeJS.ErrnoException).code === 'EISDIR') throw notFound();
      throw new CocoonError('ERR_KBS_RESOURCE_STORE_FAILED', `cannot read resource ${pathText(p)}`, {
        cause: e,
      });
    } finally {
      await fh.close();
    }
  }

  /** Stores (overwrites) a resource atomically. */
  async set(p: ResourcePath, data: Uint8Array): Promise<void> {
    if (data.length > this.maxBytes) {
      throw new CocoonError(
        'ERR_KBS_BODY_TOO_LARGE',
        `resource of ${data.length} bytes exceeds ${this.maxBytes}`,
      );
    }
    this.cache.delete(this.fileOf(p));
    try {
      await writeFileAtomic(this.fileOf(p), data);
    } catch (e) {
      throw new CocoonError('ERR_KBS_RESOURCE_STORE_FAILED', `cannot write resource ${pathText(p)}`, {
        cause: e,
      });
    }
  }

  /** Deletes a resource; ERR_KBS_RESOURCE_NOT_FOUND when absent. */
  async delete(p: ResourcePath): Promise<void> {
    let existed: boolean;
    this.cache.delete(this.fileOf(p));
    try {
      existed = await unlinkDurable(this.fileOf(p));
    } catch (e) {
      throw new CocoonError('ERR_KBS_RESOURCE_STORE_FAILED', `cannot delete resource ${pathText(p)}`, {
        cause: e,
      });
    }
    if (!existed) throw new CocoonError('ERR_KBS_RESOURCE_NOT_FOUND', `resource not found: ${pathText(p)}`);
  }
}

/** "repo/type/tag" text of a path. */
export function pathText(p: ResourcePath): string {
  return `${p.repository}/${p.type}/${p.tag}`;
}
