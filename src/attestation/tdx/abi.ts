/**
 * Parse step of the TDX verifier: DCAP ECDSA quote v4 and v5 bytes → typed structure, with
 * structural checks only (evidence.md §1.1–§1.4). Every field is named; each offset constant
 * starts where the previous field ends and cites its table. Bytes after sig_data are kept as
 * `trailing` (real quotes carry 0, 39, 70 or 3065 of them, §1.1), so quoteToBytes round-trips.
 */
import { CocoonError, type ErrorCodeString } from '../../common/errors.js';

/** Quote versions parsed here (§1.2). */
export const QUOTE_VERSION_4 = 4;
export const QUOTE_VERSION_5 = 5;
/** att_key_type 2 = ECDSA-256 with P-256 (§1.2). */
export const ATT_KEY_TYPE_ECDSA_P256 = 2;
/** tee_type of TDX (§1.2). */
export const TEE_TYPE_TDX = 0x81;
/** Intel QE vendor ID (§1.2). */
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';
/** v5 body types (§1.1): 2 = TDX 1.0 body, 3 = TDX 1.5 body. */
export const BODY_TYPE_TDX10 = 2;
export const BODY_TYPE_TDX15 = 3;
/** Certification data types (§1.4). */
export const CERT_DATA_PCK_CHAIN = 5;
export const CERT_DATA_QE_REPORT = 6;

// Header (§1.2, 48 bytes).
export const HDR_VERSION = 0x00;
export const HDR_ATT_KEY_TYPE = HDR_VERSION + 2;
export const HDR_TEE_TYPE = HDR_ATT_KEY_TYPE + 2;
export const HDR_RESERVED = HDR_TEE_TYPE + 4;
export const HDR_QE_VENDOR_ID = HDR_RESERVED + 4;
export const HDR_USER_DATA = HDR_QE_VENDOR_ID + 16;
export const HEADER_SIZE = HDR_USER_DATA + 20; // 0x30

// v5 body descriptor (§1.1).
export const V5_BODY_TYPE = HEADER_SIZE; // 0x30
export const V5_BODY_SIZE = V5_BODY_TYPE + 2; // 0x32
export const V5_BODY = V5_BODY_SIZE + 4; // 0x36

// TD quote body, relative to body start (§1.3).
export const BODY_TEE_TCB_SVN = 0x000;
export const BODY_MR_SEAM = BODY_TEE_TCB_SVN + 16;
export const BODY_MR_SIGNER_SEAM = BODY_MR_SEAM + 48;
export const BODY_SEAM_ATTRIBUTES = BODY_MR_SIGNER_SEAM + 48;
export const BODY_TD_ATTRIBUTES = BODY_SEAM_ATTRIBUTES + 8;
export const BODY_XFAM = BODY_TD_ATTRIBUTES + 8;
export const BODY_MR_TD = BODY_XFAM + 8;
export const BODY_MR_CONFIG_ID = BODY_MR_TD + 48;
export const BODY_MR_OWNER = BODY_MR_CONFIG_ID + 48;
export const BODY_MR_OWNER_CONFIG = BODY_MR_OWNER + 48;
export const BODY_RTMR0 = BODY_MR_OWNER_CONFIG + 48;
export const BODY_REPORT_DATA = BODY_RTMR0 + 4 * 48;
export const BODY_TEE_TCB_SVN2 = BODY_REPORT_DATA + 64;
export const BODY_MR_SERVICE_TD = BODY_TEE_TCB_SVN2 + 16;
/** TDX 1.0 body size (584) and TDX 1.5 body size (648), §1.3. */
export const BODY_SIZE_TDX10 = BODY_TEE_TCB_SVN2;
export const BODY_SIZE_TDX15 = BODY_MR_SERVICE_TD + 48;

