/**
 * The SEV-SNP Verifier (verifier.ts interface): parse (abi.ts, trustee-json.ts) → verify
 * (verify.ts, first failure) → validate (validate.ts, every failure) → claims (claims.ts).
 * Evidence is raw 0x4A0 report bytes (certificates from options or KDS) or Trustee's JSON
 * `{"attestation_report": {...}, "cert_chain": [...]}`.
 */
import type { Clock } from '../../common/clock.js';
import { buildResult, failureFromError } from '../validate-common.js';
import type {
  CheckFailure,
  Claims,
  TcbStatus,
  Verifier,
  VerificationResult,
  VerifyRequest,
} from '../verifier.js';
import { parseReport, type SnpReport } from './abi.js';
import { snpClaims } from './claims.js';
import { parseSnpEvidence, type EvidenceCerts, type SnpEvidence } from './trustee-json.js';
import { validateSnpReport, type SnpValidateOptions } from './validate.js';
import { SnpReportVerifier, type SnpVerified, type SnpVerifyOptions } from './verify.js';

/** Options of the SNP verifier: trust and collateral (verify) plus expected values (validate). */
export interface SnpVerifierOptions
  extends SnpVerifyOptions, Omit<SnpValidateOptions, 'reportData' | 'hostData'> {
  /** Certificates to use when the evidence carries none (files, `--certs`). Default none. */
  readonly certs?: EvidenceCerts;
}

/** What SNP verification produced, including the parsed report for `attest show`/claims. */
export interface SnpVerificationResult extends VerificationResult {
  /** The parsed report when parsing succeeded (non-enumerable: not part of the JSON form). */
  readonly report?: SnpReport;
  /** Chain facts when verification succeeded (non-enumerable). */
  readonly verified?: SnpVerified;
}

/**
 * Attaches the parsed report and chain facts as NON-enumerable properties: they hold bigints and
 * key objects, so JSON.stringify / spreading the result (KBS, logs) must not see them.
 */
function withDetails(
  r: VerificationResult,
  report: SnpReport | undefined,
  verified: SnpVerified | undefined,
): SnpVerificationResult {
  const out = { ...r };
  if (report !== undefined) Object.defineProperty(out, 'report', { value: report, enumerable: false });
  if (verified !== undefined) Object.defineProperty(out, 'verified', { value: verified, enumerable: false });
  return out;
}

function mergeCerts(fromEvidence: EvidenceCerts, fromOptions: EvidenceCerts | undefined): EvidenceCerts {
  const out: Record<string, Uint8Array> = {};
  for (const k of ['vcek', 'vlek', 'ask', 'ark', 'crl'] as const) {
    const v = fromEvidence[k] ?? fromOptions?.[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** The SNP verifier: the Verifier interface with SNP-specific result details. */
export interface SnpVerifier extends Verifier {
  verify(req: VerifyRequest): Promise<SnpVerificationResult>;
  /** The verify step (roots, caches), reusable directly. */
  readonly inner: SnpReportVerifier;
}

/** Creates the SNP verifier. */
export function createSnpVerifier(options: SnpVerifierOptions = {}): SnpVerifier {
  const inner = new SnpReportVerifier(options);
  return {
    tee: 'snp',
    inner,
    async verify(req: VerifyRequest): Promise<SnpVerificationResult> {
      return verifySnp(inner, options, req, req.clock);
    },
  };
}

async function verifySnp(
  inner: SnpReportVerifier,
  options: SnpVerifierOptions,
  req: VerifyRequest,
  clock: Clock | undefined,
): Promise<SnpVerificationResult> {
  let ev: SnpEvidence;
  try {
    ev = parseSnpEvidence(req.evidence, options.product);
  } catch (e) {
    return buildResult('snp', [failureFromError(e, 'parse')], {}, 'NotEvaluated');
  }
  let verified: SnpVerified;
  try {
    verified = await inner.verify(ev.reportBytes, mergeCerts(ev.certs, options.certs), clock);
  } catch (e) {
    // Claims of a report that did not verify are still useful to a person reading --json output;
    // the verdict says they are not to be trusted.
    let report: SnpReport | undefined;
    let claims: Claims = {};
    try {
      report = parseReport(ev.reportBytes, options.product === undefined ? {} : { product: options.product });
      claims = snpClaims(report);
    } catch {
      /* the parse failure is the failure already being reported */
    }
    const f = failureFromError(e, 'verify');
    return withDetails(buildResult('snp', [f], claims, 'NotEvaluated'), report, undefined);
  }
  const failures: CheckFailure[] = validateSnpReport(verified.report, {
    ...options,
    reportData: req.reportData,
    hostData: req.initDataHash,
  });
  const tcbStatus: TcbStatus = failures.some((f) => f.stage === 'tcb') ? 'OutOfDate' : 'UpToDate';
  return withDetails(
    buildResult('snp', failures, snpClaims(verified.report), tcbStatus),
    verified.report,
    verified,
  );
}
