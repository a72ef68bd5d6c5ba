/**
 * The one minimal DER (X.690) writer, used by the simulators to build test certificates, CRLs
 * and extensions (snp/sim.ts: the simulated AMD hierarchy; tdx/sim.ts: the SGX PCK extension).
 * Definite lengths in minimal form (X.690 §10.1); callers pass SET members in DER order.
 */
import { DER_TAG } from './der.js';

// X.690 §8.1.3: short form below 0x80, else 0x80|count followed by big-endian length octets.
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
  return tlv(DER_TAG.SEQUENCE, Buffer.concat(items));
}

/** SET of encoded elements (callers pass them in DER order). */
export function set(...items: Uint8Array[]): Uint8Array {
  return tlv(DER_TAG.SET, Buffer.concat(items));
}

/** Context-specific constructed [n] EXPLICIT wrapper. */
export function explicit(n: number, inner: Uint8Array): Uint8Array {
  return tlv(0xa0 | n, inner);
}

/** INTEGER (or another integer-encoded tag such as ENUMERATED) from a non-negative bigint/number. */
export function int(v: bigint | number, tag: number = DER_TAG.INTEGER): Uint8Array {
  let x = BigInt(v);
  if (x < 0n) throw new TypeError('der.int: negative');
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(x & 0xffn));
    x >>= 8n;
  } while (x > 0n);
  // X.690 §8.3.2: a leading 0x00 keeps a value with the top bit set positive.
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(tag, Buffer.from(bytes));
}

/** BOOLEAN (DER TRUE is 0xff, X.690 §11.1). */
export function bool(b: boolean): Uint8Array {
  return tlv(DER_TAG.BOOLEAN, Buffer.from([b ? 0xff : 0]));
}

/** OBJECT IDENTIFIER from dotted form (X.690 §8.19; the first two arcs share one sub-identifier). */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [];
  for (const a of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
    const enc: number[] = [a & 0x7f];
    let x = Math.floor(a / 128);
    while (x > 0) {
      enc.unshift((x & 0x7f) | 0x80);
      x = Math.floor(x / 128);
    }
    out.push(...enc);
  }
  return tlv(DER_TAG.OID, Buffer.from(out));
}

/** OCTET STRING. */
export function octets(b: Uint8Array): Uint8Array {
  return tlv(DER_TAG.OCTET_STRING, b);
}

/** BIT STRING with no unused bits. */
export function bits(b: Uint8Array): Uint8Array {
  return tlv(DER_TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), b]));
}

/** A string of the given universal tag, UTF-8 encoded. */
export function str(tag: number, s: string): Uint8Array {
  return tlv(tag, Buffer.from(s, 'utf8'));
}

/** UTCTime (years 1950–2049) or GeneralizedTime, per RFC 5280 §4.1.2.5. */
export function time(d: Date): Uint8Array {
  const iso = d.toISOString();
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '');
  const y = d.getUTCFullYear();
  return y >= 1950 && y < 2050
    ? str(DER_TAG.UTC_TIME, `${digits.slice(2)}Z`)
    : str(DER_TAG.GENERALIZED_TIME, `${digits}Z`);
}

/** NULL. */
export const NULL_ELEMENT: Uint8Array = new Uint8Array([DER_TAG.NULL, 0]);
