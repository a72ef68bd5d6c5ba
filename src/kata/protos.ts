/**
 * Loads Cocoon's wire-compatible containerd protos (proto/containerd/**) once and offers typed
 * encode/decode helpers. google.protobuf Any/Timestamp/Empty come from protobufjs's bundled
 * well-known types (same package, names and numbers as upstream).
 */
import protobuf from 'protobufjs';
import { CocoonError } from '../common/errors.js';
import { packagePath } from '../common/paths.js';

/** Proto files of the Task API, events, runtime options and cgroup metrics, relative to proto/containerd. */
export const CONTAINERD_PROTO_FILES: readonly string[] = [
  'task/v2/shim.proto',
  'events/task.proto',
  'services/events/ttrpc/v1/events.proto',
  'runtimeoptions/v1/api.proto',
  'cgroups/v1/metrics.proto',
  'cgroups/v2/metrics.proto',
];

/** Absolute include directory of the containerd protos. */
export function containerdProtoDir(): string {
  return packagePath('proto', 'containerd');
}

/** Absolute paths of CONTAINERD_PROTO_FILES (for loadProtoRoot-style loaders). */
export function containerdProtoPaths(): string[] {
  return CONTAINERD_PROTO_FILES.map((f) => packagePath('proto', 'containerd', f));
}

let root: protobuf.Root | undefined;

/** The loaded protobufjs Root holding every containerd message Cocoon uses. */
export function containerdRoot(): protobuf.Root {
  if (root !== undefined) return root;
  const r = new protobuf.Root();
  const dir = containerdProtoDir();
  // Imports inside the files are relative to proto/containerd (e.g. "types/mount.proto").
  r.resolvePath = (_origin: string, target: string): string =>
    target.startsWith('/') || target.startsWith('google/') ? target : `${dir}/${target}`;
  r.loadSync(
    CONTAINERD_PROTO_FILES.map((f) => `${dir}/${f}`),
    { keepCase: true },
  );
  r.resolveAll();
  root = r;
  return r;
}

const types = new Map<string, protobuf.Type>();

/** Looks up a message type by its fully-qualified name (cached: every Task API call needs two). */
export function messageType(name: string): protobuf.Type {
  let t = types.get(name);
  if (t === undefined) {
    t = containerdRoot().lookupType(name);
    types.set(name, t);
  }
  return t;
}

/** Encodes a plain object (proto field names, snake_case) as `typeName`. */
export function encodeMessage(typeName: string, value: Record<string, unknown>): Uint8Array {
  const t = messageType(typeName);
  const err = t.verify(value);
  if (err !== null) {
    throw new CocoonError('ERR_KATA_PROTO_INVALID', `${typeName}: ${err}`, { details: { type: typeName } });
  }
  return t.encode(t.fromObject(value)).finish();
}

/** Conversion used when decoding: numbers for 64-bit ints (counters and sizes stay < 2^53), enums as numbers. */
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  bytes: Buffer,
  defaults: true,
  arrays: true,
  objects: true,
};

/** Decodes bytes as `typeName` into a plain object with defaults filled in; typed failure on bad input. */
export function decodeMessage<T = Record<string, unknown>>(typeName: string, bytes: Uint8Array): T {
  const t = messageType(typeName);
  try {
    return t.toObject(t.decode(bytes), TO_OBJECT) as T;
  } catch (e) {
    throw new CocoonError('ERR_KATA_PROTO_INVALID', `bytes do not decode as ${typeName}`, {
      cause: e,
      details: { type: typeName },
    });
  }
}

/** google.protobuf.Any as decoded: type URL and raw value. */
export interface AnyMessage {
  readonly typeUrl: string;
  readonly value: Buffer;
}

/** Decoded google.protobuf.Timestamp → Date (undefined when absent or zero). */
export function timestampToDate(ts: unknown): Date | undefined {
  if (ts === null || ts === undefined || typeof ts !== 'object') return undefined;
  const o = ts as { seconds?: number; nanos?: number };
  const seconds = Number(o.seconds ?? 0);
  const nanos = Number(o.nanos ?? 0);
  if (seconds === 0 && nanos === 0) return undefined;
  return new Date(seconds * 1000 + Math.floor(nanos / 1e6));
}

/** Date → google.protobuf.Timestamp plain object. */
export function dateToTimestamp(d: Date): { seconds: number; nanos: number } {
  const ms = d.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1e6 };
}

/** Decoded google.protobuf.Any plain object → AnyMessage (undefined when absent). */
export function toAny(v: unknown): AnyMessage | undefined {
  if (v === null || v === undefined || typeof v !== 'object') return undefined;
  const o = v as { type_url?: string; value?: Uint8Array };
  if (o.type_url === undefined || o.type_url === '') return undefined;
  return { typeUrl: o.type_url, value: Buffer.from(o.value ?? new Uint8Array(0)) };
}
