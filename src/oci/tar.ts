/**
 * A small streaming tar reader and writer (POSIX.1-2001 ustar + pax extended headers, GNU
 * long names and base-256 numbers on read). Layers are untrusted: every header is
 * checksum-verified, every advertised length is bounded before anything is buffered, and a
 * truncated archive is an error, never a silent partial result.
 */
import { CocoonError } from '../common/errors.js';

/** Size of a tar block (ustar: everything is in 512-byte records). */
export const BLOCK_SIZE = 512;

// ustar header layout (POSIX.1-2001 pax "ustar Interchange Format"); each start is the previous end.
const NAME_START = 0;
const NAME_END = NAME_START + 100;
const MODE_START = NAME_END;
const MODE_END = MODE_START + 8;
const UID_START = MODE_END;
const UID_END = UID_START + 8;
const GID_START = UID_END;
const GID_END = GID_START + 8;
const SIZE_START = GID_END;
const SIZE_END = SIZE_START + 12;
const MTIME_START = SIZE_END;
const MTIME_END = MTIME_START + 12;
const CHKSUM_START = MTIME_END;
const CHKSUM_END = CHKSUM_START + 8;
const TYPEFLAG_START = CHKSUM_END;
const TYPEFLAG_END = TYPEFLAG_START + 1;
const LINKNAME_START = TYPEFLAG_END;
const LINKNAME_END = LINKNAME_START + 100;
const MAGIC_START = LINKNAME_END;
const MAGIC_END = MAGIC_START + 6;
const VERSION_START = MAGIC_END;
const VERSION_END = VERSION_START + 2;
const UNAME_START = VERSION_END;
const UNAME_END = UNAME_START + 32;
const GNAME_START = UNAME_END;
const GNAME_END = GNAME_START + 32;
const DEVMAJOR_START = GNAME_END;
const DEVMAJOR_END = DEVMAJOR_START + 8;
const DEVMINOR_START = DEVMAJOR_END;
const DEVMINOR_END = DEVMINOR_START + 8;
const PREFIX_START = DEVMINOR_END;
const PREFIX_END = PREFIX_START + 155;

/** Largest pax/GNU long-name payload buffered in memory. */
export const MAX_META_BYTES = 1024 * 1024;
/** Longest path accepted (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;

/** Kinds of tar entries. */
export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One archive member as the reader reports it. */
export interface TarEntry {
  /** Path as stored (pax `path` or GNU long name applied), not yet sanitised. */
  readonly name: string;
  readonly type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Body length in bytes (0 for everything but files). */
  readonly size: number;
  /** Modification time, seconds since the epoch. */
  readonly mtime: number;
  /** Link target for symlinks and hard links. */
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
  /** Owner and group names (informational; ids are what unpacking uses). */
  readonly uname: string;
  readonly gname: string;
  /** Offset of the header in the (uncompressed) archive, for error messages. */
  readonly offset: number;
}

/** An entry to write. */
export interface TarWriteEntry {
  readonly name: string;
  readonly type: TarEntryType;
  /** Default 0o644 for files, 0o755 for directories, 0o777 for symlinks. */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Seconds since the epoch. Default 0 (reproducible archives). */
  readonly mtime?: number;
  /** File contents. */
  readonly data?: Uint8Array;
  /** Target of a symlink or hard link. */
  readonly linkname?: string;
  readonly devmajor?: number;
  readonly devminor?: number;
}

function tarInvalid(msg: string, offset: number, extra: Record<string, unknown> = {}): CocoonError {
  return new CocoonError('ERR_OCI_TAR_INVALID', `tar: ${msg} (at offset ${offset})`, {
    details: { offset, ...extra },
  });
}

function cString(b: Buffer, start: number, end: number): string {
  const field = b.subarray(start, end);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('utf8');
}

/** Parses a numeric field: octal text, or base-256 when the high bit of the first byte is set. */
function parseNumber(b: Buffer, start: number, end: number, what: string, offset: number): number {
  const first = b[start]!;
  if ((first & 0x80) !== 0) {
    // GNU base-256: 0x80 = positive; 0xff = negative (never valid for our fields).
    if (first === 0xff) throw tarInvalid(`negative base-256 ${what}`, offset);
    let v = first & 0x7f;
    for (let i = start + 1; i < end; i++) {
      v = v * 256 + b[i]!;
      if (v > Number.MAX_SAFE_INTEGER) throw tarInvalid(`${what} too large`, offset);
    }
    return v;
  }
  const text = b
    .subarray(start, end)
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw tarInvalid(`${what} is not octal: ${JSON.stringify(text)}`, offset);
  const v = parseInt(text, 8);
  if (!Number.isSafeInteger(v)) throw tarInvalid(`${what} too large`, offset);
  return v;
}

