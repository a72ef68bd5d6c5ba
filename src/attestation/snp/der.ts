/**
 * A minimal, bounded DER reader and writer (X.690) for the AMD certificate chain and CRL. Only
 * what X.509 (RFC 5280 §4.1) and CRLs (§5.1) need: single-byte tags, definite lengths of at most
 * four length octets, never reading past the element or the buffer. Malformed input yields
 * ERR_SNP_CERT_INVALID, never an exception of another kind.
 */
import { CocoonError } from '../../common/errors.js';

/** DER universal tags used here. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One parsed DER element: tag, and the byte range of its contents inside `buf`. */
export interface DerElement {
  readonly tag: number;
  /** Offset of the first header byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the contents. */
  readonly end: number;
  readonly buf: Uint8Array;
}

function derError(message: string, what: string): CocoonError {
  return new CocoonError('ERR_SNP_CERT_INVALID', `${what}: ${message}`, { details: { stage: 'verify' } });
}

/** Reads one element at `offset`, bounded by `limit` (default the buffer end). */
export function readElement(buf: Uint8Array, offset: number, what: string, limit = buf.length): DerElement {
  if (offset + 2 > limit) throw derError('truncated DER header', what);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw derError('multi-byte DER tags are not supported', what);
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw derError('unsupported DER length form', what);
    if (p + n > limit) throw derError('truncated DER length', what);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
    if (len < 0x80 || (n > 1 && buf[offset + 2] === 0)) throw derError('non-minimal DER length', what);
  }
  if (p + len > limit) throw derError(`DER length ${len} runs past the end`, what);
  return { tag, start: offset, contentStart: p, end: p + len, buf };
}

/** Reads an element and checks its tag. */
export function expectElement(
  buf: Uint8Array,
  offset: number,
  tag: number,
  what: string,
  limit = buf.length,
): DerElement {
  const e = readElement(buf, offset, what, limit);
  if (e.tag !== tag) throw derError(`expected tag 0x${tag.toString(16)}, got 0x${e.tag.toString(16)}`, what);
  return e;
}

/** The children of a constructed element, in order. */
export function children(e: DerElement, what: string): DerElement[] {
  const out: DerElement[] = [];
  let p = e.contentStart;
  while (p < e.end) {
    const c = readElement(e.buf, p, what, e.end);
    out.push(c);
    p = c.end;
    if (out.length > 10_000) throw derError('too many DER elements', what);
  }
  return out;
}

/** Contents of an element (a view, not a copy). */
export function contents(e: DerElement): Uint8Array {
  return e.buf.subarray(e.contentStart, e.end);
}

/** The whole encoding of an element (header + contents; a view). */
export function encoding(e: DerElement): Uint8Array {
  return e.buf.subarray(e.start, e.end);
}

/** Decodes an OBJECT IDENTIFIER element to dotted form. */
export function oidOf(e: DerElement, what: string): string {
  if (e.tag !== TAG.OID) throw derError('expected an OBJECT IDENTIFIER', what);
  const b = contents(e);
  if (b.length === 0 || b.length > 64) throw derError('bad OBJECT IDENTIFIER length', what);
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 256) throw derError('OBJECT IDENTIFIER arc too large', what);
    if ((b[i]! & 0x80) === 0) {
      parts.push(v);
      v = 0;
    } else if (i === b.length - 1) {
      throw derError('truncated OBJECT IDENTIFIER', what);
    }
  }
  const first = parts[0]!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts.slice(1)].join('.');
}

