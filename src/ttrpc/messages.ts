/**
 * The ttrpc envelope messages (package `ttrpc`, request.proto; cri-kata.md §4.6), hand-encoded
 * with protobufjs's Reader/Writer so the hot path allocates no message objects:
 *
 * - Request {service = 1 string, method = 2 string, payload = 3 bytes, timeout_nano = 4 int64,
 *   metadata = 5 repeated KeyValue {key = 1, value = 2}}
 * - Response {status = 1 google.rpc.Status {code = 1 int32, message = 2 string, details = 3},
 *   payload = 2 bytes}; the status is omitted on success.
 *
 * Fields are written in number order and proto3 defaults are omitted, as Go's marshaller does.
 */
import protobuf from 'protobufjs';
import { CocoonError } from '../common/errors.js';
import {
  encodeFrame,
  HEADER_FLAGS_OFFSET,
  HEADER_SIZE,
  HEADER_TYPE_OFFSET,
  MESSAGE_LENGTH_MAX,
  MessageType,
} from './frame.js';

const { Reader, Writer } = protobuf;

/** Protobuf wire types used here. */
const WIRE_VARINT = 0;
const WIRE_LEN = 2;

/** A ttrpc Request. */
export interface TtrpcRequest {
  readonly service: string;
  readonly method: string;
  readonly payload: Uint8Array;
  /** True when field 3 was on the wire (a streaming server takes it as the first message). */
  readonly hasPayload: boolean;
  /** Nanoseconds the caller allows; 0 = no deadline. */
  readonly timeoutNano: number;
  /** Key/value pairs in wire order. */
  readonly metadata: ReadonlyArray<readonly [string, string]>;
}

/** A ttrpc status (google.rpc.Status without details). */
export interface TtrpcStatus {
  readonly code: number;
  readonly message: string;
}

/** A ttrpc Response. */
export interface TtrpcResponse {
  /** Absent on success. */
  readonly status?: TtrpcStatus;
  readonly payload: Uint8Array;
}

function invalid(what: string, cause: unknown): CocoonError {
  return new CocoonError('ERR_TTRPC_MESSAGE_INVALID', `malformed ttrpc ${what}`, {
    cause,
    details: { what },
  });
}

function tag(field: number, wire: number): number {
  return (field << 3) | wire;
}

function longToNumber(v: number | protobuf.Long): number {
  return typeof v === 'number' ? v : protobuf.util.LongBits.from(v).toNumber(false);
}

/** Encodes a Request. */
export function encodeRequest(r: {
  service: string;
  method: string;
  payload?: Uint8Array;
  timeoutNano?: number;
  metadata?: ReadonlyArray<readonly [string, string]>;
}): Uint8Array {
  const w = Writer.create();
  if (r.service !== '') w.uint32(tag(1, WIRE_LEN)).string(r.service);
  if (r.method !== '') w.uint32(tag(2, WIRE_LEN)).string(r.method);
  if (r.payload !== undefined && r.payload.length > 0) w.uint32(tag(3, WIRE_LEN)).bytes(r.payload);
  if (r.timeoutNano !== undefined && r.timeoutNano !== 0) w.uint32(tag(4, WIRE_VARINT)).int64(r.timeoutNano);
  for (const [k, v] of r.metadata ?? []) {
    w.uint32(tag(5, WIRE_LEN)).fork();
    if (k !== '') w.uint32(tag(1, WIRE_LEN)).string(k);
    if (v !== '') w.uint32(tag(2, WIRE_LEN)).string(v);
    w.ldelim();
  }
  return w.finish();
}

