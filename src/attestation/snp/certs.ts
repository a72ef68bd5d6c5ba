/**
 * The AMD certificate chain of SEV-SNP (evidence.md §2.4): X.509 parsing with the bounded DER
 * reader (serial number 0 is legal here: every real VCEK/VLEK has it), RSA-PSS SHA-384 signature
 * checks, the VCEK/VLEK extensions (OIDs 1.3.6.1.4.1.3704.1.*) and AMD CRLs (RFC 5280 §5.1).
 */
import { constants, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { CocoonError } from '../../common/errors.js';
import {
  DER_TAG,
  children,
  contents,
  encoding,
  expectElement,
  integerOf,
  oidOf,
  readElement,
  stringOf,
  timeOf,
  type DerNode,
  type DerPolicy,
} from '../x509/der.js';

/** OIDs used by the chain. */
export const OID = {
  RSASSA_PSS: '1.2.840.113549.1.1.10',
  RSA_ENCRYPTION: '1.2.840.113549.1.1.1',
  MGF1: '1.2.840.113549.1.1.8',
  SHA384: '2.16.840.1.101.3.4.2.2',
  EC_PUBLIC_KEY: '1.2.840.10045.2.1',
  SECP384R1: '1.3.132.0.34',
  CN: '2.5.4.3',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  /** AMD VCEK/VLEK extensions, evidence.md §2.4 table. */
  AMD_STRUCT_VERSION: '1.3.6.1.4.1.3704.1.1',
  AMD_PRODUCT_NAME: '1.3.6.1.4.1.3704.1.2',
  AMD_BL_SPL: '1.3.6.1.4.1.3704.1.3.1',
  AMD_TEE_SPL: '1.3.6.1.4.1.3704.1.3.2',
  AMD_SNP_SPL: '1.3.6.1.4.1.3704.1.3.3',
  AMD_UCODE_SPL: '1.3.6.1.4.1.3704.1.3.8',
  AMD_FMC_SPL: '1.3.6.1.4.1.3704.1.3.9',
  AMD_HWID: '1.3.6.1.4.1.3704.1.4',
  AMD_CSP_ID: '1.3.6.1.4.1.3704.1.5',
} as const;

/** The one signature scheme of the AMD chain: RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48. */
export const AMD_PSS_SALT_LENGTH = 48;

/** A parsed certificate (only what the SNP chain needs). */
export interface AmdCert {
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  readonly serial: bigint;
  /** True when both signature AlgorithmIdentifiers are RSA-PSS/SHA-384/MGF1-SHA-384/salt 48. */
  readonly pssSha384: boolean;
  readonly signature: Uint8Array;
  readonly issuer: Readonly<Record<string, string>>;
  readonly subject: Readonly<Record<string, string>>;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Uint8Array;
  readonly publicKey: KeyObject;
  /** extnID → extnValue contents. */
  readonly extensions: ReadonlyMap<string, Uint8Array>;
}

/**
 * How the shared DER reader reports malformed AMD certificates: ERR_SNP_CERT_INVALID at the verify
 * stage, minimal lengths enforced (X.690 §10.1), children bounded against hostile input.
 */
const SNP_DER: DerPolicy = {
  code: 'ERR_SNP_CERT_INVALID',
  details: { stage: 'verify' },
  strict: true,
  maxChildren: 10_000,
};

function certError(message: string, details: Record<string, unknown> = {}): CocoonError {
  return new CocoonError('ERR_SNP_CERT_INVALID', message, { details: { stage: 'verify', ...details } });
}

const NAME_KEYS: Readonly<Record<string, string>> = {
  [OID.CN]: 'CN',
  [OID.C]: 'C',
  [OID.L]: 'L',
  [OID.ST]: 'ST',
  [OID.O]: 'O',
  [OID.OU]: 'OU',
};

function parseName(e: DerNode, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rdn of children(SNP_DER, e, what)) {
    for (const atv of children(SNP_DER, rdn, what)) {
      const [t, v] = children(SNP_DER, atv, what);
      if (t === undefined || v === undefined) throw certError(`${what}: malformed name attribute`);
      const key = NAME_KEYS[oidOf(SNP_DER, t, what)];
      if (key !== undefined) out[key] = stringOf(SNP_DER, v, what);
    }
  }
  return out;
}

