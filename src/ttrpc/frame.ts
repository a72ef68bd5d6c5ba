/**
 * ttrpc framing (cri-kata.md §4.6; containerd/ttrpc PROTOCOL.md and channel.go): a 10-byte
 * header, then the payload.
 *
 * | bytes | field |
 * | 0–3   | data length, u32 big-endian |
 * | 4–7   | stream id, u32 big-endian |
 * | 8     | message type |
 * | 9     | flags |
 */
import { CocoonError } from '../common/errors.js';

/** Header field offsets (each start is the previous end; §4.6 table above). */
export const HEADER_LENGTH_START = 0;
export const HEADER_LENGTH_END = HEADER_LENGTH_START + 4;
export const HEADER_STREAM_ID_START = HEADER_LENGTH_END;
export const HEADER_STREAM_ID_END = HEADER_STREAM_ID_START + 4;
export const HEADER_TYPE_OFFSET = HEADER_STREAM_ID_END;
export const HEADER_FLAGS_OFFSET = HEADER_TYPE_OFFSET + 1;
/** Size of the frame header. */
export const HEADER_SIZE = HEADER_FLAGS_OFFSET + 1;

/** Largest payload a frame may carry: `messageLengthMax = 4 << 20` in channel.go. */
export const MESSAGE_LENGTH_MAX = 4 << 20;

/** Message types (§4.6). */
export const MessageType = {
  REQUEST: 0x01,
  RESPONSE: 0x02,
  DATA: 0x03,
} as const;

/** Flags (§4.6): Request 0x01/0x02, Data 0x01/0x04. */
export const Flags = {
  /** Request/Data: the sender will send no more data on this stream. */
  REMOTE_CLOSED: 0x01,
  /** Request: the client will send Data frames (client streaming, bidi). */
  REMOTE_OPEN: 0x02,
  /** Data: the frame carries no message (distinct from an empty message). */
  NO_DATA: 0x04,
} as const;

/** A decoded frame header. */
export interface FrameHeader {
  readonly length: number;
  readonly streamId: number;
  readonly type: number;
  readonly flags: number;
}

/** Builds one frame; throws ERR_TTRPC_FRAME_TOO_LARGE above MESSAGE_LENGTH_MAX. */
export function encodeFrame(streamId: number, type: number, flags: number, payload: Uint8Array): Buffer {
  if (payload.length > MESSAGE_LENGTH_MAX) {
    throw new CocoonError(
      'ERR_TTRPC_FRAME_TOO_LARGE',
      `message length ${payload.length} exceeds the maximum message size of ${MESSAGE_LENGTH_MAX}`,
      { details: { length: payload.length, max: MESSAGE_LENGTH_MAX, streamId } },
    );
  }
  const b = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  b.writeUInt32BE(payload.length, HEADER_LENGTH_START);
  b.writeUInt32BE(streamId >>> 0, HEADER_STREAM_ID_START);
  b[HEADER_TYPE_OFFSET] = type;
  b[HEADER_FLAGS_OFFSET] = flags;
  b.set(payload, HEADER_SIZE);
  return b;
}

/** Parses a header from the first HEADER_SIZE bytes of `b`. */
export function decodeHeader(b: Uint8Array): FrameHeader {
  if (b.length < HEADER_SIZE) {
    throw new CocoonError(
      'ERR_TTRPC_PROTOCOL',
      `a ttrpc header needs ${HEADER_SIZE} bytes, have ${b.length}`,
      {
        details: { have: b.length },
      },
    );
  }
  const v = new DataView(b.buffer, b.byteOffset, HEADER_SIZE);
  return {
    length: v.getUint32(HEADER_LENGTH_START),
    streamId: v.getUint32(HEADER_STREAM_ID_START),
    type: b[HEADER_TYPE_OFFSET]!,
    flags: b[HEADER_FLAGS_OFFSET]!,
  };
}

/** What a FrameDecoder reports. */
export interface FrameSink {
  /** A complete frame; `payload` is a view valid for as long as the caller keeps it. */
  frame(header: FrameHeader, payload: Buffer): void;
  /**
   * A header whose length exceeds MESSAGE_LENGTH_MAX: its payload is skipped as it streams in,
   * never buffered, so the connection survives (channel.go discards it the same way).
   */
  oversize(header: FrameHeader): void;
}

/**
 * Incremental frame decoder: bytes in, frames out. Linear in the input (chunks are joined once
 * per frame), bounded in memory by MESSAGE_LENGTH_MAX plus one chunk.
 */
export class FrameDecoder {
  private readonly sink: FrameSink;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: FrameHeader | undefined;
  private skip = 0;
  private stopped = false;

  constructor(sink: FrameSink) {
    this.sink = sink;
  }

  /** True when a frame has started but not finished (a peer closing now cut it short). */
  get midFrame(): boolean {
    return this.buffered > 0 || this.skip > 0 || this.header !== undefined;
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Stops decoding; later pushes are ignored. */
  stop(): void {
    this.stopped = true;
    this.chunks = [];
    this.buffered = 0;
  }

  /** Feeds bytes; calls the sink for every complete frame. */
  push(chunk: Buffer): void {
    if (this.stopped) return;
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      chunk = chunk.subarray(n);
    }
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    while (!this.stopped) {
      if (this.header === undefined) {
        if (this.buffered < HEADER_SIZE) return;
        const h = decodeHeader(this.take(HEADER_SIZE));
        if (h.length > MESSAGE_LENGTH_MAX) {
          const n = Math.min(h.length, this.buffered);
          this.drop(n);
          this.skip = h.length - n;
          this.sink.oversize(h);
          continue;
        }
        this.header = h;
      }
      if (this.buffered < this.header.length) return;
      const h = this.header;
      const payload = this.take(h.length);
      this.header = undefined;
      this.sink.frame(h, payload);
    }
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }

  private drop(n: number): void {
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      if (c.length <= left) {
        left -= c.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.buffered -= n;
  }
}
