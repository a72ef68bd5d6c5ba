/**
 * Verify step of the TDX verifier: the whole DCAP chain of evidence.md §1.5, stopping at the
 * first failure with a typed error whose `details.stage` says who rejected (verify, collateral,
 * tcb). Order: PCK chain to the trusted Intel SGX Root CA (step 2), PCK SGX extension (§1.6),
 * QE report signature (step 8), QE report-data binding (step 9), quote signature (step 11),
 * then collateral — TCB signing chain, TCB Info and QE Identity signatures and windows (steps 4,
 * 5), CRLs and revocation (step 3), FMSPC/PCE-ID (step 6), TDX module identity (step 7), QE
 * identity policy (step 10) — and the TCB status computation (§1.9).
 *
 * Trust roots are injected. By default the only trusted root is the Intel SGX Root CA, pinned
 * by its SHA-256 fingerprint (§1.5 step 2); passing `trustRoots` replaces the pin, which is how
 * the simulated hierarchy of sim.ts is accepted — and only then.
 *
 * Parsing of certificate chains and collateral, and the signatures over a collateral object,
 * are memoised (pure functions of their bytes); time windows, revocation and every signature
 * over the quote itself are checked on every call.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { CocoonError, isCocoonError, type ErrorCodeString } from '../../common/errors.js';
import {
  checkValidity,
  crlCurrent,
  fingerprint256,
  isRevoked,
  parseCrl,
  parsePemChain,
  verifyCertSignature,
  verifyCrlSignature,
  type Certificate,
  type Crl,
} from '../x509/index.js';
import type { TdxQuote } from './abi.js';
import {
  parseQeIdentity,
  parseTcbInfo,
  type QeIdentity,
  type TcbInfo,
  type TdxCollateral,
} from './collateral.js';
import { parsePckExtensions, type PckExtensions } from './pck.js';
import { checkTdxModuleIdentity, evaluateQeIdentity, evaluateTcb, type TcbEvaluation } from './tcb.js';

/** SHA-256 fingerprint of the Intel SGX Root CA (evidence.md §1.5 step 2), lower-case hex. */
export const INTEL_SGX_ROOT_CA_SHA256 = '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3';

/** Subject CNs of the PCK chain (§1.5 step 2). */
export const PCK_LEAF_CN = 'Intel SGX PCK Certificate';
export const PCK_PLATFORM_CA_CN = 'Intel SGX PCK Platform CA';
export const PCK_PROCESSOR_CA_CN = 'Intel SGX PCK Processor CA';
export const SGX_ROOT_CA_CN = 'Intel SGX Root CA';

/** How CRLs are required. */
export type CrlPolicy = 'require' | 'ifPresent';

/** Options of verifyTdxQuote. */
export interface TdxVerifyOptions {
  /** Verification time (required: callers pass their injected clock's now()). */
  readonly at: Date;
  /**
   * Trusted root certificates (parsed). Default: the Intel SGX Root CA, matched by its pinned
   * fingerprint. When given, only these exact certificates are trusted.
   */
  readonly trustRoots?: readonly Certificate[];
  /**
   * Collateral, or 'none' to verify the quote and PCK chain only (TCB status "NotEvaluated").
   * There is no default: absence is explicit (fail closed).
   */
  readonly collateral: TdxCollateral | 'none';
  /** TCB signing chain (PEM) used when the collateral carries no issuer chain. */
  readonly tcbSigningChain?: readonly Certificate[];
  /** 'require' (default): both CRLs must be present; 'ifPresent': check those given. */
  readonly crls?: CrlPolicy;
}

/** What verification found (input to claims and validate). */
export interface TdxVerification {
  readonly quote: TdxQuote;
  readonly pckChain: readonly Certificate[];
  readonly pck: PckExtensions;
  /** undefined when collateral was 'none'. */
  readonly tcb?: TcbEvaluation;
  readonly tcbInfo?: TcbInfo;
  readonly qeIdentity?: QeIdentity;
  readonly collateralMeta?: CollateralMeta;
}

