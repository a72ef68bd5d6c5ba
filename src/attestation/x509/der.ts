/**
 * The one bounded DER (X.690) reader of the attestation verifiers: just enough to slice X.509
 * certificates (RFC 5280 §4.1), CRLs (§5.1), the Intel SGX PCK extension (evidence.md §1.6) and
 * the AMD VCEK/VLEK extensions (evidence.md §2.4) into their parts without copying.
 * Single-byte tags, definite lengths of at most four length octets; nothing is read past the
 * element or the buffer. Malformed input throws the caller's error code (a DerPolicy), so the
 * TDX, SNP and X.509 callers keep their own codes and stages. The writer is der-writer.ts.
 */
import { CocoonError, type ErrorCodeString } from '../../common/errors.js';

/** DER universal tags used by the readers and the writer (X.680 §8.4). */
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

/** How a caller wants malformed DER reported and how strictly it is read. */
export interface DerPolicy {
  /** Error code thrown for malformed input. */
  readonly code: ErrorCodeString;
  /** Details attached to every error (e.g. `{ stage: 'verify' }`); none when absent. */
  readonly details?: Readonly<Record<string, unknown>>;
  /**
   * Reject non-minimal long-form lengths (X.690 §10.1) and malformed OBJECT IDENTIFIER contents
   * in oidToString (empty, over 64 bytes, truncated, arcs beyond 2^53/256). Default false.
   */
  readonly strict?: boolean;
  /** Most children children() returns before failing (bounds work on hostile input). */
  readonly maxChildren?: number;
}

/** Throws the policy's error code with `${what}: ${message}`. */
export function derFail(p: DerPolicy, message: string, what = 'DER'): never {
  throw new CocoonError(
    p.code,
    `${what}: ${message}`,
    p.details === undefined ? {} : { details: { ...p.details } },
  );
}

/** Reads the element at `offset`, which must end at or before `limit` (default the buffer end). */
export function readElement(
  p: DerPolicy,
  buf: Uint8Array,
  offset: number,
  what = 'DER',
  limit: number = buf.length,
): DerNode {
  if (offset + 2 > limit) derFail(p, `truncated DER header at ${offset} (limit ${limit})`, what);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) derFail(p, `multi-byte DER tag at ${offset}`, what);
  let len = buf[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) derFail(p, `unsupported DER length form at ${offset}`, what);
    if (pos + n > limit) derFail(p, `truncated DER length at ${offset}`, what);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i]!;
    pos += n;
    if (p.strict === true && (len < 0x80 || (n > 1 && buf[offset + 2] === 0))) {
      derFail(p, `non-minimal DER length at ${offset}`, what);
    }
  }
  if (pos + len > limit) derFail(p, `DER element at ${offset} (${len} bytes) runs past ${limit}`, what);
  return { tag, start: offset, contentStart: pos, end: pos + len, buf };
}

/** Reads the element at `offset` and checks its tag. */
export function expectElement(
  p: DerPolicy,
  buf: Uint8Array,
  offset: number,
  tag: number,
  what = 'DER',
  limit: number = buf.length,
): DerNode {
  const e = readElement(p, buf, offset, what, limit);
  if (e.tag !== tag) derFail(p, `expected tag 0x${tag.toString(16)}, got 0x${e.tag.toString(16)}`, what);
  return e;
}

/** The children of a constructed element, in order (at most `p.maxChildren`). */
export function children(p: DerPolicy, parent: DerNode, what = 'DER'): DerNode[] {
  const max = p.maxChildren ?? Number.POSITIVE_INFINITY;
  const out: DerNode[] = [];
  let pos = parent.contentStart;
  while (pos < parent.end) {
    const c = readElement(p, parent.buf, pos, what, parent.end);
    out.push(c);
    pos = c.end;
    if (out.length > max) derFail(p, 'too many DER elements', what);
  }
  return out;
}

/**
 * Reads DER elements from one buffer under one policy; it is itself the policy, so it can be
 * passed to the value decoders below.
 */
export class DerReader implements DerPolicy {
  readonly buf: Uint8Array;
  readonly code: ErrorCodeString;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly strict?: boolean;
  readonly maxChildren?: number;

  constructor(buf: Uint8Array, policy: ErrorCodeString | DerPolicy) {
    const p: DerPolicy = typeof policy === 'string' ? { code: policy } : policy;
    this.buf = buf;
    this.code = p.code;
    if (p.details !== undefined) this.details = p.details;
    if (p.strict !== undefined) this.strict = p.strict;
    if (p.maxChildren !== undefined) this.maxChildren = p.maxChildren;
  }

  /** Throws this reader's error code with `message`. */
  fail(message: string): never {
    return derFail(this, message);
  }

