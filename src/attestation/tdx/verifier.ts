/**
 * The TDX Verifier (src/attestation/verifier.ts interface): evidence → parse (abi.ts) →
 * verify (verify.ts, stops at the first failure) → TCB status (tcb.ts) → validate
 * (validate.ts, every failure) → claims (claims.ts). Evidence is raw quote bytes or Trustee's
 * JSON `{"quote": base64, "cc_eventlog": base64 | null}` (evidence.md §3).
 */
import type { Clock } from '../../common/clock.js';
import { systemClock } from '../../common/clock.js';
import { CocoonError, isCocoonError } from '../../common/errors.js';
import { assembleClaims, type ClaimObject } from '../claims.js';
import { parseCcEventLog, replayRtmrs, type CcEventLog } from '../eventlog/index.js';
import { buildResult, failure, failureFromError } from '../validate-common.js';
import type { CheckFailure, TcbStatus, Verifier, VerificationResult, VerifyRequest } from '../verifier.js';
import { parseCertificateAny, parsePemChain, type Certificate } from '../x509/index.js';
import { parseQuote, type TdxQuote } from './abi.js';
import { tdxDcapClaims, tdxQuoteClaims } from './claims.js';
import type { CollateralSource, TdxCollateral } from './collateral.js';
import { parsePckExtensions } from './pck.js';
import type { TdxTcbStatus } from './tcb.js';
import { validateTdx, type TdxExpectations } from './validate.js';
import { verifyTdxQuote, type CrlPolicy, type TdxVerification } from './verify.js';

/** Largest Trustee JSON evidence accepted (bytes). */
export const TDX_EVIDENCE_MAX_BYTES = 32 * 1024 * 1024;

/** Options of createTdxVerifier. */
export interface TdxVerifierOptions {
  /**
   * Trusted roots as PEM text or DER bytes. Default: the Intel SGX Root CA pinned by
   * fingerprint. Pass the simulated root (sim.ts) here — and only then are sim quotes accepted.
   */
  readonly trustRoots?: readonly (string | Uint8Array)[];
  /**
   * Collateral: a fixed bundle, a source (e.g. Intel PCS), or 'none' (quote and PCK chain only,
   * TCB status NotEvaluated). Default: none configured, which fails with
   * ERR_TDX_COLLATERAL_MISSING (fail closed).
   */
  readonly collateral?: TdxCollateral | CollateralSource | 'none';
  /** TCB signing chain PEM used when collateral carries no issuer chain; default none. */
  readonly tcbSigningChain?: string;
  /** CRL requirement; default 'require'. */
  readonly crls?: CrlPolicy;
  /** Clock; default the system clock (VerifyRequest.clock overrides). */
  readonly clock?: Clock;
  /** Validation expectations besides report data and init data; default Trustee-like strict. */
  readonly expectations?: Omit<TdxExpectations, 'reportData' | 'initDataHash'>;
}

/** Parsed TDX evidence. */
export interface TdxEvidence {
  readonly quote: TdxQuote;
  readonly eventLog?: CcEventLog;
}

function evidenceError(message: string, cause?: unknown): CocoonError {
  return new CocoonError('ERR_TDX_EVIDENCE_INVALID', message, {
    details: { stage: 'parse' },
    ...(cause === undefined ? {} : { cause }),
  });
}

function b64(v: unknown, what: string): Uint8Array {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v))
    throw evidenceError(`${what} is not base64`);
  return new Uint8Array(Buffer.from(v, v.includes('-') || v.includes('_') ? 'base64url' : 'base64'));
}

/** Parses TDX evidence: raw quote bytes, JSON bytes, or a decoded Trustee JSON object. */
export function parseTdxEvidence(evidence: Uint8Array | Readonly<Record<string, unknown>>): TdxEvidence {
  let obj: unknown = evidence;
  if (evidence instanceof Uint8Array) {
    // A quote starts with version 4 or 5 (LE u16); JSON starts with "{" (after whitespace).
    const first = evidence.find((c) => c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09);
    if (first !== 0x7b) return { quote: parseQuote(evidence) };
    if (evidence.length > TDX_EVIDENCE_MAX_BYTES) throw evidenceError(`evidence is ${evidence.length} bytes`);
    try {
      obj = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(evidence));
    } catch (e) {
      throw evidenceError('evidence is not UTF-8 JSON', e);
    }
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
    throw evidenceError('evidence must be a JSON object');
  const rec = obj as Record<string, unknown>;
  // Read each untrusted member once (STYLE.md rule 4).
  const q = rec['quote'];
  const log = rec['cc_eventlog'];
  const quote = parseQuote(b64(q, 'quote'));
  if (log === undefined || log === null) return { quote };
  return { quote, eventLog: parseCcEventLog(b64(log, 'cc_eventlog')) };
}

function isSource(c: unknown): c is CollateralSource {
  return typeof c === 'object' && c !== null && typeof (c as { get?: unknown }).get === 'function';
}

