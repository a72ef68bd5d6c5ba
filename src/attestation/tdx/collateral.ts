/**
 * TDX collateral (evidence.md §1.5 steps 3–5, §1.7, §1.8): TCB Info, TD QE Identity, their
 * signatures and issuer chain, the Root CA CRL and the PCK CRL with its issuer chain.
 *
 * Sources:
 *  - offline bundles in the formats found in real test data, as they are: dcap-qvl
 *    "QuoteCollateralV3" JSON (`collateralFromDcapQvlJson`), and Intel PCS responses saved as
 *    files (`{"tcbInfo": …, "signature": …}`, `{"enclaveIdentity": …}`), CRLs as DER/PEM/hex and
 *    issuer chains as PEM (`collateralFromPcsFiles`, `loadCollateralDir`);
 *  - Intel PCS through an injected fetcher with an on-disk cache that honours nextUpdate
 *    (`createPcsCollateralSource`, URL shapes of §1.8).
 *
 * Signatures cover the exact bytes of the `tcbInfo` / `enclaveIdentity` JSON value as received
 * (§1.5 step 4, §4), so the raw member text is kept and never re-serialised.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.js';
import { systemClock } from '../../common/clock.js';
import { CocoonError, isCocoonError } from '../../common/errors.js';
import { parseCrl } from '../x509/index.js';

/** A TCB component entry of TCB Info (§1.7). */
export interface TcbComponent {
  readonly svn: number;
  readonly category?: string;
  readonly type?: string;
}

/** One platform TCB level of TDX TCB Info (§1.7). */
export interface TdxTcbLevel {
  readonly sgxTcbComponents: readonly TcbComponent[];
  readonly pceSvn: number;
  readonly tdxTcbComponents: readonly TcbComponent[];
  readonly tcbDate: string;
  readonly tcbStatus: string;
  readonly advisoryIds: readonly string[];
}

/** One level of a TDX module identity or QE identity: isvsvn → status (§1.7, §1.8). */
export interface IsvTcbLevel {
  readonly isvSvn: number;
  readonly tcbDate: string;
  readonly tcbStatus: string;
  readonly advisoryIds: readonly string[];
}

/** TDX module identity (tdxModule or one tdxModuleIdentities entry). */
export interface TdxModuleIdentity {
  readonly id: string;
  readonly mrSigner: Uint8Array;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  readonly tcbLevels: readonly IsvTcbLevel[];
}

/** Decoded TDX TCB Info v3 (§1.7). */
export interface TcbInfo {
  readonly id: string;
  readonly version: number;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly fmspc: Uint8Array;
  readonly pceId: Uint8Array;
  readonly tcbType: number;
  readonly tcbEvaluationDataNumber: number;
  readonly tdxModule: TdxModuleIdentity | undefined;
  readonly tdxModuleIdentities: readonly TdxModuleIdentity[];
  readonly tcbLevels: readonly TdxTcbLevel[];
}

/** Decoded TD QE Identity (§1.8). */
export interface QeIdentity {
  readonly id: string;
  readonly version: number;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly tcbEvaluationDataNumber: number;
  readonly miscselect: number;
  readonly miscselectMask: number;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly isvProdId: number;
  readonly tcbLevels: readonly IsvTcbLevel[];
}

/**
 * Collateral as received. JSON bodies are the exact signed text; signatures are 64-byte r‖s.
 * CRLs are DER. Issuer chains are PEM text (signing cert first, then root); an absent chain
 * falls back to the verifier's `tcbSigningChain` option.
 */
export interface TdxCollateral {
  readonly tcbInfoJson: string;
  readonly tcbInfoSignature: Uint8Array;
  readonly tcbInfoIssuerChain?: string;
  readonly qeIdentityJson: string;
  readonly qeIdentitySignature: Uint8Array;
  readonly qeIdentityIssuerChain?: string;
  readonly rootCaCrl?: Uint8Array;
  readonly pckCrl?: Uint8Array;
  readonly pckCrlIssuerChain?: string;
}

/** Largest collateral JSON accepted (bytes); PCS responses are under 10 KiB. */
export const COLLATERAL_MAX_BYTES = 1024 * 1024;

