/**
 * Trustee's sample TEE verifier (kbs-protocol.md §7.3, §8): parse, then the one check Trustee
 * makes — report_data decodes to exactly the expected bytes (no padding, unlike TDX/SNP) — then
 * the fixed claims Trustee emits. init-data is not verified for sample; when provided it is only
 * echoed as a claim, as Trustee does.
 */
import type { Clock } from '../../common/clock.js';
import { assembleClaims, type ClaimObject } from '../claims.js';
import { buildResult, bytesEqual, failure, failureFromError } from '../validate-common.js';
import type { CheckFailure, Claims, Verifier, VerificationResult, VerifyRequest } from '../verifier.js';
import { decodeStdBase64, parseSampleEvidence, type SampleEvidence } from './evidence.js';

/** Options of the sample verifier (none today; kept for the factory signature). */
export interface SampleVerifierOptions {
  /** Unused: the sample TEE has no time-dependent material. */
  readonly clock?: Clock;
}

/** Claims of the sample TEE exactly as Trustee's parse_tee_evidence builds them. */
export function sampleClaims(ev: SampleEvidence, initDataHash?: Uint8Array): Claims {
  const tee: ClaimObject = {
    svn: ev.svn,
    launch_digest: 'abcde',
    platform_version: { major: 1, minor: 4 },
    debug: false,
  };
  const initData = initDataHash === undefined ? undefined : Buffer.from(initDataHash).toString('base64');
  return assembleClaims('sample', tee, ev.reportData, initData);
}

/**
 * Claims of Trustee's `sampledevice` (a simulated secondary device, TEE class gpu, §7.3): the
 * svn as sent and the report data. Same evidence format and check as the sample TEE.
 */
export function sampleDeviceClaims(ev: SampleEvidence): Claims {
  return assembleClaims('sampledevice', { svn: ev.svn }, ev.reportData, undefined);
}

/** Checks the sample evidence against the request; returns every failure. */
export function validateSample(ev: SampleEvidence, req: VerifyRequest): CheckFailure[] {
  const out: CheckFailure[] = [];
  if (req.reportData.kind === 'value') {
    const got = decodeStdBase64(ev.reportData);
    if (got === undefined) {
      out.push(failure('ERR_SAMPLE_EVIDENCE_INVALID', 'report_data is not standard base64', 'parse'));
    } else if (!bytesEqual(got, req.reportData.value)) {
      out.push(
        failure(
          'ERR_SAMPLE_REPORT_DATA_MISMATCH',
          `report_data (${got.length} bytes) differs from the expected ${req.reportData.value.length} bytes`,
          'validate',
        ),
      );
    }
  }
  return out;
}

/** Creates the sample TEE verifier. */
export function createSampleVerifier(_options: SampleVerifierOptions = {}): Verifier {
  return sampleFamilyVerifier('sample', (ev, req) =>
    sampleClaims(ev, req.initDataHash.kind === 'value' ? req.initDataHash.value : undefined),
  );
}

/** Creates the verifier of Trustee's simulated secondary device `sampledevice`. */
export function createSampleDeviceVerifier(_options: SampleVerifierOptions = {}): Verifier {
  return sampleFamilyVerifier('sampledevice', (ev) => sampleDeviceClaims(ev));
}

function sampleFamilyVerifier(
  tee: 'sample' | 'sampledevice',
  claimsOf: (ev: SampleEvidence, req: VerifyRequest) => Claims,
): Verifier {
  return {
    tee,
    verify(req: VerifyRequest): Promise<VerificationResult> {
      let ev: SampleEvidence;
      try {
        ev = parseSampleEvidence(req.evidence);
      } catch (e) {
        return Promise.resolve(buildResult(tee, [failureFromError(e, 'parse')], {}, 'NotEvaluated'));
      }
      return Promise.resolve(buildResult(tee, validateSample(ev, req), claimsOf(ev, req), 'NotEvaluated'));
    },
  };
}
