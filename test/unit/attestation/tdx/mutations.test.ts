/**
 * Mutation tables on real artifacts (STYLE.md rule 8): start from the dcapqvl-uptodate quote and
 * its collateral at the pinned time (valid, UpToDate), change exactly one thing — one byte at a
 * named offset, one certificate, one collateral field — and assert the code and the stage that
 * rejects it. Semantic collateral changes are re-signed with the sim TCB signing TEST key, whose
 * root is then trusted explicitly beside the Intel root.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON (claims, PCS collateral) is read and mutated structurally */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import {
  BODY_MR_TD,
  BODY_REPORT_DATA,
  HDR_USER_DATA,
  QE_CD_AUTH_DATA,
  QE_CD_REPORT_SIGNATURE,
  RPT_ISV_SVN,
  RPT_MR_SIGNER,
  SIG_ATTESTATION_KEY,
  SIG_CERT_DATA,
  V4_BODY,
  V4_SIG_DATA,
  parseQuote,
  quoteToBytes,
} from '../../../../src/attestation/tdx/abi.js';
import type { TdxCollateral } from '../../../../src/attestation/tdx/collateral.js';
import { loadSimHierarchy } from '../../../../src/attestation/tdx/sim.js';
import { pemBlocks } from '../../../../src/attestation/x509/index.js';
import { readShared } from '../../../helpers/shared.js';
import { PIN, assertFailure, dcapCollateral, flip, tdx, verifyAt } from './helpers.js';

const QUOTE = tdx('dcapqvl-uptodate/quote.bin');
const COLL = dcapCollateral('dcapqvl-uptodate');
const QE = V4_SIG_DATA + SIG_CERT_DATA; // QE report certification data (§1.4)
const INTEL_ROOT = readShared('evidence', 'intel', 'intel-sgx-root-ca.pem').toString('utf8');
const sim = loadSimHierarchy();

