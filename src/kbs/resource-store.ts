/**
 * File-system resource store laid out as `DIR/<repository>/<type>/<tag>` (Trustee's resource
 * plugin URL, kbs-protocol.md §4.1). Every segment is validated against Trustee's pattern before
 * any path is built, so traversal is impossible: no segment can be "..", start with ".", contain
 * "/" or "%", or be empty. Writes are atomic (atomic-file.ts).
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { CocoonError } from '../common/errors.js';
import { unlinkDurable, writeFileAtomic } from './atomic-file.js';

/** One path segment (kbs-protocol.md §4.1): may contain dots, may not start with one. */
export const RESOURCE_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
/** Longest segment accepted (file-name limit of common file systems). */
export const RESOURCE_SEGMENT_MAX = 255;
/** Largest resource stored (bytes). */
export const DEFAULT_RESOURCE_MAX_BYTES = 2 * 1024 * 1024;

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

  constructor(dir: string, maxBytes = DEFAULT_RESOURCE_MAX_BYTES) {
    this.dir = dir;
    this.maxBytes = maxBytes;
  }

  private fileOf(p: ResourcePath): string {
    return join(this.dir, p.repository, p.type, p.tag);
  }

  /** Reads a resource; ERR_KBS_RESOURCE_NOT_FOUND when absent. */
  async get(p: ResourcePath): Promise<Buffer> {
    const notFound = (): CocoonError =>
      new CocoonError('ERR_KBS_RESOURCE_NOT_FOUND', `resource not found: ${pathText(p)}`);
    let fh;
    try {
      // O_NOFOLLOW: a symlink planted in the store must not lead outside it; fstat on the opened
      // descriptor then proves it is a regular file (no race between check and read).
      fh = await open(this.fileOf(p), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') throw notFound();
      throw new CocoonError('ERR_KBS_RESOURCE_STORE_FAILED', `cannot read resource ${pathText(p)}`, {
        cause: e,
      });
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw notFound();
      if (st.size > this.maxBytes) {
        throw new CocoonError(
          'ERR_KBS_RESOURCE_STORE_FAILED',
          `resource ${pathText(p)} exceeds ${this.maxBytes} bytes`,
        );
      }
      return await fh.readFile();
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
