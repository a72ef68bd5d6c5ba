/**
 * Parse step of SEV-SNP: the 1184-byte (0x4A0) ATTESTATION_REPORT of the SNP firmware ABI
 * (AMD pub. 56860), versions 2, 3, 4 (parsed like 3) and 5, into a typed object and back, plus
 * Trustee's serde JSON form of the same report (kbs-protocol.md §3.6). Structural checks only
 * (length, version, algorithm, must-be-zero ranges and bits); signatures are verify.ts's job.
 * Every offset below cites evidence.md §2.1; each field starts where the previous one ends.
 */
import { CocoonError } from '../../common/errors.js';
import { isZero } from '../../common/bytes.js';

/** A field of the report layout: [start, end) in bytes. */
export interface Field {
  readonly start: number;
  readonly end: number;
  readonly size: number;
}

function field(start: number, size: number): Field {
  return { start, end: start + size, size };
}

// evidence.md §2.1 table, in order; each start is the previous end.
/** 0x000 VERSION (u32). */
export const VERSION = field(0x000, 4);
/** 0x004 GUEST_SVN (u32). */
export const GUEST_SVN = field(VERSION.end, 4);
/** 0x008 POLICY (u64, bits in evidence.md §2.2). */
export const POLICY = field(GUEST_SVN.end, 8);
/** 0x010 FAMILY_ID (16 bytes, from the ID block). */
export const FAMILY_ID = field(POLICY.end, 16);
/** 0x020 IMAGE_ID (16 bytes, from the ID block). */
export const IMAGE_ID = field(FAMILY_ID.end, 16);
/** 0x030 VMPL that requested the report (u32). */
export const VMPL = field(IMAGE_ID.end, 4);
/** 0x034 SIGNATURE_ALGO (u32, 1 = ECDSA P-384 with SHA-384). */
export const SIGNATURE_ALGO = field(VMPL.end, 4);
/** 0x038 CURRENT_TCB (TCB_VERSION, §2.3). */
export const CURRENT_TCB = field(SIGNATURE_ALGO.end, 8);
/** 0x040 PLATFORM_INFO (u64, §2.2). */
export const PLATFORM_INFO = field(CURRENT_TCB.end, 8);
/** 0x048 KEY_INFO / signer info (u32). */
export const KEY_INFO = field(PLATFORM_INFO.end, 4);
/** 0x04C reserved, MBZ. */
export const RESERVED_04C = field(KEY_INFO.end, 4);
/** 0x050 REPORT_DATA (64 bytes, guest supplied). */
export const REPORT_DATA = field(RESERVED_04C.end, 64);
/** 0x090 MEASUREMENT (48-byte launch digest). */
export const MEASUREMENT = field(REPORT_DATA.end, 48);
/** 0x0C0 HOST_DATA (32 bytes, hypervisor supplied; Trustee's init-data digest). */
export const HOST_DATA = field(MEASUREMENT.end, 32);
/** 0x0E0 ID_KEY_DIGEST (SHA-384 of the ID public key). */
export const ID_KEY_DIGEST = field(HOST_DATA.end, 48);
/** 0x110 AUTHOR_KEY_DIGEST (SHA-384 of the author key). */
export const AUTHOR_KEY_DIGEST = field(ID_KEY_DIGEST.end, 48);
/** 0x140 REPORT_ID. */
export const REPORT_ID = field(AUTHOR_KEY_DIGEST.end, 32);
/** 0x160 REPORT_ID_MA (all 0xFF without a migration agent). */
export const REPORT_ID_MA = field(REPORT_ID.end, 32);
/** 0x180 REPORTED_TCB: the TCB the signing VCEK was derived for. */
export const REPORTED_TCB = field(REPORT_ID_MA.end, 8);
/** 0x188 CPUID_FAM_ID (v3+; reserved in v2). */
export const CPUID_FAM_ID = field(REPORTED_TCB.end, 1);
/** 0x189 CPUID_MOD_ID (v3+). */
export const CPUID_MOD_ID = field(CPUID_FAM_ID.end, 1);
/** 0x18A CPUID_STEP (v3+). */
export const CPUID_STEP = field(CPUID_MOD_ID.end, 1);
/** 0x18B reserved, MBZ, up to CHIP_ID. */
export const RESERVED_18B = field(CPUID_STEP.end, 21);
/** 0x1A0 CHIP_ID (64 bytes; Turin uses the first 8). */
export const CHIP_ID = field(RESERVED_18B.end, 64);
/** 0x1E0 COMMITTED_TCB. */
export const COMMITTED_TCB = field(CHIP_ID.end, 8);
/** 0x1E8 CURRENT_BUILD. */
export const CURRENT_BUILD = field(COMMITTED_TCB.end, 1);
/** 0x1E9 CURRENT_MINOR. */
export const CURRENT_MINOR = field(CURRENT_BUILD.end, 1);
/** 0x1EA CURRENT_MAJOR. */
export const CURRENT_MAJOR = field(CURRENT_MINOR.end, 1);
/** 0x1EB reserved, MBZ. */
export const RESERVED_1EB = field(CURRENT_MAJOR.end, 1);
/** 0x1EC COMMITTED_BUILD. */
export const COMMITTED_BUILD = field(RESERVED_1EB.end, 1);
/** 0x1ED COMMITTED_MINOR. */
export const COMMITTED_MINOR = field(COMMITTED_BUILD.end, 1);
/** 0x1EE COMMITTED_MAJOR. */
export const COMMITTED_MAJOR = field(COMMITTED_MINOR.end, 1);
/** 0x1EF reserved, MBZ. */
export const RESERVED_1EF = field(COMMITTED_MAJOR.end, 1);
/** 0x1F0 LAUNCH_TCB. */
export const LAUNCH_TCB = field(RESERVED_1EF.end, 8);
/** 0x1F8 LAUNCH_MIT_VECTOR (v5+; reserved, MBZ before). */
export const LAUNCH_MIT_VECTOR = field(LAUNCH_TCB.end, 8);
/** 0x200 CURRENT_MIT_VECTOR (v5+; reserved, MBZ before). */
export const CURRENT_MIT_VECTOR = field(LAUNCH_MIT_VECTOR.end, 8);
/** 0x208 reserved, MBZ, up to the signature. */
export const RESERVED_208 = field(CURRENT_MIT_VECTOR.end, 0x98);
/** 0x2A0 SIGNATURE: R (72 bytes little-endian). */
export const SIGNATURE_R = field(RESERVED_208.end, 72);
/** 0x2E8 SIGNATURE: S (72 bytes little-endian). */
export const SIGNATURE_S = field(SIGNATURE_R.end, 72);
/** 0x330 rest of the 512-byte signature area (reserved). */
export const SIGNATURE_RESERVED = field(SIGNATURE_S.end, 368);

