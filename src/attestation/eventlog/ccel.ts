/**
 * CC event log (CCEL) parsing and RTMR replay (evidence.md §1.11). The log is a TCG PC Client
 * "crypto agile" log: a legacy SHA-1-format TCG_EfiSpecIdEvent first (its algorithm table gives
 * digest sizes), then records {index, type, digests, event}. Parsing stops at 8 bytes of 0xFF
 * or 0x00. Per-event JSON follows Trustee's eventlog crate (`uefi_event_logs` entries with
 * index, type_name, digests, event, digest_matches_event, details), so claims match Trustee's
 * golden files exactly. Replay folds SHA-384(RTMR ‖ digest) per CC MR index (1..4 → RTMR0..3).
 */
import { createHash } from 'node:crypto';
import { CocoonError } from '../../common/errors.js';

/** TCG algorithm IDs (§1.11) and their names and digest sizes. */
export const TCG_ALGS: Readonly<Record<number, { name: string; size: number; hash?: string }>> = {
  0x0004: { name: 'SHA-1', size: 20, hash: 'sha1' },
  0x000b: { name: 'SHA-256', size: 32, hash: 'sha256' },
  0x000c: { name: 'SHA-384', size: 48, hash: 'sha384' },
  0x000d: { name: 'SHA-512', size: 64, hash: 'sha512' },
  0x0012: { name: 'SM3', size: 32 },
};

/** EV_NO_ACTION (§1.11). */
export const EV_NO_ACTION = 0x3;

/** Event type names (§1.11; TCG PC Client PFP). */
export const EVENT_TYPE_NAMES: Readonly<Record<number, string>> = {
  0x0: 'EV_PREBOOT_CERT',
  0x1: 'EV_POST_CODE',
  0x2: 'EV_UNUSED',
  0x3: 'EV_NO_ACTION',
  0x4: 'EV_SEPARATOR',
  0x5: 'EV_ACTION',
  0x6: 'EV_EVENT_TAG',
  0x7: 'EV_S_CRTM_CONTENTS',
  0x8: 'EV_S_CRTM_VERSION',
  0x9: 'EV_CPU_MICROCODE',
  0xa: 'EV_PLATFORM_CONFIG_FLAGS',
  0xb: 'EV_TABLE_OF_DEVICES',
  0xc: 'EV_COMPACT_HASH',
  0xd: 'EV_IPL',
  0xe: 'EV_IPL_PARTITION_DATA',
  0xf: 'EV_NONHOST_CODE',
  0x10: 'EV_NONHOST_CONFIG',
  0x11: 'EV_NONHOST_INFO',
  0x12: 'EV_OMIT_BOOT_DEVICE_EVENTS',
  0x80000000: 'EV_EFI_EVENT_BASE',
  0x80000001: 'EV_EFI_VARIABLE_DRIVER_CONFIG',
  0x80000002: 'EV_EFI_VARIABLE_BOOT',
  0x80000003: 'EV_EFI_BOOT_SERVICES_APPLICATION',
  0x80000004: 'EV_EFI_BOOT_SERVICES_DRIVER',
  0x80000005: 'EV_EFI_RUNTIME_SERVICES_DRIVER',
  0x80000006: 'EV_EFI_GPT_EVENT',
  0x80000007: 'EV_EFI_ACTION',
  0x80000008: 'EV_EFI_PLATFORM_FIRMWARE_BLOB',
  0x80000009: 'EV_EFI_HANDOFF_TABLES',
  0x8000000a: 'EV_EFI_PLATFORM_FIRMWARE_BLOB2',
  0x8000000b: 'EV_EFI_HANDOFF_TABLES2',
  0x8000000c: 'EV_EFI_VARIABLE_BOOT2',
  0x80000010: 'EV_EFI_HCRTM_EVENT',
  0x800000e0: 'EV_EFI_VARIABLE_AUTHORITY',
  0x800000e1: 'EV_EFI_SPDM_FIRMWARE_BLOB',
  0x800000e2: 'EV_EFI_SPDM_FIRMWARE_CONFIG',
};

/** Largest log accepted and most events parsed (bounds for hostile input). */
export const CCEL_MAX_BYTES = 16 * 1024 * 1024;
export const CCEL_MAX_EVENTS = 100_000;

/** One digest of an event. */
export interface EventDigest {
  readonly algId: number;
  readonly digest: Uint8Array;
}

/** One parsed event (EV_NO_ACTION records after the header are kept too). */
export interface CcEvent {
  /** CC measurement register index (1..4 = RTMR0..3). */
  readonly index: number;
  readonly type: number;
  readonly digests: readonly EventDigest[];
  readonly data: Uint8Array;
}

/** A parsed CC event log. */
export interface CcEventLog {
  /** Digest sizes declared by the spec-ID header. */
  readonly algorithms: ReadonlyMap<number, number>;
  readonly events: readonly CcEvent[];
}

function bad(message: string): CocoonError {
  return new CocoonError('ERR_TDX_EVENTLOG_INVALID', `CC event log: ${message}`, {
    details: { stage: 'parse' },
  });
}

