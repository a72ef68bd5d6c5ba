/**
 * Trustee's SNP evidence JSON (kbs-protocol.md §3.6; evidence.md §3): `attestation_report` is the
 * serde form of sev's AttestationReport (integers, byte arrays as JSON number arrays, TCB objects
 * `{fmc|null, bootloader, tee, snp, microcode}`, `current`/`committed` `{major, minor, build}`,
 * `signature {r:[72], s:[72]}`) and `cert_chain` is `[{cert_type, data:[DER bytes]}]` or null.
 * The JSON is turned into the 0x4A0 ABI bytes and then parsed by abi.ts, so both forms get the
 * same structural checks and the signature is checked over exactly what the chip signed.
 */
import { CocoonError } from '../../common/errors.js';
import * as A from './abi.js';

/** Largest Trustee evidence JSON accepted (bytes): a report plus a few certificates. */
export const SNP_EVIDENCE_MAX_BYTES = 256 * 1024;
/** Largest certificate or CRL accepted from evidence. */
export const SNP_CERT_MAX_BYTES = 16 * 1024;
/** Most cert_chain entries accepted. */
export const SNP_CERT_CHAIN_MAX = 8;

/** Certificates that came with the evidence (DER), by Trustee cert_type. */
export interface EvidenceCerts {
  readonly vcek?: Uint8Array;
  readonly vlek?: Uint8Array;
  readonly ask?: Uint8Array;
  readonly ark?: Uint8Array;
  readonly crl?: Uint8Array;
}

/** Evidence after the parse step: raw report bytes plus any certificates. */
export interface SnpEvidence {
  readonly format: 'raw' | 'trustee-json';
  readonly reportBytes: Uint8Array;
  readonly certs: EvidenceCerts;
}

function invalid(message: string): CocoonError {
  return new CocoonError('ERR_SNP_EVIDENCE_INVALID', message, { details: { stage: 'parse' } });
}

function uint(v: unknown, max: number, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw invalid(`attestation_report.${name} must be an integer in 0..${max}`);
  }
  return v;
}

function u64(v: unknown, name: string): bigint {
  if (typeof v === 'bigint' && v >= 0n && v < 1n << 64n) return v;
  // JSON numbers above 2^53 lose precision in JavaScript; refuse rather than guess.
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw invalid(`attestation_report.${name} must be a non-negative safe integer`);
  }
  return BigInt(v);
}

function byteArray(v: unknown, len: number, name: string): Uint8Array {
  if (!Array.isArray(v) || v.length !== len) throw invalid(`attestation_report.${name} must be ${len} bytes`);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = uint(v[i], 255, `${name}[${i}]`);
  return out;
}

function obj(v: unknown, name: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid(`${name} must be an object`);
  return v as Record<string, unknown>;
}

function tcbFromJson(v: unknown, layout: A.TcbLayout, name: string): Uint8Array {
  const o = obj(v, `attestation_report.${name}`);
  const fmc = o['fmc'];
  if (layout === 'legacy' && fmc !== null && fmc !== undefined) {
    throw invalid(`attestation_report.${name}.fmc must be null for a Milan/Genoa report`);
  }
  return A.encodeTcb(
    A.makeTcb(layout, {
      fmc: layout === 'turin' ? uint(fmc, 255, `${name}.fmc`) : 0,
      bootloader: uint(o['bootloader'], 255, `${name}.bootloader`),
      tee: uint(o['tee'], 255, `${name}.tee`),
      snp: uint(o['snp'], 255, `${name}.snp`),
      microcode: uint(o['microcode'], 255, `${name}.microcode`),
    }),
  );
}

function optU8(v: unknown, name: string): number | undefined {
  return v === null || v === undefined ? undefined : uint(v, 255, name);
}

/**
 * Converts the serde `attestation_report` object to the 0x4A0 ABI bytes (layout evidence.md
 * §2.1). Every member is read once; the result still has to pass abi.parseReport.
 */