/** DCAP result claims derived from the collateral (§3.1). */
export interface CollateralMeta {
  readonly earliestIssueDate: Date;
  readonly latestIssueDate: Date;
  readonly earliestExpirationDate: Date;
  readonly tcbEvalNum: number;
  readonly rootCaCrlNum?: number;
  readonly pckCrlNum?: number;
  /** "0" when every piece was inside its window at the verification time. */
  readonly collateralExpirationStatus: '0' | '1';
}

function fail(code: ErrorCodeString, message: string, stage: 'verify' | 'collateral' | 'tcb'): never {
  throw new CocoonError(code, message, { details: { stage } });
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

// Attestation keys by raw X‖Y (bounded): building a KeyObject costs more than a verification,
// and one platform signs many quotes with the same key.
const AK_CACHE_MAX = 256;
const akCache = new Map<string, KeyObject | undefined>();

/** Builds a P-256 public key from raw X‖Y (§1.4); undefined when not a point on the curve. */
export function p256KeyFromRaw(xy: Uint8Array): KeyObject | undefined {
  if (xy.length !== 64) return undefined;
  const id = Buffer.from(xy.buffer, xy.byteOffset, xy.byteLength).toString('base64');
  if (akCache.has(id)) return akCache.get(id);
  const k = p256KeyFromRawUncached(xy);
  if (akCache.size >= AK_CACHE_MAX) akCache.delete(akCache.keys().next().value!);
  akCache.set(id, k);
  return k;
}

function p256KeyFromRawUncached(xy: Uint8Array): KeyObject | undefined {
  try {
    return createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: Buffer.from(xy.subarray(0, 32)).toString('base64url'),
        y: Buffer.from(xy.subarray(32)).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    return undefined;
  }
}

/** ECDSA P-256/SHA-256 verification of a raw r‖s signature (§1.4). */
export function verifyRawP256(key: KeyObject, data: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== 64) return false;
  try {
    return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}

// Parsed PCK chains by PEM text (bounded; evicts oldest).
const CHAIN_CACHE_MAX = 256;
const chainCache = new Map<string, Certificate[]>();

function parseChainCached(pem: Uint8Array): Certificate[] {
  // Drop one trailing NUL (§1.4) before decoding.
  const end = pem.length > 0 && pem[pem.length - 1] === 0 ? pem.length - 1 : pem.length;
  const text = Buffer.from(pem.buffer, pem.byteOffset, end).toString('latin1');
  const hit = chainCache.get(text);
  if (hit !== undefined) return hit;
  const chain = parsePemChain(text);
  if (chainCache.size >= CHAIN_CACHE_MAX) chainCache.delete(chainCache.keys().next().value!);
  chainCache.set(text, chain);
  return chain;
}

const fpCache = new WeakMap<Certificate, string>();
function fp(c: Certificate): string {
  let f = fpCache.get(c);
  if (f === undefined) {
    f = fingerprint256(c);
    fpCache.set(c, f);
  }
  return f;
}

// QE reports that verified, by PCK leaf fingerprint, report digest and signature (bounded, FIFO).
// A platform's QE signs one report per attestation key, so every quote of that platform carries
// the same report and signature; a signature check is a pure function of those bytes and the key.
const QE_REPORT_MEMO_MAX = 1024;
const verifiedQeReports = new Set<string>();

function qeReportSignatureValid(leaf: Certificate, report: Uint8Array, sig: Uint8Array): boolean {
  const k = `${fp(leaf)}:${createHash('sha256').update(report).update(sig).digest('hex')}`;
  if (verifiedQeReports.has(k)) return true;
  const ok = verifyRawP256(leaf.publicKey, report, sig);
  if (ok) {
    if (verifiedQeReports.size >= QE_REPORT_MEMO_MAX)
      verifiedQeReports.delete(verifiedQeReports.values().next().value!);
    verifiedQeReports.add(k);
  }
  return ok;
}

/** True when `root` is one of the trusted roots (or the pinned Intel root by default). */
export function isTrustedRoot(root: Certificate, trustRoots: readonly Certificate[] | undefined): boolean {
  const f = fp(root);
  if (trustRoots === undefined) return f === INTEL_SGX_ROOT_CA_SHA256;
  return trustRoots.some((t) => fp(t) === f);
}

function checkCertTimes(certs: readonly Certificate[], at: Date, what: string): void {
  for (const c of certs) {
    const v = checkValidity(c, at);
    if (v !== 'valid') {
      fail(
        'ERR_TDX_CERT_EXPIRED',
        `${what} certificate "${c.subjectCn}" is ${v === 'expired' ? 'expired' : 'not yet valid'} at ${at.toISOString()} (valid ${c.notBefore.toISOString()} → ${c.notAfter.toISOString()})`,
        'verify',
      );
    }
  }
}

/** Verifies a PCK chain (leaf, PCK CA, root) from a quote (§1.5 step 2). */
export function verifyPckChain(
  chain: readonly Certificate[],
  at: Date,
  trustRoots?: readonly Certificate[],
): void {
  if (chain.length !== 3)
    fail('ERR_TDX_PCK_CHAIN_INVALID', `PCK chain has ${chain.length} certificates, expected 3`, 'verify');
  const [leaf, ca, root] = chain as [Certificate, Certificate, Certificate];
  if (!isTrustedRoot(root, trustRoots)) {
    fail(
      'ERR_TDX_ROOT_UNTRUSTED',
      `PCK chain root "${root.subjectCn}" is not a trusted Intel SGX Root CA`,
      'verify',
    );
  }
  if (leaf.subjectCn !== PCK_LEAF_CN)
    fail('ERR_TDX_PCK_CHAIN_INVALID', `PCK leaf CN is "${leaf.subjectCn}"`, 'verify');
  if (ca.subjectCn !== PCK_PLATFORM_CA_CN && ca.subjectCn !== PCK_PROCESSOR_CA_CN) {
    fail('ERR_TDX_PCK_CHAIN_INVALID', `PCK CA CN is "${ca.subjectCn}"`, 'verify');
  }
  for (const c of chain) {
    if (c.version !== 3)
      fail('ERR_TDX_PCK_CHAIN_INVALID', `certificate "${c.subjectCn}" is not X.509 v3`, 'verify');
  }
  if (!verifyCertSignature(leaf, ca))
    fail('ERR_TDX_PCK_CHAIN_INVALID', 'PCK leaf signature does not verify with the PCK CA', 'verify');
  if (!verifyCertSignature(ca, root))
    fail('ERR_TDX_PCK_CHAIN_INVALID', 'PCK CA signature does not verify with the root', 'verify');
  checkCertTimes(chain, at, 'PCK chain');
}

/** Memoised parse and signature results for one collateral object. */
interface PreparedCollateral {
  readonly tcbInfo: TcbInfo;
  readonly qeIdentity: QeIdentity;
  readonly tcbChain: readonly Certificate[] | undefined;
  readonly qeChain: readonly Certificate[] | undefined;
  readonly rootCaCrl?: Crl;
  readonly pckCrl?: Crl;
  /** Signature results keyed by the signing chain's leaf object. */
  readonly sigMemo: WeakMap<object, boolean>;
}

const prepared = new WeakMap<TdxCollateral, PreparedCollateral>();

/** Maps a parse failure of a collateral chain or CRL (ERR_X509_*) onto the TDX code for it. */
function collateralError(e: unknown, code: ErrorCodeString, what: string): never {
  throw new CocoonError(code, `${what}: ${isCocoonError(e) ? e.message : 'malformed'}`, {
    cause: e,
    details: { stage: 'collateral' },
  });
}

function prepare(c: TdxCollateral): PreparedCollateral {
  const hit = prepared.get(c);
  if (hit !== undefined) return hit;
  const chain = (pem: string | undefined, what: string): Certificate[] | undefined => {
    if (pem === undefined) return undefined;
    try {
      return parsePemChain(pem);
    } catch (e) {
      return collateralError(e, 'ERR_TDX_TCB_SIGNING_CHAIN_INVALID', what);
    }
  };
  const crl = (der: Uint8Array | undefined, what: string): Crl | undefined => {
    if (der === undefined) return undefined;
    try {
      return parseCrl(der);
    } catch (e) {
      return collateralError(e, 'ERR_TDX_CRL_INVALID', what);
    }
  };
  const p: PreparedCollateral = {
    tcbInfo: parseTcbInfo(c.tcbInfoJson),
    qeIdentity: parseQeIdentity(c.qeIdentityJson),
    tcbChain: chain(c.tcbInfoIssuerChain, 'TCB info issuer chain'),
    qeChain: chain(c.qeIdentityIssuerChain, 'QE identity issuer chain'),
    ...(c.rootCaCrl === undefined ? {} : { rootCaCrl: crl(c.rootCaCrl, 'root CA CRL')! }),
    ...(c.pckCrl === undefined ? {} : { pckCrl: crl(c.pckCrl, 'PCK CRL')! }),
    sigMemo: new WeakMap(),
  };
  prepared.set(c, p);
  return p;
}

function memo(p: PreparedCollateral, key: object, slot: string, f: () => boolean): boolean {
  let m = p.sigMemo.get(key) as unknown as Map<string, boolean> | undefined;
  if (m === undefined) {
    m = new Map();
    p.sigMemo.set(key, m as unknown as boolean);
  }
  let v = m.get(slot);
  if (v === undefined) {
    v = f();
    m.set(slot, v);
  }
  return v;
}

/** Verifies a TCB signing chain (signing cert, root) to a trusted root (§1.5 step 4). */
function verifyTcbSigningChain(
  p: PreparedCollateral,
  chain: readonly Certificate[] | undefined,
  o: TdxVerifyOptions,
): Certificate {
  const c = chain ?? o.tcbSigningChain;
  if (c === undefined || c.length === 0) {
    fail(
      'ERR_TDX_COLLATERAL_MISSING',
      'no TCB signing chain in the collateral and none configured',
      'collateral',
    );
  }
  const signer = c[0]!;
  const root = c[c.length - 1]!;
  if (c.length !== 2)
    fail(
      'ERR_TDX_TCB_SIGNING_CHAIN_INVALID',
      `TCB signing chain has ${c.length} certificates, expected 2`,
      'collateral',
    );
  if (!isTrustedRoot(root, o.trustRoots)) {
    fail('ERR_TDX_ROOT_UNTRUSTED', `TCB signing chain root "${root.subjectCn}" is not trusted`, 'collateral');
  }
  if (!memo(p, signer, `chain:${fp(root)}`, () => verifyCertSignature(signer, root))) {
    fail(
      'ERR_TDX_TCB_SIGNING_CHAIN_INVALID',
      'TCB signing certificate does not verify with the root',
      'collateral',
    );
  }
  checkCertTimes([signer, root], o.at, 'TCB signing chain');
  return signer;
}

function checkWindow(issue: Date, next: Date, at: Date, what: string): void {
  if (at.getTime() < issue.getTime() || at.getTime() > next.getTime()) {
    fail(
      'ERR_TDX_COLLATERAL_EXPIRED',
      `${what} is outside its window ${issue.toISOString()} → ${next.toISOString()} at ${at.toISOString()}`,
      'collateral',
    );
  }
}

function checkCrl(crl: Crl, issuer: Certificate, at: Date, what: string, p: PreparedCollateral): void {
  if (!memo(p, crl, `crl:${fp(issuer)}`, () => verifyCrlSignature(crl, issuer))) {
    fail('ERR_TDX_CRL_INVALID', `${what} is not issued and signed by "${issuer.subjectCn}"`, 'collateral');
  }
  const w = crlCurrent(crl, at);
  if (w !== 'valid')
    fail(
      'ERR_TDX_CRL_EXPIRED',
      `${what} is ${w === 'expired' ? 'stale' : 'not yet valid'} at ${at.toISOString()}`,
      'collateral',
    );
}

/** Runs the full §1.5 verification on a parsed quote. Throws the first failure. */
export function verifyTdxQuote(quote: TdxQuote, o: TdxVerifyOptions): TdxVerification {
  const sd = quote.signatureData;
  const cd = sd.qeCertData;
  let chain: Certificate[];
  try {
    chain = parseChainCached(cd.pckCertChain);
  } catch (e) {
    throw new CocoonError(
      'ERR_TDX_PCK_CHAIN_INVALID',
      `PCK chain in the quote: ${isCocoonError(e) ? e.message : 'malformed'}`,
      {
        cause: e,
        details: { stage: 'verify' },
      },
    );
  }
  verifyPckChain(chain, o.at, o.trustRoots);
  const [leaf, pckCa, root] = chain as [Certificate, Certificate, Certificate];
  const pck = parsePckExtensions(leaf);

  // §1.5 step 8: QE report signed by the PCK leaf key.
  if (!qeReportSignatureValid(leaf, cd.qeReportRaw, cd.qeReportSignature)) {
    fail(
      'ERR_TDX_QE_REPORT_SIGNATURE_INVALID',
      'QE report signature does not verify with the PCK leaf key',
      'verify',
    );
  }
  // §1.5 step 9: report_data = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes.
  const bind = createHash('sha256').update(sd.attestationKey).update(cd.qeAuthData).digest();
  const rd = cd.qeReport.reportData;
  if (!bind.equals(Buffer.from(rd.subarray(0, 32))) || rd.subarray(32).some((b) => b !== 0)) {
    fail('ERR_TDX_QE_REPORT_DATA_MISMATCH', 'QE report data does not bind the attestation key', 'verify');
  }
  // §1.5 step 11: quote signature by the attestation key over the signed region (§1.1).
  const ak = p256KeyFromRaw(sd.attestationKey);
  const signed = quote.raw.subarray(0, quote.signedLength);
  if (ak === undefined || !verifyRawP256(ak, signed, sd.signature)) {
    fail(
      'ERR_TDX_QUOTE_SIGNATURE_INVALID',
      'quote signature does not verify with the attestation key',
      'verify',
    );
  }
  if (o.collateral === 'none') return { quote, pckChain: chain, pck };

  let p: PreparedCollateral;
  try {
    p = prepare(o.collateral);
  } catch (e) {
    if (isCocoonError(e))
      throw new CocoonError(e.code, e.message, { cause: e, details: { stage: 'collateral' } });
    throw e;
  }
  const at = o.at;
  // §1.5 steps 4, 5: TCB info and QE identity signatures, ids, windows.
  const tcbSigner = verifyTcbSigningChain(p, p.tcbChain, o);
  const tcbJson = o.collateral.tcbInfoJson;
  const tcbSig = o.collateral.tcbInfoSignature;
  if (
    !memo(p, tcbSigner, 'tcbInfo', () =>
      verifyRawP256(tcbSigner.publicKey, Buffer.from(tcbJson, 'utf8'), tcbSig),
    )
  ) {
    fail('ERR_TDX_TCB_INFO_SIGNATURE_INVALID', 'TCB info signature does not verify', 'collateral');
  }
  const qeSigner = p.qeChain === p.tcbChain ? tcbSigner : verifyTcbSigningChain(p, p.qeChain, o);
  const qeJson = o.collateral.qeIdentityJson;
  const qeSig = o.collateral.qeIdentitySignature;
  if (
    !memo(p, qeSigner, 'qeIdentity', () =>
      verifyRawP256(qeSigner.publicKey, Buffer.from(qeJson, 'utf8'), qeSig),
    )
  ) {
    fail('ERR_TDX_QE_IDENTITY_SIGNATURE_INVALID', 'QE identity signature does not verify', 'collateral');
  }
  checkWindow(p.tcbInfo.issueDate, p.tcbInfo.nextUpdate, at, 'TCB info');
  checkWindow(p.qeIdentity.issueDate, p.qeIdentity.nextUpdate, at, 'QE identity');

  // §1.5 step 3: CRLs and revocation.
  const policy = o.crls ?? 'require';
  if (policy === 'require' && (p.rootCaCrl === undefined || p.pckCrl === undefined)) {
    fail('ERR_TDX_COLLATERAL_MISSING', 'the root CA CRL and the PCK CRL are required', 'collateral');
  }
  if (p.rootCaCrl !== undefined) {
    checkCrl(p.rootCaCrl, root, at, 'root CA CRL', p);
    if (isRevoked(p.rootCaCrl, pckCa))
      fail('ERR_TDX_CERT_REVOKED', `PCK CA "${pckCa.subjectCn}" is revoked`, 'collateral');
    if (isRevoked(p.rootCaCrl, tcbSigner))
      fail('ERR_TDX_CERT_REVOKED', 'TCB signing certificate is revoked', 'collateral');
  }
  if (p.pckCrl !== undefined) {
    checkCrl(p.pckCrl, pckCa, at, 'PCK CRL', p);
    if (isRevoked(p.pckCrl, leaf))
      fail('ERR_TDX_CERT_REVOKED', `PCK leaf serial ${leaf.serialHex} is revoked`, 'collateral');
  }

  // §1.5 step 6: FMSPC and PCE-ID.
  if (hex(pck.fmspc) !== hex(p.tcbInfo.fmspc)) {
    fail(
      'ERR_TDX_FMSPC_MISMATCH',
      `PCK FMSPC ${hex(pck.fmspc)} ≠ TCB info FMSPC ${hex(p.tcbInfo.fmspc)}`,
      'collateral',
    );
  }
  if (hex(pck.pceId) !== hex(p.tcbInfo.pceId)) {
    fail(
      'ERR_TDX_FMSPC_MISMATCH',
      `PCK PCE-ID ${hex(pck.pceId)} ≠ TCB info PCE-ID ${hex(p.tcbInfo.pceId)}`,
      'collateral',
    );
  }
  // §1.5 steps 7, 10 and §1.9.
  checkTdxModuleIdentity(quote.body, p.tcbInfo);
  const qe = evaluateQeIdentity(cd.qeReport, p.qeIdentity);
  const tcb = evaluateTcb({
    pck,
    body: quote.body,
    tcbInfo: p.tcbInfo,
    qeStatus: qe.status,
    bodyType: quote.bodyType,
  });

  const issues = [
    p.tcbInfo.issueDate,
    p.qeIdentity.issueDate,
    ...[p.rootCaCrl, p.pckCrl].flatMap((c) => (c ? [c.thisUpdate] : [])),
  ];
  const expiries = [
    p.tcbInfo.nextUpdate,
    p.qeIdentity.nextUpdate,
    ...[p.rootCaCrl, p.pckCrl].flatMap((c) => (c?.nextUpdate ? [c.nextUpdate] : [])),
    ...chain.map((c) => c.notAfter),
  ];
  const min = (ds: Date[]): Date => new Date(Math.min(...ds.map((d) => d.getTime())));
  const max = (ds: Date[]): Date => new Date(Math.max(...ds.map((d) => d.getTime())));
  const earliestExpirationDate = min(expiries);
  const meta: CollateralMeta = {
    earliestIssueDate: min(issues),
    latestIssueDate: max(issues),
    earliestExpirationDate,
    tcbEvalNum: p.tcbInfo.tcbEvaluationDataNumber,
    ...(p.rootCaCrl?.crlNumber === undefined ? {} : { rootCaCrlNum: p.rootCaCrl.crlNumber }),
    ...(p.pckCrl?.crlNumber === undefined ? {} : { pckCrlNum: p.pckCrl.crlNumber }),
    collateralExpirationStatus: at.getTime() > earliestExpirationDate.getTime() ? '1' : '0',
  };
  return {
    quote,
    pckChain: chain,
    pck,
    tcb,
    tcbInfo: p.tcbInfo,
    qeIdentity: p.qeIdentity,
    collateralMeta: meta,
  };
}