/** Maps the internal TDX status onto the shared TcbStatus (relaunch advice counts as its base). */
export function toTcbStatus(s: TdxTcbStatus): TcbStatus {
  return s;
}

/** Creates the TDX verifier. Throws TypeError for malformed options (programmer error). */
export function createTdxVerifier(options: TdxVerifierOptions = {}): Verifier {
  let trustRoots: Certificate[] | undefined;
  let tcbSigningChain: Certificate[] | undefined;
  try {
    trustRoots = options.trustRoots?.map((r) => parseCertificateAny(r));
    tcbSigningChain =
      options.tcbSigningChain === undefined ? undefined : parsePemChain(options.tcbSigningChain);
  } catch (e) {
    throw new TypeError(`createTdxVerifier: bad trust material: ${isCocoonError(e) ? e.message : String(e)}`);
  }
  const baseClock = options.clock ?? systemClock;
  const expectations = options.expectations ?? {};

  async function run(req: VerifyRequest): Promise<VerificationResult> {
    const at = (req.clock ?? baseClock).now();
    let ev: TdxEvidence;
    try {
      ev = parseTdxEvidence(req.evidence);
    } catch (e) {
      return buildResult('tdx', [failureFromError(e, 'parse')], {}, 'NotEvaluated');
    }
    const quote = ev.quote;
    let pckForClaims;
    let v: TdxVerification | undefined;
    const failures: CheckFailure[] = [];
    try {
      let collateral: TdxCollateral | 'none';
      const c = options.collateral;
      if (c === undefined) {
        throw new CocoonError(
          'ERR_TDX_COLLATERAL_MISSING',
          'no collateral configured (pass a bundle, a source, or "none")',
          {
            details: { stage: 'collateral' },
          },
        );
      }
      if (c === 'none') collateral = 'none';
      else if (isSource(c)) {
        // The FMSPC and CA type select the collateral (§1.8): read them from the PCK leaf.
        const pem = Buffer.from(quote.signatureData.qeCertData.pckCertChain)
          .toString('latin1')
          .replace(/\0$/, '');
        let leaf: Certificate;
        try {
          leaf = parsePemChain(pem)[0]!;
        } catch (e) {
          throw new CocoonError('ERR_TDX_PCK_CHAIN_INVALID', 'PCK chain in the quote cannot be parsed', {
            cause: e,
            details: { stage: 'verify' },
          });
        }
        const pck = parsePckExtensions(leaf);
        collateral = await c.get({
          fmspc: Buffer.from(pck.fmspc).toString('hex'),
          ca: leaf.issuerCn.includes('Processor') ? 'processor' : 'platform',
        });
      } else collateral = c;
      v = verifyTdxQuote(quote, {
        at,
        collateral,
        ...(trustRoots === undefined ? {} : { trustRoots }),
        ...(tcbSigningChain === undefined ? {} : { tcbSigningChain }),
        ...(options.crls === undefined ? {} : { crls: options.crls }),
      });
      pckForClaims = v.pck;
    } catch (e) {
      failures.push(failureFromError(e, 'verify'));
    }
    const tdxStatus = v?.tcb?.status;
    if (tdxStatus === 'TCBLevelNotSupported') {
      failures.push(
        failure('ERR_TDX_TCB_NOT_SUPPORTED', 'no TCB level of the TCB info matches the platform', 'tcb'),
      );
    } else if (tdxStatus === 'Revoked') {
      failures.push(failure('ERR_TDX_TCB_REVOKED', 'the TCB status is Revoked', 'tcb'));
    }
    let claimsObj: ClaimObject = tdxQuoteClaims(quote, pckForClaims, ev.eventLog);
    if (v !== undefined && tdxStatus !== undefined)
      claimsObj = { ...claimsObj, ...tdxDcapClaims(v, tdxStatus) };
    // Validation runs only on evidence that verified: expected values of a forged quote mean nothing.
    if (failures.length === 0) {
      failures.push(
        ...validateTdx(
          {
            quote,
            ...(tdxStatus === undefined ? {} : { tcbStatus: tdxStatus }),
            ...(ev.eventLog === undefined ? {} : { replayedRtmrs: replayRtmrs(ev.eventLog) }),
          },
          { ...expectations, reportData: req.reportData, initDataHash: req.initDataHash },
        ),
      );
    }
    const claims = assembleClaims('tdx', claimsObj, claimsObj['report_data'], claimsObj['init_data']);
    return buildResult(
      'tdx',
      failures,
      claims,
      tdxStatus === undefined ? 'NotEvaluated' : toTcbStatus(tdxStatus),
      v?.tcb?.advisoryIds ?? [],
    );
  }

  return {
    tee: 'tdx',
    async verify(req: VerifyRequest): Promise<VerificationResult> {
      try {
        return await run(req);
      } catch (e) {
        // Anything escaping the staged checks is still a verdict, never a crash (fail closed).
        return buildResult('tdx', [failureFromError(e, 'verify')], {}, 'NotEvaluated');
      }
    },
  };
}