function headerChecksum(b: Buffer): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const v = i >= CHKSUM_START && i < CHKSUM_END ? 0x20 : b[i]!;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  return { unsigned, signed };
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK_SIZE; i++) if (b[i] !== 0) return false;
  return true;
}

/** Parses pax extended header records `"<len> <key>=<value>\n"`. */
export function parsePaxRecords(data: Buffer, offset: number): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break;
    const sp = data.indexOf(0x20, pos);
    if (sp < 0) throw tarInvalid('pax record without length', offset);
    const lenText = data.subarray(pos, sp).toString('latin1');
    if (!/^[0-9]+$/.test(lenText)) throw tarInvalid('pax record length is not decimal', offset);
    const len = Number(lenText);
    if (len <= sp - pos + 1 || pos + len > data.length)
      throw tarInvalid('pax record length out of range', offset);
    const record = data.subarray(sp + 1, pos + len);
    if (record[record.length - 1] !== 0x0a) throw tarInvalid('pax record not newline-terminated', offset);
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw tarInvalid('pax record without =', offset);
    out[record.subarray(0, eq).toString('utf8')] = record
      .subarray(eq + 1, record.length - 1)
      .toString('utf8');
    pos += len;
  }
  return out;
}

/** Pulls exact byte counts out of an async chunk source. */
class ChunkReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes consumed so far. */
  position = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const step = await this.it.next();
    if (step.done === true) {
      this.done = true;
      return false;
    }
    const c = Buffer.from(step.value.buffer, step.value.byteOffset, step.value.byteLength);
    this.buf = this.buf.length === 0 ? c : Buffer.concat([this.buf, c]);
    return true;
  }

  /** Reads exactly n bytes; null at a clean end of input; throws when input ends inside. */
  async readExact(n: number, what: string): Promise<Buffer | null> {
    while (this.buf.length < n) {
      if (!(await this.fill())) {
        if (this.buf.length === 0) return null;
        throw tarInvalid(`archive truncated inside ${what}`, this.position);
      }
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.position += n;
    return out;
  }

  /** Yields exactly n bytes in chunks; throws when input ends early. */
  async *take(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill()))
        throw tarInvalid(`archive truncated inside ${what}`, this.position);
      const k = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, k);
      this.buf = this.buf.subarray(k);
      this.position += k;
      left -= k;
      yield out;
    }
  }

  /** Skips n bytes. */
  async skip(n: number, what: string): Promise<void> {
    for await (const _c of this.take(n, what)) {
      // discard
    }
  }

  /** Reads and discards everything up to the end of input. */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (await this.fill()) this.buf = Buffer.alloc(0);
  }

  /** Stops the underlying source early. */
  async close(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.it.return?.();
    }
  }
}

/** A reader event: an entry and a way to read its body (must be consumed before the next). */
export interface TarReadItem {
  readonly entry: TarEntry;
  /** The body; entries that are not read are skipped automatically. */
  body(): AsyncIterable<Buffer>;
}

const TYPEFLAGS: Readonly<Record<string, TarEntryType>> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/**
 * Iterates the entries of an uncompressed tar stream. Metadata entries (pax `x`/`g`, GNU
 * `L`/`K`) are applied, not returned. Unknown type flags are errors (fail closed).
 */
