/**
 * Every TDX sample of shared/evidence/MANIFEST.md with its stated outcome at its pinned time,
 * through the public Verifier (parse → verify → TCB → validate → claims), plus expiry at a
 * pinned "future" time.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fixedClock } from '../../../../src/common/clock.js';
import { parseQuote } from '../../../../src/attestation/tdx/abi.js';
import { parsePckExtensions } from '../../../../src/attestation/tdx/pck.js';
import { parsePemChain } from '../../../../src/attestation/x509/index.js';
import { createTdxVerifier } from '../../../../src/attestation/tdx/verifier.js';
import { INTEL_SGX_ROOT_CA_SHA256 } from '../../../../src/attestation/tdx/verify.js';
import { expected } from '../../../../src/attestation/verifier.js';
import { readShared, sharedPath } from '../../../helpers/shared.js';
import {
  PIN,
  assertFailure,
  dcapCollateral,
  sprE4Collateral,
  tcbSigningChain2025,
  tdx,
  trusteeCollateral,
  verifyAt,
} from './helpers.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('TDX samples at their pinned times (MANIFEST.md)', () => {
  test('pass_dcapqvl_uptodate: v4 + full collateral ⇒ UpToDate, no advisories', async () => {
    const r = await verifyAt(tdx('dcapqvl-uptodate/quote.bin'), PIN.uptodate, {
      collateral: dcapCollateral('dcapqvl-uptodate'),
    });
    assert.deepEqual(r.failures, []);
    assert.equal(r.verdict, 'valid');
    assert.equal(r.tcbStatus, 'UpToDate');
    assert.deepEqual(r.advisoryIds, []);
    const t = (r.claims as Record<string, Record<string, unknown>>)['tdx']!;
    assert.equal(t['tcb_status'], 'UpToDate');
    assert.equal(t['tcb_date'], '2024-03-13T00:00:00Z');
    assert.equal(t['collateral_expiration_status'], '0');
    assert.equal(
      (t['quote'] as { body: { mr_td: string } }).body.mr_td,
      '91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7',
    );
  });

  test('fail_dcapqvl_outdated: v5 quote, crypto OK ⇒ TCBLevelNotSupported (stage tcb)', async () => {
    const r = await verifyAt(tdx('dcapqvl-outdated/quote.bin'), PIN.outdated, {
      collateral: dcapCollateral('dcapqvl-outdated'),
    });
    assertFailure(r, 'ERR_TDX_TCB_NOT_SUPPORTED', 'tcb');
    assert.equal(r.tcbStatus, 'TCBLevelNotSupported');
    assert.equal(r.failures.length, 1);
  });

  test('pass_gotdx_v5_with_dcapqvl_outdated_collateral: TDX 1.5 body ⇒ UpToDate (module TDX_01)', async () => {
    const q = tdx('gotdx-v5/quote-v5.bin');
    assert.equal(parseQuote(q).bodyType, 3);
    const r = await verifyAt(q, PIN.outdated, { collateral: dcapCollateral('dcapqvl-outdated') });
    assert.deepEqual(r.failures, []);
    assert.equal(r.tcbStatus, 'UpToDate');
    const t = (r.claims as Record<string, Record<string, unknown>>)['tdx']!;
    assert.equal(t['tcb_date'], '2024-11-13T00:00:00Z');
    assert.equal((t['quote'] as Record<string, unknown>)['type'], '0300');
    assert.equal((t['quote'] as Record<string, unknown>)['size'], '88020000');
  });

  test('fail_gotdx_v4_spr_e4: 2023 collateral + CRLs, crypto OK ⇒ TCBLevelNotSupported', async () => {
    const r = await verifyAt(tdx('gotdx-v4-spr-e4/quote-v4.bin'), PIN.sprE4, {
      collateral: sprE4Collateral(),
    });
    assertFailure(r, 'ERR_TDX_TCB_NOT_SUPPORTED', 'tcb');
    assert.equal(r.tcbStatus, 'TCBLevelNotSupported');
  });

  test('fail_trustee_quote_v4_debug: cross-source collateral ⇒ UpToDate but a debug TD (validate)', async () => {
    const r = await verifyAt(tdx('trustee/quote-v4.bin'), PIN.sprE4, { collateral: sprE4Collateral() });
    assert.equal(r.tcbStatus, 'UpToDate');
    assert.deepEqual(
      r.failures.map((f) => [f.code, f.stage]),
      [['ERR_TDX_DEBUG_TD', 'validate']],
    );
    const ok = await verifyAt(tdx('trustee/quote-v4.bin'), PIN.sprE4, {
      collateral: sprE4Collateral(),
      expectations: { allowDebug: true },
    });
    assert.equal(ok.verdict, 'valid');
  });

  test('fail_trustee_quote_v5: Alibaba v5 + dcapqvl-outdated collateral ⇒ TCBLevelNotSupported', async () => {
    const r = await verifyAt(tdx('trustee/quote-v5.bin'), PIN.outdated, {
      collateral: dcapCollateral('dcapqvl-outdated'),
    });
    assertFailure(r, 'ERR_TDX_TCB_NOT_SUPPORTED', 'tcb');
  });

  test('fail_trustee_quote_v4_b: 2025 PCS collateral ⇒ OutOfDate (not accepted by default)', async () => {
    const opts = {
      collateral: trusteeCollateral(),
      tcbSigningChain: tcbSigningChain2025(),
      crls: 'ifPresent' as const,
    };
    const r = await verifyAt(tdx('trustee/quote-v4-b.bin'), PIN.trusteeB, opts);
    assert.equal(r.tcbStatus, 'OutOfDate');
    assert.deepEqual(
      r.failures.map((f) => [f.code, f.stage]),
      [['ERR_TDX_TCB_STATUS_UNACCEPTABLE', 'tcb']],
    );
    const t = (r.claims as Record<string, Record<string, unknown>>)['tdx']!;
    assert.equal(t['tcb_date'], '2018-01-04T00:00:00Z');
    assert.equal(t['sgx_type'], 'Scalable with Integrity');
    const accepted = await verifyAt(tdx('trustee/quote-v4-b.bin'), PIN.trusteeB, {
      ...opts,
      expectations: { acceptedTcbStatuses: ['UpToDate', 'OutOfDate'] },
    });
    assert.equal(accepted.verdict, 'valid');
  });

  test('fail_trustee_quote_v4_b_crls_required: without CRLs the default policy refuses (collateral)', async () => {
    const r = await verifyAt(tdx('trustee/quote-v4-b.bin'), PIN.trusteeB, {
      collateral: trusteeCollateral(),
      tcbSigningChain: tcbSigningChain2025(),
    });
    assertFailure(r, 'ERR_TDX_COLLATERAL_MISSING', 'collateral');
  });

  test('fail_no_collateral_configured: fail closed with ERR_TDX_COLLATERAL_MISSING', async () => {
    const r = await verifyAt(tdx('dcapqvl-uptodate/quote.bin'), PIN.uptodate, {});
    assertFailure(r, 'ERR_TDX_COLLATERAL_MISSING', 'collateral');
  });

  test('pass_gotdx_ccel_cos113: quote + CCEL in Trustee JSON, RTMR replay matches, nonce binds', async () => {
    const quote = tdx('gotdx-ccel-cos113/quote-v4.bin');
    const log = readShared('evidence', 'tdx', 'gotdx-ccel-cos113', 'ccel-eventlog.bin');
    const nonce = readShared('evidence', 'tdx', 'gotdx-ccel-cos113', 'nonce.bin');
    const v = createTdxVerifier({ collateral: 'none', clock: fixedClock(PIN.cos113) });
    const r = await v.verify({
      evidence: { quote: Buffer.from(quote).toString('base64'), cc_eventlog: log.toString('base64') },
      reportData: expected.value(new Uint8Array(nonce)),
      initDataHash: expected.notProvided(),
    });
    assert.deepEqual(r.failures, []);
    assert.equal(r.tcbStatus, 'NotEvaluated');
    const t = (r.claims as Record<string, Record<string, unknown>>)['tdx']!;
    assert.equal((t['uefi_event_logs'] as unknown[]).length, 43);
  });

  test('fail_trustee_ccel_does_not_replay: trustee quote-v4 with its CCEL ⇒ RTMR replay mismatch', async () => {
    const r = await verifyAt(
      {
        quote: Buffer.from(tdx('trustee/quote-v4.bin')).toString('base64'),
        cc_eventlog: readShared('evidence', 'tdx', 'trustee', 'ccel-eventlog.bin').toString('base64'),
      },
      PIN.sprE4,
      { collateral: sprE4Collateral(), expectations: { allowDebug: true } },
    );
    assert.deepEqual(
      r.failures.map((f) => f.code),
      ['ERR_TDX_RTMR_REPLAY_MISMATCH', 'ERR_TDX_RTMR_REPLAY_MISMATCH'],
    );
  });

  const noCollateral: [string, string, string, string][] = [
    // [file, MRTD prefix, REPORTDATA prefix, FMSPC]
    ['teekit-gcp/quote-v4.bin', '409c0cd3', '806dfeec', '00806f050000'],
    ['teekit-azure/quote-v4.bin', 'fe27b2aa', '675b293e', '00806f050000'],
    ['teekit-misc/quote-v4-edgeless.bin', 'b65ea009', hex(Buffer.from('Hello from Edgeless')), ''],
    ['teekit-misc/quote-v4-moemahhouk.bin', '', '', '90c06f000000'],
    ['teekit-misc/quote-v4-zkdcap.bin', '', '0'.repeat(128), ''],
  ];
  for (const [file, mrtd, rd, fmspc] of noCollateral) {
    test(`pass_${file}: quote, QE and PCK chain crypto without collateral`, async () => {
      const r = await verifyAt(tdx(file), PIN.teekit, { collateral: 'none' });
      assert.deepEqual(r.failures, []);
      const t = (r.claims as Record<string, Record<string, unknown>>)['tdx']!;
      const body = (t['quote'] as { body: Record<string, string> }).body;
      assert.ok(body['mr_td']!.startsWith(mrtd));
      assert.ok(body['report_data']!.startsWith(rd));
      if (fmspc !== '') {
        // FMSPC is not a claim without collateral; read it from the PCK leaf extension (§1.6).
        const q = parseQuote(tdx(file));
        const leaf = parsePemChain(q.signatureData.qeCertData.pckCertChain)[0]!;
        assert.equal(hex(parsePckExtensions(leaf).fmspc), fmspc);
      }
    });
  }
});

describe('expiry at pinned future times', () => {
  test('fail_spr_e4_2053: PCK leaf expired 2029-09-20 ⇒ ERR_TDX_CERT_EXPIRED (verify)', async () => {
    const r = await verifyAt(tdx('gotdx-v4-spr-e4/quote-v4.bin'), '2053-07-01T01:00:00Z', {
      collateral: sprE4Collateral(),
    });
    assertFailure(r, 'ERR_TDX_CERT_EXPIRED', 'verify');
  });

  test('fail_uptodate_pin_plus_2s: the earliest nextUpdate (a CRL) has passed ⇒ ERR_TDX_CRL_EXPIRED', async () => {
    const r = await verifyAt(tdx('dcapqvl-uptodate/quote.bin'), '2025-07-19T10:00:36Z', {
      collateral: dcapCollateral('dcapqvl-uptodate'),
    });
    assertFailure(r, 'ERR_TDX_CRL_EXPIRED', 'collateral');
  });

  test('fail_uptodate_tcbinfo_expired: with CRLs not required, the TCB info window fails next', async () => {
    const c = dcapCollateral('dcapqvl-uptodate');
    const { rootCaCrl: _r, pckCrl: _p, ...noCrls } = c;
    const r = await verifyAt(tdx('dcapqvl-uptodate/quote.bin'), '2025-07-20T10:00:34Z', {
      collateral: noCrls,
      crls: 'ifPresent',
    });
    assertFailure(r, 'ERR_TDX_COLLATERAL_EXPIRED', 'collateral');
  });

  test('fail_before_window: before issueDate the collateral is not yet valid', async () => {
    const r = await verifyAt(tdx('dcapqvl-uptodate/quote.bin'), '2025-06-19T00:00:00Z', {
      collateral: dcapCollateral('dcapqvl-uptodate'),
    });
    assert.equal(r.verdict, 'invalid');
    assert.ok(['ERR_TDX_CRL_EXPIRED', 'ERR_TDX_COLLATERAL_EXPIRED'].includes(r.failures[0]!.code));
  });

  test('pass_intel_root_pin: the pinned fingerprint is the shared Intel SGX Root CA', () => {
    const der = readFileSync(sharedPath('evidence', 'intel', 'intel-sgx-root-ca.der'));
    // evidence.md §1.5 step 2 fingerprint.
    assert.equal(createHash('sha256').update(der).digest('hex'), INTEL_SGX_ROOT_CA_SHA256);
  });
});

describe('evidence forms and registry', () => {
  test('pass_trustee_json_bytes_null_eventlog: {"quote": b64, "cc_eventlog": null} as bytes', async () => {
    const { createVerifier } = await import('../../../../src/attestation/index.js');
    const v = createVerifier('tdx', {
      collateral: dcapCollateral('dcapqvl-uptodate'),
      clock: fixedClock(PIN.uptodate),
    });
    assert.equal(v.tee, 'tdx');
    const json = JSON.stringify({
      quote: Buffer.from(tdx('dcapqvl-uptodate/quote.bin')).toString('base64'),
      cc_eventlog: null,
    });
    const r = await v.verify({
      evidence: new TextEncoder().encode(json),
      reportData: expected.notProvided(),
      initDataHash: expected.notProvided(),
    });
    assert.equal(r.verdict, 'valid');
    assert.ok(!('uefi_event_logs' in (r.claims as Record<string, Record<string, unknown>>)['tdx']!));
  });

  test('fail_evidence_not_base64: typed parse failure, verdict invalid', async () => {
    const r = await verifyAt({ quote: '%%%' }, PIN.uptodate, {
      collateral: dcapCollateral('dcapqvl-uptodate'),
    });
    assertFailure(r, 'ERR_TDX_EVIDENCE_INVALID', 'parse');
  });
});
