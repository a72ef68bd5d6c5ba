/**
 * Bounded reading of untrusted binary input. Every read checks the remaining length first and
 * throws ERR_COMMON_BYTES_SHORT (with the field name) instead of reading past the end.
 */
import { CocoonError } from './errors.js';

/** Hex encoding of bytes, lower case. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Strict hex decoding: even length, hex digits only; throws ERR_COMMON_INVALID_ARGUMENT. */
export function fromHex(s: string, what = 'hex string'): Buffer {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new CocoonError('ERR_COMMON_INVALID_ARGUMENT', `${what} is not valid hex`);
  }
  return Buffer.from(s, 'hex');
}

/** True when every byte of b[start, end) is zero. */
export function isZero(b: Uint8Array, start = 0, end = b.length): boolean {
  for (let i = start; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/** Throws ERR_COMMON_BYTES_SHORT when `b` is shorter than `need` bytes. */
export function requireLength(b: Uint8Array, need: number, what: string): void {
  if (b.length < need) {
    throw new CocoonError('ERR_COMMON_BYTES_SHORT', `${what}: need ${need} bytes, have ${b.length}`, {
      details: { need, have: b.length, what },
    });
  }
}

/** A cursor over a byte buffer that never reads out of bounds. */
export class ByteReader {
  private pos = 0;
  private readonly buf: Buffer;

  constructor(data: Uint8Array) {
    this.buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  /** Current offset. */
  get offset(): number {
    return this.pos;
  }

  /** Bytes left. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      throw new CocoonError(
        'ERR_COMMON_BYTES_SHORT',
        `${what}: need ${n} bytes at offset ${this.pos}, have ${this.remaining}`,
        {
          details: { offset: this.pos, need: n, have: this.remaining, what },
        },
      );
    }
  }

  /** Copies n bytes. */
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf.readUInt8(this.pos++);
  }

  u16le(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u32le(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u32be(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64le(what: string): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Skips n bytes. */
  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }
}