function invalid(message: string, cause?: unknown): CocoonError {
  return new CocoonError('ERR_TDX_COLLATERAL_INVALID', message, {
    details: { stage: 'collateral' },
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Returns the exact text of the value of top-level member `key` of a JSON object text, or
 * undefined when absent. Scans strings and nesting without re-serialising (§4: signatures
 * cover the raw substring). Throws ERR_TDX_COLLATERAL_INVALID on malformed JSON structure.
 */
export function rawJsonMember(text: string, key: string): string | undefined {
  if (text.length > COLLATERAL_MAX_BYTES) throw invalid(`collateral JSON is ${text.length} bytes`);
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const str = (): string => {
    if (text[i] !== '"') throw invalid(`expected a string at ${i}`);
    const s = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) throw invalid('unterminated string');
    i++;
    return JSON.parse(text.slice(s, i)) as string;
  };
  const skipValue = (): void => {
    ws();
    const c = text[i];
    if (c === '"') {
      str();
      return;
    }
    if (c === '{' || c === '[') {
      let depth = 0;
      for (; i < text.length; i++) {
        const ch = text[i]!;
        if (ch === '"') {
          str();
          i--;
        } else if (ch === '{' || ch === '[') depth++;
        else if (ch === '}' || ch === ']') {
          depth--;
          if (depth === 0) {
            i++;
            return;
          }
        }
      }
      throw invalid('unbalanced JSON');
    }
    const s = i;
    while (i < text.length && !',}] \t\r\n'.includes(text[i]!)) i++;
    if (i === s) throw invalid(`expected a value at ${i}`);
  };
  ws();
  if (text[i] !== '{') throw invalid('collateral JSON is not an object');
  i++;
  ws();
  if (text[i] === '}') return undefined;
  for (;;) {
    ws();
    const k = str();
    ws();
    if (text[i] !== ':') throw invalid(`expected ":" at ${i}`);
    i++;
    ws();
    const start = i;
    skipValue();
    if (k === key) return text.slice(start, i);
    ws();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '}') return undefined;
    throw invalid(`expected "," or "}" at ${i}`);
  }
}

function hexBytes(v: unknown, size: number | undefined, what: string): Uint8Array {
  if (typeof v !== 'string' || v.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(v))
    throw invalid(`${what} is not hex`);
  if (size !== undefined && v.length !== size * 2) throw invalid(`${what} must be ${size} bytes`);
  return new Uint8Array(Buffer.from(v, 'hex'));
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw invalid(`${what} must be a non-negative integer`);
  return v;
}

function date(v: unknown, what: string): Date {
  const d = typeof v === 'string' ? new Date(v) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw invalid(`${what} is not an RFC 3339 time`);
  return d;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw invalid(`${what} must be a string`);
  return v;
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw invalid(`${what} must be an array`);
  return v;
}

function advisories(v: unknown): string[] {
  if (v === undefined) return [];
  return arr(v, 'advisoryIDs').map((a) => str(a, 'advisory ID'));
}

function components(v: unknown, what: string): TcbComponent[] {
  const a = arr(v, what);
  if (a.length !== 16) throw invalid(`${what} must have 16 entries`);
  return a.map((c, i) => {
    const o = obj(c, `${what}[${i}]`);
    const out: { svn: number; category?: string; type?: string } = {
      svn: num(o['svn'], `${what}[${i}].svn`),
    };
    if (typeof o['category'] === 'string') out.category = o['category'];
    if (typeof o['type'] === 'string') out.type = o['type'];
    return out;
  });
}

function isvLevels(v: unknown, what: string): IsvTcbLevel[] {
  return arr(v, what).map((l, i) => {
    const o = obj(l, `${what}[${i}]`);
    return {
      isvSvn: num(obj(o['tcb'], `${what}[${i}].tcb`)['isvsvn'], `${what}[${i}].tcb.isvsvn`),
      tcbDate: str(o['tcbDate'], 'tcbDate'),
      tcbStatus: str(o['tcbStatus'], 'tcbStatus'),
      advisoryIds: advisories(o['advisoryIDs']),
    };
  });
}

function moduleIdentity(v: unknown, id: string, withLevels: boolean): TdxModuleIdentity {
  const o = obj(v, 'tdxModule');
  return {
    id: typeof o['id'] === 'string' ? o['id'] : id,
    mrSigner: hexBytes(o['mrsigner'], 48, 'tdxModule.mrsigner'),
    attributes: hexBytes(o['attributes'], 8, 'tdxModule.attributes'),
    attributesMask: hexBytes(o['attributesMask'], 8, 'tdxModule.attributesMask'),
    tcbLevels: withLevels ? isvLevels(o['tcbLevels'], 'tdxModuleIdentities.tcbLevels') : [],
  };
}

function parseJsonText(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalid(`${what} is not JSON`, e);
  }
}

