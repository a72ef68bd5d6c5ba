/**
 * Applies one image layer onto a root filesystem directory (image-spec layer.md): regular
 * files, directories, symlinks, hard links, whiteouts (`.wh.<name>`) and opaque directories
 * (`.wh..wh..opq`). Nothing an archive says can write outside `destDir`: `..` components are
 * rejected and symlinks met on the way are resolved inside the root (an absolute target means
 * the root, `..` stops at the root), as containerd's scoped path resolution does.
 */
import { createGunzip } from 'node:zlib';
import { Readable, pipeline } from 'node:stream';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rm,
  symlink,
  link,
  chmod,
  lchown,
  utimes,
  lutimes,
} from 'node:fs/promises';
import { join } from 'node:path';
import { CocoonError, messageOf } from '../common/errors.js';
import { DigestVerifier } from './digest.js';
import { readTar, type TarEntry, type TarEntryType } from './tar.js';
import { MediaType } from './types.js';

/** Whiteout file prefix (image-spec layer.md §Whiteouts). */
export const WHITEOUT_PREFIX = '.wh.';
/** Opaque-directory marker (image-spec layer.md §Opaque Whiteout). */
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
/** Prefix of aufs metadata entries, which are skipped. */
const WHITEOUT_META_PREFIX = '.wh..wh.';
/** Bound on symlink hops while resolving one path (Linux MAXSYMLINKS is 40). */
const MAX_SYMLINK_HOPS = 40;
/** Default bound on entries per layer. */
export const DEFAULT_MAX_ENTRIES = 1_000_000;

/** Options of unpackLayer. */
export interface UnpackOptions {
  /** Apply uid/gid from the archive. Default: true when running as root. */
  readonly sameOwner?: boolean;
  /** Bound on entries. Default DEFAULT_MAX_ENTRIES. */
  readonly maxEntries?: number;
  /** Cancels the unpack between entries. */
  readonly signal?: AbortSignal;
  /**
   * DiffID (digest of the uncompressed tar, image-spec config.md `rootfs.diff_ids`) to verify;
   * a mismatch throws ERR_OCI_DIGEST_MISMATCH after the whole stream was read. Default: not checked.
   */
  readonly expectedDiffId?: string;
}

/** An entry that was not materialised, and why. */
export interface SkippedEntry {
  readonly path: string;
  readonly type: TarEntryType;
  readonly reason: string;
}

/** What one layer did to the root. */
export interface UnpackResult {
  /** Entries read from the archive (whiteouts included). */
  entries: number;
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** Whiteouts and opaque markers applied. */
  whiteouts: number;
  /** File bytes written. */
  bytes: number;
  /** Device nodes and FIFOs (not creatable without mknod; see docs/oci.md). */
  skipped: SkippedEntry[];
}

/** What a layer source may be. */
export type LayerSource = Uint8Array | AsyncIterable<Uint8Array>;

/** The compression a layer media type implies; throws ERR_OCI_MEDIA_TYPE_UNSUPPORTED. */
export function layerCompression(mediaType: string): 'gzip' | 'none' {
  switch (mediaType) {
    case MediaType.OCI_LAYER_GZIP:
    case MediaType.OCI_LAYER_NONDIST_GZIP:
    case MediaType.DOCKER_LAYER_GZIP:
    case MediaType.DOCKER_FOREIGN_LAYER_GZIP:
      return 'gzip';
    case MediaType.OCI_LAYER:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar':
      return 'none';
    default:
      throw new CocoonError(
        'ERR_OCI_MEDIA_TYPE_UNSUPPORTED',
        `layer media type ${mediaType} is not supported on the host`,
        {
          details: { mediaType },
        },
      );
  }
}

function unsafe(path: string, why: string): CocoonError {
  return new CocoonError('ERR_OCI_TAR_UNSAFE_PATH', `layer entry ${JSON.stringify(path)}: ${why}`, {
    details: { path, reason: why },
  });
}

