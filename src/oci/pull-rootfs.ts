/**
 * Store-less pull: resolve an image and stream each layer straight from the registry into the
 * unpacker, the way image-rs unpacks into a container bundle inside the guest (guest.md §5.1).
 * Nothing is committed until every layer's digest and DiffID check out: the rootfs is built in
 * a sibling temporary folder and renamed onto `destDir` at the end.
 */
import { mkdtemp, rename, rm, lstat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { CocoonError } from '../common/errors.js';
import type { RegistryClient, ResolveOptions, ResolvedImage } from './registry-client.js';
import { isDigest } from './ref.js';
import { unpackLayer, type UnpackOptions } from './unpack.js';

/** Options of pullRootfs. */
export interface PullRootfsOptions extends ResolveOptions {
  /** Unpack options (ownership, entry bound). Default: unpackLayer's defaults. */
  readonly unpack?: Omit<UnpackOptions, 'expectedDiffId' | 'signal'>;
  /** An already resolved image (skips the manifest round trip). Default: resolve `ref`. */
  readonly resolved?: ResolvedImage;
}

/**
 * Pulls `ref` into `destDir` (which must not exist) and returns what was resolved. On any
 * failure (network, digest, DiffID, corrupt archive) `destDir` is not created.
 */
export async function pullRootfs(
  client: RegistryClient,
  ref: string,
  destDir: string,
  options: PullRootfsOptions = {},
): Promise<ResolvedImage> {
  try {
    await lstat(destDir);
    throw new CocoonError('ERR_COMMON_INVALID_ARGUMENT', `rootfs destination ${destDir} already exists`, {
      details: { destDir },
    });
  } catch (e) {
    if (e instanceof CocoonError) throw e;
  }
  const resolved = options.resolved ?? (await client.resolve(ref, options));
  const work = await mkdtemp(join(dirname(destDir), `.${basename(destDir)}.partial-`));
  try {
    const diffIds = resolved.config.rootfs.diff_ids;
    for (const [i, layer] of resolved.layers.entries()) {
      const stream = await client.fetchBlob(resolved.ref, layer.digest, {
        expectedSize: layer.size,
        ...(options.auth !== undefined ? { auth: options.auth } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
      const diffId = diffIds[i];
      // The blob stream throws on a digest mismatch at its end, which fails this unpack; the
      // partial folder is then discarded, so unverified bytes never become the rootfs.
      await unpackLayer(stream, layer.mediaType, work, {
        ...options.unpack,
        ...(typeof diffId === 'string' && isDigest(diffId) ? { expectedDiffId: diffId } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
    }
    await rename(work, destDir);
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  }
  return resolved;
}