  /** Reads the element starting at `pos`, which must end at or before `limit`. */
  node(pos: number, limit: number = this.buf.length): DerNode {
    return readElement(this, this.buf, pos, 'DER', limit);
  }

  /** Reads the element at `pos` and checks its tag. */
  expect(pos: number, tag: number, limit: number = this.buf.length, what = 'element'): DerNode {
    return expectElement(this, this.buf, pos, tag, what, limit);
  }

  /** The children of a constructed element, in order. */
  children(parent: DerNode): DerNode[] {
    return children(this, parent);
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

/**
 * Dotted-decimal text of an OBJECT IDENTIFIER's contents (X.690 §8.19). Without a strict
 * policy it never throws: '' for empty contents, a truncated trailing sub-identifier is dropped.
 */
export function oidToString(c: Uint8Array, p?: DerPolicy, what = 'DER'): string {
  const sp = p?.strict === true ? p : undefined;
  const strict = sp !== undefined;
  if (sp && (c.length === 0 || c.length > 64)) derFail(sp, 'bad OBJECT IDENTIFIER length', what);
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    v = v * 128 + (c[i]! & 0x7f);
    if (sp && v > Number.MAX_SAFE_INTEGER / 256) derFail(sp, 'OBJECT IDENTIFIER arc too large', what);
    if ((c[i]! & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    } else if (sp && i === c.length - 1) {
      derFail(sp, 'truncated OBJECT IDENTIFIER', what);
    }
  }
  if (arcs.length === 0) {
    if (c.length === 0) return '';
    arcs.push(v); // lenient: an unterminated first sub-identifier still names the first arcs
  }
  // The first two arcs are packed into the first sub-identifier (X.690 §8.19.4); leniently, a
  // multi-byte first sub-identifier is always taken as arc 2.
  const first = arcs[0]!;
  const twoArcs = first < 80 && (strict || c[0]! < 0x80);
  const head = twoArcs ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** Decodes an OBJECT IDENTIFIER element under `p` (tag checked; strictness from `p`). */
export function oidOf(p: DerPolicy, e: DerNode, what = 'DER'): string {
  if (e.tag !== DER_TAG.OID) derFail(p, 'expected an OBJECT IDENTIFIER', what);
  return oidToString(contents(e), p, what);
}

/** Non-negative INTEGER (or ENUMERATED) contents as a number (at most 6 bytes after a leading zero). */
export function intValue(p: DerPolicy, n: DerNode, what = 'DER'): number {
  const c = contents(n);
  if (c.length === 0 || c.length > 7) derFail(p, 'INTEGER out of range', what);
  if (c[0]! & 0x80) derFail(p, 'negative INTEGER', what);
  let v = 0;
  for (const b of c) v = v * 256 + b;
  return v;
}

/** Decodes an INTEGER element (two's complement, at most 64 bytes) to bigint. */
export function integerOf(p: DerPolicy, e: DerNode, what = 'DER'): bigint {
  if (e.tag !== DER_TAG.INTEGER) derFail(p, 'expected an INTEGER', what);
  const b = contents(e);
  if (b.length === 0 || b.length > 64) derFail(p, 'bad INTEGER length', what);
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  if (b[0]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v;
}

/** Decodes an ASN.1 string element (IA5String, PrintableString, UTF8String) as text. */
export function stringOf(p: DerPolicy, e: DerNode, what = 'DER'): string {
  if (e.tag !== DER_TAG.IA5_STRING && e.tag !== DER_TAG.PRINTABLE_STRING && e.tag !== DER_TAG.UTF8_STRING) {
    derFail(p, `expected a string, got tag 0x${e.tag.toString(16)}`, what);
  }
  return Buffer.from(contents(e)).toString('utf8');
}

/** Parses UTCTime / GeneralizedTime (RFC 5280 §4.1.2.5: always Z, seconds present). */
export function timeOf(p: DerPolicy, n: DerNode, what = 'DER'): Date {
  const s = Buffer.from(contents(n)).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (n.tag === DER_TAG.UTC_TIME) {
    m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
    if (m === null) derFail(p, `bad UTCTime "${s}"`, what);
    // RFC 5280 §4.1.2.5.1: YY >= 50 is 19YY, else 20YY.
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (n.tag === DER_TAG.GENERALIZED_TIME) {
    m = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
    if (m === null) derFail(p, `bad GeneralizedTime "${s}"`, what);
    year = Number(m[1]);
  } else {
    derFail(p, `expected a time, got tag 0x${n.tag.toString(16)}`, what);
  }
  const t = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (Number.isNaN(t)) derFail(p, `bad time "${s}"`, what);
  return new Date(t);
}
