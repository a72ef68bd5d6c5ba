/**
 * Helpers shared by every TEE verifier: turning thrown typed errors into CheckFailure rows,
 * comparing expected byte values, and building the VerificationResult (verifier.ts).
 */
import { CocoonError, isCocoonError } from '../common/errors.js';
import type { Claims, CheckFailure, TcbStatus, TeeName, VerificationResult } from './verifier.js';

/** Stage names of CheckFailure. */
export type Stage = CheckFailure['stage'];

/** Builds one failure row. */
export function failure(code: string, message: string, stage: Stage): CheckFailure {
  return { code, message, stage };
}

/**
 * Converts anything thrown while parsing/verifying into one failure row. A CocoonError keeps its
 * code (and its own `details.stage` when it names one); anything else is an internal failure so
 * a bug never reads as a verdict about the evidence.
 */
export function failureFromError(e: unknown, stage: Stage): CheckFailure {
  if (isCocoonError(e)) {
    const s = e.details['stage'];
    const st: Stage =
      s === 'parse' || s === 'verify' || s === 'collateral' || s === 'tcb' || s === 'validate' ? s : stage;
    return { code: e.code, message: e.message, stage: st };
  }
  return { code: 'ERR_COMMON_INTERNAL', message: 'internal error while checking evidence', stage };
}

/** Throws the first failure as a CocoonError (for library callers that want exceptions). */
export function throwFirst(failures: readonly CheckFailure[]): void {
  const f = failures[0];
  if (f !== undefined) {
    throw new CocoonError(f.code as `ERR_${string}`, f.message, { details: { stage: f.stage } });
  }
}

/** Constant-time-ish byte equality (lengths must match). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/**
 * Normalises an expected value to a fixed field size the way Trustee does for REPORT_DATA /
 * HOST_DATA (evidence.md §2.5 step 6): zero-pad when shorter, truncate when longer.
 */
export function fitTo(expected: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(expected.subarray(0, size));
  return out;
}

/** Builds a VerificationResult: verdict valid only when there is no failure. */
export function buildResult(
  tee: TeeName,
  failures: readonly CheckFailure[],
  claims: Claims,
  tcbStatus: TcbStatus,
  advisoryIds: readonly string[] = [],
): VerificationResult {
  return {
    tee,
    verdict: failures.length === 0 ? 'valid' : 'invalid',
    tcbStatus,
    advisoryIds,
    failures,
    claims,
  };
}