export function reportBytesFromTrusteeJson(value: unknown, product?: A.SnpProduct): Uint8Array {
  const o = obj(value, 'attestation_report');
  const version = uint(o['version'], 0xffffffff, 'version');
  const fam = optU8(o['cpuid_fam_id'], 'cpuid_fam_id');
  const mod = optU8(o['cpuid_mod_id'], 'cpuid_mod_id');
  const step = optU8(o['cpuid_step'], 'cpuid_step');
  const currentTcb = o['current_tcb'];
  const hasFmc = (t: unknown): boolean =>
    t !== null &&
    typeof t === 'object' &&
    (t as Record<string, unknown>)['fmc'] !== null &&
    (t as Record<string, unknown>)['fmc'] !== undefined;
  const prod =
    (fam !== undefined && mod !== undefined ? A.productFromCpuid(fam, mod) : undefined) ??
    product ??
    (hasFmc(currentTcb) ? 'Turin' : undefined);
  const layout = A.tcbLayoutOf(prod);
  const b = Buffer.alloc(A.REPORT_SIZE);
  const put = (f: A.Field, v: Uint8Array): void => void b.set(v, f.start);
  b.writeUInt32LE(version, A.VERSION.start);
  b.writeUInt32LE(uint(o['guest_svn'], 0xffffffff, 'guest_svn'), A.GUEST_SVN.start);
  b.writeBigUInt64LE(u64(o['policy'], 'policy'), A.POLICY.start);
  put(A.FAMILY_ID, byteArray(o['family_id'], 16, 'family_id'));
  put(A.IMAGE_ID, byteArray(o['image_id'], 16, 'image_id'));
  b.writeUInt32LE(uint(o['vmpl'], 0xffffffff, 'vmpl'), A.VMPL.start);
  b.writeUInt32LE(uint(o['sig_algo'], 0xffffffff, 'sig_algo'), A.SIGNATURE_ALGO.start);
  put(A.CURRENT_TCB, tcbFromJson(currentTcb, layout, 'current_tcb'));
  b.writeBigUInt64LE(u64(o['plat_info'], 'plat_info'), A.PLATFORM_INFO.start);
  b.writeUInt32LE(uint(o['key_info'], 0xffffffff, 'key_info'), A.KEY_INFO.start);
  put(A.REPORT_DATA, byteArray(o['report_data'], 64, 'report_data'));
  put(A.MEASUREMENT, byteArray(o['measurement'], 48, 'measurement'));
  put(A.HOST_DATA, byteArray(o['host_data'], 32, 'host_data'));
  put(A.ID_KEY_DIGEST, byteArray(o['id_key_digest'], 48, 'id_key_digest'));
  put(A.AUTHOR_KEY_DIGEST, byteArray(o['author_key_digest'], 48, 'author_key_digest'));
  put(A.REPORT_ID, byteArray(o['report_id'], 32, 'report_id'));
  put(A.REPORT_ID_MA, byteArray(o['report_id_ma'], 32, 'report_id_ma'));
  put(A.REPORTED_TCB, tcbFromJson(o['reported_tcb'], layout, 'reported_tcb'));
  if (fam !== undefined) b[A.CPUID_FAM_ID.start] = fam;
  if (mod !== undefined) b[A.CPUID_MOD_ID.start] = mod;
  if (step !== undefined) b[A.CPUID_STEP.start] = step;
  put(A.CHIP_ID, byteArray(o['chip_id'], 64, 'chip_id'));
  put(A.COMMITTED_TCB, tcbFromJson(o['committed_tcb'], layout, 'committed_tcb'));
  const cur = obj(o['current'], 'attestation_report.current');
  const com = obj(o['committed'], 'attestation_report.committed');
  b[A.CURRENT_BUILD.start] = uint(cur['build'], 255, 'current.build');
  b[A.CURRENT_MINOR.start] = uint(cur['minor'], 255, 'current.minor');
  b[A.CURRENT_MAJOR.start] = uint(cur['major'], 255, 'current.major');
  b[A.COMMITTED_BUILD.start] = uint(com['build'], 255, 'committed.build');
  b[A.COMMITTED_MINOR.start] = uint(com['minor'], 255, 'committed.minor');
  b[A.COMMITTED_MAJOR.start] = uint(com['major'], 255, 'committed.major');
  put(A.LAUNCH_TCB, tcbFromJson(o['launch_tcb'], layout, 'launch_tcb'));
  const lmv = o['launch_mit_vector'];
  const cmv = o['current_mit_vector'];
  if (lmv !== null && lmv !== undefined)
    b.writeBigUInt64LE(u64(lmv, 'launch_mit_vector'), A.LAUNCH_MIT_VECTOR.start);
  if (cmv !== null && cmv !== undefined)
    b.writeBigUInt64LE(u64(cmv, 'current_mit_vector'), A.CURRENT_MIT_VECTOR.start);
  const sig = obj(o['signature'], 'attestation_report.signature');
  put(A.SIGNATURE_R, byteArray(sig['r'], 72, 'signature.r'));
  put(A.SIGNATURE_S, byteArray(sig['s'], 72, 'signature.s'));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function tcbToJson(t: A.TcbVersion): Record<string, number | null> {
  return {
    fmc: t.layout === 'turin' ? (t.fmc ?? 0) : null,
    bootloader: t.bootloader,
    tee: t.tee,
    snp: t.snp,
    microcode: t.microcode,
  };
}

const arr = (b: Uint8Array): number[] => Array.from(b);

function u64ToJson(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new TypeError('reportToTrusteeJson: u64 above 2^53 cannot be JSON-encoded exactly');
  return Number(v);
}

/** Serializes a parsed report to Trustee's serde JSON form (the inverse of the above). */
export function reportToTrusteeJson(r: A.SnpReport): Record<string, unknown> {
  return {
    version: r.version,
    guest_svn: r.guestSvn,
    policy: u64ToJson(r.policy),
    family_id: arr(r.familyId),
    image_id: arr(r.imageId),
    vmpl: r.vmpl,
    sig_algo: r.signatureAlgo,
    current_tcb: tcbToJson(r.currentTcb),
    plat_info: u64ToJson(r.platformInfo),
    key_info: r.keyInfo,
    report_data: arr(r.reportData),
    measurement: arr(r.measurement),
    host_data: arr(r.hostData),
    id_key_digest: arr(r.idKeyDigest),
    author_key_digest: arr(r.authorKeyDigest),
    report_id: arr(r.reportId),
    report_id_ma: arr(r.reportIdMa),
    reported_tcb: tcbToJson(r.reportedTcb),
    cpuid_fam_id: r.cpuidFamId ?? null,
    cpuid_mod_id: r.cpuidModId ?? null,
    cpuid_step: r.cpuidStep ?? null,
    chip_id: arr(r.chipId),
    committed_tcb: tcbToJson(r.committedTcb),
    current: { major: r.currentMajor, minor: r.currentMinor, build: r.currentBuild },
    committed: { major: r.committedMajor, minor: r.committedMinor, build: r.committedBuild },
    launch_tcb: tcbToJson(r.launchTcb),
    // serde skips the v5-only vectors when absent (Trustee's v3 e2e evidence has no such keys).
    ...(r.launchMitVector === undefined ? {} : { launch_mit_vector: u64ToJson(r.launchMitVector) }),
    ...(r.currentMitVector === undefined ? {} : { current_mit_vector: u64ToJson(r.currentMitVector) }),
    signature: { r: arr(r.signature.r), s: arr(r.signature.s) },
  };
}

function certsFromJson(v: unknown): EvidenceCerts {
  if (v === null || v === undefined) return {};
  if (!Array.isArray(v) || v.length > SNP_CERT_CHAIN_MAX) {
    throw invalid(`cert_chain must be null or an array of at most ${SNP_CERT_CHAIN_MAX} entries`);
  }
  const out: Record<string, Uint8Array> = {};
  for (const [i, e] of v.entries()) {
    const o = obj(e, `cert_chain[${i}]`);
    const type = o['cert_type'];
    const data = o['data'];
    if (!Array.isArray(data) || data.length > SNP_CERT_MAX_BYTES) {
      throw invalid(`cert_chain[${i}].data must be an array of at most ${SNP_CERT_MAX_BYTES} bytes`);
    }
    const der = new Uint8Array(data.length);
    for (let j = 0; j < data.length; j++) {
      const x = data[j];
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 255) {
        throw invalid(`cert_chain[${i}].data[${j}] is not a byte`);
      }
      der[j] = x;
    }
    // Other cert types (Empty, OTHER(uuid)) carry nothing the SNP chain needs.
    const key = typeof type === 'string' ? type.toLowerCase() : undefined;
    if (key === 'vcek' || key === 'vlek' || key === 'ask' || key === 'ark' || key === 'crl') {
      if (out[key] !== undefined) throw invalid(`cert_chain has two ${type} entries`);
      out[key] = der;
    }
  }
  return out;
}

