/**
 * Validate step of the TDX verifier (evidence.md §1.5 step 13): expected values against a
 * verified quote. Every failed check is reported (never only the first), each as a
 * CheckFailure with stage "validate" — except the TCB policy checks (accepted TCB statuses,
 * minimum TEE_TCB_SVN), which carry stage "tcb" so callers (the CLI exit code) can tell an
 * unacceptable TCB from invalid evidence.
 *
 * Expected REPORTDATA and MRCONFIGID are explicit `Expected` values; a shorter expected value is
 * zero-padded and a longer one truncated to the field size, as Trustee's regularize_data does.
 */
import { bytesEqual, failure, fitTo } from '../validate-common.js';
import type { CheckFailure, Expected } from '../verifier.js';
import type { TdxQuote } from './abi.js';
import { TD_ATTR, tdAttributesValue } from './claims.js';
import type { TdxTcbStatus } from './tcb.js';

/** Allowlists of measurements, as lower-case or upper-case hex strings; absent = not checked. */
export interface TdxAllowlists {
  readonly mrTd?: readonly string[];
  readonly rtmr0?: readonly string[];
  readonly rtmr1?: readonly string[];
  readonly rtmr2?: readonly string[];
  readonly rtmr3?: readonly string[];
  readonly mrSeam?: readonly string[];
  readonly mrSignerSeam?: readonly string[];
  readonly xfam?: readonly string[];
  readonly mrOwner?: readonly string[];
  readonly mrOwnerConfig?: readonly string[];
}

/** Default accepted TCB statuses: only UpToDate (Trustee's default policy, fail closed). */
export const DEFAULT_ACCEPTED_TCB_STATUSES: readonly TdxTcbStatus[] = ['UpToDate'];

/** Expected values for a TDX quote. */
export interface TdxExpectations {
  /** Expected REPORTDATA (64-byte field). */
  readonly reportData: Expected<Uint8Array>;
  /** Expected MRCONFIGID init-data digest (48-byte field). */
  readonly initDataHash: Expected<Uint8Array>;
  /** Accept debug TDs (TDATTRIBUTES bit 0); default false. */
  readonly allowDebug?: boolean;
  /** Measurement allowlists; default none checked. */
  readonly allowlists?: TdxAllowlists;
  /** Minimum TEE_TCB_SVN, compared per byte; default not checked. */
  readonly minTeeTcbSvn?: Uint8Array;
  /** Accepted TCB statuses; default DEFAULT_ACCEPTED_TCB_STATUSES. Ignored when status is undefined. */
  readonly acceptedTcbStatuses?: readonly TdxTcbStatus[];
}

/** What validate looks at besides the quote. */
export interface TdxValidationInput {
  readonly quote: TdxQuote;
  /** Computed TCB status; undefined when collateral was not evaluated (then not checked). */
  readonly tcbStatus?: TdxTcbStatus;
  /** RTMRs replayed from a CC event log, when one was sent. */
  readonly replayedRtmrs?: readonly Uint8Array[];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Checks a quote against expectations; returns every failure. */
export function validateTdx(input: TdxValidationInput, exp: TdxExpectations): CheckFailure[] {
  const out: CheckFailure[] = [];
  const b = input.quote.body;
  if (exp.reportData.kind === 'value' && !bytesEqual(fitTo(exp.reportData.value, 64), b.reportData)) {
    out.push(
      failure(
        'ERR_TDX_REPORT_DATA_MISMATCH',
        `REPORTDATA ${hex(b.reportData)} differs from the expected value`,
        'validate',
      ),
    );
  }
  if (exp.initDataHash.kind === 'value' && !bytesEqual(fitTo(exp.initDataHash.value, 48), b.mrConfigId)) {
    out.push(
      failure(
        'ERR_TDX_INIT_DATA_MISMATCH',
        `MRCONFIGID ${hex(b.mrConfigId)} differs from the expected init-data digest`,
        'validate',
      ),
    );
  }
  if (exp.allowDebug !== true && ((tdAttributesValue(input.quote) >> TD_ATTR.DEBUG) & 1n) === 1n) {
    out.push(failure('ERR_TDX_DEBUG_TD', 'the TD is a debug TD (TDATTRIBUTES.DEBUG = 1)', 'validate'));
  }
  const a = exp.allowlists ?? {};
  const lists: [string, readonly string[] | undefined, Uint8Array][] = [
    ['MRTD', a.mrTd, b.mrTd],
    ['RTMR0', a.rtmr0, b.rtmrs[0]],
    ['RTMR1', a.rtmr1, b.rtmrs[1]],
    ['RTMR2', a.rtmr2, b.rtmrs[2]],
    ['RTMR3', a.rtmr3, b.rtmrs[3]],
    ['MRSEAM', a.mrSeam, b.mrSeam],
    ['MRSIGNERSEAM', a.mrSignerSeam, b.mrSignerSeam],
    ['XFAM', a.xfam, b.xfam],
    ['MROWNER', a.mrOwner, b.mrOwner],
    ['MROWNERCONFIG', a.mrOwnerConfig, b.mrOwnerConfig],
  ];
  for (const [name, list, value] of lists) {
    if (list === undefined) continue;
    const v = hex(value);
    if (!list.some((x) => x.toLowerCase() === v)) {
      out.push(failure('ERR_TDX_MEASUREMENT_MISMATCH', `${name} ${v} is not in its allowlist`, 'validate'));
    }
  }
  if (exp.minTeeTcbSvn !== undefined) {
    const min = exp.minTeeTcbSvn;
    for (let i = 0; i < Math.min(16, min.length); i++) {
      if (b.teeTcbSvn[i]! < min[i]!) {
        out.push(
          failure(
            'ERR_TDX_TCB_SVN_TOO_LOW',
            `TEE_TCB_SVN[${i}] = ${b.teeTcbSvn[i]} is below ${min[i]}`,
            'tcb',
          ),
        );
        break;
      }
    }
  }
  if (input.tcbStatus !== undefined) {
    const ok = exp.acceptedTcbStatuses ?? DEFAULT_ACCEPTED_TCB_STATUSES;
    if (!ok.includes(input.tcbStatus)) {
      out.push(
        failure(
          'ERR_TDX_TCB_STATUS_UNACCEPTABLE',
          `TCB status ${input.tcbStatus} is not accepted (${ok.join(', ')})`,
          'tcb',
        ),
      );
    }
  }
  if (input.replayedRtmrs !== undefined) {
    input.replayedRtmrs.forEach((r, i) => {
      if (!bytesEqual(r, b.rtmrs[i]!)) {
        out.push(
          failure(
            'ERR_TDX_RTMR_REPLAY_MISMATCH',
            `replayed RTMR${i} ${hex(r)} ≠ quote RTMR${i} ${hex(b.rtmrs[i]!)}`,
            'validate',
          ),
        );
      }
    });
  }
  return out;
}