/** Decodes a non-negative INTEGER element (AMD extension values, CRL serials) to bigint. */
export function integerOf(e: DerElement, what: string): bigint {
  if (e.tag !== TAG.INTEGER) throw derError('expected an INTEGER', what);
  const b = contents(e);
  if (b.length === 0 || b.length > 64) throw derError('bad INTEGER length', what);
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  if (b[0]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v;
}

/** Decodes an ASN.1 string element (IA5, Printable, UTF8) as text. */
export function stringOf(e: DerElement, what: string): string {
  if (e.tag !== TAG.IA5_STRING && e.tag !== TAG.PRINTABLE_STRING && e.tag !== TAG.UTF8_STRING) {
    throw derError(`expected a string, got tag 0x${e.tag.toString(16)}`, what);
  }
  return Buffer.from(contents(e)).toString('utf8');
}

/** Decodes UTCTime / GeneralizedTime (RFC 5280 §4.1.2.5: Z form, seconds present). */
export function timeOf(e: DerElement, what: string): Date {
  const s = Buffer.from(contents(e)).toString('latin1');
  let m: RegExpMatchArray | null;
  let year: number;
  if (e.tag === TAG.UTC_TIME && (m = s.match(/^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/)) !== null) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (
    e.tag === TAG.GENERALIZED_TIME &&
    (m = s.match(/^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/)) !== null
  ) {
    year = Number(m[1]);
  } else {
    throw derError(`bad time "${s}"`, what);
  }
  const d = new Date(
    Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])),
  );
  if (Number.isNaN(d.getTime())) throw derError(`bad time "${s}"`, what);
  return d;
}

// ---- writer (used by the simulated AMD hierarchy, sim.ts) ----

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  while (n > 0) {
    out.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return [0x80 | out.length, ...out];
}

/** Encodes one element from its tag and contents. */
export function tlv(tag: number, body: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from([tag, ...lengthBytes(body.length)]), body]);
}

/** SEQUENCE of encoded elements. */
export function seq(...items: Uint8Array[]): Uint8Array {
  return tlv(TAG.SEQUENCE, Buffer.concat(items));
}

/** SET of encoded elements (callers pass them in DER order). */
export function set(...items: Uint8Array[]): Uint8Array {
  return tlv(TAG.SET, Buffer.concat(items));
}

/** Context-specific constructed [n] EXPLICIT wrapper. */
export function explicit(n: number, inner: Uint8Array): Uint8Array {
  return tlv(0xa0 | n, inner);
}

/** INTEGER from a non-negative bigint/number. */
export function int(v: bigint | number): Uint8Array {
  let x = BigInt(v);
  if (x < 0n) throw new TypeError('der.int: negative');
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(x & 0xffn));
    x >>= 8n;
  } while (x > 0n);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(TAG.INTEGER, Buffer.from(bytes));
}

/** OBJECT IDENTIFIER from dotted form. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [arcs[0]! * 40 + arcs[1]!];
  for (const a of arcs.slice(2)) {
    const enc: number[] = [a & 0x7f];
    let x = Math.floor(a / 128);
    while (x > 0) {
      enc.unshift((x & 0x7f) | 0x80);
      x = Math.floor(x / 128);
    }
    out.push(...enc);
  }
  return tlv(TAG.OID, Buffer.from(out));
}

/** OCTET STRING. */
export function octets(b: Uint8Array): Uint8Array {
  return tlv(TAG.OCTET_STRING, b);
}

/** BIT STRING with no unused bits. */
export function bits(b: Uint8Array): Uint8Array {
  return tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), b]));
}

/** A string of the given universal tag. */
export function str(tag: number, s: string): Uint8Array {
  return tlv(tag, Buffer.from(s, 'utf8'));
}

/** UTCTime (years 1950–2049) or GeneralizedTime, per RFC 5280 §4.1.2.5. */
export function time(d: Date): Uint8Array {
  const iso = d.toISOString();
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '');
  const y = d.getUTCFullYear();
  return y >= 1950 && y < 2050
    ? str(TAG.UTC_TIME, `${digits.slice(2)}Z`)
    : str(TAG.GENERALIZED_TIME, `${digits}Z`);
}

/** NULL. */
export const NULL_ELEMENT: Uint8Array = new Uint8Array([TAG.NULL, 0]);