/** Report size: 0x4A0 = 1184 bytes. */
export const REPORT_SIZE = 0x4a0;
/** The signed part of the report: bytes [0, 0x2A0) (evidence.md §2.1 "Signature"). */
export const SIGNED_END = SIGNATURE_R.start;
/** SIGNATURE_ALGO value for ECDSA P-384 with SHA-384. */
export const SIG_ALGO_ECDSA_P384_SHA384 = 1;
/** Report versions this parser reads (4 is laid out like 3; evidence.md §2.1). */
export const SUPPORTED_VERSIONS: readonly number[] = [2, 3, 4, 5];

/** KDS product lines (evidence.md §2.4). */
export type SnpProduct = 'Milan' | 'Genoa' | 'Turin';
/** The products with embedded roots. */
export const SNP_PRODUCTS: readonly SnpProduct[] = ['Milan', 'Genoa', 'Turin'];

/** Which TCB_VERSION byte layout a report uses (evidence.md §2.3). */
export type TcbLayout = 'legacy' | 'turin';

/**
 * TCB_VERSION (8 bytes). `fmc` exists only in the Turin layout. `reserved` keeps the bytes the
 * layout leaves reserved (legacy: bytes 2..5; Turin: bytes 4..6) so serialization round-trips.
 */
export interface TcbVersion {
  readonly layout: TcbLayout;
  readonly fmc?: number;
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  readonly reserved: Uint8Array;
}

