/**
 * The embedded state store: an append-only log of checksummed records plus a compacted snapshot.
 * It survives kill -9 (and, with fsync on, power loss) at any instant:
 *
 *  - record framing: [u32 BE payload length][u32 BE CRC-32 of payload][payload = UTF-8 JSON]
 *    (RECORD_LENGTH_OFFSET … RECORD_HEADER_SIZE below);
 *  - every record is a whole-object put or a delete, so replaying a record twice is harmless;
 *  - a write is acknowledged only after its batch is written (and fdatasync'ed when `fsync`);
 *    concurrent writers share one write + sync (group commit). The batch goes to the kernel
 *    with one synchronous write(2) (a page-cache copy, cheaper than a thread-pool round trip)
 *    and only the fdatasync runs off the event loop; records arriving meanwhile form the next
 *    batch. A failed write is cut back off the log so that no later record follows a torn one;
 *  - recovery reads `snapshot`, then `log`, stops at the first torn or bad record of the log
 *    (a write cut short by the kill) and truncates the log there;
 *  - compaction writes every live object to `snapshot.tmp`, fsyncs it, renames it over
 *    `snapshot`, fsyncs the directory, then starts an empty log the same way. A crash between
 *    the two renames leaves a log whose records are already in the snapshot: replay is idempotent.
 */
import {
  closeSync,
  existsSync,
  fdatasync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CocoonError, messageOf } from '../../common/errors.js';

/** Offset of the payload length in a record header. */
export const RECORD_LENGTH_OFFSET = 0;
/** Offset of the CRC-32 (IEEE, zlib) of the payload. */
export const RECORD_CRC_OFFSET = RECORD_LENGTH_OFFSET + 4;
/** Size of a record header; the payload starts here. */
export const RECORD_HEADER_SIZE = RECORD_CRC_OFFSET + 4;
/** Largest payload accepted (a record larger than this is treated as corrupt). */
export const MAX_RECORD_BYTES = 16 << 20;
/** Compact when the log holds this many records more than 2× the live objects. */
export const DEFAULT_COMPACT_SLACK = 4096;

/** A stored record: a whole-object put or a delete. */
export type StoreRecord =
  | { readonly op: 'put'; readonly kind: string; readonly id: string; readonly value: unknown }
  | { readonly op: 'del'; readonly kind: string; readonly id: string };

/** Options of StateStore.open. */
export interface StoreOptions {
  /** fdatasync every batch (default true); false still survives kill -9, not power loss. */
  readonly fsync?: boolean;
  /** Extra log records tolerated before compaction (default DEFAULT_COMPACT_SLACK). */
  readonly compactSlack?: number;
}

/** What open() found on disk, for logs and tests. */
export interface RecoveryInfo {
  readonly objects: number;
  readonly logRecords: number;
  /** Bytes cut off the end of the log (a torn write). */
  readonly truncatedBytes: number;
}

/** Encodes one record with its header. */
export function encodeRecord(r: StoreRecord): Buffer {
  const payload = Buffer.from(JSON.stringify(r), 'utf8');
  const out = Buffer.alloc(RECORD_HEADER_SIZE + payload.length);
  out.writeUInt32BE(payload.length, RECORD_LENGTH_OFFSET);
  out.writeUInt32BE(crc32(payload) >>> 0, RECORD_CRC_OFFSET);
  payload.copy(out, RECORD_HEADER_SIZE);
  return out;
}

/** Decodes records until the first torn or invalid one; returns them and the valid length. */
export function decodeRecords(buf: Buffer): { records: StoreRecord[]; validBytes: number } {
  const records: StoreRecord[] = [];
  let off = 0;
  while (off + RECORD_HEADER_SIZE <= buf.length) {
    const len = buf.readUInt32BE(off + RECORD_LENGTH_OFFSET);
    if (len > MAX_RECORD_BYTES || off + RECORD_HEADER_SIZE + len > buf.length) break;
    const payload = buf.subarray(off + RECORD_HEADER_SIZE, off + RECORD_HEADER_SIZE + len);
    if (crc32(payload) >>> 0 !== buf.readUInt32BE(off + RECORD_CRC_OFFSET)) break;
    let r: unknown;
    try {
      r = JSON.parse(payload.toString('utf8'));
    } catch {
      break;
    }
    if (!isRecord(r)) break;
    records.push(r);
    off += RECORD_HEADER_SIZE + len;
  }
  return { records, validBytes: off };
}