export async function* readTar(
  source: AsyncIterable<Uint8Array>,
  options: { readonly drain?: boolean } = {},
): AsyncGenerator<TarReadItem> {
  const r = new ChunkReader(source);
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    for (;;) {
      const offset = r.position;
      const h = await r.readExact(BLOCK_SIZE, 'a header');
      if (h === null) return; // end of input without end-of-archive blocks: accepted (GNU tar does)
      if (isZeroBlock(h)) {
        // End-of-archive marker; trailing padding is ignored, but read through when the caller
        // hashes the whole stream (a layer's DiffID covers every byte).
        if (options.drain === true) await r.drain();
        return;
      }
      const stored = parseNumber(h, CHKSUM_START, CHKSUM_END, 'checksum', offset);
      const sums = headerChecksum(h);
      if (stored !== sums.unsigned && stored !== sums.signed)
        throw tarInvalid('header checksum mismatch', offset);
      const flag = String.fromCharCode(h[TYPEFLAG_START]!);
      let size = parseNumber(h, SIZE_START, SIZE_END, 'size', offset);
      if (pax['size'] !== undefined) {
        if (!/^[0-9]+$/.test(pax['size'])) throw tarInvalid('pax size is not decimal', offset);
        size = Number(pax['size']);
        if (!Number.isSafeInteger(size)) throw tarInvalid('pax size too large', offset);
      }
      const padded = Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (size > MAX_META_BYTES)
          throw tarInvalid(`metadata entry of ${size} bytes exceeds ${MAX_META_BYTES}`, offset);
        const data = (await r.readExact(padded, 'a metadata entry')) ?? Buffer.alloc(0);
        if (data.length < padded) throw tarInvalid('archive truncated inside a metadata entry', offset);
        const body = data.subarray(0, size);
        if (flag === 'x') pax = { ...pax, ...parsePaxRecords(body, offset) };
        else if (flag === 'g')
          parsePaxRecords(body, offset); // validated; global defaults are not applied to layers
        else {
          const nul = body.indexOf(0);
          const text = body.subarray(0, nul < 0 ? body.length : nul).toString('utf8');
          if (flag === 'L') longName = text;
          else longLink = text;
        }
        continue;
      }
      const type = TYPEFLAGS[flag];
      if (type === undefined) throw tarInvalid(`unsupported entry type ${JSON.stringify(flag)}`, offset);
      const magic = h.subarray(MAGIC_START, MAGIC_END).toString('latin1');
      const prefix =
        magic.startsWith('ustar') && magic !== 'ustar ' ? cString(h, PREFIX_START, PREFIX_END) : '';
      let name =
        pax['path'] ??
        longName ??
        (prefix !== '' ? `${prefix}/${cString(h, NAME_START, NAME_END)}` : cString(h, NAME_START, NAME_END));
      const linkname = pax['linkpath'] ?? longLink ?? cString(h, LINKNAME_START, LINKNAME_END);
      if (name.length === 0) throw tarInvalid('entry with an empty name', offset);
      if (Buffer.byteLength(name) > MAX_PATH_BYTES || Buffer.byteLength(linkname) > MAX_PATH_BYTES)
        throw tarInvalid('path longer than PATH_MAX', offset);
      if (name.includes('\0') || linkname.includes('\0')) throw tarInvalid('NUL byte in a path', offset);
      // Directories may carry a trailing slash; '7' (contiguous) is a regular file.
      const entryType: TarEntryType = type === 'file' && name.endsWith('/') ? 'dir' : type;
      if (entryType === 'dir') name = name.replace(/\/+$/, '') || '.';
      const num = (key: string, start: number, end: number, what: string): number => {
        const v = pax[key];
        if (v !== undefined) {
          const n = Number(v.split('.')[0]);
          if (!Number.isSafeInteger(n) || n < 0) throw tarInvalid(`pax ${key} is invalid`, offset);
          return n;
        }
        return parseNumber(h, start, end, what, offset);
      };
      const bodySize = entryType === 'file' ? size : 0;
      const entry: TarEntry = {
        name,
        type: entryType,
        mode: parseNumber(h, MODE_START, MODE_END, 'mode', offset) & 0o7777,
        uid: num('uid', UID_START, UID_END, 'uid'),
        gid: num('gid', GID_START, GID_END, 'gid'),
        size: bodySize,
        mtime: num('mtime', MTIME_START, MTIME_END, 'mtime'),
        linkname,
        devmajor:
          entryType === 'char' || entryType === 'block'
            ? parseNumber(h, DEVMAJOR_START, DEVMAJOR_END, 'devmajor', offset)
            : 0,
        devminor:
          entryType === 'char' || entryType === 'block'
            ? parseNumber(h, DEVMINOR_START, DEVMINOR_END, 'devminor', offset)
            : 0,
        uname: pax['uname'] ?? cString(h, UNAME_START, UNAME_END),
        gname: pax['gname'] ?? cString(h, GNAME_START, GNAME_END),
        offset,
      };
      pax = {};
      longName = undefined;
      longLink = undefined;
      let consumed = false;
      const item: TarReadItem = {
        entry,
        body: () => {
          if (consumed) throw new TypeError('tar entry body already consumed');
          consumed = true;
          return r.take(size, `the body of ${name}`);
        },
      };
      const before = r.position;
      yield item;
      // Skip whatever the consumer did not read, then the padding to the block boundary.
      const readSoFar = r.position - before;
      const left = padded - readSoFar;
      if (left < 0) throw tarInvalid('entry body over-read', offset);
      await r.skip(left, `the body of ${name}`);
    }
  } finally {
    await r.close();
  }
}