/**
 * Parses SNP evidence: raw 0x4A0 report bytes, or Trustee's evidence JSON (as bytes or as an
 * object). Certificates found in `cert_chain` are returned as DER.
 */
export function parseSnpEvidence(
  evidence: Uint8Array | Readonly<Record<string, unknown>>,
  product?: A.SnpProduct,
): SnpEvidence {
  let value: unknown = evidence;
  if (evidence instanceof Uint8Array) {
    // A report starts with VERSION (u32 LE, 2..5), JSON with "{" after optional whitespace.
    const first = evidence.find((c) => c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09);
    if (first !== 0x7b) {
      return { format: 'raw', reportBytes: Uint8Array.from(evidence), certs: {} };
    }
    if (evidence.length > SNP_EVIDENCE_MAX_BYTES) {
      throw invalid(`SNP evidence JSON is ${evidence.length} bytes, limit ${SNP_EVIDENCE_MAX_BYTES}`);
    }
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(evidence));
    } catch (e) {
      throw new CocoonError('ERR_SNP_EVIDENCE_INVALID', 'SNP evidence is not valid UTF-8 JSON', {
        cause: e,
        details: { stage: 'parse' },
      });
    }
  }
  const o = obj(value, 'SNP evidence');
  const report = o['attestation_report'];
  const chain = o['cert_chain'];
  return {
    format: 'trustee-json',
    reportBytes: reportBytesFromTrusteeJson(report, product),
    certs: certsFromJson(chain),
  };
}
