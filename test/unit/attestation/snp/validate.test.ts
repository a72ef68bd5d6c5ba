import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fixedClock } from '../../../../src/common/clock.js';
import { createVerifier, expected } from '../../../../src/attestation/index.js';
import { parseReport } from '../../../../src/attestation/snp/abi.js';
import { validateSnpReport } from '../../../../src/attestation/snp/validate.js';
import {
  generateSimSnpReport,
  simSnpRoots,
  SIM_MEASUREMENT,
  SIM_TCB,
} from '../../../../src/attestation/snp/sim.js';

const AT = fixedClock('2026-01-01T00:00:00Z');
const digest = createHash('sha384').update('nonce+key').digest();
const reportData = Buffer.concat([digest, Buffer.alloc(16)]);
const hostData = createHash('sha256').update('init-data').digest();

describe('SNP validate (every failure at once)', () => {
  test('pass_sim_report_through_the_registry_with_the_test_roots_only', async () => {
    const sim = generateSimSnpReport({ reportData, hostData });
    const v = createVerifier('snp', { roots: simSnpRoots(), clock: AT });
    // The KBS passes the 48-byte digest; it is zero-padded to 64 as Trustee does.
    const r = await v.verify({
      evidence: sim.evidence,
      reportData: expected.value(digest),
      initDataHash: expected.value(hostData),
    });
    assert.equal(r.verdict, 'valid', JSON.stringify(r.failures));
    assert.equal(r.tcbStatus, 'UpToDate');
    assert.equal(r.claims['init_data'], hostData.toString('hex'));
    const dflt = await createVerifier('snp', { clock: AT }).verify({
      evidence: sim.evidence,
      reportData: expected.value(digest),
      initDataHash: expected.notProvided(),
    });
    assert.equal(dflt.verdict, 'invalid');
    assert.equal(dflt.failures[0]!.code, 'ERR_SNP_CHAIN_INVALID');
  });

  test('fail_every_check_reported_together', () => {
    const sim = generateSimSnpReport({
      reportData,
      debug: true,
      vmpl: 2,
      version: 2,
      guestSvn: 1,
      policyBits: 1n << 18n,
      tcb: { ...SIM_TCB, snp: 1 },
    });
    const r = parseReport(sim.report);
    const failures = validateSnpReport(r, {
      reportData: expected.value(new Uint8Array(64)),
      hostData: expected.value(new Uint8Array(32).fill(1)),
      measurements: expected.value([new Uint8Array(48)]),
      allowSmt: false,
      minimumAbi: { major: 1, minor: 0 },
      allowedVersions: [3, 4, 5],
      minimumTcb: { snp: 2 },
      minimumLaunchTcb: { microcode: 100 },
      minimumGuestSvn: 2,
      chipIds: expected.value([new Uint8Array(64)]),
    });
    assert.deepEqual(
      failures.map((f) => [f.code, f.stage]),
      [
        ['ERR_SNP_REPORT_DATA_MISMATCH', 'validate'],
        ['ERR_SNP_HOST_DATA_MISMATCH', 'validate'],
        ['ERR_SNP_MEASUREMENT_NOT_ALLOWED', 'validate'],
        ['ERR_SNP_POLICY_NOT_ALLOWED', 'validate'], // chip pinning
        ['ERR_SNP_DEBUG_ALLOWED', 'validate'],
        ['ERR_SNP_POLICY_NOT_ALLOWED', 'validate'], // migration agent
        ['ERR_SNP_POLICY_NOT_ALLOWED', 'validate'], // SMT
        ['ERR_SNP_POLICY_NOT_ALLOWED', 'validate'], // ABI
        ['ERR_SNP_VMPL_NOT_ALLOWED', 'validate'],
        ['ERR_SNP_VERSION_NOT_ALLOWED', 'validate'],
        ['ERR_SNP_GUEST_SVN_TOO_LOW', 'tcb'],
        ['ERR_SNP_TCB_TOO_LOW', 'tcb'], // current
        ['ERR_SNP_TCB_TOO_LOW', 'tcb'], // reported
        ['ERR_SNP_TCB_TOO_LOW', 'tcb'], // committed
        ['ERR_SNP_TCB_TOO_LOW', 'tcb'], // launch
      ],
    );
  });

  test('pass_measurement_allowlist_minimum_tcb_and_knobs_met', () => {
    const r = parseReport(generateSimSnpReport({ reportData, vmpl: 1 }).report);
    assert.deepEqual(
      validateSnpReport(r, {
        reportData: expected.value(reportData),
        measurements: expected.value([new Uint8Array(48), SIM_MEASUREMENT]),
        allowedVmpls: [0, 1],
        minimumTcb: { bootloader: 10, tee: 0, snp: 23, microcode: 25 },
        minimumGuestSvn: 0,
      }),
      [],
    );
  });

  test('fail_tcb_only_yields_OutOfDate_not_a_verify_failure', async () => {
    const sim = generateSimSnpReport({ reportData });
    const r = await createVerifier('snp', {
      roots: simSnpRoots(),
      clock: AT,
      minimumTcb: { microcode: 30 },
    }).verify({
      evidence: sim.evidence,
      reportData: expected.notProvided(),
      initDataHash: expected.notProvided(),
    });
    assert.equal(r.verdict, 'invalid');
    assert.equal(r.tcbStatus, 'OutOfDate');
    assert.ok(r.failures.length > 0 && r.failures.every((f) => f.stage === 'tcb'));
  });

  test('fail_debug_sim_report_refused_by_default', async () => {
    const sim = generateSimSnpReport({ reportData, debug: true });
    const r = await createVerifier('snp', {
      roots: simSnpRoots(),
      clock: AT,
      certs: { vcek: sim.certChain.vcek },
    }).verify({
      evidence: sim.report,
      reportData: expected.value(reportData),
      initDataHash: expected.notProvided(),
    });
    assert.deepEqual(
      r.failures.map((f) => f.code),
      ['ERR_SNP_DEBUG_ALLOWED'],
    );
  });
});

test('pass_result_is_json_serializable (parsed report kept non-enumerable)', async () => {
  const sim = generateSimSnpReport({ reportData });
  const r = await createVerifier('snp', { roots: simSnpRoots(), clock: AT }).verify({
    evidence: sim.evidence,
    reportData: expected.notProvided(),
    initDataHash: expected.notProvided(),
  });
  const json = JSON.parse(JSON.stringify(r)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(json).sort(), [
    'advisoryIds',
    'claims',
    'failures',
    'tcbStatus',
    'tee',
    'verdict',
  ]);
  assert.ok((r as { report?: unknown }).report !== undefined);
});

test('fail_provisional_firmware_refused_by_default; pass_when_allowed', () => {
  const base = parseReport(generateSimSnpReport({ reportData }).report);
  const provisional = { ...base, committedBuild: base.currentBuild - 1 };
  assert.deepEqual(
    validateSnpReport(provisional).map((f) => [f.code, f.stage]),
    [['ERR_SNP_TCB_TOO_LOW', 'tcb']],
  );
  assert.deepEqual(validateSnpReport(provisional, { allowProvisionalFirmware: true }), []);
  assert.deepEqual(validateSnpReport(base), []);
});