const toPem = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trim()}\n-----END CERTIFICATE-----\n`;

/** Rebuilds the quote with a different PCK chain (list of DER certs). */
function withChain(ders: Uint8Array[]): Uint8Array {
  const q = parseQuote(QUOTE);
  const pem = ders.map(toPem).join('');
  return quoteToBytes({
    ...q,
    signatureData: {
      ...q.signatureData,
      qeCertData: {
        ...q.signatureData.qeCertData,
        pckCertChain: new Uint8Array(Buffer.from(`${pem}\0`, 'latin1')),
      },
    },
  });
}
const chainOf = (raw: Uint8Array): Uint8Array[] =>
  pemBlocks(Buffer.from(parseQuote(raw).signatureData.qeCertData.pckCertChain).toString('latin1'));
const [LEAF, CA, ROOT] = chainOf(QUOTE) as [Uint8Array, Uint8Array, Uint8Array];

describe('baseline', () => {
  test('pass_unmodified: the artifact verifies (so every case below changes exactly one thing)', async () => {
    const r = await verifyAt(QUOTE, PIN.uptodate, { collateral: COLL });
    assert.equal(r.verdict, 'valid');
  });
});

describe('flip one byte at a named offset (evidence.md §1.2–§1.4)', () => {
  const cases: [string, number, string, string][] = [
    ['fail_header_user_data_0x1e', HDR_USER_DATA + 2, 'ERR_TDX_QUOTE_SIGNATURE_INVALID', 'verify'],
    ['fail_body_mrtd_0xb8', V4_BODY + BODY_MR_TD, 'ERR_TDX_QUOTE_SIGNATURE_INVALID', 'verify'],
    ['fail_body_reportdata_0x238', V4_BODY + BODY_REPORT_DATA, 'ERR_TDX_QUOTE_SIGNATURE_INVALID', 'verify'],
    ['fail_quote_signature_r', V4_SIG_DATA, 'ERR_TDX_QUOTE_SIGNATURE_INVALID', 'verify'],
    ['fail_attestation_key', V4_SIG_DATA + SIG_ATTESTATION_KEY, 'ERR_TDX_QE_REPORT_DATA_MISMATCH', 'verify'],
    ['fail_qe_report_mrsigner', QE + RPT_MR_SIGNER, 'ERR_TDX_QE_REPORT_SIGNATURE_INVALID', 'verify'],
    ['fail_qe_report_isvsvn', QE + RPT_ISV_SVN, 'ERR_TDX_QE_REPORT_SIGNATURE_INVALID', 'verify'],
    [
      'fail_qe_report_signature',
      QE + QE_CD_REPORT_SIGNATURE + 5,
      'ERR_TDX_QE_REPORT_SIGNATURE_INVALID',
      'verify',
    ],
    ['fail_qe_auth_data', QE + QE_CD_AUTH_DATA, 'ERR_TDX_QE_REPORT_DATA_MISMATCH', 'verify'],
    ['fail_header_version_0x00', 0, 'ERR_TDX_QUOTE_VERSION', 'parse'], // 4 ^ 2 = 6
    ['fail_sig_data_len_0x278', 0x278, 'ERR_TDX_QUOTE_CERT_DATA', 'parse'],
  ];
  for (const [name, off, code, stage] of cases) {
    test(name, async () => {
      const r = await verifyAt(flip(QUOTE, off, off === 0 ? 0x02 : 0x01), PIN.uptodate, { collateral: COLL });
      assertFailure(r, code, stage);
    });
  }
  test('pass_trailing_byte: bytes after sig_data are not covered and are tolerated (§1.1)', async () => {
    const r = await verifyAt(flip(QUOTE, QUOTE.length - 1), PIN.uptodate, { collateral: COLL });
    assert.equal(r.verdict, 'valid');
  });
});

describe('change one certificate of the PCK chain (§1.5 step 2)', () => {
  // Another real Platform-CA leaf valid at the pinned time (PCK 2025-04-08 → 2032-04-08).
  const otherLeaf = chainOf(tdx('trustee/quote-v4-b.bin'))[0]!;
  const simRoot = pemBlocks(sim.rootPem)[0]!;
  const tcbSigner = pemBlocks(COLL.tcbInfoIssuerChain!)[0]!;
  const badSig = LEAF.slice();
  badSig[badSig.length - 3] ^= 0x01;
  const cases: [string, Uint8Array[], string][] = [
    ['fail_other_platform_leaf', [otherLeaf, CA, ROOT], 'ERR_TDX_QE_REPORT_SIGNATURE_INVALID'],
    ['fail_leaf_signature_bit', [badSig, CA, ROOT], 'ERR_TDX_PCK_CHAIN_INVALID'],
    ['fail_root_replaced_by_test_root', [LEAF, CA, simRoot], 'ERR_TDX_ROOT_UNTRUSTED'],
    ['fail_intermediate_missing', [LEAF, ROOT], 'ERR_TDX_PCK_CHAIN_INVALID'],
    ['fail_intermediate_is_tcb_signer', [LEAF, tcbSigner, ROOT], 'ERR_TDX_PCK_CHAIN_INVALID'],
    ['fail_order_swapped', [CA, LEAF, ROOT], 'ERR_TDX_PCK_CHAIN_INVALID'],
  ];
  for (const [name, chain, code] of cases) {
    test(name, async () => {
      const r = await verifyAt(withChain(chain), PIN.uptodate, { collateral: COLL });
      assertFailure(r, code, 'verify');
    });
  }
  test('pass_same_chain_rebuilt: re-serialising the same chain keeps the quote valid', async () => {
    const r = await verifyAt(withChain([LEAF, CA, ROOT]), PIN.uptodate, { collateral: COLL });
    assert.equal(r.verdict, 'valid');
  });
});

describe('change one collateral field as received (§1.5 steps 3–5)', () => {
  const flipHex = (h: Uint8Array): Uint8Array => flip(h, 10);
  const cases: [string, Partial<TdxCollateral> & Record<string, unknown>, string][] = [
    [
      'fail_tcb_info_json_byte',
      {
        tcbInfoJson: COLL.tcbInfoJson.replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":18'),
      },
      'ERR_TDX_TCB_INFO_SIGNATURE_INVALID',
    ],
    [
      'fail_tcb_info_signature',
      { tcbInfoSignature: flipHex(COLL.tcbInfoSignature) },
      'ERR_TDX_TCB_INFO_SIGNATURE_INVALID',
    ],
    [
      'fail_qe_identity_json_byte',
      { qeIdentityJson: COLL.qeIdentityJson.replace('"isvprodid":2', '"isvprodid":3') },
      'ERR_TDX_QE_IDENTITY_SIGNATURE_INVALID',
    ],
    [
      'fail_qe_identity_signature',
      { qeIdentitySignature: flipHex(COLL.qeIdentitySignature) },
      'ERR_TDX_QE_IDENTITY_SIGNATURE_INVALID',
    ],
    [
      'fail_tcb_chain_is_pck_ca_chain',
      { tcbInfoIssuerChain: COLL.pckCrlIssuerChain! },
      'ERR_TDX_TCB_INFO_SIGNATURE_INVALID',
    ],
    [
      'fail_tcb_chain_test_root',
      { tcbInfoIssuerChain: sim.files['tcb-signing-chain.pem'] as unknown as string },
      'ERR_TDX_ROOT_UNTRUSTED',
    ],
    ['fail_root_crl_is_pck_crl', { rootCaCrl: COLL.pckCrl! }, 'ERR_TDX_CRL_INVALID'],
    ['fail_pck_crl_is_root_crl', { pckCrl: COLL.rootCaCrl! }, 'ERR_TDX_CRL_INVALID'],
    ['fail_pck_crl_missing', { pckCrl: undefined }, 'ERR_TDX_COLLATERAL_MISSING'],
    [
      'fail_tcb_info_id_sgx',
      { tcbInfoJson: COLL.tcbInfoJson.replace('"id":"TDX"', '"id":"SGX"') },
      'ERR_TDX_COLLATERAL_INVALID',
    ],
    ['fail_tcb_info_not_json', { tcbInfoJson: COLL.tcbInfoJson.slice(0, 100) }, 'ERR_TDX_COLLATERAL_INVALID'],
  ];
  for (const [name, patch, code] of cases) {
    test(name, async () => {
      const c = { ...COLL, ...patch } as TdxCollateral;
      if ('pckCrl' in patch && patch.pckCrl === undefined) delete (c as { pckCrl?: unknown }).pckCrl;
      const tc =
        typeof c.tcbInfoIssuerChain === 'object'
          ? Buffer.from(c.tcbInfoIssuerChain as Uint8Array).toString('utf8')
          : c.tcbInfoIssuerChain;
      const r = await verifyAt(QUOTE, PIN.uptodate, {
        collateral: { ...c, ...(tc === undefined ? {} : { tcbInfoIssuerChain: tc }) },
      });
      assertFailure(r, code, 'collateral');
    });
  }
});

describe('change one collateral field, re-signed by the sim TCB signing TEST key (§1.5 steps 6, 7, 10; §1.9)', () => {
  const key = createPrivateKey(
    Buffer.from(sim.files['TEST-KEY-tcb-signing.key.pem'] as Uint8Array).toString('utf8'),
  );
  const chain = Buffer.from(sim.files['tcb-signing-chain.pem'] as Uint8Array).toString('utf8');
  const resign = (json: string): Uint8Array =>
    new Uint8Array(sign('sha256', Buffer.from(json), { key, dsaEncoding: 'ieee-p1363' }));
  function coll(
    tcb: (t: Record<string, any>) => void,
    qe: (q: Record<string, any>) => void = () => {},
  ): TdxCollateral {
    const t = JSON.parse(COLL.tcbInfoJson) as Record<string, any>;
    const q = JSON.parse(COLL.qeIdentityJson) as Record<string, any>;
    tcb(t);
    qe(q);
    const tj = JSON.stringify(t);
    const qj = JSON.stringify(q);
    return {
      ...COLL,
      tcbInfoJson: tj,
      tcbInfoSignature: resign(tj),
      tcbInfoIssuerChain: chain,
      qeIdentityJson: qj,
      qeIdentitySignature: resign(qj),
      qeIdentityIssuerChain: chain,
    };
  }
  const run = (c: TdxCollateral) =>
    verifyAt(QUOTE, PIN.uptodate, { collateral: c, trustRoots: [INTEL_ROOT, sim.rootPem] });

  test('pass_resigned_unchanged: the re-signed collateral verifies (UpToDate)', async () => {
    const r = await run(coll(() => {}));
    assert.deepEqual(r.failures, []);
    assert.equal(r.tcbStatus, 'UpToDate');
  });
  const cases: [string, TdxCollateral, string, string][] = [
    ['fail_fmspc', coll((t) => (t['fmspc'] = '00906ED50000')), 'ERR_TDX_FMSPC_MISMATCH', 'collateral'],
    ['fail_pce_id', coll((t) => (t['pceId'] = '0001')), 'ERR_TDX_FMSPC_MISMATCH', 'collateral'],
    [
      'fail_module_mrsigner',
      coll((t) => (t['tdxModuleIdentities'].find((m: any) => m.id === 'TDX_01').mrsigner = '11'.repeat(48))),
      'ERR_TDX_MODULE_MISMATCH',
      'tcb',
    ],
    [
      'fail_module_identity_missing',
      coll((t) => (t['tdxModuleIdentities'] = [])),
      'ERR_TDX_MODULE_MISMATCH',
      'tcb',
    ],
    [
      'fail_qe_mrsigner',
      coll(
        () => {},
        (q) => (q['mrsigner'] = '00'.repeat(32)),
      ),
      'ERR_TDX_QE_IDENTITY_MISMATCH',
      'tcb',
    ],
    [
      'fail_qe_isvprodid',
      coll(
        () => {},
        (q) => (q['isvprodid'] = 1),
      ),
      'ERR_TDX_QE_IDENTITY_MISMATCH',
      'tcb',
    ],
    [
      'fail_platform_revoked',
      coll((t) => (t['tcbLevels'][0].tcbStatus = 'Revoked')),
      'ERR_TDX_TCB_REVOKED',
      'tcb',
    ],
    [
      'fail_no_level',
      coll(
        (t) => (t['tcbLevels'] = t['tcbLevels'].map((l: any) => ({ ...l, tcb: { ...l.tcb, pcesvn: 99 } }))),
      ),
      'ERR_TDX_TCB_NOT_SUPPORTED',
      'tcb',
    ],
    [
      'fail_tcb_info_expired',
      coll((t) => (t['nextUpdate'] = '2025-07-01T00:00:00Z')),
      'ERR_TDX_COLLATERAL_EXPIRED',
      'collateral',
    ],
  ];
  for (const [name, c, code, stage] of cases) {
    test(name, async () => assertFailure(await run(c), code, stage));
  }
  const statusCases: [string, TdxCollateral, string, string[]][] = [
    [
      'sw_hardening',
      coll((t) =>
        Object.assign(t['tcbLevels'][0], { tcbStatus: 'SWHardeningNeeded', advisoryIDs: ['INTEL-SA-00615'] }),
      ),
      'SWHardeningNeeded',
      ['INTEL-SA-00615'],
    ],
    [
      'config_needed',
      coll((t) => (t['tcbLevels'][0].tcbStatus = 'ConfigurationNeeded')),
      'ConfigurationNeeded',
      [],
    ],
    [
      'config_and_sw',
      coll((t) => (t['tcbLevels'][0].tcbStatus = 'ConfigurationAndSWHardeningNeeded')),
      'ConfigurationAndSWHardeningNeeded',
      [],
    ],
    [
      'qe_out_of_date',
      coll(
        () => {},
        (q) => (q['tcbLevels'][0].tcbStatus = 'OutOfDate'),
      ),
      'OutOfDate',
      [],
    ],
    [
      'module_out_of_date_config',
      coll((t) => {
        t['tcbLevels'][0].tcbStatus = 'ConfigurationNeeded';
        t['tdxModuleIdentities'].find((m: any) => m.id === 'TDX_01').tcbLevels[0].tcbStatus = 'OutOfDate';
      }),
      'OutOfDateConfigurationNeeded',
      [],
    ],
  ];
  for (const [name, c, status, adv] of statusCases) {
    test(`pass_status_${name}: ${status} (validate refuses it by default)`, async () => {
      const r = await run(c);
      assert.equal(r.tcbStatus, status);
      assert.deepEqual(r.advisoryIds, adv);
      assertFailure(r, 'ERR_TDX_TCB_STATUS_UNACCEPTABLE', 'tcb');
    });
  }
});
