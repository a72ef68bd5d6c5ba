/**
 * Content-addressed image store: verified blobs, one unpacked rootfs per image, and one JSON
 * record per image. Crash-safe by construction: every blob, rootfs and record is built under
 * `tmp/` and renamed into place, so a kill at any instant leaves either the old state or the
 * new one; `tmp/` is emptied on open and a rootfs without a record is removed.
 *
 * Layout under `dir`:
 *   blobs/sha256/<hex>   manifests, configs, compressed layers (digest-verified)
 *   rootfs/<hex>/        unpacked root filesystem of the image whose config digest is <hex>
 *   images/<hex>.json    the ImageRecord
 *   tmp/                 work in progress
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CocoonError, messageOf } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/clock.js';
import { RegistryClient, type ResolvedImage } from './registry-client.js';
import { isDigest, parseDigest, parseImageRef, repoDigest, repoTag } from './ref.js';
import { unpackLayer, type UnpackOptions } from './unpack.js';
import type { Descriptor, ImageRuntimeConfig, Platform, RegistryAuth } from './types.js';

/** Default number of layers downloaded at once per image (image-rs uses 3 too, guest.md §5.2). */
export const DEFAULT_LAYER_CONCURRENCY = 3;
/** Default bound on copying one rootfs. */
export const DEFAULT_COPY_TIMEOUT_MS = 10 * 60_000;
/** Default reuse window of an fsInfo answer. */
export const DEFAULT_FS_INFO_MAX_AGE_MS = 10_000;

/** What the store knows about one image. */
export interface ImageRecord {
  /** Image ID: the config digest (`sha256:<hex>`), as containerd and CRI-O report it. */
  readonly id: string;
  /** `name:tag` references that point at this image. */
  readonly repoTags: readonly string[];
  /** `name@sha256:<manifest digest>` references. */
  readonly repoDigests: readonly string[];
  /** Sum of the layer sizes the manifest declares (bytes). */
  readonly size: number;
  /** The config's `User` (`""` = root by default); see parseImageUser. */
  readonly user: string;
  /** True when the layers are on the host and unpacked (host pull); false for guest pull. */
  readonly layersPulled: boolean;
  /** Manifest annotations (spec annotations for CRI `Image.spec.annotations`). */
  readonly annotations: Readonly<Record<string, string>>;
  /** Digest of the platform manifest. */
  readonly manifestDigest: string;
  /** Media type of the platform manifest. */
  readonly mediaType: string;
  /** Platform from the config. */
  readonly platform: Platform;
  /** The runtime part of the image config (Env, Entrypoint, Cmd, WorkingDir, ...). */
  readonly config: ImageRuntimeConfig;
  /** Layer descriptors, bottom first. */
  readonly layers: readonly Descriptor[];
  /** When the store first recorded the image (ISO 8601). */
  readonly createdAt: string;
}

/** Image filesystem usage (CRI ImageFsInfo, cri-kata.md §6). */
export interface FsInfo {
  /** Directory holding the store (a path on the image filesystem). */
  readonly mountpoint: string;
  /** Bytes allocated to the store (each inode once). */
  readonly usedBytes: number;
  /** Inodes used by the store. */
  readonly inodesUsed: number;
  /** When the numbers were taken (ms since the epoch). */
  readonly timestamp: number;
}

/** Options of ImageStore. */
export interface ImageStoreOptions {
  /** Registry client. Default: `new RegistryClient()`. */
  readonly client?: RegistryClient;
  /** Time source for createdAt. Default: system clock. */
  readonly clock?: Clock;
  /** Options for each layer unpack. Default: unpackLayer's defaults. */
  readonly unpack?: Omit<UnpackOptions, 'expectedDiffId' | 'signal'>;
  /** Layers downloaded at once per image. Default DEFAULT_LAYER_CONCURRENCY. */
  readonly layerConcurrency?: number;
  /**
   * How long an fsInfo answer is reused when the store did not change (ms); the kubelet polls
   * ImageFsInfo and a walk of many rootfs trees is not free. Default DEFAULT_FS_INFO_MAX_AGE_MS.
   */
  readonly fsInfoMaxAgeMs?: number;
  /** Bound on one copyRootfs (ms). Default DEFAULT_COPY_TIMEOUT_MS. */
  readonly copyTimeoutMs?: number;
}