/** True when an AlgorithmIdentifier is RSASSA-PSS with SHA-384, MGF1-SHA-384 and salt 48. */
function isPssSha384(alg: DerNode, what: string): boolean {
  const [o, params] = children(SNP_DER, alg, what);
  if (o === undefined || oidOf(SNP_DER, o, what) !== OID.RSASSA_PSS || params === undefined) return false;
  let hash: string | undefined;
  let mgfHash: string | undefined;
  let salt: bigint | undefined;
  for (const p of children(SNP_DER, params, what)) {
    const inner = readElement(SNP_DER, p.buf, p.contentStart, what, p.end);
    if (p.tag === 0xa0) {
      const h = children(SNP_DER, inner, what)[0];
      if (h === undefined) return false;
      hash = oidOf(SNP_DER, h, what);
    } else if (p.tag === 0xa1) {
      const [mgf, mgfParams] = children(SNP_DER, inner, what);
      if (mgf === undefined || oidOf(SNP_DER, mgf, what) !== OID.MGF1 || mgfParams === undefined)
        return false;
      const h = children(SNP_DER, mgfParams, what)[0];
      if (h === undefined) return false;
      mgfHash = oidOf(SNP_DER, h, what);
    } else if (p.tag === 0xa2) salt = integerOf(SNP_DER, inner, what);
  }
  return hash === OID.SHA384 && mgfHash === OID.SHA384 && salt === BigInt(AMD_PSS_SALT_LENGTH);
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

/**
 * Parses one DER certificate (RFC 5280 §4.1). Throws ERR_SNP_CERT_INVALID; any unexpected shape
 * the field-by-field checks miss is still reported as that code, never as a TypeError.
 */
export function parseCert(input: Uint8Array, what = 'certificate'): AmdCert {
  try {
    return parseCertInner(input, what);
  } catch (e) {
    if (e instanceof CocoonError) throw e;
    throw new CocoonError('ERR_SNP_CERT_INVALID', `${what}: malformed certificate`, {
      cause: e,
      details: { stage: 'verify' },
    });
  }
}

function parseCertInner(input: Uint8Array, what: string): AmdCert {
  const der = Uint8Array.from(input);
  const top = expectElement(SNP_DER, der, 0, DER_TAG.SEQUENCE, what);
  if (top.end !== der.length) throw certError(`${what}: trailing bytes after the certificate`);
  const [tbsE, algE, sigE] = children(SNP_DER, top, what);
  if (tbsE === undefined || algE === undefined || sigE === undefined || sigE.tag !== DER_TAG.BIT_STRING) {
    throw certError(`${what}: not a certificate`);
  }
  const f = children(SNP_DER, tbsE, what);
  let i = 0;
  if (f[0]?.tag === 0xa0) i++; // [0] EXPLICIT version
  const serialE = f[i++];
  const innerAlg = f[i++];
  const issuerE = f[i++];
  const validityE = f[i++];
  const subjectE = f[i++];
  const spkiE = f[i++];
  if (
    serialE === undefined ||
    innerAlg === undefined ||
    issuerE === undefined ||
    validityE === undefined ||
    subjectE === undefined ||
    spkiE === undefined
  ) {
    throw certError(`${what}: truncated TBSCertificate`);
  }
  // RFC 5280 §4.1.1.2: the outer and inner signature algorithms must be identical.
  const pss = bytesEq(encoding(algE), encoding(innerAlg)) && isPssSha384(algE, what);
  const [nb, na] = children(SNP_DER, validityE, what);
  if (nb === undefined || na === undefined) throw certError(`${what}: bad validity`);
  const extensions = new Map<string, Uint8Array>();
  for (; i < f.length; i++) {
    if (f[i]!.tag !== 0xa3) continue;
    const list = readElement(SNP_DER, der, f[i]!.contentStart, what, f[i]!.end);
    for (const ext of children(SNP_DER, list, what)) {
      const parts = children(SNP_DER, ext, what);
      if (parts.length < 2) throw certError(`${what}: malformed extension`);
      const id = oidOf(SNP_DER, parts[0]!, what);
      const value = parts[parts.length - 1]!;
      if (value.tag !== DER_TAG.OCTET_STRING)
        throw certError(`${what}: extension ${id} has no OCTET STRING value`);
      if (extensions.has(id)) throw certError(`${what}: duplicate extension ${id}`);
      extensions.set(id, Uint8Array.from(contents(value)));
    }
  }
  const sigBits = contents(sigE);
  if (sigBits.length < 2 || sigBits[0] !== 0) throw certError(`${what}: bad signature BIT STRING`);
  const spki = Uint8Array.from(encoding(spkiE));
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (e) {
    throw new CocoonError('ERR_SNP_CERT_INVALID', `${what}: unsupported public key`, {
      cause: e,
      details: { stage: 'verify' },
    });
  }
  return {
    der,
    tbs: Uint8Array.from(encoding(tbsE)),
    serial: integerOf(SNP_DER, serialE, what),
    pssSha384: pss,
    signature: Uint8Array.from(sigBits.subarray(1)),
    issuer: parseName(issuerE, what),
    subject: parseName(subjectE, what),
    notBefore: timeOf(SNP_DER, nb, what),
    notAfter: timeOf(SNP_DER, na, what),
    spki,
    publicKey,
    extensions,
  };
}

/** Verifies an RSA-PSS SHA-384 (salt 48) signature over `data` with `key`. */
export function verifyPss(data: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  try {
    return cryptoVerify(
      'sha384',
      data,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: AMD_PSS_SALT_LENGTH },
      signature,
    );
  } catch {
    return false;
  }
}