/** Decoded POLICY bits (evidence.md §2.2). */
export interface GuestPolicy {
  readonly abiMinor: number;
  readonly abiMajor: number;
  readonly smtAllowed: boolean;
  /** Bit 17, must be 1. */
  readonly reserved17: boolean;
  readonly migrateMaAllowed: boolean;
  readonly debugAllowed: boolean;
  readonly singleSocketRequired: boolean;
  readonly cxlAllowed: boolean;
  readonly memAes256XtsRequired: boolean;
  readonly raplDisRequired: boolean;
  readonly ciphertextHidingRequired: boolean;
  readonly pageSwapDisabled: boolean;
}

/** Decoded PLATFORM_INFO bits (evidence.md §2.2). */
export interface PlatformInfo {
  readonly smtEnabled: boolean;
  readonly tsmeEnabled: boolean;
  readonly eccEnabled: boolean;
  readonly raplDisabled: boolean;
  readonly ciphertextHidingEnabled: boolean;
  readonly aliasCheckComplete: boolean;
  readonly tioEnabled: boolean;
}

/** Signing key named by KEY_INFO.SIGNING_KEY. */
export type SigningKey = 'vcek' | 'vlek';

/** Decoded KEY_INFO (evidence.md §2.1 row 0x048). */
export interface KeyInfo {
  readonly authorKeyEnabled: boolean;
  readonly maskChipKey: boolean;
  readonly signingKey: SigningKey;
}

/** A parsed SNP attestation report; byte fields are copies, in wire order. */
export interface SnpReport {
  readonly version: number;
  readonly guestSvn: number;
  /** POLICY as a 64-bit value; decoded in `policyBits`. */
  readonly policy: bigint;
  readonly policyBits: GuestPolicy;
  readonly familyId: Uint8Array;
  readonly imageId: Uint8Array;
  readonly vmpl: number;
  readonly signatureAlgo: number;
  readonly currentTcb: TcbVersion;
  readonly platformInfo: bigint;
  readonly platformInfoBits: PlatformInfo;
  readonly keyInfo: number;
  readonly keyInfoBits: KeyInfo;
  readonly reportData: Uint8Array;
  readonly measurement: Uint8Array;
  readonly hostData: Uint8Array;
  readonly idKeyDigest: Uint8Array;
  readonly authorKeyDigest: Uint8Array;
  readonly reportId: Uint8Array;
  readonly reportIdMa: Uint8Array;
  readonly reportedTcb: TcbVersion;
  /** CPUID family/model/stepping; undefined in v2 reports. */
  readonly cpuidFamId?: number;
  readonly cpuidModId?: number;
  readonly cpuidStep?: number;
  readonly chipId: Uint8Array;
  readonly committedTcb: TcbVersion;
  readonly currentBuild: number;
  readonly currentMinor: number;
  readonly currentMajor: number;
  readonly committedBuild: number;
  readonly committedMinor: number;
  readonly committedMajor: number;
  readonly launchTcb: TcbVersion;
  /** v5+ only. */
  readonly launchMitVector?: bigint;
  readonly currentMitVector?: bigint;
  /** R and S, 72 bytes each, little-endian as on the wire. */
  readonly signature: { readonly r: Uint8Array; readonly s: Uint8Array };
  /** The reserved tail of the signature area (kept for round-trips). */
  readonly signatureReserved: Uint8Array;
  /** Product determined from CPUID (v3+), CHIP_ID shape, or the caller; undefined if unknown. */
  readonly product?: SnpProduct;
}

/** Options of parseReport. */
export interface ParseReportOptions {
  /** Product to assume when the report has no CPUID fields (v2); default: guessed, see productOf. */
  readonly product?: SnpProduct;
}

function parseError(
  code: `ERR_SNP_${string}`,
  message: string,
  details: Record<string, unknown> = {},
): CocoonError {
  return new CocoonError(code, message, { details: { stage: 'parse', ...details } });
}