/** Decodes the raw `tcbInfo` JSON text; checks id "TDX" and version 3 (§1.5 step 4). */
export function parseTcbInfo(json: string): TcbInfo {
  const o = obj(parseJsonText(json, 'tcbInfo'), 'tcbInfo');
  const id = str(o['id'], 'tcbInfo.id');
  const version = num(o['version'], 'tcbInfo.version');
  if (id !== 'TDX' || version !== 3) throw invalid(`tcbInfo id/version is ${id}/${version}, expected TDX/3`);
  const levels = arr(o['tcbLevels'], 'tcbInfo.tcbLevels').map((l, i) => {
    const lo = obj(l, `tcbLevels[${i}]`);
    const tcb = obj(lo['tcb'], `tcbLevels[${i}].tcb`);
    return {
      sgxTcbComponents: components(tcb['sgxtcbcomponents'], 'sgxtcbcomponents'),
      pceSvn: num(tcb['pcesvn'], 'pcesvn'),
      tdxTcbComponents: components(tcb['tdxtcbcomponents'], 'tdxtcbcomponents'),
      tcbDate: str(lo['tcbDate'], 'tcbDate'),
      tcbStatus: str(lo['tcbStatus'], 'tcbStatus'),
      advisoryIds: advisories(lo['advisoryIDs']),
    };
  });
  if (levels.length === 0) throw invalid('tcbInfo has no tcbLevels');
  return {
    id,
    version,
    issueDate: date(o['issueDate'], 'tcbInfo.issueDate'),
    nextUpdate: date(o['nextUpdate'], 'tcbInfo.nextUpdate'),
    fmspc: hexBytes(o['fmspc'], 6, 'tcbInfo.fmspc'),
    pceId: hexBytes(o['pceId'], 2, 'tcbInfo.pceId'),
    tcbType: num(o['tcbType'], 'tcbInfo.tcbType'),
    tcbEvaluationDataNumber: num(o['tcbEvaluationDataNumber'], 'tcbInfo.tcbEvaluationDataNumber'),
    tdxModule: o['tdxModule'] === undefined ? undefined : moduleIdentity(o['tdxModule'], 'TDX', false),
    tdxModuleIdentities:
      o['tdxModuleIdentities'] === undefined
        ? []
        : arr(o['tdxModuleIdentities'], 'tdxModuleIdentities').map((m) => moduleIdentity(m, '', true)),
    tcbLevels: levels,
  };
}

/** Decodes the raw `enclaveIdentity` JSON text; checks id "TD_QE" and version 2 or 3 (§1.5 step 5). */
export function parseQeIdentity(json: string): QeIdentity {
  const o = obj(parseJsonText(json, 'enclaveIdentity'), 'enclaveIdentity');
  const id = str(o['id'], 'enclaveIdentity.id');
  const version = num(o['version'], 'enclaveIdentity.version');
  if (id !== 'TD_QE' || (version !== 2 && version !== 3)) {
    throw invalid(`enclaveIdentity id/version is ${id}/${version}, expected TD_QE/2`);
  }
  const le32 = (v: unknown, what: string): number => Buffer.from(hexBytes(v, 4, what)).readUInt32LE(0);
  return {
    id,
    version,
    issueDate: date(o['issueDate'], 'enclaveIdentity.issueDate'),
    nextUpdate: date(o['nextUpdate'], 'enclaveIdentity.nextUpdate'),
    tcbEvaluationDataNumber: num(o['tcbEvaluationDataNumber'], 'tcbEvaluationDataNumber'),
    miscselect: le32(o['miscselect'], 'miscselect'),
    miscselectMask: le32(o['miscselectMask'], 'miscselectMask'),
    attributes: hexBytes(o['attributes'], 16, 'attributes'),
    attributesMask: hexBytes(o['attributesMask'], 16, 'attributesMask'),
    mrSigner: hexBytes(o['mrsigner'], 32, 'mrsigner'),
    isvProdId: num(o['isvprodid'], 'isvprodid'),
    tcbLevels: isvLevels(o['tcbLevels'], 'enclaveIdentity.tcbLevels'),
  };
}

