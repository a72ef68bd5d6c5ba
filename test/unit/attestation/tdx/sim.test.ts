/**
 * Simulated TDX (src/attestation/tdx/sim.ts, fixtures/tdx-sim): sim quotes have the real v4
 * layout, verify end to end ONLY when the test root is passed explicitly, and exercise
 * revocation and TCB statuses; the checked-in recipe regenerates a working hierarchy.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { genTdxSim } from '../../../../scripts/gen-tdx-sim.js';
import { parseQuote, quoteToBytes, V4_SIG_DATA } from '../../../../src/attestation/tdx/abi.js';
import { generateSimTdxQuote, loadSimHierarchy } from '../../../../src/attestation/tdx/sim.js';
import { createTdxVerifier } from '../../../../src/attestation/tdx/verifier.js';
import { expected } from '../../../../src/attestation/verifier.js';
import { assertFailure, tdx } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'cocoon-tdx-sim-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const h = loadSimHierarchy();
const RD = new Uint8Array(64).map((_, i) => i);
const INIT = new Uint8Array(48).fill(0xab);

describe('sim TDX quotes', () => {
  test('pass_layout: same header/body/sig-data layout as a real v4 quote, round-trips', () => {
    const { quote } = generateSimTdxQuote({ reportData: RD, mrConfigId: INIT });
    const q = parseQuote(quote);
    const real = parseQuote(tdx('dcapqvl-uptodate/quote.bin'));
    assert.equal(q.signedLength, real.signedLength);
    assert.equal(q.signatureData.certDataType, 6);
    assert.equal(q.signatureData.qeCertData.pckCertDataType, 5);
    assert.equal(q.signatureData.qeCertData.qeAuthData.length, 32);
    assert.deepEqual(Buffer.from(quoteToBytes(q)), Buffer.from(quote));
    assert.deepEqual(Buffer.from(q.body.reportData), Buffer.from(RD));
    assert.deepEqual(Buffer.from(q.body.mrConfigId), Buffer.from(INIT));
    assert.ok(quote.length > V4_SIG_DATA);
  });

  test('pass_with_test_root: valid, UpToDate, report data and init data bound', async () => {
    const { quote, collateral } = generateSimTdxQuote({ reportData: RD, mrConfigId: INIT });
    const v = createTdxVerifier({ trustRoots: [h.rootPem], collateral });
    const r = await v.verify({
      evidence: quote,
      reportData: expected.value(RD),
      initDataHash: expected.value(INIT),
    });
    assert.deepEqual(r.failures, []);
    assert.equal(r.tcbStatus, 'UpToDate');
  });

  test('fail_default_trust: without the test root passed, the sim root is untrusted', async () => {
    const { quote, collateral } = generateSimTdxQuote({ reportData: RD });
    const r = await createTdxVerifier({ collateral }).verify({
      evidence: quote,
      reportData: expected.value(RD),
      initDataHash: expected.notProvided(),
    });
    assertFailure(r, 'ERR_TDX_ROOT_UNTRUSTED', 'verify');
  });

  test('fail_sim_with_intel_root_only: explicitly trusting only the real root also refuses it', async () => {
    const { quote, collateral } = generateSimTdxQuote({ reportData: RD });
    const r = await createTdxVerifier({
      collateral,
      trustRoots: [tdx('../intel/intel-sgx-root-ca.der')],
    }).verify({
      evidence: quote,
      reportData: expected.notProvided(),
      initDataHash: expected.notProvided(),
    });
    assertFailure(r, 'ERR_TDX_ROOT_UNTRUSTED', 'verify');
  });

  const cases: [string, Parameters<typeof generateSimTdxQuote>[0], string, string][] = [
    ['fail_revoked_leaf', { reportData: RD, revokedLeaf: true }, 'ERR_TDX_CERT_REVOKED', 'collateral'],
    ['fail_debug', { reportData: RD, debug: true }, 'ERR_TDX_DEBUG_TD', 'validate'],
    [
      'fail_module_out_of_date',
      { reportData: RD, teeTcbSvn: new Uint8Array([3, 1, 2, ...new Array(13).fill(0)]) },
      'ERR_TDX_TCB_STATUS_UNACCEPTABLE',
      'tcb',
    ],
    [
      'fail_module_below_every_level',
      { reportData: RD, teeTcbSvn: new Uint8Array([1, 1, 2, ...new Array(13).fill(0)]) },
      'ERR_TDX_TCB_NOT_SUPPORTED',
      'tcb',
    ],
    [
      'fail_unknown_module_major',
      { reportData: RD, teeTcbSvn: new Uint8Array([5, 2, 2, ...new Array(13).fill(0)]) },
      'ERR_TDX_MODULE_MISMATCH',
      'tcb',
    ],
  ];
  for (const [name, opts, code, stage] of cases) {
    test(name, async () => {
      const { quote, collateral } = generateSimTdxQuote(opts);
      const r = await createTdxVerifier({ trustRoots: [h.rootPem], collateral }).verify({
        evidence: quote,
        reportData: expected.value(RD),
        initDataHash: expected.notProvided(),
      });
      assertFailure(r, code, stage);
    });
  }

  test('pass_out_of_date_advisories: module TDX_01 level 2 ⇒ OutOfDate with its advisory', async () => {
    const { quote, collateral } = generateSimTdxQuote({
      reportData: RD,
      teeTcbSvn: new Uint8Array([3, 1, 2, ...new Array(13).fill(0)]),
    });
    const r = await createTdxVerifier({
      trustRoots: [h.rootPem],
      collateral,
      expectations: { acceptedTcbStatuses: ['OutOfDate'] },
    }).verify({
      evidence: quote,
      reportData: expected.value(RD),
      initDataHash: expected.notProvided(),
    });
    assert.equal(r.verdict, 'valid');
    assert.equal(r.tcbStatus, 'OutOfDate');
    assert.deepEqual(r.advisoryIds, ['INTEL-SA-SIM-0002']);
  });

  test('fail_bad_options: wrong-size fields are programmer errors (TypeError)', () => {
    assert.throws(() => generateSimTdxQuote({ reportData: new Uint8Array(10) }), TypeError);
  });

  test('pass_recipe_regenerates: scripts/gen-tdx-sim.ts writes a fresh hierarchy that verifies', async () => {
    const names = await genTdxSim(tmp);
    assert.ok(names.includes('root.pem') && names.some((n) => n.startsWith('TEST-KEY-')));
    const fresh = loadSimHierarchy(tmp);
    assert.notEqual(fresh.rootPem, h.rootPem);
    const { quote, collateral } = generateSimTdxQuote({ reportData: RD }, fresh);
    const ok = await createTdxVerifier({ trustRoots: [fresh.rootPem], collateral }).verify({
      evidence: quote,
      reportData: expected.value(RD),
      initDataHash: expected.notProvided(),
    });
    assert.equal(ok.verdict, 'valid');
    const cross = await createTdxVerifier({ trustRoots: [h.rootPem], collateral }).verify({
      evidence: quote,
      reportData: expected.value(RD),
      initDataHash: expected.notProvided(),
    });
    assertFailure(cross, 'ERR_TDX_ROOT_UNTRUSTED', 'verify');
  });
});