/** Product of a CPUID family/model (evidence.md §2.1 "Generation detection"). */
export function productFromCpuid(family: number, model: number): SnpProduct | undefined {
  if (family === 0x19) {
    if (model <= 0x0f) return 'Milan';
    if ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf)) return 'Genoa';
  }
  if (family === 0x1a && model <= 0x11) return 'Turin';
  return undefined;
}

/** TCB layout of a product (Turin and later use the FMC layout; evidence.md §2.3). */
export function tcbLayoutOf(product: SnpProduct | undefined): TcbLayout {
  return product === 'Turin' ? 'turin' : 'legacy';
}

/** Decodes an 8-byte TCB_VERSION in the given layout (evidence.md §2.3). */
export function decodeTcb(b: Uint8Array, layout: TcbLayout): TcbVersion {
  if (layout === 'turin') {
    return {
      layout,
      fmc: b[0]!,
      bootloader: b[1]!,
      tee: b[2]!,
      snp: b[3]!,
      microcode: b[7]!,
      reserved: Uint8Array.from(b.subarray(4, 7)),
    };
  }
  return {
    layout,
    bootloader: b[0]!,
    tee: b[1]!,
    snp: b[6]!,
    microcode: b[7]!,
    reserved: Uint8Array.from(b.subarray(2, 6)),
  };
}

/** Encodes a TCB_VERSION back to its 8 bytes. */
export function encodeTcb(t: TcbVersion): Uint8Array {
  const b = new Uint8Array(8);
  const res = t.reserved;
  if (t.layout === 'turin') {
    b[0] = t.fmc ?? 0;
    b[1] = t.bootloader;
    b[2] = t.tee;
    b[3] = t.snp;
    b.set(res.subarray(0, 3), 4);
    b[7] = t.microcode;
  } else {
    b[0] = t.bootloader;
    b[1] = t.tee;
    b.set(res.subarray(0, 4), 2);
    b[6] = t.snp;
    b[7] = t.microcode;
  }
  return b;
}

/** Builds a TCB_VERSION from its components (reserved bytes zero). */
export function makeTcb(
  layout: TcbLayout,
  parts: { fmc?: number; bootloader: number; tee: number; snp: number; microcode: number },
): TcbVersion {
  return {
    layout,
    ...(layout === 'turin' ? { fmc: parts.fmc ?? 0 } : {}),
    bootloader: parts.bootloader,
    tee: parts.tee,
    snp: parts.snp,
    microcode: parts.microcode,
    reserved: new Uint8Array(layout === 'turin' ? 3 : 4),
  };
}

const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n;

/** Decodes POLICY (evidence.md §2.2). */
export function decodePolicy(p: bigint): GuestPolicy {
  return {
    abiMinor: Number(p & 0xffn),
    abiMajor: Number((p >> 8n) & 0xffn),
    smtAllowed: bit(p, 16),
    reserved17: bit(p, 17),
    migrateMaAllowed: bit(p, 18),
    debugAllowed: bit(p, 19),
    singleSocketRequired: bit(p, 20),
    cxlAllowed: bit(p, 21),
    memAes256XtsRequired: bit(p, 22),
    raplDisRequired: bit(p, 23),
    ciphertextHidingRequired: bit(p, 24),
    pageSwapDisabled: bit(p, 25),
  };
}

/** Decodes PLATFORM_INFO (evidence.md §2.2). */
export function decodePlatformInfo(p: bigint): PlatformInfo {
  return {
    smtEnabled: bit(p, 0),
    tsmeEnabled: bit(p, 1),
    eccEnabled: bit(p, 2),
    raplDisabled: bit(p, 3),
    ciphertextHidingEnabled: bit(p, 4),
    aliasCheckComplete: bit(p, 5),
    tioEnabled: bit(p, 7),
  };
}