/** Splits an archive path into components; rejects `..` (never needed by a well-formed layer). */
export function entryComponents(name: string): string[] {
  const comps = name.split('/').filter((c) => c !== '' && c !== '.');
  if (comps.some((c) => c === '..')) throw unsafe(name, 'contains a .. component');
  return comps;
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/**
 * Resolves `comps` under `root` following symlinks as if `root` were `/`: absolute targets
 * restart at the root, `..` is clamped at the root. The last component is not followed when
 * `followLast` is false. Missing components are kept as they are (to be created).
 */
export async function resolveInRoot(
  root: string,
  comps: readonly string[],
  followLast: boolean,
): Promise<string> {
  let stack: string[] = [];
  const queue = [...comps];
  let hops = 0;
  while (queue.length > 0) {
    const c = queue.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      stack.pop();
      continue;
    }
    if (queue.length === 0 && !followLast) {
      stack.push(c);
      break;
    }
    const p = join(root, ...stack, c);
    let isLink = false;
    try {
      isLink = (await lstat(p)).isSymbolicLink();
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
    if (!isLink) {
      stack.push(c);
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) throw unsafe(comps.join('/'), 'too many levels of symbolic links');
    const target = await readlink(p);
    if (target.startsWith('/')) stack = [];
    queue.unshift(...target.split('/'));
  }
  return join(root, ...stack);
}

function gunzip(source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const z = createGunzip();
  pipeline(Readable.from(source, { objectMode: false }), z, () => undefined);
  return z;
}

async function* tap(source: AsyncIterable<Uint8Array>, v: DigestVerifier): AsyncGenerator<Uint8Array> {
  for await (const c of source) {
    v.update(c);
    yield c;
  }
}

function toIterable(source: LayerSource): AsyncIterable<Uint8Array> {
  if (source instanceof Uint8Array) {
    return (async function* () {
      yield source;
    })();
  }
  return source;
}

function mapStreamError(e: unknown): CocoonError {
  if (e instanceof CocoonError) return e;
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new CocoonError('ERR_OCI_TAR_INVALID', `layer gzip stream is corrupt: ${messageOf(e)}`, {
      cause: e,
      details: { zlib: code },
    });
  }
  if (isErrno(e, 'ENOTDIR') || isErrno(e, 'EISDIR') || isErrno(e, 'EEXIST')) {
    return new CocoonError('ERR_OCI_TAR_INVALID', `layer conflicts with the filesystem: ${messageOf(e)}`, {
      cause: e,
    });
  }
  return new CocoonError('ERR_COMMON_IO', `unpacking a layer failed: ${messageOf(e)}`, { cause: e });
}

/**
 * Unpacks one layer (tar or tar+gzip per `mediaType`) onto `destDir`, which must exist.
 * Corrupt archives → ERR_OCI_TAR_INVALID; escapes → ERR_OCI_TAR_UNSAFE_PATH; unsupported media
 * type → ERR_OCI_MEDIA_TYPE_UNSUPPORTED. A failed unpack may leave `destDir` half written:
 * callers unpack into a temporary directory and rename (ImageStore does).
 */
export async function unpackLayer(
  source: LayerSource,
  mediaType: string,
  destDir: string,
  options: UnpackOptions = {},
): Promise<UnpackResult> {
  const compression = layerCompression(mediaType);
  const sameOwner = options.sameOwner ?? process.getuid?.() === 0;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const result: UnpackResult = {
    entries: 0,
    files: 0,
    dirs: 0,
    symlinks: 0,
    hardlinks: 0,
    whiteouts: 0,
    bytes: 0,
    skipped: [],
  };
  const root = destDir;
  // Paths created by this layer: an opaque marker hides only what lower layers put there.
  const written = new Set<string>();
  const dirModes: { path: string; mode: number; mtime: number }[] = [];
  // Parent folders already resolved and created in this layer. Only a removal can change how
  // a path resolves (a new symlink only appears where nothing was), so removals clear it.
  const parents = new Map<string, string>();
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  let input = toIterable(source);
  if (compression === 'gzip') input = gunzip(input);
  const diff =
    options.expectedDiffId !== undefined
      ? new DigestVerifier(options.expectedDiffId, 'layer DiffID')
      : undefined;
  if (diff !== undefined) input = tap(input, diff);
  try {
    for await (const item of readTar(input, { drain: diff !== undefined })) {
      if (options.signal?.aborted === true) throw new CocoonError('ERR_COMMON_CANCELLED', 'unpack cancelled');
      if (++result.entries > maxEntries)
        throw new CocoonError('ERR_OCI_TOO_LARGE', `layer has more than ${maxEntries} entries`);
      const e = item.entry;
      const comps = entryComponents(e.name);
      if (comps.length === 0) {
        // The root itself ("./"): only its metadata could apply; keep the root as created.
        continue;
      }
      const base = comps[comps.length - 1]!;
      const parentComps = comps.slice(0, -1);
      if (base.startsWith(WHITEOUT_PREFIX)) {
        const parent = await resolveInRoot(root, parentComps, true);
        parents.clear();
        if (base === WHITEOUT_OPAQUE) {
          await applyOpaque(parent, written);
          result.whiteouts++;
        } else if (!base.startsWith(WHITEOUT_META_PREFIX)) {
          const victim = base.slice(WHITEOUT_PREFIX.length);
          if (victim === '' || victim === '.' || victim === '..')
            throw unsafe(e.name, 'whiteout of an invalid name');
          await rm(join(parent, victim), { recursive: true, force: true });
          result.whiteouts++;
        }
        continue;
      }
      const parentKey = parentComps.join('/');
      let parent = parents.get(parentKey);
      if (parent === undefined) {
        parent = await resolveInRoot(root, parentComps, true);
        await mkdir(parent, { recursive: true });
        parents.set(parentKey, parent);
      }
      const target = join(parent, base);
      if (await materialise(e, target, root, item.body, result, dirModes)) parents.clear();
      written.add(target);
      // Hard links share the target's inode (chown would clear its setuid bits); device nodes
      // and FIFOs were skipped. New entries already belong to this process's uid/gid.
      if (
        sameOwner &&
        (e.type === 'file' || e.type === 'dir' || e.type === 'symlink') &&
        (e.uid !== uid || e.gid !== gid)
      ) {
        await lchown(target, e.uid, e.gid);
      }
      if (e.type === 'file') {
        await chmod(target, e.mode);
        await utimes(target, e.mtime, e.mtime);
      } else if (e.type === 'symlink') {
        await lutimes(target, e.mtime, e.mtime).catch(() => undefined);
      }
    }
    diff?.finish();
  } catch (err) {
    throw mapStreamError(err);
  }
  // Directory modes last, deepest first, so a read-only directory cannot block its children.
  for (const d of dirModes.reverse()) {
    await chmod(d.path, d.mode);
    await utimes(d.path, d.mtime, d.mtime);
  }
  return result;
}