/** Decodes a Request; throws ERR_TTRPC_MESSAGE_INVALID. */
export function decodeRequest(b: Uint8Array): TtrpcRequest {
  try {
    const r = Reader.create(b);
    let service = '';
    let method = '';
    let payload: Uint8Array = new Uint8Array(0);
    let hasPayload = false;
    let timeoutNano = 0;
    const metadata: [string, string][] = [];
    while (r.pos < r.len) {
      const t = r.uint32();
      switch (t) {
        case tag(1, WIRE_LEN):
          service = r.string();
          break;
        case tag(2, WIRE_LEN):
          method = r.string();
          break;
        case tag(3, WIRE_LEN):
          payload = r.bytes();
          hasPayload = true;
          break;
        case tag(4, WIRE_VARINT):
          timeoutNano = longToNumber(r.int64());
          break;
        case tag(5, WIRE_LEN): {
          const end = r.uint32() + r.pos;
          if (end > r.len) throw new RangeError('KeyValue overruns the Request');
          let key = '';
          let value = '';
          while (r.pos < end) {
            const kt = r.uint32();
            if (kt === tag(1, WIRE_LEN)) key = r.string();
            else if (kt === tag(2, WIRE_LEN)) value = r.string();
            else r.skipType(kt & 7);
          }
          if (r.pos !== end) throw new RangeError('KeyValue length mismatch');
          metadata.push([key, value]);
          break;
        }
        default:
          skipField(r, t);
      }
    }
    return { service, method, payload, hasPayload, timeoutNano, metadata };
  } catch (e) {
    throw invalid('Request', e);
  }
}

function skipField(r: protobuf.Reader, t: number): void {
  if (t >>> 3 === 0) throw new RangeError('field number 0');
  r.skipType(t & 7);
}

/** Encodes a Response; a status with code 0 is omitted (success). */
export function encodeResponse(status: TtrpcStatus | undefined, payload?: Uint8Array): Uint8Array {
  const w = Writer.create();
  if (status !== undefined && status.code !== 0) {
    w.uint32(tag(1, WIRE_LEN)).fork();
    w.uint32(tag(1, WIRE_VARINT)).int32(status.code);
    if (status.message !== '') w.uint32(tag(2, WIRE_LEN)).string(status.message);
    w.ldelim();
  }
  if (payload !== undefined && payload.length > 0) w.uint32(tag(2, WIRE_LEN)).bytes(payload);
  return w.finish();
}

/** Decodes a Response; throws ERR_TTRPC_MESSAGE_INVALID. */
export function decodeResponse(b: Uint8Array): TtrpcResponse {
  try {
    const r = Reader.create(b);
    let status: TtrpcStatus | undefined;
    let payload: Uint8Array = new Uint8Array(0);
    while (r.pos < r.len) {
      const t = r.uint32();
      if (t === tag(1, WIRE_LEN)) {
        const end = r.uint32() + r.pos;
        if (end > r.len) throw new RangeError('Status overruns the Response');
        let code = 0;
        let message = '';
        while (r.pos < end) {
          const st = r.uint32();
          if (st === tag(1, WIRE_VARINT)) code = r.int32();
          else if (st === tag(2, WIRE_LEN)) message = r.string();
          else skipField(r, st);
        }
        if (r.pos !== end) throw new RangeError('Status length mismatch');
        status = { code, message };
      } else if (t === tag(2, WIRE_LEN)) {
        payload = r.bytes();
      } else {
        skipField(r, t);
      }
    }
    return status === undefined ? { payload } : { status, payload };
  } catch (e) {
    throw invalid('Response', e);
  }
}

