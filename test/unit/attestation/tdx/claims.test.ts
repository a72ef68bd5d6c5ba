/**
 * Claims (evidence.md §3.1): the golden file of Trustee's parse_tdx_claims test for
 * trustee/quote-v4.bin + ccel-eventlog.bin, compared exactly; v5 and DCAP result members.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON (claims, PCS collateral) is read and mutated structurally */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCcEventLog } from '../../../../src/attestation/eventlog/index.js';
import { parseQuote } from '../../../../src/attestation/tdx/abi.js';
import { tdxQuoteClaims } from '../../../../src/attestation/tdx/claims.js';
import { parsePckExtensions } from '../../../../src/attestation/tdx/pck.js';
import { parsePemChain } from '../../../../src/attestation/x509/index.js';
import { readShared } from '../../../helpers/shared.js';
import { PIN, dcapCollateral, tdx, verifyAt } from './helpers.js';

describe('TDX claims', () => {
  test('pass_golden_trustee_parse_tdx_claims: exact JSON of Trustee for quote-v4 + CCEL', () => {
    const q = parseQuote(tdx('trustee/quote-v4.bin'));
    const pck = parsePckExtensions(parsePemChain(q.signatureData.qeCertData.pckCertChain)[0]!);
    const log = parseCcEventLog(readShared('evidence', 'tdx', 'trustee', 'ccel-eventlog.bin'));
    const got = JSON.parse(JSON.stringify(tdxQuoteClaims(q, pck, log)));
    const want = JSON.parse(
      readShared('evidence', 'tdx', 'trustee', 'parse-tdx-claims-expected.json').toString('utf8'),
    );
    assert.deepStrictEqual(got, want);
  });

  test('pass_verifier_claims_shape: nested under "tdx", report_data / init_data lifted, DCAP members', async () => {
    const r = await verifyAt(tdx('dcapqvl-uptodate/quote.bin'), PIN.uptodate, {
      collateral: dcapCollateral('dcapqvl-uptodate'),
    });
    const c = r.claims as Record<string, any>;
    assert.equal(c['report_data'], c['tdx']['quote']['body']['report_data']);
    assert.equal(c['init_data'], c['tdx']['quote']['body']['mr_config_id']);
    for (const k of [
      'tcb_status',
      'collateral_expiration_status',
      'advisory_ids',
      'tcb_date',
      'earliest_issue_date',
      'latest_issue_date',
      'earliest_expiration_date',
      'tcb_eval_num',
      'pck_crl_num',
      'root_ca_crl_num',
      'platform_provider_id',
      'sgx_type',
    ]) {
      assert.ok(k in c['tdx'], `missing ${k}`);
    }
    assert.equal(c['tdx']['tcb_eval_num'], 17);
    assert.equal(c['tdx']['earliest_expiration_date'], '2025-07-19T10:00:35Z');
    assert.deepEqual(c['tdx']['td_attributes'], {
      debug: false,
      septve_disable: true,
      protection_keys: false,
      key_locker: false,
      perfmon: false,
    });
  });

  test('pass_v5_claims: quote.type / quote.size and TDX 1.5 body members', () => {
    const c = tdxQuoteClaims(parseQuote(tdx('gotdx-v5/quote-v5.bin'))) as Record<string, any>;
    assert.equal(c['quote']['header']['version'], '0500');
    assert.equal(c['quote']['type'], '0300');
    assert.equal(c['quote']['size'], '88020000');
    assert.equal(c['quote']['body']['tee_tcb_svn2'].slice(0, 8), '0d010400');
    assert.equal(c['quote']['body']['mr_servicetd'], '00'.repeat(48));
    assert.ok(!('uefi_event_logs' in c));
  });

  test('pass_perfmon_flag: moemahhouk TDATTRIBUTES 0000001000000080 = SEPT_VE_DISABLE + PERFMON', () => {
    const c = tdxQuoteClaims(parseQuote(tdx('teekit-misc/quote-v4-moemahhouk.bin'))) as Record<string, any>;
    assert.equal(c['quote']['body']['td_attributes'], '0000001000000080');
    assert.equal(c['td_attributes']['perfmon'], true);
    assert.equal(c['td_attributes']['septve_disable'], true);
  });
});
