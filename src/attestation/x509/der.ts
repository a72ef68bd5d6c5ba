/**
 * A bounded DER (X.690) walker: just enough to slice X.509 certificates (RFC 5280 §4.1), CRLs
 * (§5.1) and the Intel SGX PCK extension (evidence.md §1.6) into their parts without copying.
 * Single-byte tags, definite lengths of at most four length octets; nothing is read past the
 * element or the buffer. Malformed input throws the caller-chosen error code.
 */
import { CocoonError, type ErrorCodeString } from '../../common/errors.js';

/** DER universal tags used by the helpers. */
export const DER_TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One DER element: its tag and the byte ranges of header and contents inside `buf`. */
export interface DerNode {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the contents. */
  readonly end: number;
  readonly buf: Uint8Array;
}

/** Reads DER elements from one buffer, throwing `code` on malformed input. */
export class DerReader {
  readonly buf: Uint8Array;
  private readonly code: ErrorCodeString;

  constructor(buf: Uint8Array, code: ErrorCodeString) {
    this.buf = buf;
    this.code = code;
  }

  /** Throws this reader's error code with `message`. */
  fail(message: string): never {
    throw new CocoonError(this.code, `DER: ${message}`);
  }

  /** Reads the element starting at `pos`, which must end at or before `limit`. */
  node(pos: number, limit: number = this.buf.length): DerNode {
    const b = this.buf;
    if (pos + 2 > limit) this.fail(`element header at ${pos} runs past ${limit}`);
    const tag = b[pos]!;
    if ((tag & 0x1f) === 0x1f) this.fail(`multi-byte tag at ${pos}`);
    let len = b[pos + 1]!;
    let p = pos + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4) this.fail(`unsupported length form at ${pos}`);
      if (p + n > limit) this.fail(`length at ${pos} runs past ${limit}`);
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[p + i]!;
      p += n;
    }
    if (p + len > limit) this.fail(`element at ${pos} (${len} bytes) runs past ${limit}`);
    return { tag, start: pos, contentStart: p, end: p + len, buf: b };
  }

  /** Reads the element at `pos` and checks its tag. */
  expect(pos: number, tag: number, limit: number = this.buf.length, what = 'element'): DerNode {
    const n = this.node(pos, limit);
    if (n.tag !== tag) this.fail(`${what}: expected tag 0x${tag.toString(16)}, got 0x${n.tag.toString(16)}`);
    return n;
  }

  /** The children of a constructed element, in order. */
  children(parent: DerNode): DerNode[] {
    const out: DerNode[] = [];
    let p = parent.contentStart;
    while (p < parent.end) {
      const c = this.node(p, parent.end);
      out.push(c);
      p = c.end;
    }
    return out;
  }
}

/** Contents of a node (a view, no copy). */
export function contents(n: DerNode): Uint8Array {
  return n.buf.subarray(n.contentStart, n.end);
}

/** The whole encoding of a node, header included (a view, no copy). */
export function encoding(n: DerNode): Uint8Array {
  return n.buf.subarray(n.start, n.end);
}

/** Dotted-decimal text of an OBJECT IDENTIFIER's contents. */
export function oidToString(c: Uint8Array): string {
  if (c.length === 0) return '';
  const parts: number[] = [];
  const first = c[0]!;
  let v = 0;
  let i = 0;
  // The first arc pair is packed into the first sub-identifier (X.690 §8.19.4).
  for (; i < c.length; i++) {
    v = v * 128 + (c[i]! & 0x7f);
    if ((c[i]! & 0x80) === 0) break;
  }
  if (first < 0x80) {
    parts.push(Math.min(2, Math.floor(v / 40)), v - Math.min(2, Math.floor(v / 40)) * 40);
  } else {
    parts.push(2, v - 80);
  }
  v = 0;
  for (i = i + 1; i < c.length; i++) {
    v = v * 128 + (c[i]! & 0x7f);
    if ((c[i]! & 0x80) === 0) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** Non-negative INTEGER contents as a number (at most 6 bytes after a leading zero). */
export function intValue(r: DerReader, n: DerNode): number {
  const c = contents(n);
  if (c.length === 0 || c.length > 7) r.fail('INTEGER out of range');
  if (c[0]! & 0x80) r.fail('negative INTEGER');
  let v = 0;
  for (const b of c) v = v * 256 + b;
  return v;
}

/** Parses UTCTime / GeneralizedTime contents (RFC 5280 §4.1.2.5: always Z, seconds present). */
export function timeValue(r: DerReader, n: DerNode): Date {
  const s = Buffer.from(contents(n)).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (n.tag === DER_TAG.UTC_TIME) {
    m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
    if (m === null) r.fail(`bad UTCTime "${s}"`);
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (n.tag === DER_TAG.GENERALIZED_TIME) {
    m = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
    if (m === null) r.fail(`bad GeneralizedTime "${s}"`);
    year = Number(m[1]);
  } else {
    r.fail(`expected a time, got tag 0x${n.tag.toString(16)}`);
  }
  const t = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (Number.isNaN(t)) r.fail(`bad time "${s}"`);
  return new Date(t);
}