async function materialise(
  e: TarEntry,
  target: string,
  root: string,
  body: () => AsyncIterable<Buffer>,
  result: UnpackResult,
  dirModes: { path: string; mode: number; mtime: number }[],
): Promise<boolean> {
  let existing: Awaited<ReturnType<typeof lstat>> | undefined;
  try {
    existing = await lstat(target);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  if (e.type === 'dir') {
    if (existing !== undefined && !existing.isDirectory()) await rm(target, { recursive: true, force: true });
    if (existing === undefined || !existing.isDirectory()) await mkdir(target, { mode: 0o755 });
    dirModes.push({ path: target, mode: e.mode, mtime: e.mtime });
    result.dirs++;
    return existing !== undefined && !existing.isDirectory();
  }
  if (e.type === 'char' || e.type === 'block' || e.type === 'fifo') {
    result.skipped.push({
      path: e.name,
      type: e.type,
      reason: 'device nodes and FIFOs are not created by the unpacker',
    });
    return false;
  }
  // Everything else replaces what is there (a directory only by a directory).
  if (existing !== undefined) await rm(target, { recursive: true, force: true });
  switch (e.type) {
    case 'file': {
      // O_CREAT|O_EXCL never follows a symlink: nothing is written through one at the target.
      const fh = await open(target, 'wx', 0o600);
      try {
        for await (const chunk of body()) {
          await fh.write(chunk);
          result.bytes += chunk.length;
        }
      } finally {
        await fh.close();
      }
      result.files++;
      break;
    }
    case 'symlink':
      await symlink(e.linkname, target);
      result.symlinks++;
      break;
    case 'hardlink': {
      const linkComps = entryComponents(e.linkname);
      if (linkComps.length === 0) throw unsafe(e.name, 'hard link to the root');
      const source = await resolveInRoot(root, linkComps, false);
      let st;
      try {
        st = await lstat(source);
      } catch (err) {
        if (isErrno(err, 'ENOENT')) {
          throw new CocoonError(
            'ERR_OCI_TAR_INVALID',
            `hard link ${e.name} → ${e.linkname}: target does not exist`,
            {
              details: { path: e.name, linkname: e.linkname },
            },
          );
        }
        throw err;
      }
      if (st.isDirectory()) throw unsafe(e.name, 'hard link to a directory');
      await link(source, target);
      result.hardlinks++;
      break;
    }
  }
  return existing !== undefined;
}

/** Removes everything under `dir` that this layer did not itself create. */
async function applyOpaque(dir: string, written: ReadonlySet<string>): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  for (const n of names) {
    const p = join(dir, n);
    if (!written.has(p)) {
      await rm(p, { recursive: true, force: true });
      continue;
    }
    const st = await lstat(p);
    if (st.isDirectory()) await applyOpaque(p, written);
  }
}