/** Parses a CC event log (the CCEL log area, §1.11). */
export function parseCcEventLog(data: Uint8Array): CcEventLog {
  if (!(data instanceof Uint8Array)) throw bad('must be bytes');
  if (data.length > CCEL_MAX_BYTES) throw bad(`${data.length} bytes exceeds ${CCEL_MAX_BYTES}`);
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const need = (o: number, n: number, what: string): void => {
    if (o + n > b.length) throw bad(`${what} at ${o} runs past the end (${b.length})`);
  };
  // Legacy header record: pcr u32, type u32, sha1 digest[20], size u32, TCG_EfiSpecIdEvent.
  need(0, 32, 'spec ID header');
  const hdrType = b.readUInt32LE(4);
  if (hdrType !== EV_NO_ACTION) throw bad(`first record type 0x${hdrType.toString(16)} is not EV_NO_ACTION`);
  const specSize = b.readUInt32LE(28);
  need(32, specSize, 'spec ID event');
  const spec = b.subarray(32, 32 + specSize);
  if (spec.length < 29 || spec.subarray(0, 16).toString('latin1') !== 'Spec ID Event03\0') {
    throw bad('spec ID event signature is not "Spec ID Event03"');
  }
  // platformClass u32 @16, specVersionMinor/Major/errata/uintnSize u8 @20..23, numberOfAlgorithms u32 @24.
  const nAlg = spec.readUInt32LE(24);
  if (nAlg === 0 || nAlg > 16) throw bad(`numberOfAlgorithms ${nAlg} out of range`);
  if (28 + 4 * nAlg + 1 > spec.length) throw bad('algorithm table runs past the spec ID event');
  const algorithms = new Map<number, number>();
  for (let i = 0; i < nAlg; i++) {
    const id = spec.readUInt16LE(28 + 4 * i);
    const size = spec.readUInt16LE(30 + 4 * i);
    if (size === 0 || size > 64)
      throw bad(`digest size ${size} of algorithm 0x${id.toString(16)} out of range`);
    algorithms.set(id, size);
  }
  const vendorSize = spec[28 + 4 * nAlg]!;
  if (28 + 4 * nAlg + 1 + vendorSize !== spec.length)
    throw bad('spec ID event size does not match its contents');

  const events: CcEvent[] = [];
  let o = 32 + specSize;
  while (o + 8 <= b.length) {
    const lo = b.readUInt32LE(o);
    const hi = b.readUInt32LE(o + 4);
    // End of log: 8 bytes of 0xFF or 0x00 (§1.11).
    if ((lo === 0xffffffff && hi === 0xffffffff) || (lo === 0 && hi === 0)) break;
    if (events.length >= CCEL_MAX_EVENTS) throw bad(`more than ${CCEL_MAX_EVENTS} events`);
    need(o, 12, 'event header');
    const index = lo;
    const type = hi;
    const count = b.readUInt32LE(o + 8);
    if (count > algorithms.size)
      throw bad(`event at ${o} has ${count} digests, header declares ${algorithms.size}`);
    let p = o + 12;
    const digests: EventDigest[] = [];
    for (let i = 0; i < count; i++) {
      need(p, 2, 'digest algorithm');
      const algId = b.readUInt16LE(p);
      const size = algorithms.get(algId);
      if (size === undefined) throw bad(`event at ${o} uses undeclared algorithm 0x${algId.toString(16)}`);
      need(p + 2, size, 'digest');
      digests.push({ algId, digest: new Uint8Array(b.subarray(p + 2, p + 2 + size)) });
      p += 2 + size;
    }
    need(p, 4, 'event size');
    const size = b.readUInt32LE(p);
    need(p + 4, size, 'event data');
    events.push({ index, type, digests, data: new Uint8Array(b.subarray(p + 4, p + 4 + size)) });
    o = p + 4 + size;
  }
  return { algorithms, events };
}

/**
 * Replays the log for one CC MR index with one algorithm: fold hash(mr ‖ digest) from zero
 * (§1.11). Every event of that index except EV_NO_ACTION contributes its digest of that
 * algorithm.
 */
export function replayIndex(log: CcEventLog, index: number, algId = 0x000c): Uint8Array {
  const alg = TCG_ALGS[algId];
  if (alg?.hash === undefined) throw bad(`cannot replay with algorithm 0x${algId.toString(16)}`);
  let mr: Buffer = Buffer.alloc(alg.size);
  for (const e of log.events) {
    // EV_NO_ACTION events are informational and never extended (§1.11).
    if (e.index !== index || e.type === EV_NO_ACTION) continue;
    for (const d of e.digests) {
      if (d.algId === algId) mr = createHash(alg.hash).update(mr).update(d.digest).digest();
    }
  }
  return new Uint8Array(mr);
}

/** RTMR0..3 replayed with SHA-384 from CC MR indexes 1..4 (§1.11). */
export function replayRtmrs(log: CcEventLog): [Uint8Array, Uint8Array, Uint8Array, Uint8Array] {
  return [replayIndex(log, 1), replayIndex(log, 2), replayIndex(log, 3), replayIndex(log, 4)];
}