/** v4: body at 0x30, sig_data_len at 0x278, sig_data at 0x27C (§1.1). */
export const V4_BODY = HEADER_SIZE;
export const V4_SIG_DATA_LEN = V4_BODY + BODY_SIZE_TDX10; // 0x278
export const V4_SIG_DATA = V4_SIG_DATA_LEN + 4; // 0x27C

// Signature data, relative to sig_data start (§1.4).
export const SIG_QUOTE_SIGNATURE = 0;
export const SIG_ATTESTATION_KEY = SIG_QUOTE_SIGNATURE + 64;
export const SIG_CERT_DATA_TYPE = SIG_ATTESTATION_KEY + 64;
export const SIG_CERT_DATA_SIZE = SIG_CERT_DATA_TYPE + 2;
export const SIG_CERT_DATA = SIG_CERT_DATA_SIZE + 4; // 134

// QE report certification data, relative to its start (§1.4).
export const QE_CD_REPORT = 0;
export const QE_CD_REPORT_SIGNATURE = QE_CD_REPORT + 384;
export const QE_CD_AUTH_DATA_SIZE = QE_CD_REPORT_SIGNATURE + 64;
export const QE_CD_AUTH_DATA = QE_CD_AUTH_DATA_SIZE + 2; // 450

// SGX report body (QE report), §1.4.
export const RPT_CPU_SVN = 0;
export const RPT_MISC_SELECT = RPT_CPU_SVN + 16;
export const RPT_RESERVED1 = RPT_MISC_SELECT + 4;
export const RPT_ISV_EXT_PROD_ID = RPT_RESERVED1 + 12;
export const RPT_ATTRIBUTES = RPT_ISV_EXT_PROD_ID + 16;
export const RPT_MR_ENCLAVE = RPT_ATTRIBUTES + 16;
export const RPT_RESERVED2 = RPT_MR_ENCLAVE + 32;
export const RPT_MR_SIGNER = RPT_RESERVED2 + 32;
export const RPT_RESERVED3 = RPT_MR_SIGNER + 32;
export const RPT_CONFIG_ID = RPT_RESERVED3 + 32;
export const RPT_ISV_PROD_ID = RPT_CONFIG_ID + 64;
export const RPT_ISV_SVN = RPT_ISV_PROD_ID + 2;
export const RPT_CONFIG_SVN = RPT_ISV_SVN + 2;
export const RPT_RESERVED4 = RPT_CONFIG_SVN + 2;
export const RPT_ISV_FAMILY_ID = RPT_RESERVED4 + 42;
export const RPT_REPORT_DATA = RPT_ISV_FAMILY_ID + 16;
export const SGX_REPORT_SIZE = RPT_REPORT_DATA + 64; // 384

/** Bounds on length fields: sig_data of real quotes is ~4.3 KiB; QE auth data is 32 bytes. */
export const MAX_SIG_DATA_LEN = 64 * 1024;
export const MAX_QE_AUTH_DATA_LEN = 4096;
export const MAX_QUOTE_BYTES = 1024 * 1024;

/** Quote header (§1.2). */
export interface QuoteHeader {
  readonly version: number;
  readonly attKeyType: number;
  readonly teeType: number;
  /** 4 opaque bytes at 0x08. */
  readonly reserved: Uint8Array;
  readonly qeVendorId: Uint8Array;
  readonly userData: Uint8Array;
}

/** TD quote body (§1.3); the TDX 1.5 fields are present only for body type 3. */
export interface TdQuoteBody {
  /** TEE_TCB_SVN. */
  readonly teeTcbSvn: Uint8Array;
  /** MRSEAM. */
  readonly mrSeam: Uint8Array;
  /** MRSIGNERSEAM. */
  readonly mrSignerSeam: Uint8Array;
  /** SEAMATTRIBUTES. */
  readonly seamAttributes: Uint8Array;
  /** TDATTRIBUTES (8 bytes, u64 LE). */
  readonly tdAttributes: Uint8Array;
  /** XFAM. */
  readonly xfam: Uint8Array;
  /** MRTD. */
  readonly mrTd: Uint8Array;
  /** MRCONFIGID. */
  readonly mrConfigId: Uint8Array;
  /** MROWNER. */
  readonly mrOwner: Uint8Array;
  /** MROWNERCONFIG. */
  readonly mrOwnerConfig: Uint8Array;
  /** RTMR0..RTMR3. */
  readonly rtmrs: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  /** REPORTDATA. */
  readonly reportData: Uint8Array;
  /** TEE_TCB_SVN2 (TDX 1.5 only). */
  readonly teeTcbSvn2?: Uint8Array;
  /** MRSERVICETD (TDX 1.5 only). */
  readonly mrServiceTd?: Uint8Array;
}