/** POLICY bits 63:26 are MBZ (GOSEV ParseSnpPolicy). */
const POLICY_MBZ_MASK = ~((1n << 26n) - 1n) & 0xffffffffffffffffn;
/** PLATFORM_INFO bits 6 and 8..63 are reserved (bit 6 rejected by GOSEV; bit 7 is TIO_EN). */
const PLATFORM_INFO_RESERVED_MASK = 0xffffffffffffff40n;
/** KEY_INFO bits 31:5 are MBZ. */
const KEY_INFO_MBZ_MASK = 0xffffffe0;

/** Decodes KEY_INFO; throws ERR_SNP_REPORT_SIGNING_KEY for SIGNING_KEY other than 0 or 1. */
export function decodeKeyInfo(k: number): KeyInfo {
  if ((k & KEY_INFO_MBZ_MASK) !== 0) {
    throw parseError('ERR_SNP_REPORT_RESERVED', `KEY_INFO bits 31:5 must be zero (0x${k.toString(16)})`, {
      offset: KEY_INFO.start,
    });
  }
  const sk = (k >> 2) & 7;
  if (sk !== 0 && sk !== 1) {
    throw parseError(
      'ERR_SNP_REPORT_SIGNING_KEY',
      `KEY_INFO.SIGNING_KEY is ${sk} (${sk === 7 ? 'unsigned report' : 'reserved'}); only VCEK (0) and VLEK (1) are accepted`,
      { offset: KEY_INFO.start },
    );
  }
  return {
    authorKeyEnabled: (k & 1) === 1,
    maskChipKey: (k & 2) === 2,
    signingKey: sk === 0 ? 'vcek' : 'vlek',
  };
}

/**
 * Product of a report: CPUID (v3+), else the caller's hint, else the CHIP_ID shape (Turin chips
 * fill only the first 8 bytes); undefined when nothing says (v2 Milan/Genoa are told apart by
 * their VCEK's productName in verify.ts).
 */
export function productOf(
  version: number,
  fam: number,
  mod: number,
  chipId: Uint8Array,
  hint?: SnpProduct,
): SnpProduct | undefined {
  if (version >= 3) {
    const p = productFromCpuid(fam, mod);
    if (p !== undefined) return p;
  }
  if (hint !== undefined) return hint;
  if (version < 3 && isZero(chipId, 8) && !isZero(chipId, 0, 8)) return 'Turin';
  return undefined;
}

function copy(b: Uint8Array, f: Field): Uint8Array {
  return Uint8Array.from(b.subarray(f.start, f.end));
}

function mbz(b: Uint8Array, f: Field, name: string): void {
  if (!isZero(b, f.start, f.end)) {
    throw parseError('ERR_SNP_REPORT_RESERVED', `${name} at 0x${f.start.toString(16)} must be zero`, {
      offset: f.start,
      field: name,
    });
  }
}

/**
 * Parses a 0x4A0-byte report. Checks (evidence.md §2.5 step 1): exact size, supported version,
 * SIGNATURE_ALGO 1, MBZ ranges (0x4C, 0x18B..0x1A0, 0x1EB, 0x1EF, 0x208..0x2A0, plus 0x188..0x18B
 * in v2 and 0x1F8..0x208 before v5), POLICY bit 17 set and bits 63:26 clear, PLATFORM_INFO
 * reserved bits clear, KEY_INFO.SIGNING_KEY ∈ {VCEK, VLEK}.
 */