/** Options of pull and pullMetadata. */
export interface PullOptions {
  /** Registry credentials (CRI AuthConfig). Default: anonymous. */
  readonly auth?: RegistryAuth;
  /** Platform from an image index. Default: the client's (linux + host arch). */
  readonly platform?: Platform;
  /** Cancels the pull. */
  readonly signal?: AbortSignal;
}

/** uid/username split of an image `User` (how CRI ImageStatus reports it). */
export interface ImageUser {
  /** Numeric uid when the user part is a number. */
  readonly uid?: number;
  /** User name when the user part is not numeric. */
  readonly username?: string;
}

/**
 * Splits a config `User` ("uid", "uid:gid", "name", "name:group") the way containerd's CRI
 * does: a numeric user part is a uid, anything else is a user name; "" means neither.
 */
export function parseImageUser(user: string): ImageUser {
  const u = user.split(':')[0] ?? '';
  if (u === '') return {};
  if (/^[0-9]+$/.test(u)) {
    const n = Number(u);
    if (Number.isSafeInteger(n)) return { uid: n };
  }
  return { username: u };
}

function hexOf(digest: string): string {
  return parseDigest(digest).hex;
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/** A content-addressed image store rooted at one directory. */
export class ImageStore {
  /** The store's root directory. */
  readonly dir: string;
  /** The registry client used for pulls. */
  readonly client: RegistryClient;
  private readonly clock: Clock;
  private readonly unpackOptions: Omit<UnpackOptions, 'expectedDiffId' | 'signal'>;
  private readonly layerConcurrency: number;
  private readonly records = new Map<string, ImageRecord>();
  private ready: Promise<void> | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly inflight = new Map<string, Promise<ImageRecord>>();
  private readonly blobInflight = new Map<string, Promise<void>>();
  private readonly rootfsInflight = new Map<string, Promise<void>>();
  private readonly fsInfoMaxAgeMs: number;
  private fsInfoCache: FsInfo | undefined;
  private readonly copyTimeoutMs: number;

  constructor(dir: string, options: ImageStoreOptions = {}) {
    this.dir = dir;
    this.client = options.client ?? new RegistryClient();
    this.clock = options.clock ?? systemClock;
    this.unpackOptions = options.unpack ?? {};
    this.layerConcurrency = Math.max(1, options.layerConcurrency ?? DEFAULT_LAYER_CONCURRENCY);
    this.fsInfoMaxAgeMs = options.fsInfoMaxAgeMs ?? DEFAULT_FS_INFO_MAX_AGE_MS;
    this.copyTimeoutMs = options.copyTimeoutMs ?? DEFAULT_COPY_TIMEOUT_MS;
  }

  private get blobsDir(): string {
    return join(this.dir, 'blobs', 'sha256');
  }
  private get imagesDir(): string {
    return join(this.dir, 'images');
  }
  private get rootfsDir(): string {
    return join(this.dir, 'rootfs');
  }
  private get tmpDir(): string {
    return join(this.dir, 'tmp');
  }

  /** Opens the store (idempotent): creates folders, clears crash leftovers, loads records. */
  open(): Promise<void> {
    this.ready ??= this.load().catch((e: unknown) => {
      this.ready = undefined;
      throw e instanceof CocoonError
        ? e
        : new CocoonError('ERR_COMMON_IO', `image store ${this.dir}: ${messageOf(e)}`, { cause: e });
    });
    return this.ready;
  }

  private async load(): Promise<void> {
    for (const d of [this.blobsDir, this.imagesDir, this.rootfsDir, this.tmpDir])
      await mkdir(d, { recursive: true });
    // Anything in tmp/ belongs to an operation that did not finish.
    for (const n of await readdir(this.tmpDir))
      await rm(join(this.tmpDir, n), { recursive: true, force: true });
    this.records.clear();
    for (const n of await readdir(this.imagesDir)) {
      if (!n.endsWith('.json')) continue;
      const p = join(this.imagesDir, n);
      let rec: ImageRecord;
      try {
        rec = JSON.parse(await readFile(p, 'utf8')) as ImageRecord;
        if (typeof rec.id !== 'string' || `${hexOf(rec.id)}.json` !== n || !Array.isArray(rec.repoTags))
          throw new Error('bad shape');
      } catch (e) {
        // Records are written by rename, so this is damage from outside; keep it for inspection.
        await mkdir(join(this.dir, 'corrupt'), { recursive: true });
        await rename(p, join(this.dir, 'corrupt', `${n}.${Date.now()}`));
        void e;
        continue;
      }
      this.records.set(hexOf(rec.id), rec);
    }
    const rootfs = new Set(await readdir(this.rootfsDir));
    for (const [hex, rec] of this.records) {
      if (rec.layersPulled && !rootfs.has(hex)) {
        const fixed = { ...rec, layersPulled: false };
        await this.writeRecord(fixed);
        this.records.set(hex, fixed);
      }
    }
    for (const hex of rootfs) {
      const rec = this.records.get(hex);
      // A rootfs renamed into place but whose record never got written: the pull did not finish.
      if (rec === undefined || !rec.layersPulled) await this.discardDir(join(this.rootfsDir, hex));
    }
  }

  private async discardDir(path: string): Promise<void> {
    const grave = join(this.tmpDir, `gone-${randomBytes(6).toString('hex')}`);
    try {
      await rename(path, grave);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return;
      throw e;
    }
    await rm(grave, { recursive: true, force: true });
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async atomicWrite(dest: string, data: Uint8Array | string): Promise<void> {
    const tmp = join(this.tmpDir, `w-${randomBytes(8).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dest);
  }

  private async writeRecord(rec: ImageRecord): Promise<void> {
    this.fsInfoCache = undefined;
    await this.atomicWrite(
      join(this.imagesDir, `${hexOf(rec.id)}.json`),
      `${JSON.stringify(rec, null, 2)}\n`,
    );
  }

  /** Path of a blob in the store (it may not exist). */
  blobPath(digest: string): string {
    return join(this.blobsDir, hexOf(digest));
  }

  private async hasBlob(digest: string): Promise<boolean> {
    try {
      return (await stat(this.blobPath(digest))).isFile();
    } catch {
      return false;
    }
  }

  private async putBlobBytes(digest: string, data: Uint8Array): Promise<void> {
    if (await this.hasBlob(digest)) return;
    const got = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (parseDigest(digest).algorithm === 'sha256' && got !== digest) {
      throw new CocoonError('ERR_OCI_DIGEST_MISMATCH', `blob ${digest}: content digest differs`, {
        details: { expected: digest },
      });
    }
    await this.atomicWrite(this.blobPath(digest), data);
  }

  /**
   * Pulls an image onto the host: manifest, config, every layer (digest-verified), unpacked
   * into rootfs/<id>. Concurrent pulls of the same reference share one operation.
   */
  async pull(ref: string, options: PullOptions = {}): Promise<ImageRecord> {
    return this.dedup('pull', ref, options, async () => {
      const resolved = await this.client.resolve(ref, options);
      return this.pullResolved(resolved, options);
    });
  }

  /** Guest pull (cri-kata.md §3.9 option A): manifest and config only, then recordMetadata. */
  async pullMetadata(ref: string, options: PullOptions = {}): Promise<ImageRecord> {
    return this.dedup('meta', ref, options, async () =>
      this.recordMetadata(await this.client.resolve(ref, options)),
    );
  }

  private async dedup(
    kind: string,
    ref: string,
    options: PullOptions,
    fn: () => Promise<ImageRecord>,
  ): Promise<ImageRecord> {
    await this.open();
    const r = parseImageRef(ref);
    // Credentials are part of the key: a caller never rides on someone else's authorisation.
    const authHash = createHash('sha256')
      .update(JSON.stringify(options.auth ?? {}))
      .digest('hex');
    const key = `${kind}|${r.canonical}|${JSON.stringify(options.platform ?? null)}|${authHash}`;
    const running = this.inflight.get(key);
    if (running !== undefined) return running;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Completes a host pull of an already resolved image (layers, unpack, record). */
  async pullResolved(resolved: ResolvedImage, options: PullOptions = {}): Promise<ImageRecord> {
    await this.open();
    const hex = hexOf(resolved.configDigest);
    await this.putBlobBytes(resolved.manifestDigest, resolved.manifestBytes);
    await this.putBlobBytes(resolved.configDigest, resolved.configBytes);
    // Download layers with bounded concurrency.
    const queue = [...resolved.layers];
    const workers = Array.from({ length: Math.min(this.layerConcurrency, queue.length) }, async () => {
      for (let d = queue.shift(); d !== undefined; d = queue.shift())
        await this.ensureLayerBlob(resolved, d, options);
    });
    await Promise.all(workers);
    let unpack = this.rootfsInflight.get(hex);
    if (unpack === undefined) {
      unpack = this.buildRootfs(resolved, options).finally(() => this.rootfsInflight.delete(hex));
      this.rootfsInflight.set(hex, unpack);
    }
    await unpack;
    return this.commit(resolved, true);
  }

  private async ensureLayerBlob(resolved: ResolvedImage, d: Descriptor, options: PullOptions): Promise<void> {
    if (await this.hasBlob(d.digest)) return;
    let p = this.blobInflight.get(d.digest);
    if (p === undefined) {
      p = (async () => {
        const tmp = join(this.tmpDir, `blob-${randomBytes(8).toString('hex')}`);
        const fh = await open(tmp, 'wx', 0o644);
        try {
          const stream = await this.client.fetchBlob(resolved.ref, d.digest, {
            expectedSize: d.size,
            ...(options.auth !== undefined ? { auth: options.auth } : {}),
            ...(options.signal !== undefined ? { signal: options.signal } : {}),
          });
          for await (const chunk of stream) await fh.write(chunk);
          await fh.sync();
        } catch (e) {
          await fh.close().catch(() => undefined);
          await rm(tmp, { force: true });
          throw e;
        }
        await fh.close();
        // Only verified content reaches blobs/ (the stream threw on a mismatch).
        await rename(tmp, this.blobPath(d.digest));
      })().finally(() => this.blobInflight.delete(d.digest));
      this.blobInflight.set(d.digest, p);
    }
    await p;
  }

  private async buildRootfs(resolved: ResolvedImage, options: PullOptions): Promise<void> {
    const hex = hexOf(resolved.configDigest);
    const final = join(this.rootfsDir, hex);
    if (await exists(final)) return;
    const work = await mkdtemp(join(this.tmpDir, 'rootfs-'));
    try {
      const diffIds = resolved.config.rootfs.diff_ids;
      for (const [i, layer] of resolved.layers.entries()) {
        const diffId = diffIds[i];
        await unpackLayer(createReadStream(this.blobPath(layer.digest)), layer.mediaType, work, {
          ...this.unpackOptions,
          ...(typeof diffId === 'string' && isDigest(diffId) ? { expectedDiffId: diffId } : {}),
          ...(options.signal !== undefined ? { signal: options.signal } : {}),
        });
      }
      await rename(work, final);
    } catch (e) {
      await rm(work, { recursive: true, force: true });
      if (isErrno(e, 'ENOTEMPTY') || isErrno(e, 'EEXIST')) return; // someone else finished first
      throw e;
    }
  }

  /**
   * Records a resolved image without its layers (guest pull): ImageStatus can then answer
   * with a real id, size and user, and no layer is ever on the host. An image already
   * host-pulled keeps its rootfs.
   */
  async recordMetadata(resolved: ResolvedImage): Promise<ImageRecord> {
    await this.open();
    await this.putBlobBytes(resolved.manifestDigest, resolved.manifestBytes);
    await this.putBlobBytes(resolved.configDigest, resolved.configBytes);
    return this.commit(resolved, false);
  }

  private commit(resolved: ResolvedImage, layersPulled: boolean): Promise<ImageRecord> {
    return this.withLock(async () => {
      const hex = hexOf(resolved.configDigest);
      const prev = this.records.get(hex);
      const tag = repoTag(resolved.ref);
      const digestRef = repoDigest(resolved.ref, resolved.manifestDigest);
      // A tag names one image: move it off whichever image had it (Docker semantics).
      if (tag !== undefined) {
        for (const [h, other] of this.records) {
          if (h !== hex && other.repoTags.includes(tag)) {
            const moved = { ...other, repoTags: other.repoTags.filter((t) => t !== tag) };
            await this.writeRecord(moved);
            this.records.set(h, moved);
          }
        }
      }
      const rec: ImageRecord = {
        id: resolved.configDigest,
        repoTags: uniq([...(prev?.repoTags ?? []), ...(tag !== undefined ? [tag] : [])]),
        repoDigests: uniq([...(prev?.repoDigests ?? []), digestRef]),
        size: resolved.size,
        user: resolved.config.config?.User ?? '',
        layersPulled: layersPulled || (prev?.layersPulled ?? false),
        annotations: { ...(resolved.manifest.annotations ?? {}) },
        manifestDigest: resolved.manifestDigest,
        mediaType: resolved.mediaType,
        platform: resolved.platform,
        config: resolved.config.config ?? {},
        layers: resolved.layers,
        createdAt: prev?.createdAt ?? this.clock.now().toISOString(),
      };
      await this.writeRecord(rec);
      this.records.set(hex, rec);
      return rec;
    });
  }

  /**
   * Finds an image by ID (`sha256:<hex>`, bare hex or a unique hex prefix of at least 3),
   * manifest digest, `name@digest`, or a tag reference (`busybox` → docker.io/library/busybox:latest).
   * Returns undefined when absent; throws ERR_OCI_REF_INVALID for input that is none of these.
   */
  async get(idOrRefOrDigest: string): Promise<ImageRecord | undefined> {
    await this.open();
    const s = idOrRefOrDigest;
    if (/^sha256:[0-9a-f]{64}$/.test(s)) {
      const byId = this.records.get(s.slice(7));
      if (byId !== undefined) return byId;
      return [...this.records.values()].find(
        (r) => r.manifestDigest === s || r.repoDigests.some((d) => d.endsWith(`@${s}`)),
      );
    }
    if (/^[0-9a-f]{3,64}$/.test(s)) {
      const exact = this.records.get(s);
      if (exact !== undefined) return exact;
      const matches = [...this.records.keys()].filter((h) => h.startsWith(s));
      if (matches.length === 1) return this.records.get(matches[0]!);
      if (matches.length > 1) return undefined;
    }
    const r = parseImageRef(s);
    if (r.digest !== undefined) {
      const want = `${r.name}@${r.digest}`;
      return [...this.records.values()].find((rec) => rec.repoDigests.includes(want));
    }
    const tag = repoTag(r)!;
    return [...this.records.values()].find((rec) => rec.repoTags.includes(tag));
  }

  /** Every image, oldest first. */
  async list(): Promise<ImageRecord[]> {
    await this.open();
    return [...this.records.values()].sort(
      (a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id),
    );
  }

  /**
   * Removes an image (by anything `get` accepts): record first, then its rootfs, then blobs
   * no remaining image references. Returns false when there was nothing to remove (idempotent).
   */
  async remove(idOrRef: string): Promise<boolean> {
    const rec = await this.get(idOrRef);
    if (rec === undefined) return false;
    return this.withLock(async () => {
      const hex = hexOf(rec.id);
      if (!this.records.has(hex)) return false;
      // Record first: a crash after this leaves only unreferenced data, which open() removes.
      this.fsInfoCache = undefined;
      await rm(join(this.imagesDir, `${hex}.json`), { force: true });
      this.records.delete(hex);
      await this.discardDir(join(this.rootfsDir, hex));
      const live = new Set<string>();
      for (const r of this.records.values()) {
        live.add(hexOf(r.id));
        live.add(hexOf(r.manifestDigest));
        for (const l of r.layers) live.add(hexOf(l.digest));
      }
      const candidates = [hex, hexOf(rec.manifestDigest), ...rec.layers.map((l) => hexOf(l.digest))];
      for (const c of candidates)
        if (!live.has(c) && !this.blobInflight.has(`sha256:${c}`))
          await rm(join(this.blobsDir, c), { force: true });
      return true;
    });
  }

  /** Path of the unpacked rootfs; throws ERR_OCI_IMAGE_NOT_FOUND when the image has none. */
  async rootfsPath(idOrRef: string): Promise<string> {
    const rec = await this.get(idOrRef);
    if (rec === undefined || !rec.layersPulled) {
      throw new CocoonError('ERR_OCI_IMAGE_NOT_FOUND', `no unpacked image ${idOrRef} in the store`, {
        details: { image: idOrRef, guestPullOnly: rec !== undefined },
      });
    }
    return join(this.rootfsDir, hexOf(rec.id));
  }

  /**
   * Copies an image's rootfs to `dest` (which must not exist), preserving symlinks, modes
   * and times, so a container can write to its copy without touching the shared image.
   */
  async copyRootfs(idOrRef: string, dest: string): Promise<void> {
    const src = await this.rootfsPath(idOrRef);
    if (await exists(dest)) {
      throw new CocoonError('ERR_COMMON_INVALID_ARGUMENT', `copy destination ${dest} already exists`, {
        details: { dest },
      });
    }
    // coreutils `cp -a` keeps hard links, ownership, modes, times and xattrs and is several
    // times faster than fs.cp; `--reflink=auto` makes it nearly free on btrfs/xfs.
    try {
      await runCopy(['-a', '--reflink=auto', '--', src, dest], this.copyTimeoutMs);
    } catch (e) {
      await rm(dest, { recursive: true, force: true });
      throw new CocoonError('ERR_COMMON_IO', `copying rootfs of ${idOrRef}: ${messageOf(e)}`, { cause: e });
    }
  }

  /** Bytes and inodes the store uses (CRI ImageFsInfo). */
  async fsInfo(): Promise<FsInfo> {
    await this.open();
    const now = this.clock.now().getTime();
    const cached = this.fsInfoCache;
    if (cached !== undefined && now - cached.timestamp >= 0 && now - cached.timestamp < this.fsInfoMaxAgeMs)
      return cached;
    const seen = new Set<string>();
    let usedBytes = 0;
    let inodesUsed = 0;
    const walk = async (p: string): Promise<void> => {
      let st;
      try {
        st = await lstat(p, { bigint: true });
      } catch (e) {
        if (isErrno(e, 'ENOENT')) return;
        throw e;
      }
      const key = `${st.dev}:${st.ino}`;
      if (!seen.has(key)) {
        seen.add(key);
        inodesUsed++;
        usedBytes += Number(st.blocks) * 512;
      }
      if (st.isDirectory()) {
        let names: string[] = [];
        try {
          names = await readdir(p);
        } catch (e) {
          if (!isErrno(e, 'ENOENT')) throw e;
        }
        for (const n of names) await walk(join(p, n));
      }
    };
    await walk(this.dir);
    this.fsInfoCache = { mountpoint: this.dir, usedBytes, inodesUsed, timestamp: now };
    return this.fsInfoCache;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

function runCopy(args: readonly string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('cp', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`cp ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}

function uniq(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}