/** Bytes of an unsigned varint for 0 ≤ n < 2^53. */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes an unsigned varint (0 ≤ n < 2^53) at `off`; returns the next offset. */
function writeVarint(b: Buffer, off: number, n: number): number {
  while (n >= 0x80) {
    b[off++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  b[off++] = n;
  return off;
}

/** Size of a length-delimited field with a one-byte tag. */
function lenFieldSize(len: number): number {
  return 1 + varintSize(len) + len;
}

function writeLenField(b: Buffer, off: number, t: number, len: number): number {
  b[off++] = t;
  return writeVarint(b, off, len);
}

function tooLarge(len: number, streamId: number): CocoonError {
  return new CocoonError(
    'ERR_TTRPC_FRAME_TOO_LARGE',
    `message length ${len} exceeds the maximum message size of ${MESSAGE_LENGTH_MAX}`,
    { details: { length: len, max: MESSAGE_LENGTH_MAX, streamId } },
  );
}

function frameBuffer(streamId: number, type: number, flags: number, len: number): Buffer {
  if (len > MESSAGE_LENGTH_MAX) throw tooLarge(len, streamId);
  const b = Buffer.allocUnsafe(HEADER_SIZE + len);
  b.writeUInt32BE(len, 0);
  b.writeUInt32BE(streamId >>> 0, 4);
  b[HEADER_TYPE_OFFSET] = type;
  b[HEADER_FLAGS_OFFSET] = flags;
  return b;
}

/**
 * A whole Request frame (header + Request) written in one buffer without intermediate objects:
 * the hot path of every call. Byte-identical to `encodeFrame(id, REQUEST, flags, encodeRequest(r))`
 * (tested); a negative timeout_nano (10-byte two's complement varint) takes that general path.
 */
export function encodeRequestFrame(
  streamId: number,
  flags: number,
  r: {
    service: string;
    method: string;
    payload?: Uint8Array;
    timeoutNano?: number;
    metadata?: ReadonlyArray<readonly [string, string]>;
  },
): Buffer {
  const timeout = r.timeoutNano ?? 0;
  if (timeout < 0 || timeout > Number.MAX_SAFE_INTEGER) {
    return encodeFrame(streamId, MessageType.REQUEST, flags, encodeRequest(r));
  }
  const sLen = Buffer.byteLength(r.service);
  const mLen = Buffer.byteLength(r.method);
  const pLen = r.payload?.length ?? 0;
  let len = (sLen > 0 ? lenFieldSize(sLen) : 0) + (mLen > 0 ? lenFieldSize(mLen) : 0);
  len += pLen > 0 ? lenFieldSize(pLen) : 0;
  len += timeout !== 0 ? 1 + varintSize(timeout) : 0;
  const md = r.metadata ?? [];
  const kvLens: number[] = [];
  for (const [k, v] of md) {
    const kLen = Buffer.byteLength(k);
    const vLen = Buffer.byteLength(v);
    const inner = (kLen > 0 ? lenFieldSize(kLen) : 0) + (vLen > 0 ? lenFieldSize(vLen) : 0);
    kvLens.push(kLen, vLen, inner);
    len += lenFieldSize(inner);
  }
  const b = frameBuffer(streamId, MessageType.REQUEST, flags, len);
  let off = HEADER_SIZE;
  if (sLen > 0) {
    off = writeLenField(b, off, tag(1, WIRE_LEN), sLen);
    off += b.write(r.service, off, 'utf8');
  }
  if (mLen > 0) {
    off = writeLenField(b, off, tag(2, WIRE_LEN), mLen);
    off += b.write(r.method, off, 'utf8');
  }
  if (pLen > 0) {
    off = writeLenField(b, off, tag(3, WIRE_LEN), pLen);
    b.set(r.payload!, off);
    off += pLen;
  }
  if (timeout !== 0) {
    b[off++] = tag(4, WIRE_VARINT);
    off = writeVarint(b, off, timeout);
  }
  for (let i = 0; i < md.length; i++) {
    const [k, v] = md[i]!;
    const kLen = kvLens[3 * i]!;
    const vLen = kvLens[3 * i + 1]!;
    off = writeLenField(b, off, tag(5, WIRE_LEN), kvLens[3 * i + 2]!);
    if (kLen > 0) {
      off = writeLenField(b, off, tag(1, WIRE_LEN), kLen);
      off += b.write(k, off, 'utf8');
    }
    if (vLen > 0) {
      off = writeLenField(b, off, tag(2, WIRE_LEN), vLen);
      off += b.write(v, off, 'utf8');
    }
  }
  return b;
}

/**
 * A whole Response frame in one buffer; a success Response is just `payload = 2` (status
 * omitted), which is the hot path. Byte-identical to `encodeFrame(id, RESPONSE, 0, encodeResponse(...))`.
 */
export function encodeResponseFrame(
  streamId: number,
  status: TtrpcStatus | undefined,
  payload?: Uint8Array,
): Buffer {
  if (status !== undefined && status.code !== 0) {
    return encodeFrame(streamId, MessageType.RESPONSE, 0, encodeResponse(status, payload));
  }
  const pLen = payload?.length ?? 0;
  const b = frameBuffer(streamId, MessageType.RESPONSE, 0, pLen > 0 ? lenFieldSize(pLen) : 0);
  if (pLen > 0) {
    const off = writeLenField(b, HEADER_SIZE, tag(2, WIRE_LEN), pLen);
    b.set(payload!, off);
  }
  return b;
}