export function parseReport(input: Uint8Array, opts: ParseReportOptions = {}): SnpReport {
  if (!(input instanceof Uint8Array)) throw new TypeError('parseReport: input must be a Uint8Array');
  if (input.length !== REPORT_SIZE) {
    throw parseError('ERR_SNP_REPORT_SIZE', `SNP report is ${input.length} bytes, expected ${REPORT_SIZE}`, {
      have: input.length,
    });
  }
  const b = Buffer.from(input); // private copy: the caller's buffer may change later
  const version = b.readUInt32LE(VERSION.start);
  if (!SUPPORTED_VERSIONS.includes(version)) {
    throw parseError('ERR_SNP_REPORT_VERSION', `SNP report version ${version} is not supported (2..5)`, {
      offset: VERSION.start,
    });
  }
  const signatureAlgo = b.readUInt32LE(SIGNATURE_ALGO.start);
  if (signatureAlgo !== SIG_ALGO_ECDSA_P384_SHA384) {
    throw parseError('ERR_SNP_REPORT_SIG_ALGO', `SIGNATURE_ALGO is ${signatureAlgo}, expected 1`, {
      offset: SIGNATURE_ALGO.start,
    });
  }
  mbz(b, RESERVED_04C, 'reserved');
  mbz(b, RESERVED_18B, 'reserved');
  mbz(b, RESERVED_1EB, 'reserved');
  mbz(b, RESERVED_1EF, 'reserved');
  mbz(b, RESERVED_208, 'reserved');
  if (version < 3) mbz(b, field(CPUID_FAM_ID.start, 3), 'reserved (CPUID in v3+)');
  if (version < 5) mbz(b, field(LAUNCH_MIT_VECTOR.start, 16), 'reserved (mitigation vectors in v5+)');
  const policy = b.readBigUInt64LE(POLICY.start);
  if ((policy & POLICY_MBZ_MASK) !== 0n) {
    throw parseError('ERR_SNP_REPORT_RESERVED', `POLICY bits 63:26 must be zero (0x${policy.toString(16)})`, {
      offset: POLICY.start,
    });
  }
  if (!bit(policy, 17)) {
    throw parseError('ERR_SNP_REPORT_RESERVED', 'POLICY bit 17 (reserved) must be one', {
      offset: POLICY.start,
    });
  }
  const platformInfo = b.readBigUInt64LE(PLATFORM_INFO.start);
  if ((platformInfo & PLATFORM_INFO_RESERVED_MASK) !== 0n) {
    throw parseError(
      'ERR_SNP_REPORT_RESERVED',
      `PLATFORM_INFO reserved bits set (0x${platformInfo.toString(16)})`,
      { offset: PLATFORM_INFO.start },
    );
  }
  const keyInfo = b.readUInt32LE(KEY_INFO.start);
  const keyInfoBits = decodeKeyInfo(keyInfo);
  const chipId = copy(b, CHIP_ID);
  const fam = b[CPUID_FAM_ID.start]!;
  const mod = b[CPUID_MOD_ID.start]!;
  const product = productOf(version, fam, mod, chipId, opts.product);
  const layout = tcbLayoutOf(product);
  const tcb = (f: Field): TcbVersion => decodeTcb(b.subarray(f.start, f.end), layout);
  return {
    version,
    guestSvn: b.readUInt32LE(GUEST_SVN.start),
    policy,
    policyBits: decodePolicy(policy),
    familyId: copy(b, FAMILY_ID),
    imageId: copy(b, IMAGE_ID),
    vmpl: b.readUInt32LE(VMPL.start),
    signatureAlgo,
    currentTcb: tcb(CURRENT_TCB),
    platformInfo,
    platformInfoBits: decodePlatformInfo(platformInfo),
    keyInfo,
    keyInfoBits,
    reportData: copy(b, REPORT_DATA),
    measurement: copy(b, MEASUREMENT),
    hostData: copy(b, HOST_DATA),
    idKeyDigest: copy(b, ID_KEY_DIGEST),
    authorKeyDigest: copy(b, AUTHOR_KEY_DIGEST),
    reportId: copy(b, REPORT_ID),
    reportIdMa: copy(b, REPORT_ID_MA),
    reportedTcb: tcb(REPORTED_TCB),
    ...(version >= 3 ? { cpuidFamId: fam, cpuidModId: mod, cpuidStep: b[CPUID_STEP.start]! } : {}),
    chipId,
    committedTcb: tcb(COMMITTED_TCB),
    currentBuild: b[CURRENT_BUILD.start]!,
    currentMinor: b[CURRENT_MINOR.start]!,
    currentMajor: b[CURRENT_MAJOR.start]!,
    committedBuild: b[COMMITTED_BUILD.start]!,
    committedMinor: b[COMMITTED_MINOR.start]!,
    committedMajor: b[COMMITTED_MAJOR.start]!,
    launchTcb: tcb(LAUNCH_TCB),
    ...(version >= 5
      ? {
          launchMitVector: b.readBigUInt64LE(LAUNCH_MIT_VECTOR.start),
          currentMitVector: b.readBigUInt64LE(CURRENT_MIT_VECTOR.start),
        }
      : {}),
    signature: { r: copy(b, SIGNATURE_R), s: copy(b, SIGNATURE_S) },
    signatureReserved: copy(b, SIGNATURE_RESERVED),
    ...(product === undefined ? {} : { product }),
  };
}