/** SGX REPORT BODY of the QE (§1.4). */
export interface SgxReportBody {
  readonly cpuSvn: Uint8Array;
  readonly miscSelect: number;
  readonly reserved1: Uint8Array;
  readonly isvExtProdId: Uint8Array;
  readonly attributes: Uint8Array;
  readonly mrEnclave: Uint8Array;
  readonly reserved2: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly reserved3: Uint8Array;
  readonly configId: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly configSvn: number;
  readonly reserved4: Uint8Array;
  readonly isvFamilyId: Uint8Array;
  readonly reportData: Uint8Array;
}

/** QE report certification data (type 6) with its nested PCK chain (type 5), §1.4. */
export interface QeReportCertData {
  /** The 384 QE report bytes as signed by the PCK key. */
  readonly qeReportRaw: Uint8Array;
  readonly qeReport: SgxReportBody;
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  /** Inner certification data type (5). */
  readonly pckCertDataType: number;
  /** PEM text bytes of the PCK chain as carried (may end with one NUL). */
  readonly pckCertChain: Uint8Array;
}

/** Signature data (§1.4). */
export interface QuoteSignatureData {
  /** ECDSA P-256 r‖s over the signed region. */
  readonly signature: Uint8Array;
  /** Attestation public key X‖Y. */
  readonly attestationKey: Uint8Array;
  readonly certDataType: number;
  readonly qeCertData: QeReportCertData;
}

/** A parsed TDX quote. */
export interface TdxQuote {
  readonly header: QuoteHeader;
  /** 2 (TDX 1.0) or 3 (TDX 1.5); v4 quotes are type 2. */
  readonly bodyType: number;
  readonly body: TdQuoteBody;
  /** Bytes covered by the quote signature: [0, signedLength) (§1.1). */
  readonly signedLength: number;
  readonly signatureData: QuoteSignatureData;
  /** sig_data_len as carried. */
  readonly sigDataLen: number;
  /** Bytes after sig_data, kept verbatim. */
  readonly trailing: Uint8Array;
  /** The input the quote was parsed from. */
  readonly raw: Uint8Array;
}

function err(code: ErrorCodeString, message: string, details: Record<string, unknown> = {}): CocoonError {
  return new CocoonError(code, message, { details: { stage: 'parse', ...details } });
}