function sig64(hex: unknown, what: string): Uint8Array {
  return hexBytes(hex, 64, what);
}

function crlBytes(v: Uint8Array | string | undefined): Uint8Array | undefined {
  if (v === undefined) return undefined;
  // Normalised to a plain Uint8Array (Buffers from files compare equal to fetched bytes).
  if (typeof v !== 'string') return new Uint8Array(v);
  const t = v.trim();
  if (t.startsWith('-----BEGIN')) {
    const m = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(t);
    if (m === null) throw invalid('CRL PEM block missing');
    return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  }
  return hexBytes(t, undefined, 'CRL');
}

/**
 * Reads dcap-qvl's QuoteCollateralV3 JSON (tcb_info / qe_identity as the exact signed JSON
 * strings, *_signature hex r‖s, *_issuer_chain PEM, root_ca_crl / pck_crl hex DER).
 */
export function collateralFromDcapQvlJson(text: string): TdxCollateral {
  if (text.length > COLLATERAL_MAX_BYTES) throw invalid(`collateral JSON is ${text.length} bytes`);
  const o = obj(parseJsonText(text, 'collateral'), 'collateral');
  const opt = (k: string): string | undefined =>
    o[k] === undefined || o[k] === null ? undefined : str(o[k], k);
  const out: TdxCollateral = {
    tcbInfoJson: str(o['tcb_info'], 'tcb_info'),
    tcbInfoSignature: sig64(o['tcb_info_signature'], 'tcb_info_signature'),
    qeIdentityJson: str(o['qe_identity'], 'qe_identity'),
    qeIdentitySignature: sig64(o['qe_identity_signature'], 'qe_identity_signature'),
  };
  const extra: Record<string, unknown> = {};
  const tic = opt('tcb_info_issuer_chain');
  if (tic !== undefined) extra['tcbInfoIssuerChain'] = tic;
  const qic = opt('qe_identity_issuer_chain');
  if (qic !== undefined) extra['qeIdentityIssuerChain'] = qic;
  const pic = opt('pck_crl_issuer_chain');
  if (pic !== undefined) extra['pckCrlIssuerChain'] = pic;
  const rc = opt('root_ca_crl');
  if (rc !== undefined) extra['rootCaCrl'] = crlBytes(rc);
  const pc = opt('pck_crl');
  if (pc !== undefined) extra['pckCrl'] = crlBytes(pc);
  return { ...out, ...extra } as TdxCollateral;
}

/** Splits a PCS response body `{"tcbInfo"|"enclaveIdentity": …, "signature": hex}`. */
export function splitPcsResponse(
  text: string,
  member: 'tcbInfo' | 'enclaveIdentity',
): { json: string; signature: Uint8Array } {
  parseJsonText(text, `PCS ${member} response`); // the whole body must be JSON, not just a prefix
  const json = rawJsonMember(text, member);
  if (json === undefined) throw invalid(`PCS response has no "${member}" member`);
  const sigText = rawJsonMember(text, 'signature');
  if (sigText === undefined) throw invalid('PCS response has no "signature" member');
  return { json, signature: sig64(parseJsonText(sigText, 'signature'), 'signature') };
}

/** PCS-format collateral pieces (file contents or HTTP bodies). */
export interface PcsCollateralFiles {
  /** TCB info response body `{"tcbInfo":…,"signature":…}`. */
  readonly tcbInfo: string;
  /** QE identity response body `{"enclaveIdentity":…,"signature":…}`. */
  readonly qeIdentity: string;
  readonly tcbInfoIssuerChain?: string;
  readonly qeIdentityIssuerChain?: string;
  /** CRLs as DER bytes, PEM or hex text. */
  readonly rootCaCrl?: Uint8Array | string;
  readonly pckCrl?: Uint8Array | string;
  readonly pckCrlIssuerChain?: string;
}