/** True when `cert` carries an RSA-PSS SHA-384 signature that verifies with `issuerKey`. */
export function isSignedBy(cert: AmdCert, issuerKey: KeyObject): boolean {
  return cert.pssSha384 && verifyPss(cert.tbs, cert.signature, issuerKey);
}

/** Splits PEM text into DER blocks of the given label (tolerates a trailing NUL; evidence.md §4). */
export function pemBlocks(text: string, label = 'CERTIFICATE'): Uint8Array[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
}

/** PEM text of one DER certificate. */
export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

/** Decoded VCEK/VLEK extensions (evidence.md §2.4 table). */
export interface VekExtensions {
  readonly structVersion?: number;
  readonly productName?: string;
  readonly blSpl?: number;
  readonly teeSpl?: number;
  readonly snpSpl?: number;
  readonly ucodeSpl?: number;
  readonly fmcSpl?: number;
  /** hwID (VCEK only), decoded from any of the three encodings. */
  readonly hwId?: Uint8Array;
  /** csp_id (VLEK only). */
  readonly cspId?: string;
}

function extInt(v: Uint8Array | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const e = readElement(SNP_DER, v, 0, name);
  if (e.end !== v.length) throw certError(`${name}: trailing bytes`);
  const n = integerOf(SNP_DER, e, name);
  if (n < 0n || n > 0xffffn) throw certError(`${name}: value ${n} out of range`);
  return Number(n);
}

function extStr(v: Uint8Array | undefined, name: string): string | undefined {
  if (v === undefined) return undefined;
  const e = readElement(SNP_DER, v, 0, name);
  if (e.end !== v.length) throw certError(`${name}: trailing bytes`);
  return stringOf(SNP_DER, e, name);
}

/**
 * Decodes hwID: raw bytes of the expected length first (64 for Milan/Genoa, 8 for Turin), else a
 * DER OCTET STRING `04 40 <64 bytes>` (evidence.md §2.4: three encodings must be accepted).
 */
export function decodeHwId(v: Uint8Array, expectedLength: number): Uint8Array {
  if (v.length === expectedLength) return Uint8Array.from(v);
  const e = readElement(SNP_DER, v, 0, 'hwID');
  if (e.tag === DER_TAG.OCTET_STRING && e.end === v.length) return Uint8Array.from(contents(e));
  throw certError(`hwID extension is ${v.length} bytes and not an OCTET STRING`);
}

/** Decodes the AMD extensions of a VCEK/VLEK. `hwIdLength` is 64 (Milan/Genoa) or 8 (Turin). */
export function vekExtensions(cert: AmdCert, hwIdLength: number): VekExtensions {
  try {
    return vekExtensionsInner(cert, hwIdLength);
  } catch (e) {
    if (e instanceof CocoonError) throw e;
    throw new CocoonError('ERR_SNP_CERT_INVALID', 'malformed VEK extension', {
      cause: e,
      details: { stage: 'verify' },
    });
  }
}