function isRecord(r: unknown): r is StoreRecord {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  return (
    (o['op'] === 'put' || o['op'] === 'del') && typeof o['kind'] === 'string' && typeof o['id'] === 'string'
  );
}

function ioError(what: string, e: unknown): CocoonError {
  return new CocoonError('ERR_CRI_STORE_IO', `state store: ${what}: ${messageOf(e)}`, { cause: e });
}

interface Pending {
  readonly buf: Buffer;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/** A crash-safe key/value store of JSON objects grouped by kind. */
export class StateStore {
  /** Live objects: kind → id → value. */
  private readonly data = new Map<string, Map<string, unknown>>();
  private readonly dir: string;
  private readonly fsync: boolean;
  private readonly compactSlack: number;
  /** Descriptor of the log, opened for appending. */
  private log: number | undefined;
  /** Bytes of whole records in the log (where a failed write is cut back to). */
  private logBytes = 0;
  private logRecords = 0;
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;
  /** What recovery found. */
  readonly recovery: RecoveryInfo;

  private constructor(dir: string, opts: StoreOptions, recovery: RecoveryInfo) {
    this.dir = dir;
    this.fsync = opts.fsync ?? true;
    this.compactSlack = opts.compactSlack ?? DEFAULT_COMPACT_SLACK;
    this.recovery = recovery;
  }

  /** Opens (creating if needed) the store in `dir` and replays it. */
  static async open(dir: string, opts: StoreOptions = {}): Promise<StateStore> {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw ioError(`create ${dir}`, e);
    }
    const snapPath = join(dir, 'snapshot');
    const logPath = join(dir, 'log');
    const data = new Map<string, Map<string, unknown>>();
    let objects = 0;
    if (existsSync(snapPath)) {
      const buf = readFileSync(snapPath);
      const { records, validBytes } = decodeRecords(buf);
      // The snapshot is renamed into place only after fsync, so it is never torn.
      if (validBytes !== buf.length) {
        throw new CocoonError(
          'ERR_CRI_STORE_CORRUPT',
          `state store snapshot ${snapPath} is corrupt at byte ${validBytes}`,
        );
      }
      for (const r of records) apply(data, r);
    }
    let logRecords = 0;
    let truncatedBytes = 0;
    if (existsSync(logPath)) {
      const buf = readFileSync(logPath);
      const { records, validBytes } = decodeRecords(buf);
      for (const r of records) apply(data, r);
      logRecords = records.length;
      truncatedBytes = buf.length - validBytes;
      if (truncatedBytes > 0) {
        const fh = await open(logPath, 'r+');
        try {
          await fh.truncate(validBytes);
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    }
    for (const m of data.values()) objects += m.size;
    const store = new StateStore(dir, opts, { objects, logRecords, truncatedBytes });
    for (const [k, m] of data) store.data.set(k, m);
    store.logRecords = logRecords;
    try {
      store.log = openSync(logPath, 'a', 0o600);
      store.logBytes = fstatSync(store.log).size;
    } catch (e) {
      throw ioError(`open ${logPath}`, e);
    }
    return store;
  }

  /** The object of `kind` with `id`, or undefined. */
  get<T>(kind: string, id: string): T | undefined {
    return this.data.get(kind)?.get(id) as T | undefined;
  }

  /** Every object of `kind`. */
  all<T>(kind: string): T[] {
    return [...(this.data.get(kind)?.values() ?? [])] as T[];
  }

  /** Number of live objects of every kind. */
  size(): number {
    let n = 0;
    for (const m of this.data.values()) n += m.size;
    return n;
  }

  /** Stores a whole object; resolves once durable. The in-memory view changes at once. */
  put(kind: string, id: string, value: unknown): Promise<void> {
    apply(this.data, { op: 'put', kind, id, value });
    return this.append({ op: 'put', kind, id, value });
  }

  /** Deletes an object (no-op when absent); resolves once durable. */
  delete(kind: string, id: string): Promise<void> {
    if (this.data.get(kind)?.has(id) !== true) return Promise.resolve();
    apply(this.data, { op: 'del', kind, id });
    return this.append({ op: 'del', kind, id });
  }

  private append(r: StoreRecord): Promise<void> {
    if (this.closed) return Promise.reject(ioError('append', new Error('store is closed')));
    const buf = encodeRecord(r);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ buf, resolve, reject });
      if (this.flushing === undefined) this.flushing = this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    // Yield once first: writers of the same tick join the batch, and this promise is stored in
    // `flushing` before the loop can finish (with fsync off the loop never waits otherwise).
    await Promise.resolve();
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          this.writeBatch(batch);
          if (this.fsync) await datasync(this.log!);
          this.logRecords += batch.length;
          for (const p of batch) p.resolve();
        } catch (e) {
          for (const p of batch) p.reject(ioError('write', e));
        }
        if (this.logRecords > 2 * this.size() + this.compactSlack) {
          // A failed compaction leaves the log as it was (renames are atomic); the next batch
          // tries again. It must not reject this loop, which nobody awaits.
          await this.compact().catch(() => undefined);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Appends a batch with as few write(2) calls as the kernel allows; all or nothing. */
  private writeBatch(batch: readonly Pending[]): void {
    const fd = this.log;
    if (fd === undefined) throw new Error('the log is not open');
    const buf = batch.length === 1 ? batch[0]!.buf : Buffer.concat(batch.map((p) => p.buf));
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      // Cut a partial batch back off, or later records would follow a torn one and be lost
      // at the next recovery (which stops at the first bad record).
      try {
        ftruncateSync(fd, this.logBytes);
      } catch {
        // The write error below is what the callers need to see.
      }
      throw e;
    }
    this.logBytes += buf.length;
  }