/** Builds collateral from PCS-format pieces (go-tdx-guest testdata, Trustee test data, PCS). */
export function collateralFromPcsFiles(f: PcsCollateralFiles): TdxCollateral {
  const t = splitPcsResponse(f.tcbInfo, 'tcbInfo');
  const q = splitPcsResponse(f.qeIdentity, 'enclaveIdentity');
  const out: Record<string, unknown> = {
    tcbInfoJson: t.json,
    tcbInfoSignature: t.signature,
    qeIdentityJson: q.json,
    qeIdentitySignature: q.signature,
  };
  if (f.tcbInfoIssuerChain !== undefined) out['tcbInfoIssuerChain'] = f.tcbInfoIssuerChain;
  if (f.qeIdentityIssuerChain !== undefined) out['qeIdentityIssuerChain'] = f.qeIdentityIssuerChain;
  if (f.pckCrlIssuerChain !== undefined) out['pckCrlIssuerChain'] = f.pckCrlIssuerChain;
  if (f.rootCaCrl !== undefined) out['rootCaCrl'] = crlBytes(f.rootCaCrl);
  if (f.pckCrl !== undefined) out['pckCrl'] = crlBytes(f.pckCrl);
  return out as unknown as TdxCollateral;
}

async function readIf(path: string | undefined): Promise<Buffer | undefined> {
  if (path === undefined) return undefined;
  return readFile(path);
}

/**
 * Loads an offline bundle: a dcap-qvl collateral JSON file, or a directory holding PCS-format
 * files (tcbinfo*.json / tcbInfo.json, qe-identity.json / enclaveIdentity.json,
 * root-ca-crl.der, pck-crl*.der, *issuer-chain*.pem). When the directory holds several TCB
 * infos, `fmspc` (hex) selects tcbinfo-<fmspc>.json.
 */
export async function loadCollateralBundle(path: string, fmspc?: string): Promise<TdxCollateral> {
  let names: string[];
  try {
    names = await readdir(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') {
      throw new CocoonError('ERR_TDX_COLLATERAL_MISSING', `cannot read collateral at ${path}`, {
        cause: e,
        details: { stage: 'collateral' },
      });
    }
    return collateralFromDcapQvlJson((await readFile(path)).toString('utf8'));
  }
  const pick = (re: RegExp): string | undefined => {
    const all = names.filter((n) => re.test(n)).sort();
    if (fmspc !== undefined) {
      const exact = all.find((n) => n.toLowerCase().includes(fmspc.toLowerCase()));
      if (exact !== undefined) return join(path, exact);
    }
    return all[0] === undefined ? undefined : join(path, all[0]);
  };
  if (names.includes('collateral.json')) {
    return collateralFromDcapQvlJson((await readFile(join(path, 'collateral.json'))).toString('utf8'));
  }
  const tcb = pick(/^tcb-?info.*\.json$/i);
  const qe = pick(/^(qe-identity|enclaveIdentity).*\.json$/i);
  if (tcb === undefined || qe === undefined) {
    throw new CocoonError('ERR_TDX_COLLATERAL_MISSING', `no TCB info / QE identity JSON in ${path}`, {
      details: { stage: 'collateral' },
    });
  }
  const txt = async (p: string | undefined): Promise<string | undefined> =>
    (await readIf(p))?.toString('utf8');
  const files: Record<string, unknown> = {
    tcbInfo: (await readFile(tcb)).toString('utf8'),
    qeIdentity: (await readFile(qe)).toString('utf8'),
  };
  const set = (k: string, v: unknown): void => {
    if (v !== undefined) files[k] = v;
  };
  set('tcbInfoIssuerChain', await txt(pick(/^tcb-info-issuer-chain.*\.pem$/i)));
  set('qeIdentityIssuerChain', await txt(pick(/^qe-identity-issuer-chain.*\.pem$/i)));
  set('pckCrlIssuerChain', await txt(pick(/^pck-crl-issuer-chain.*\.pem$/i)));
  set('rootCaCrl', await readIf(pick(/^root-ca-crl.*\.der$/i)));
  set('pckCrl', await readIf(pick(/^pck-crl(?!-issuer).*\.der$/i)));
  return collateralFromPcsFiles(files as unknown as PcsCollateralFiles);
}

