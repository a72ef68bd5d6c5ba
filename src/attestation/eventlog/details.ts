/**
 * Trustee-compatible JSON view of CC events (evidence.md §1.11, §3.1 `uefi_event_logs`):
 * `{details, digest_matches_event, digests:[{alg, digest}], event, index, type_name}`. The
 * `details` member decodes the event data per type the way Trustee's eventlog crate does
 * (TCG PC Client PFP structures; UEFI device-path text for boot applications) so policies
 * written against Trustee's claims read the same values. Undecodable data gives empty details
 * or the raw fallback, never an exception.
 */
import { createHash } from 'node:crypto';
import { EVENT_TYPE_NAMES, TCG_ALGS, type CcEvent } from './ccel.js';

/** Decoded event details; members are present only when the decoder sets them. */
export interface EventDetails {
  string?: string;
  unicode_name?: string;
  unicode_name_length?: number;
  variable_data?: string;
  variable_data_length?: number;
  variable_name?: string;
  device_paths?: string[];
}

/** One event as Trustee emits it. */
export interface TrusteeEventJson {
  readonly details: EventDetails;
  readonly digest_matches_event: boolean;
  readonly digests: readonly { alg: string; digest: string }[];
  readonly event: string;
  readonly index: number;
  readonly type_name: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function utf8OrUndefined(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

function utf16le(b: Uint8Array): string {
  const n = b.length - (b.length % 2);
  return Buffer.from(b.buffer, b.byteOffset, n).toString('utf16le');
}

/** GUID as 8-4-4-4-12 lower-case hex of the bytes in wire order (Trustee variable_name). */
function guidRaw(g: Uint8Array): string {
  const h = Buffer.from(g).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** GUID in UEFI text form (little-endian first three fields, upper case). */
function guidUefi(g: Uint8Array): string {
  const b = Buffer.from(g);
  const d1 = b.readUInt32LE(0).toString(16).padStart(8, '0');
  const d2 = b.readUInt16LE(4).toString(16).padStart(4, '0');
  const d3 = b.readUInt16LE(6).toString(16).padStart(4, '0');
  const d4 = b.subarray(8, 10).toString('hex');
  const d5 = b.subarray(10, 16).toString('hex');
  return `${d1}-${d2}-${d3}-${d4}-${d5}`.toUpperCase();
}

/** One UEFI device-path node as text (UEFI 2.10 §10.6 text forms used by Trustee). */
function devicePathNode(type: number, sub: number, d: Uint8Array): string {
  const b = Buffer.from(d);
  if (type === 1 && sub === 1 && b.length >= 2) return `Pci(${b[0]},${b[1]})`;
  if (type === 2 && sub === 1 && b.length >= 8) {
    const hid = b.readUInt32LE(0);
    const uid = b.readUInt32LE(4);
    const v = hid & 0xffff;
    const ch = (x: number): string => String.fromCharCode((x & 0x1f) + 0x40);
    const dev = (hid >>> 16).toString(16).toUpperCase().padStart(4, '0');
    return `ACPI(${ch(v >> 10)}${ch(v >> 5)}${ch(v)}${dev},${uid})`;
  }
  if (type === 4 && sub === 1 && b.length >= 38) {
    const part = b.readUInt32LE(0);
    const start = b.readBigUInt64LE(4);
    const size = b.readBigUInt64LE(12);
    const fmt = b[36];
    const sig =
      fmt === 1
        ? `0x${b.readUInt32LE(20).toString(16).padStart(8, '0')}`
        : fmt === 2
          ? guidUefi(b.subarray(20, 36))
          : undefined;
    if (sig !== undefined) {
      const extra = part !== 0 ? `,0x${start.toString(16)},0x${size.toString(16)}` : '';
      return `HD(${part},${fmt === 1 ? 'MBR' : 'GPT'},${sig}${extra})`;
    }
  }
  if (type === 4 && sub === 3 && b.length >= 16) {
    return `VenMedia(${guidUefi(b.subarray(0, 16))},${b.subarray(16).toString('hex')})`;
  }
  if (type === 4 && sub === 4 && b.length >= 2 && b.length % 2 === 0) {
    return `File(${utf16le(b.subarray(0, b.length - 2))})`;
  }
  return `Path(${type},${sub},${b.toString('hex')})`;
}

/** Device paths of a UEFI_IMAGE_LOAD_EVENT (EV_EFI_BOOT_SERVICES_APPLICATION). */
function bootServicesApp(d: Uint8Array): EventDetails {
  if (d.length < 32) return {};
  const b = Buffer.from(d);
  const len = Number(b.readBigUInt64LE(24));
  // The end-of-path node (4 bytes) is excluded, as Trustee does.
  if (len < 4 || 32 + len - 4 >= b.length) return {};
  const path = b.subarray(32, 32 + len - 4);
  const out: string[] = [];
  let p = 0;
  while (p + 4 <= path.length) {
    const nlen = path.readUInt16LE(p + 2);
    if (nlen < 4 || p + nlen > path.length) break;
    out.push(devicePathNode(path[p]!, path[p + 1]!, path.subarray(p + 4, p + nlen)));
    p += nlen;
  }
  return out.length === 0 ? {} : { device_paths: out };
}

/** UEFI_VARIABLE_DATA (EV_EFI_VARIABLE_*). */
function efiVariable(d: Uint8Array): EventDetails {
  const b = Buffer.from(d);
  if (b.length < 32) return {};
  const nameLen = Number(b.readBigUInt64LE(16));
  const dataLen = Number(b.readBigUInt64LE(24));
  if (32 + nameLen * 2 > b.length) return {};
  const name = b.subarray(32, 32 + nameLen * 2);
  const dataStart = 32 + nameLen * 2;
  const vdata = dataLen > 0 ? b.subarray(dataStart, dataStart + dataLen) : Buffer.alloc(0);
  return {
    unicode_name: name.toString('utf16le'),
    unicode_name_length: nameLen,
    variable_data: vdata.toString('base64'),
    variable_data_length: dataLen,
    variable_name: guidRaw(b.subarray(0, 16)),
  };
}

/** The details decoder of Trustee for each event type. */
export function eventDetails(type: number, d: Uint8Array): EventDetails {
  switch (type) {
    case 0x1: // EV_POST_CODE
    case 0x5: // EV_ACTION
    case 0xc: // EV_COMPACT_HASH
    case 0x12: // EV_OMIT_BOOT_DEVICE_EVENTS
    case 0x80000007: {
      // EV_EFI_ACTION: plain UTF-8 string.
      const s = utf8OrUndefined(d);
      return s === undefined ? {} : { string: s };
    }
    case 0x6: {
      // EV_EVENT_TAG: TCG_PCClientTaggedEvent {id u32, size u32, data}.
      if (d.length < 8) return {};
      const n = Buffer.from(d).readUInt32LE(4);
      if (8 + n > d.length) return {};
      const s = utf8OrUndefined(d.subarray(8, 8 + n));
      return s === undefined ? {} : { string: s.replaceAll('\0', '') };
    }
    case 0xa: {
      // EV_PLATFORM_CONFIG_FLAGS: vendor text; non-UTF-8 gives "", control characters removed.
      const s = utf8OrUndefined(d) ?? '';
      return { string: s.replace(/\u0010/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '') };
    }
    case 0xd: {
      // EV_IPL: GCE prefixes UTF-16 text with 2e 00; else UTF-8 without its last byte.
      if (d.length < 2) return {};
      if (d[0] === 0x2e && d[1] === 0x00) {
        const n = d.length - 2;
        if (n === 0 || n % 2 !== 0) return {};
        return { string: utf16le(d.subarray(2, n)) };
      }
      const s = utf8OrUndefined(d.subarray(0, d.length - 1));
      return s === undefined ? {} : { string: s };
    }
    case 0x80000001:
    case 0x80000002:
    case 0x8000000c:
    case 0x800000e0:
      return efiVariable(d);
    case 0x80000003:
      return bootServicesApp(d);
    case 0x8000000a:
    case 0x8000000b: {
      // UEFI_PLATFORM_FIRMWARE_BLOB2 / UEFI_HANDOFF_TABLE_POINTERS2: u8 size, description.
      // Trustee takes bytes [1, size) — the description without its terminating NUL.
      if (d.length < 1 || d[0]! < 1 || d[0]! > d.length) return {};
      const s = utf8OrUndefined(d.subarray(1, d[0]!));
      return s === undefined ? {} : { string: s };
    }
    default:
      return {};
  }
}

/** Converts one event to Trustee's JSON shape. */
export function eventToTrusteeJson(e: CcEvent): TrusteeEventJson {
  const digests = e.digests.map((d) => ({
    alg: TCG_ALGS[d.algId]?.name ?? `0x${d.algId.toString(16)}`,
    digest: Buffer.from(d.digest).toString('hex'),
  }));
  // digest_matches_event: every digest equals the hash of the event data.
  const matches =
    e.digests.length > 0 &&
    e.digests.every((d) => {
      const h = TCG_ALGS[d.algId]?.hash;
      return h !== undefined && createHash(h).update(e.data).digest().equals(Buffer.from(d.digest));
    });
  return {
    details: eventDetails(e.type, e.data),
    digest_matches_event: matches,
    digests,
    event: Buffer.from(e.data).toString('base64'),
    index: e.index,
    type_name: EVENT_TYPE_NAMES[e.type] ?? `0x${e.type.toString(16)}`,
  };
}
