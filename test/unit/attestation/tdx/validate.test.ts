/**
 * Validate step (evidence.md §1.5 step 13): expected report data and init-data digest (Trustee
 * padding rule), debug refused by default, allowlists, minimum TEE_TCB_SVN, accepted TCB
 * statuses — and every failure reported at once.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuote } from '../../../../src/attestation/tdx/abi.js';
import { validateTdx, type TdxExpectations } from '../../../../src/attestation/tdx/validate.js';
import { generateSimTdxQuote } from '../../../../src/attestation/tdx/sim.js';
import { expected } from '../../../../src/attestation/verifier.js';
import { tdx } from './helpers.js';

const q = parseQuote(tdx('dcapqvl-uptodate/quote.bin'));
const debugQ = parseQuote(tdx('trustee/quote-v4.bin'));
const rd = q.body.reportData;
const none = {
  reportData: expected.notProvided<Uint8Array>(),
  initDataHash: expected.notProvided<Uint8Array>(),
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('validateTdx', () => {
  const cases: [string, Parameters<typeof validateTdx>[0], TdxExpectations, string[]][] = [
    ['pass_nothing_expected', { quote: q }, none, []],
    ['pass_report_data_exact', { quote: q }, { ...none, reportData: expected.value(rd) }, []],
    [
      'pass_report_data_short_is_zero_padded',
      {
        quote: parseQuote(
          generateSimTdxQuote({ reportData: new Uint8Array(64).fill(0).fill(9, 0, 32) }).quote,
        ),
      },
      { ...none, reportData: expected.value(new Uint8Array(32).fill(9)) },
      [],
    ],
    [
      'fail_report_data',
      { quote: q },
      { ...none, reportData: expected.value(new Uint8Array(64)) },
      ['ERR_TDX_REPORT_DATA_MISMATCH'],
    ],
    ['pass_init_data_zero', { quote: q }, { ...none, initDataHash: expected.value(new Uint8Array(32)) }, []],
    [
      'fail_init_data',
      { quote: q },
      { ...none, initDataHash: expected.value(new Uint8Array(48).fill(1)) },
      ['ERR_TDX_INIT_DATA_MISMATCH'],
    ],
    ['fail_debug_td', { quote: debugQ }, none, ['ERR_TDX_DEBUG_TD']],
    ['pass_debug_allowed', { quote: debugQ }, { ...none, allowDebug: true }, []],
    [
      'pass_mrtd_allowlist',
      { quote: q },
      { ...none, allowlists: { mrTd: [hex(q.body.mrTd).toUpperCase()] } },
      [],
    ],
    [
      'fail_mrtd_allowlist',
      { quote: q },
      { ...none, allowlists: { mrTd: ['00'.repeat(48)] } },
      ['ERR_TDX_MEASUREMENT_MISMATCH'],
    ],
    [
      'fail_rtmr_and_seam_allowlists',
      { quote: q },
      { ...none, allowlists: { rtmr0: [], rtmr3: ['ff'], mrSeam: [] } },
      ['ERR_TDX_MEASUREMENT_MISMATCH', 'ERR_TDX_MEASUREMENT_MISMATCH', 'ERR_TDX_MEASUREMENT_MISMATCH'],
    ],
    [
      'fail_min_tee_tcb_svn',
      { quote: q },
      { ...none, minTeeTcbSvn: new Uint8Array([7]) },
      ['ERR_TDX_TCB_SVN_TOO_LOW'],
    ],
    ['pass_min_tee_tcb_svn', { quote: q }, { ...none, minTeeTcbSvn: new Uint8Array([6, 1]) }, []],
    [
      'fail_tcb_status_default',
      { quote: q, tcbStatus: 'SWHardeningNeeded' },
      none,
      ['ERR_TDX_TCB_STATUS_UNACCEPTABLE'],
    ],
    [
      'pass_tcb_status_accepted',
      { quote: q, tcbStatus: 'SWHardeningNeeded' },
      { ...none, acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'] },
      [],
    ],
    [
      'fail_rtmr_replay',
      {
        quote: q,
        replayedRtmrs: [new Uint8Array(48).fill(1), q.body.rtmrs[1], q.body.rtmrs[2], q.body.rtmrs[3]],
      },
      none,
      ['ERR_TDX_RTMR_REPLAY_MISMATCH'],
    ],
    [
      'fail_everything_at_once',
      { quote: debugQ, tcbStatus: 'OutOfDate' },
      {
        reportData: expected.value(new Uint8Array(64)),
        initDataHash: expected.value(new Uint8Array(48).fill(2)),
        allowlists: { mrTd: [] },
        minTeeTcbSvn: new Uint8Array([255]),
      },
      [
        'ERR_TDX_REPORT_DATA_MISMATCH',
        'ERR_TDX_INIT_DATA_MISMATCH',
        'ERR_TDX_DEBUG_TD',
        'ERR_TDX_MEASUREMENT_MISMATCH',
        'ERR_TDX_TCB_SVN_TOO_LOW',
        'ERR_TDX_TCB_STATUS_UNACCEPTABLE',
      ],
    ],
  ];
  for (const [name, input, exp, codes] of cases) {
    test(name, () => {
      const f = validateTdx(input, exp);
      assert.deepEqual(
        f.map((x) => x.code),
        codes,
      );
      // TCB policy failures carry stage "tcb" (CLI exit code), the rest "validate".
      for (const x of f) assert.equal(x.stage, x.code.startsWith('ERR_TDX_TCB_') ? 'tcb' : 'validate');
    });
  }
});