/** What the verifier asks a collateral source for. */
export interface CollateralRequest {
  /** FMSPC of the PCK leaf, lower-case hex. */
  readonly fmspc: string;
  /** Which PCK CA issued the leaf (selects the PCK CRL, §1.8). */
  readonly ca: 'platform' | 'processor';
}

/** Supplies collateral for a platform. */
export interface CollateralSource {
  get(req: CollateralRequest): Promise<TdxCollateral>;
}

/** A source that always returns the same offline collateral. */
export function staticCollateralSource(c: TdxCollateral): CollateralSource {
  return { get: () => Promise.resolve(c) };
}

/** An HTTP response as the injected fetcher returns it. */
export interface PcsResponse {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** Injected HTTPS GET (tests pass a fake; production passes a fetch wrapper). */
export type PcsFetcher = (url: string) => Promise<PcsResponse>;

/** Default Intel PCS base URL (§1.8). */
export const DEFAULT_PCS_BASE_URL = 'https://api.trustedservices.intel.com';
/** Default Root CA CRL URL (§1.8). */
export const DEFAULT_ROOT_CA_CRL_URL = 'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der';

/** Options of createPcsCollateralSource. */
export interface PcsSourceOptions {
  /** HTTPS GET; required (no default network access). */
  readonly fetch: PcsFetcher;
  /** Directory of the on-disk cache; default none (memory only). */
  readonly cacheDir?: string;
  /** Clock for nextUpdate checks; default the system clock. */
  readonly clock?: Clock;
  /** PCS base URL; default DEFAULT_PCS_BASE_URL. */
  readonly baseUrl?: string;
  /** Root CA CRL URL; default DEFAULT_ROOT_CA_CRL_URL. */
  readonly rootCaCrlUrl?: string;
  /** TCB evaluation update channel (`update=` query); default none (PCS standard). */
  readonly update?: 'early' | 'standard';
}

/** The PCS URLs for one request (§1.8). */
export function pcsUrls(
  req: CollateralRequest,
  o: Pick<PcsSourceOptions, 'baseUrl' | 'rootCaCrlUrl' | 'update'> = {},
): {
  tcbInfo: string;
  qeIdentity: string;
  pckCrl: string;
  rootCaCrl: string;
} {
  const base = o.baseUrl ?? DEFAULT_PCS_BASE_URL;
  const upd = o.update === undefined ? '' : `&update=${o.update}`;
  return {
    tcbInfo: `${base}/tdx/certification/v4/tcb?fmspc=${req.fmspc}${upd}`,
    qeIdentity: `${base}/tdx/certification/v4/qe/identity${o.update === undefined ? '' : `?update=${o.update}`}`,
    pckCrl: `${base}/sgx/certification/v4/pckcrl?ca=${req.ca}&encoding=der`,
    rootCaCrl: o.rootCaCrlUrl ?? DEFAULT_ROOT_CA_CRL_URL,
  };
}

interface CachedResponse {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly bodyB64: string;
  /** ISO time after which the entry must be refetched. */
  readonly nextUpdate: string;
}

/** nextUpdate of a PCS body: JSON nextUpdate for TCB info / QE identity, CRL nextUpdate for CRLs. */
function bodyNextUpdate(kind: 'tcbInfo' | 'qeIdentity' | 'crl', body: Uint8Array): Date | undefined {
  try {
    if (kind === 'crl') return parseCrl(body).nextUpdate;
    const text = Buffer.from(body).toString('utf8');
    const member = rawJsonMember(text, kind === 'tcbInfo' ? 'tcbInfo' : 'enclaveIdentity');
    if (member === undefined) return undefined;
    const n = (JSON.parse(member) as { nextUpdate?: unknown }).nextUpdate;
    return typeof n === 'string' ? new Date(n) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A collateral source backed by Intel PCS through `fetch`, with a cache (memory, and disk when
 * `cacheDir` is set) that serves an entry until its own nextUpdate passes (§1.7, §1.8).
 * Issuer chains come from the URL-encoded response headers TCB-Info-Issuer-Chain,
 * SGX-Enclave-Identity-Issuer-Chain and SGX-PCK-CRL-Issuer-Chain.
 */
export function createPcsCollateralSource(options: PcsSourceOptions): CollateralSource {
  if (typeof options.fetch !== 'function')
    throw new TypeError('createPcsCollateralSource: fetch is required');
  const clock = options.clock ?? systemClock;
  const memory = new Map<string, CachedResponse>();
  const cachePath = (url: string): string | undefined =>
    options.cacheDir === undefined
      ? undefined
      : join(options.cacheDir, `${createHash('sha256').update(url).digest('hex')}.json`);

  async function get(url: string, kind: 'tcbInfo' | 'qeIdentity' | 'crl'): Promise<CachedResponse> {
    const now = clock.now().getTime();
    let hit = memory.get(url);
    const p = cachePath(url);
    if (hit === undefined && p !== undefined) {
      try {
        hit = JSON.parse(await readFile(p, 'utf8')) as CachedResponse;
      } catch {
        hit = undefined; // missing or corrupt cache entry: refetch
      }
    }
    if (hit !== undefined && hit.url === url && new Date(hit.nextUpdate).getTime() > now) return hit;
    let res: PcsResponse;
    try {
      res = await options.fetch(url);
    } catch (e) {
      throw new CocoonError('ERR_TDX_COLLATERAL_FETCH_FAILED', `GET ${url} failed`, {
        cause: e,
        details: { stage: 'collateral', url },
      });
    }
    if (res.status !== 200) {
      throw new CocoonError('ERR_TDX_COLLATERAL_FETCH_FAILED', `GET ${url} answered ${res.status}`, {
        details: { stage: 'collateral', url, status: res.status },
      });
    }
    const next = bodyNextUpdate(kind, res.body);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) headers[k.toLowerCase()] = v;
    const entry: CachedResponse = {
      url,
      headers,
      bodyB64: Buffer.from(res.body).toString('base64'),
      // Without a parsable nextUpdate the entry is not reused (fail closed).
      nextUpdate: (next ?? new Date(0)).toISOString(),
    };
    memory.set(url, entry);
    if (p !== undefined && options.cacheDir !== undefined) {
      await mkdir(options.cacheDir, { recursive: true });
      const tmp = `${p}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(entry));
      await rename(tmp, p);
    }
    return entry;
  }

  const header = (r: CachedResponse, name: string): string | undefined => {
    const v = r.headers[name.toLowerCase()];
    if (v === undefined) return undefined;
    try {
      return decodeURIComponent(v);
    } catch (e) {
      throw invalid(`header ${name} is not URL-encoded`, e);
    }
  };

  return {
    async get(req: CollateralRequest): Promise<TdxCollateral> {
      if (!/^[0-9a-fA-F]{12}$/.test(req.fmspc)) throw new TypeError(`invalid FMSPC "${req.fmspc}"`);
      const urls = pcsUrls(req, options);
      const [tcb, qe, pck, root] = await Promise.all([
        get(urls.tcbInfo, 'tcbInfo'),
        get(urls.qeIdentity, 'qeIdentity'),
        get(urls.pckCrl, 'crl'),
        get(urls.rootCaCrl, 'crl'),
      ]);
      const text = (r: CachedResponse): string => Buffer.from(r.bodyB64, 'base64').toString('utf8');
      const files: Record<string, unknown> = {
        tcbInfo: text(tcb),
        qeIdentity: text(qe),
        pckCrl: new Uint8Array(Buffer.from(pck.bodyB64, 'base64')),
        rootCaCrl: new Uint8Array(Buffer.from(root.bodyB64, 'base64')),
      };
      const set = (k: string, v: string | undefined): void => {
        if (v !== undefined) files[k] = v;
      };
      set(
        'tcbInfoIssuerChain',
        header(tcb, 'TCB-Info-Issuer-Chain') ?? header(tcb, 'SGX-TCB-Info-Issuer-Chain'),
      );
      set('qeIdentityIssuerChain', header(qe, 'SGX-Enclave-Identity-Issuer-Chain'));
      set('pckCrlIssuerChain', header(pck, 'SGX-PCK-CRL-Issuer-Chain'));
      try {
        return collateralFromPcsFiles(files as unknown as PcsCollateralFiles);
      } catch (e) {
        if (isCocoonError(e)) throw e;
        throw invalid('PCS collateral is malformed', e);
      }
    },
  };
}