function writeOctal(b: Buffer, start: number, end: number, v: number): void {
  const width = end - start - 1;
  const text = v.toString(8);
  if (text.length > width) {
    // base-256 for values that do not fit (GNU extension): big-endian with the high bit set.
    let x = v;
    for (let i = end - 1; i > start; i--) {
      b[i] = x % 256;
      x = Math.floor(x / 256);
    }
    b[start] = 0x80;
    return;
  }
  b.write(text.padStart(width, '0'), start, 'latin1');
  b[end - 1] = 0;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`, 'utf8');
}

const TYPE_TO_FLAG: Readonly<Record<TarEntryType, string>> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

function header(e: TarWriteEntry, name: string, linkname: string, size: number, flag: string): Buffer {
  const h = Buffer.alloc(BLOCK_SIZE);
  h.write(name, NAME_START, NAME_END - NAME_START, 'utf8');
  const defMode = e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644;
  writeOctal(h, MODE_START, MODE_END, e.mode ?? defMode);
  writeOctal(h, UID_START, UID_END, e.uid ?? 0);
  writeOctal(h, GID_START, GID_END, e.gid ?? 0);
  writeOctal(h, SIZE_START, SIZE_END, size);
  writeOctal(h, MTIME_START, MTIME_END, e.mtime ?? 0);
  h.write(flag, TYPEFLAG_START, 1, 'latin1');
  h.write(linkname, LINKNAME_START, LINKNAME_END - LINKNAME_START, 'utf8');
  h.write('ustar\u000000', MAGIC_START, MAGIC_END - MAGIC_START + VERSION_END - VERSION_START, 'latin1');
  writeOctal(h, DEVMAJOR_START, DEVMAJOR_END, e.devmajor ?? 0);
  writeOctal(h, DEVMINOR_START, DEVMINOR_END, e.devminor ?? 0);
  h.fill(0x20, CHKSUM_START, CHKSUM_END);
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, '0'), CHKSUM_START, 6, 'latin1');
  h[CHKSUM_START + 6] = 0;
  h[CHKSUM_START + 7] = 0x20;
  return h;
}

function pad(n: number): Buffer {
  const r = n % BLOCK_SIZE;
  return Buffer.alloc(r === 0 ? 0 : BLOCK_SIZE - r);
}

/**
 * Writes a tar archive (ustar; names or link targets over 100 bytes go into a pax `x`
 * header). Ends with the two zero blocks of end-of-archive.
 */
export function writeTar(entries: readonly TarWriteEntry[]): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const name = e.type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
    const linkname = e.linkname ?? '';
    const data = e.type === 'file' ? Buffer.from(e.data ?? new Uint8Array(0)) : Buffer.alloc(0);
    const longName = Buffer.byteLength(name) > NAME_END - NAME_START;
    const longLink = Buffer.byteLength(linkname) > LINKNAME_END - LINKNAME_START;
    if (longName || longLink) {
      const recs = Buffer.concat([
        ...(longName ? [paxRecord('path', name)] : []),
        ...(longLink ? [paxRecord('linkpath', linkname)] : []),
      ]);
      out.push(
        header({ name: 'PaxHeader', type: 'file' }, 'PaxHeader', '', recs.length, 'x'),
        recs,
        pad(recs.length),
      );
    }
    out.push(
      header(
        e,
        longName ? name.slice(0, 99) : name,
        longLink ? '' : linkname,
        data.length,
        TYPE_TO_FLAG[e.type],
      ),
    );
    out.push(data, pad(data.length));
  }
  out.push(Buffer.alloc(BLOCK_SIZE * 2));
  return Buffer.concat(out);
}