function need(buf: Uint8Array, end: number, what: string): void {
  if (end > buf.length) {
    throw err('ERR_TDX_QUOTE_TRUNCATED', `${what}: need ${end} bytes, have ${buf.length}`, {
      need: end,
      have: buf.length,
    });
  }
}

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number =>
  (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
const slice = (b: Uint8Array, o: number, n: number): Uint8Array => b.slice(o, o + n);

/** Parses a 584- or 648-byte TD quote body (§1.3). */
export function parseTdQuoteBody(b: Uint8Array, tdx15: boolean): TdQuoteBody {
  need(b, tdx15 ? BODY_SIZE_TDX15 : BODY_SIZE_TDX10, 'TD quote body');
  const body: TdQuoteBody = {
    teeTcbSvn: slice(b, BODY_TEE_TCB_SVN, 16),
    mrSeam: slice(b, BODY_MR_SEAM, 48),
    mrSignerSeam: slice(b, BODY_MR_SIGNER_SEAM, 48),
    seamAttributes: slice(b, BODY_SEAM_ATTRIBUTES, 8),
    tdAttributes: slice(b, BODY_TD_ATTRIBUTES, 8),
    xfam: slice(b, BODY_XFAM, 8),
    mrTd: slice(b, BODY_MR_TD, 48),
    mrConfigId: slice(b, BODY_MR_CONFIG_ID, 48),
    mrOwner: slice(b, BODY_MR_OWNER, 48),
    mrOwnerConfig: slice(b, BODY_MR_OWNER_CONFIG, 48),
    rtmrs: [
      slice(b, BODY_RTMR0, 48),
      slice(b, BODY_RTMR0 + 48, 48),
      slice(b, BODY_RTMR0 + 96, 48),
      slice(b, BODY_RTMR0 + 144, 48),
    ],
    reportData: slice(b, BODY_REPORT_DATA, 64),
  };
  if (!tdx15) return body;
  return {
    ...body,
    teeTcbSvn2: slice(b, BODY_TEE_TCB_SVN2, 16),
    mrServiceTd: slice(b, BODY_MR_SERVICE_TD, 48),
  };
}

/** Parses the 384-byte SGX report body of the QE (§1.4). */
export function parseSgxReportBody(b: Uint8Array): SgxReportBody {
  need(b, SGX_REPORT_SIZE, 'QE report');
  return {
    cpuSvn: slice(b, RPT_CPU_SVN, 16),
    miscSelect: u32(b, RPT_MISC_SELECT),
    reserved1: slice(b, RPT_RESERVED1, 12),
    isvExtProdId: slice(b, RPT_ISV_EXT_PROD_ID, 16),
    attributes: slice(b, RPT_ATTRIBUTES, 16),
    mrEnclave: slice(b, RPT_MR_ENCLAVE, 32),
    reserved2: slice(b, RPT_RESERVED2, 32),
    mrSigner: slice(b, RPT_MR_SIGNER, 32),
    reserved3: slice(b, RPT_RESERVED3, 32),
    configId: slice(b, RPT_CONFIG_ID, 64),
    isvProdId: u16(b, RPT_ISV_PROD_ID),
    isvSvn: u16(b, RPT_ISV_SVN),
    configSvn: u16(b, RPT_CONFIG_SVN),
    reserved4: slice(b, RPT_RESERVED4, 42),
    isvFamilyId: slice(b, RPT_ISV_FAMILY_ID, 16),
    reportData: slice(b, RPT_REPORT_DATA, 64),
  };
}

/** Parses sig_data (exactly `sd.length` bytes, §1.4). */
export function parseSignatureData(sd: Uint8Array): QuoteSignatureData {
  need(sd, SIG_CERT_DATA, 'signature data');
  const certDataType = u16(sd, SIG_CERT_DATA_TYPE);
  if (certDataType !== CERT_DATA_QE_REPORT) {
    throw err('ERR_TDX_QUOTE_CERT_DATA', `certification data type is ${certDataType}, expected 6`);
  }
  const certDataSize = u32(sd, SIG_CERT_DATA_SIZE);
  // GOTDX requires the size to equal the rest of sig_data exactly (§1.4).
  if (certDataSize !== sd.length - SIG_CERT_DATA) {
    throw err(
      'ERR_TDX_QUOTE_CERT_DATA',
      `certification data size ${certDataSize} differs from the ${sd.length - SIG_CERT_DATA} bytes left in sig_data`,
    );
  }
  const cd = sd.subarray(SIG_CERT_DATA);
  need(cd, QE_CD_AUTH_DATA, 'QE report certification data');
  const authLen = u16(cd, QE_CD_AUTH_DATA_SIZE);
  if (authLen > MAX_QE_AUTH_DATA_LEN) {
    throw err(
      'ERR_TDX_QUOTE_QE_AUTH_DATA',
      `QE authentication data size ${authLen} exceeds ${MAX_QE_AUTH_DATA_LEN}`,
    );
  }
  const inner = QE_CD_AUTH_DATA + authLen;
  need(cd, inner + 6, 'QE authentication data and PCK chain header');
  const pckType = u16(cd, inner);
  if (pckType !== CERT_DATA_PCK_CHAIN) {
    throw err('ERR_TDX_QUOTE_CERT_DATA', `inner certification data type is ${pckType}, expected 5`);
  }
  const pckLen = u32(cd, inner + 2);
  if (pckLen !== cd.length - (inner + 6)) {
    throw err(
      'ERR_TDX_QUOTE_CERT_DATA',
      `PCK chain size ${pckLen} differs from the ${cd.length - (inner + 6)} bytes left in the QE certification data`,
    );
  }
  const qeReportRaw = slice(cd, QE_CD_REPORT, SGX_REPORT_SIZE);
  return {
    signature: slice(sd, SIG_QUOTE_SIGNATURE, 64),
    attestationKey: slice(sd, SIG_ATTESTATION_KEY, 64),
    certDataType,
    qeCertData: {
      qeReportRaw,
      qeReport: parseSgxReportBody(qeReportRaw),
      qeReportSignature: slice(cd, QE_CD_REPORT_SIGNATURE, 64),
      qeAuthData: slice(cd, QE_CD_AUTH_DATA, authLen),
      pckCertDataType: pckType,
      pckCertChain: slice(cd, inner + 6, pckLen),
    },
  };
}

/** Parses a TDX quote v4 or v5 (§1.5 step 1). Throws a CocoonError with stage "parse". */
export function parseQuote(raw: Uint8Array): TdxQuote {
  if (!(raw instanceof Uint8Array)) throw err('ERR_TDX_EVIDENCE_INVALID', 'quote must be bytes');
  if (raw.length > MAX_QUOTE_BYTES) {
    throw err('ERR_TDX_QUOTE_TRUNCATED', `quote is ${raw.length} bytes, limit ${MAX_QUOTE_BYTES}`);
  }
  need(raw, HEADER_SIZE, 'quote header');
  const header: QuoteHeader = {
    version: u16(raw, HDR_VERSION),
    attKeyType: u16(raw, HDR_ATT_KEY_TYPE),
    teeType: u32(raw, HDR_TEE_TYPE),
    reserved: slice(raw, HDR_RESERVED, 4),
    qeVendorId: slice(raw, HDR_QE_VENDOR_ID, 16),
    userData: slice(raw, HDR_USER_DATA, 20),
  };
  if (header.version !== QUOTE_VERSION_4 && header.version !== QUOTE_VERSION_5) {
    throw err('ERR_TDX_QUOTE_VERSION', `quote version ${header.version} is not 4 or 5`);
  }
  if (header.attKeyType !== ATT_KEY_TYPE_ECDSA_P256) {
    throw err(
      'ERR_TDX_QUOTE_ATT_KEY_TYPE',
      `attestation key type ${header.attKeyType} is not 2 (ECDSA P-256)`,
    );
  }
  if (header.teeType !== TEE_TYPE_TDX) {
    throw err('ERR_TDX_QUOTE_TEE_TYPE', `TEE type 0x${header.teeType.toString(16)} is not 0x81 (TDX)`);
  }
  if (Buffer.from(header.qeVendorId).toString('hex') !== INTEL_QE_VENDOR_ID) {
    throw err('ERR_TDX_QUOTE_QE_VENDOR', 'QE vendor ID is not the Intel QE');
  }
  let bodyType = BODY_TYPE_TDX10;
  let bodyStart = V4_BODY;
  let bodySize = BODY_SIZE_TDX10;
  if (header.version === QUOTE_VERSION_5) {
    need(raw, V5_BODY, 'v5 body descriptor');
    bodyType = u16(raw, V5_BODY_TYPE);
    bodySize = u32(raw, V5_BODY_SIZE);
    const want =
      bodyType === BODY_TYPE_TDX10 ? BODY_SIZE_TDX10 : bodyType === BODY_TYPE_TDX15 ? BODY_SIZE_TDX15 : -1;
    if (want < 0) throw err('ERR_TDX_QUOTE_BODY_TYPE', `v5 body type ${bodyType} is not 2 or 3`);
    if (bodySize !== want) {
      throw err(
        'ERR_TDX_QUOTE_BODY_TYPE',
        `v5 body type ${bodyType} needs size ${want}, quote says ${bodySize}`,
      );
    }
    bodyStart = V5_BODY;
  }
  const signedLength = bodyStart + bodySize;
  need(raw, signedLength + 4, 'quote body and sig_data_len');
  const body = parseTdQuoteBody(raw.subarray(bodyStart, signedLength), bodyType === BODY_TYPE_TDX15);
  const sigDataLen = u32(raw, signedLength);
  if (sigDataLen > MAX_SIG_DATA_LEN) {
    throw err('ERR_TDX_QUOTE_TRUNCATED', `sig_data_len ${sigDataLen} exceeds ${MAX_SIG_DATA_LEN}`);
  }
  const sdStart = signedLength + 4;
  need(raw, sdStart + sigDataLen, 'signature data');
  const signatureData = parseSignatureData(raw.subarray(sdStart, sdStart + sigDataLen));
  return {
    header,
    bodyType,
    body,
    signedLength,
    signatureData,
    sigDataLen,
    trailing: raw.slice(sdStart + sigDataLen),
    raw,
  };
}

function put16(out: Buffer, o: number, v: number): void {
  out.writeUInt16LE(v, o);
}

function put32(out: Buffer, o: number, v: number): void {
  out.writeUInt32LE(v >>> 0, o);
}

/** Serializes a TD quote body (584 or 648 bytes). */
export function tdQuoteBodyToBytes(body: TdQuoteBody): Uint8Array {
  const tdx15 = body.teeTcbSvn2 !== undefined && body.mrServiceTd !== undefined;
  const out = Buffer.alloc(tdx15 ? BODY_SIZE_TDX15 : BODY_SIZE_TDX10);
  out.set(body.teeTcbSvn, BODY_TEE_TCB_SVN);
  out.set(body.mrSeam, BODY_MR_SEAM);
  out.set(body.mrSignerSeam, BODY_MR_SIGNER_SEAM);
  out.set(body.seamAttributes, BODY_SEAM_ATTRIBUTES);
  out.set(body.tdAttributes, BODY_TD_ATTRIBUTES);
  out.set(body.xfam, BODY_XFAM);
  out.set(body.mrTd, BODY_MR_TD);
  out.set(body.mrConfigId, BODY_MR_CONFIG_ID);
  out.set(body.mrOwner, BODY_MR_OWNER);
  out.set(body.mrOwnerConfig, BODY_MR_OWNER_CONFIG);
  body.rtmrs.forEach((r, i) => out.set(r, BODY_RTMR0 + 48 * i));
  out.set(body.reportData, BODY_REPORT_DATA);
  if (tdx15) {
    out.set(body.teeTcbSvn2!, BODY_TEE_TCB_SVN2);
    out.set(body.mrServiceTd!, BODY_MR_SERVICE_TD);
  }
  return out;
}

/** Serializes a 384-byte SGX report body. */
export function sgxReportBodyToBytes(r: SgxReportBody): Uint8Array {
  const out = Buffer.alloc(SGX_REPORT_SIZE);
  out.set(r.cpuSvn, RPT_CPU_SVN);
  put32(out, RPT_MISC_SELECT, r.miscSelect);
  out.set(r.reserved1, RPT_RESERVED1);
  out.set(r.isvExtProdId, RPT_ISV_EXT_PROD_ID);
  out.set(r.attributes, RPT_ATTRIBUTES);
  out.set(r.mrEnclave, RPT_MR_ENCLAVE);
  out.set(r.reserved2, RPT_RESERVED2);
  out.set(r.mrSigner, RPT_MR_SIGNER);
  out.set(r.reserved3, RPT_RESERVED3);
  out.set(r.configId, RPT_CONFIG_ID);
  put16(out, RPT_ISV_PROD_ID, r.isvProdId);
  put16(out, RPT_ISV_SVN, r.isvSvn);
  put16(out, RPT_CONFIG_SVN, r.configSvn);
  out.set(r.reserved4, RPT_RESERVED4);
  out.set(r.isvFamilyId, RPT_ISV_FAMILY_ID);
  out.set(r.reportData, RPT_REPORT_DATA);
  return out;
}

/** Serializes sig_data (§1.4) from its parts. */
export function signatureDataToBytes(s: QuoteSignatureData): Uint8Array {
  const cd = s.qeCertData;
  const authLen = cd.qeAuthData.length;
  const cdLen = QE_CD_AUTH_DATA + authLen + 6 + cd.pckCertChain.length;
  const out = Buffer.alloc(SIG_CERT_DATA + cdLen);
  out.set(s.signature, SIG_QUOTE_SIGNATURE);
  out.set(s.attestationKey, SIG_ATTESTATION_KEY);
  put16(out, SIG_CERT_DATA_TYPE, s.certDataType);
  put32(out, SIG_CERT_DATA_SIZE, cdLen);
  const base = SIG_CERT_DATA;
  out.set(cd.qeReportRaw, base + QE_CD_REPORT);
  out.set(cd.qeReportSignature, base + QE_CD_REPORT_SIGNATURE);
  put16(out, base + QE_CD_AUTH_DATA_SIZE, authLen);
  out.set(cd.qeAuthData, base + QE_CD_AUTH_DATA);
  put16(out, base + QE_CD_AUTH_DATA + authLen, cd.pckCertDataType);
  put32(out, base + QE_CD_AUTH_DATA + authLen + 2, cd.pckCertChain.length);
  out.set(cd.pckCertChain, base + QE_CD_AUTH_DATA + authLen + 6);
  return out;
}

/** Serializes the header (and, for v5, the body descriptor) and body: the signed region. */
export function signedRegionToBytes(q: Pick<TdxQuote, 'header' | 'bodyType' | 'body'>): Uint8Array {
  const body = tdQuoteBodyToBytes(q.body);
  const v5 = q.header.version === QUOTE_VERSION_5;
  const bodyStart = v5 ? V5_BODY : V4_BODY;
  const out = Buffer.alloc(bodyStart + body.length);
  put16(out, HDR_VERSION, q.header.version);
  put16(out, HDR_ATT_KEY_TYPE, q.header.attKeyType);
  put32(out, HDR_TEE_TYPE, q.header.teeType);
  out.set(q.header.reserved, HDR_RESERVED);
  out.set(q.header.qeVendorId, HDR_QE_VENDOR_ID);
  out.set(q.header.userData, HDR_USER_DATA);
  if (v5) {
    put16(out, V5_BODY_TYPE, q.bodyType);
    put32(out, V5_BODY_SIZE, body.length);
  }
  out.set(body, bodyStart);
  return out;
}

/**
 * Serializes a quote from its parsed fields; for a quote from parseQuote the output equals the
 * input byte for byte (trailing bytes included).
 */
export function quoteToBytes(
  q: Pick<TdxQuote, 'header' | 'bodyType' | 'body' | 'signatureData' | 'trailing'>,
): Uint8Array {
  const signed = signedRegionToBytes(q);
  const sd = signatureDataToBytes(q.signatureData);
  const out = Buffer.alloc(signed.length + 4 + sd.length + q.trailing.length);
  out.set(signed, 0);
  put32(out, signed.length, sd.length);
  out.set(sd, signed.length + 4);
  out.set(q.trailing, signed.length + 4 + sd.length);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