function vekExtensionsInner(cert: AmdCert, hwIdLength: number): VekExtensions {
  const x = cert.extensions;
  const hw = x.get(OID.AMD_HWID);
  const csp = x.get(OID.AMD_CSP_ID);
  if (hw !== undefined && csp !== undefined) throw certError('a VEK carries both hwID and csp_id');
  const out: Record<string, unknown> = {
    structVersion: extInt(x.get(OID.AMD_STRUCT_VERSION), 'structVersion'),
    productName: extStr(x.get(OID.AMD_PRODUCT_NAME), 'productName'),
    blSpl: extInt(x.get(OID.AMD_BL_SPL), 'blSPL'),
    teeSpl: extInt(x.get(OID.AMD_TEE_SPL), 'teeSPL'),
    snpSpl: extInt(x.get(OID.AMD_SNP_SPL), 'snpSPL'),
    ucodeSpl: extInt(x.get(OID.AMD_UCODE_SPL), 'ucodeSPL'),
    fmcSpl: extInt(x.get(OID.AMD_FMC_SPL), 'fmcSPL'),
    hwId: hw === undefined ? undefined : decodeHwId(hw, hwIdLength),
    cspId: extStr(csp, 'csp_id'),
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out as VekExtensions;
}

/** A parsed CRL (RFC 5280 §5.1). */
export interface AmdCrl {
  readonly tbs: Uint8Array;
  readonly pssSha384: boolean;
  readonly signature: Uint8Array;
  readonly issuer: Readonly<Record<string, string>>;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly revokedSerials: ReadonlySet<bigint>;
}

function crlError(message: string): CocoonError {
  return new CocoonError('ERR_SNP_CRL_INVALID', message, { details: { stage: 'verify' } });
}

/** Parses a DER CRL. Throws ERR_SNP_CRL_INVALID. */
export function parseCrl(input: Uint8Array): AmdCrl {
  try {
    const der = Uint8Array.from(input);
    const top = expectElement(SNP_DER, der, 0, DER_TAG.SEQUENCE, 'CRL');
    if (top.end !== der.length) throw crlError('trailing bytes after the CRL');
    const [tbsE, algE, sigE] = children(SNP_DER, top, 'CRL');
    if (tbsE === undefined || algE === undefined || sigE?.tag !== DER_TAG.BIT_STRING)
      throw crlError('not a CRL');
    const f = children(SNP_DER, tbsE, 'CRL');
    let i = 0;
    if (f[0]?.tag === DER_TAG.INTEGER) i++; // version
    const innerAlg = f[i++];
    const issuerE = f[i++];
    const thisE = f[i++];
    if (innerAlg === undefined || issuerE === undefined || thisE === undefined)
      throw crlError('truncated CRL');
    let nextUpdate: Date | undefined;
    if (f[i] !== undefined && (f[i]!.tag === DER_TAG.UTC_TIME || f[i]!.tag === DER_TAG.GENERALIZED_TIME)) {
      nextUpdate = timeOf(SNP_DER, f[i++]!, 'CRL nextUpdate');
    }
    const revoked = new Set<bigint>();
    if (f[i] !== undefined && f[i]!.tag === DER_TAG.SEQUENCE) {
      for (const entry of children(SNP_DER, f[i]!, 'CRL entry')) {
        const first = children(SNP_DER, entry, 'CRL entry')[0];
        if (first === undefined) throw crlError('empty CRL entry');
        revoked.add(integerOf(SNP_DER, first, 'CRL serial'));
      }
    }
    const sigBits = contents(sigE);
    if (sigBits.length < 2 || sigBits[0] !== 0) throw crlError('bad CRL signature BIT STRING');
    return {
      tbs: Uint8Array.from(encoding(tbsE)),
      pssSha384: bytesEq(encoding(algE), encoding(innerAlg)) && isPssSha384(algE, 'CRL'),
      signature: Uint8Array.from(sigBits.subarray(1)),
      issuer: parseName(issuerE, 'CRL issuer'),
      thisUpdate: timeOf(SNP_DER, thisE, 'CRL thisUpdate'),
      ...(nextUpdate === undefined ? {} : { nextUpdate }),
      revokedSerials: revoked,
    };
  } catch (e) {
    if (e instanceof CocoonError && e.code === 'ERR_SNP_CRL_INVALID') throw e;
    throw new CocoonError('ERR_SNP_CRL_INVALID', 'the AMD CRL cannot be parsed', {
      cause: e,
      details: { stage: 'verify' },
    });
  }
}

/** Role of a certificate in the AMD chain, from its subject CN (evidence.md §2.4). */
export type CertRole = 'ark' | 'ask' | 'asvk' | 'vcek' | 'vlek';

/** Classifies a certificate by its subject CN; undefined when it is none of the AMD roles. */
export function roleOf(cert: AmdCert): CertRole | undefined {
  const cn = cert.subject['CN'] ?? '';
  if (cn === 'SEV-VCEK') return 'vcek';
  if (cn === 'SEV-VLEK') return 'vlek';
  if (cn.startsWith('ARK-')) return 'ark';
  if (cn.startsWith('SEV-VLEK-')) return 'asvk';
  if (cn.startsWith('SEV-')) return 'ask';
  return undefined;
}