  /** Rewrites the snapshot from the live objects and starts an empty log (see file comment). */
  async compact(): Promise<void> {
    const snapTmp = join(this.dir, 'snapshot.tmp');
    const logTmp = join(this.dir, 'log.tmp');
    try {
      writeFileDurably(snapTmp, this.snapshotRecords());
      renameSync(snapTmp, join(this.dir, 'snapshot'));
      syncDir(this.dir);
      writeFileDurably(logTmp, []);
      closeSync(this.log!);
      this.log = undefined;
      renameSync(logTmp, join(this.dir, 'log'));
      syncDir(this.dir);
      this.log = openSync(join(this.dir, 'log'), 'a', 0o600);
      this.logBytes = 0;
      this.logRecords = 0;
    } catch (e) {
      if (this.log === undefined) {
        // Keep appending to whichever log is in place now (the old one or the empty new one).
        try {
          this.log = openSync(join(this.dir, 'log'), 'a', 0o600);
          this.logBytes = fstatSync(this.log).size;
        } catch {
          // Later writes then fail with ERR_CRI_STORE_IO instead of being lost silently.
        }
      }
      throw ioError('compact', e);
    }
  }

  private snapshotRecords(): Buffer[] {
    const out: Buffer[] = [];
    for (const [kind, m] of this.data)
      for (const [id, value] of m) out.push(encodeRecord({ op: 'put', kind, id, value }));
    return out;
  }

  /** Waits for pending writes and closes the log. */
  async close(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    this.closed = true;
    if (this.log !== undefined) closeSync(this.log);
    this.log = undefined;
  }
}

function apply(data: Map<string, Map<string, unknown>>, r: StoreRecord): void {
  let m = data.get(r.kind);
  if (r.op === 'put') {
    if (m === undefined) data.set(r.kind, (m = new Map()));
    m.set(r.id, r.value);
  } else m?.delete(r.id);
}

function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (e) => (e === null ? resolve() : reject(e))));
}

function writeFileDurably(path: string, bufs: readonly Buffer[]): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    for (const b of bufs) writeSync(fd, b);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
