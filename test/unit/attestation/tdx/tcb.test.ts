/**
 * TCB status computation (evidence.md §1.9) on synthetic inputs around the sim TCB info: level
 * matching, module status convergence, TD relaunch advice for TDX 1.5 bodies, QE convergence.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TdQuoteBody } from '../../../../src/attestation/tdx/abi.js';
import { parseTcbInfo } from '../../../../src/attestation/tdx/collateral.js';
import type { PckExtensions } from '../../../../src/attestation/tdx/pck.js';
import { SIM, simTcbInfoJson } from '../../../../src/attestation/tdx/sim.js';
import { evaluateTcb, moduleIdentityId, type TdxTcbStatus } from '../../../../src/attestation/tdx/tcb.js';

const info = parseTcbInfo(simTcbInfoJson('2025-01-01T00:00:00Z', '2099-01-01T00:00:00Z'));
const pck: PckExtensions = {
  ppid: new Uint8Array(16),
  tcbComponents: [...SIM.sgxComponents],
  pceSvn: SIM.pceSvn,
  cpuSvn: new Uint8Array(SIM.sgxComponents),
  pceId: new Uint8Array(2),
  fmspc: new Uint8Array(6),
  sgxType: 0,
};
const svn = (...b: number[]): Uint8Array => new Uint8Array([...b, ...new Array(16 - b.length).fill(0)]);
function body(tee: Uint8Array, tee2?: Uint8Array): TdQuoteBody {
  const z = (n: number): Uint8Array => new Uint8Array(n);
  return {
    teeTcbSvn: tee,
    mrSeam: z(48),
    mrSignerSeam: z(48),
    seamAttributes: z(8),
    tdAttributes: z(8),
    xfam: z(8),
    mrTd: z(48),
    mrConfigId: z(48),
    mrOwner: z(48),
    mrOwnerConfig: z(48),
    rtmrs: [z(48), z(48), z(48), z(48)],
    reportData: z(64),
    ...(tee2 === undefined ? {} : { teeTcbSvn2: tee2, mrServiceTd: z(48) }),
  };
}

describe('evaluateTcb', () => {
  const cases: [string, Parameters<typeof evaluateTcb>[0], TdxTcbStatus, string[]][] = [
    [
      'pass_up_to_date',
      { pck, body: body(svn(5, 1, 2)), tcbInfo: info, qeStatus: 'UpToDate', bodyType: 2 },
      'UpToDate',
      [],
    ],
    [
      'pass_module_out_of_date',
      { pck, body: body(svn(3, 1, 2)), tcbInfo: info, qeStatus: 'UpToDate', bodyType: 2 },
      'OutOfDate',
      ['INTEL-SA-SIM-0002'],
    ],
    [
      'pass_platform_second_level',
      {
        pck: { ...pck, pceSvn: 6 },
        body: body(svn(5, 1, 2)),
        tcbInfo: info,
        qeStatus: 'UpToDate',
        bodyType: 2,
      },
      'OutOfDate',
      ['INTEL-SA-SIM-0001'],
    ],
    [
      'fail_pcesvn_below_all',
      {
        pck: { ...pck, pceSvn: 4 },
        body: body(svn(5, 1, 2)),
        tcbInfo: info,
        qeStatus: 'UpToDate',
        bodyType: 2,
      },
      'TCBLevelNotSupported',
      [],
    ],
    [
      'pass_tdx_bytes_0_1_skipped_with_major',
      { pck, body: body(svn(5, 1, 1)), tcbInfo: info, qeStatus: 'UpToDate', bodyType: 2 },
      'OutOfDate',
      ['INTEL-SA-SIM-0001'],
    ],
    [
      'pass_qe_out_of_date',
      { pck, body: body(svn(5, 1, 2)), tcbInfo: info, qeStatus: 'OutOfDate', bodyType: 2 },
      'OutOfDate',
      [],
    ],
    [
      'pass_qe_revoked',
      { pck, body: body(svn(5, 1, 2)), tcbInfo: info, qeStatus: 'Revoked', bodyType: 2 },
      'Revoked',
      [],
    ],
    [
      'fail_qe_not_supported',
      { pck, body: body(svn(5, 1, 2)), tcbInfo: info, qeStatus: 'TCBLevelNotSupported', bodyType: 2 },
      'TCBLevelNotSupported',
      [],
    ],
    [
      'pass_relaunch_advised_v15',
      { pck, body: body(svn(3, 1, 2), svn(5, 1, 2)), tcbInfo: info, qeStatus: 'UpToDate', bodyType: 3 },
      'TDRelaunchAdvised',
      ['INTEL-SA-SIM-0002'],
    ],
    [
      'pass_no_relaunch_for_v10_body',
      { pck, body: body(svn(3, 1, 2), svn(5, 1, 2)), tcbInfo: info, qeStatus: 'UpToDate', bodyType: 2 },
      'OutOfDate',
      ['INTEL-SA-SIM-0002'],
    ],
    [
      'pass_no_relaunch_svn2_old',
      { pck, body: body(svn(3, 1, 2), svn(4, 1, 2)), tcbInfo: info, qeStatus: 'UpToDate', bodyType: 3 },
      'OutOfDate',
      ['INTEL-SA-SIM-0002'],
    ],
    [
      'pass_no_relaunch_qe_out_of_date',
      { pck, body: body(svn(3, 1, 2), svn(5, 1, 2)), tcbInfo: info, qeStatus: 'OutOfDate', bodyType: 3 },
      'OutOfDate',
      ['INTEL-SA-SIM-0002'],
    ],
  ];
  for (const [name, args, status, adv] of cases) {
    test(name, () => {
      const r = evaluateTcb(args);
      assert.equal(r.status, status);
      assert.deepEqual(r.advisoryIds, adv);
    });
  }

  test('pass_module_identity_id: "TDX_%02X" (§1.5 step 7)', () => {
    assert.equal(moduleIdentityId(1), 'TDX_01');
    assert.equal(moduleIdentityId(0x1a), 'TDX_1A');
  });

  test('pass_relaunch_config_needed: Configuration in the platform status ⇒ TDRelaunchAdvisedConfigurationNeeded', () => {
    const t = JSON.parse(simTcbInfoJson('2025-01-01T00:00:00Z', '2099-01-01T00:00:00Z'));
    t.tcbLevels[0].tcbStatus = 'ConfigurationNeeded';
    const r = evaluateTcb({
      pck,
      body: body(svn(3, 1, 2), svn(5, 1, 2)),
      tcbInfo: parseTcbInfo(JSON.stringify(t)),
      qeStatus: 'UpToDate',
      bodyType: 3,
    });
    assert.equal(r.status, 'TDRelaunchAdvisedConfigurationNeeded');
  });
});