function put(b: Buffer, f: Field, v: Uint8Array, name: string): void {
  if (v.length !== f.size)
    throw new TypeError(`reportToBytes: ${name} must be ${f.size} bytes, got ${v.length}`);
  b.set(v, f.start);
}

/** Serializes a report to its 0x4A0 bytes (the inverse of parseReport). */
export function reportToBytes(r: SnpReport): Uint8Array {
  const b = Buffer.alloc(REPORT_SIZE);
  b.writeUInt32LE(r.version, VERSION.start);
  b.writeUInt32LE(r.guestSvn, GUEST_SVN.start);
  b.writeBigUInt64LE(r.policy, POLICY.start);
  put(b, FAMILY_ID, r.familyId, 'familyId');
  put(b, IMAGE_ID, r.imageId, 'imageId');
  b.writeUInt32LE(r.vmpl, VMPL.start);
  b.writeUInt32LE(r.signatureAlgo, SIGNATURE_ALGO.start);
  put(b, CURRENT_TCB, encodeTcb(r.currentTcb), 'currentTcb');
  b.writeBigUInt64LE(r.platformInfo, PLATFORM_INFO.start);
  b.writeUInt32LE(r.keyInfo, KEY_INFO.start);
  put(b, REPORT_DATA, r.reportData, 'reportData');
  put(b, MEASUREMENT, r.measurement, 'measurement');
  put(b, HOST_DATA, r.hostData, 'hostData');
  put(b, ID_KEY_DIGEST, r.idKeyDigest, 'idKeyDigest');
  put(b, AUTHOR_KEY_DIGEST, r.authorKeyDigest, 'authorKeyDigest');
  put(b, REPORT_ID, r.reportId, 'reportId');
  put(b, REPORT_ID_MA, r.reportIdMa, 'reportIdMa');
  put(b, REPORTED_TCB, encodeTcb(r.reportedTcb), 'reportedTcb');
  if (r.version >= 3) {
    b[CPUID_FAM_ID.start] = r.cpuidFamId ?? 0;
    b[CPUID_MOD_ID.start] = r.cpuidModId ?? 0;
    b[CPUID_STEP.start] = r.cpuidStep ?? 0;
  }
  put(b, CHIP_ID, r.chipId, 'chipId');
  put(b, COMMITTED_TCB, encodeTcb(r.committedTcb), 'committedTcb');
  b[CURRENT_BUILD.start] = r.currentBuild;
  b[CURRENT_MINOR.start] = r.currentMinor;
  b[CURRENT_MAJOR.start] = r.currentMajor;
  b[COMMITTED_BUILD.start] = r.committedBuild;
  b[COMMITTED_MINOR.start] = r.committedMinor;
  b[COMMITTED_MAJOR.start] = r.committedMajor;
  put(b, LAUNCH_TCB, encodeTcb(r.launchTcb), 'launchTcb');
  if (r.version >= 5) {
    b.writeBigUInt64LE(r.launchMitVector ?? 0n, LAUNCH_MIT_VECTOR.start);
    b.writeBigUInt64LE(r.currentMitVector ?? 0n, CURRENT_MIT_VECTOR.start);
  }
  put(b, SIGNATURE_R, r.signature.r, 'signature.r');
  put(b, SIGNATURE_S, r.signature.s, 'signature.s');
  put(b, SIGNATURE_RESERVED, r.signatureReserved, 'signatureReserved');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
