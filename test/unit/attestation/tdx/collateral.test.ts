/**
 * Collateral (evidence.md §1.7, §1.8): the offline formats found in shared/evidence read as they
 * are, the raw-member extraction the signatures depend on, and the Intel PCS source through an
 * injected fetcher with an on-disk cache honouring nextUpdate (offline: a fake fetcher serves
 * the go-tdx-guest PCS responses).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../../../src/common/clock.js';
import {
  createPcsCollateralSource,
  loadCollateralBundle,
  parseQeIdentity,
  parseTcbInfo,
  pcsUrls,
  rawJsonMember,
  type PcsFetcher,
} from '../../../../src/attestation/tdx/collateral.js';
import { createTdxVerifier } from '../../../../src/attestation/tdx/verifier.js';
import { expected } from '../../../../src/attestation/verifier.js';
import { rejectsCode, throwsCode } from '../../../helpers/assert-code.js';
import { readShared, sharedPath } from '../../../helpers/shared.js';
import { PIN, assertFailure, dcapCollateral, sprE4Collateral, tdx } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'cocoon-tdx-coll-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('offline bundles', () => {
  test('pass_dcap_qvl_json: exact signed strings, hex signatures, PEM chains, hex CRLs', () => {
    const c = dcapCollateral('dcapqvl-uptodate');
    assert.ok(c.tcbInfoJson.startsWith('{"id":"TDX","version":3'));
    assert.equal(c.tcbInfoSignature.length, 64);
    assert.equal(c.rootCaCrl?.[0], 0x30);
    assert.equal(parseTcbInfo(c.tcbInfoJson).fmspc.length, 6);
    assert.equal(parseQeIdentity(c.qeIdentityJson).isvProdId, 2);
  });

  test('pass_load_dir_gotdx: a directory of PCS files, CRLs and issuer chains', async () => {
    const c = await loadCollateralBundle(sharedPath('evidence', 'tdx', 'gotdx-v4-spr-e4'));
    assert.deepEqual(c, sprE4Collateral());
  });

  test('pass_load_file_dcapqvl: a dcap-qvl collateral.json file path', async () => {
    const c = await loadCollateralBundle(
      sharedPath('evidence', 'tdx', 'dcapqvl-uptodate', 'collateral.json'),
    );
    assert.equal(c.tcbInfoJson, dcapCollateral('dcapqvl-uptodate').tcbInfoJson);
  });

  test('pass_load_dir_trustee_selects_fmspc: tcbInfo.json / enclaveIdentity.json', async () => {
    const c = await loadCollateralBundle(sharedPath('evidence', 'tdx', 'trustee'), '00a06d080000');
    assert.equal(Buffer.from(parseTcbInfo(c.tcbInfoJson).fmspc).toString('hex'), '00a06d080000');
    assert.equal(c.rootCaCrl, undefined);
  });

  test('fail_load_missing_dir', async () => {
    await rejectsCode(loadCollateralBundle(join(tmp, 'nope')), 'ERR_TDX_COLLATERAL_MISSING');
  });

  test('pass_raw_member_is_byte_exact: whitespace and key order kept', () => {
    const text = '{ "signature" : "ab", "tcbInfo" :{"b":1,  "a":[1,{"x":"}"}]} }';
    assert.equal(rawJsonMember(text, 'tcbInfo'), '{"b":1,  "a":[1,{"x":"}"}]}');
    assert.equal(rawJsonMember(text, 'signature'), '"ab"');
    assert.equal(rawJsonMember(text, 'nope'), undefined);
    const pcs = readShared('evidence', 'tdx', 'gotdx-v4-spr-e4', 'tcbinfo-50806f000000.json').toString(
      'utf8',
    );
    assert.equal(
      JSON.stringify(JSON.parse(rawJsonMember(pcs, 'tcbInfo')!)),
      JSON.stringify(JSON.parse(pcs).tcbInfo),
    );
  });

  const bad: [string, string][] = [
    ['fail_not_object', '[1]'],
    ['fail_unterminated', '{"tcbInfo":{"a":1}'],
    ['fail_garbage', '{"tcbInfo" 1}'],
  ];
  for (const [name, text] of bad) {
    test(name, () => {
      throwsCode(() => rawJsonMember(text, 'nope'), 'ERR_TDX_COLLATERAL_INVALID');
    });
  }
});

describe('Intel PCS source (injected fetcher, on-disk cache)', () => {
  const dir = (n: string): Buffer => readShared('evidence', 'tdx', 'gotdx-v4-spr-e4', n);
  const enc = (n: string): string => encodeURIComponent(dir(n).toString('utf8'));
  const req = { fmspc: '50806f000000', ca: 'platform' as const };
  const urls = pcsUrls(req);
  const served: string[] = [];
  const fetcher: PcsFetcher = (url) => {
    served.push(url);
    const ok = (body: Uint8Array, headers: Record<string, string> = {}) =>
      Promise.resolve({ status: 200, headers, body });
    if (url === urls.tcbInfo)
      return ok(dir('tcbinfo-50806f000000.json'), {
        'TCB-Info-Issuer-Chain': enc('tcb-info-issuer-chain.pem'),
      });
    if (url === urls.qeIdentity)
      return ok(dir('qe-identity.json'), {
        'SGX-Enclave-Identity-Issuer-Chain': enc('qe-identity-issuer-chain.pem'),
      });
    if (url === urls.pckCrl)
      return ok(dir('pck-crl-platform.der'), { 'SGX-PCK-CRL-Issuer-Chain': enc('pck-crl-issuer-chain.pem') });
    if (url === urls.rootCaCrl) return ok(dir('root-ca-crl.der'));
    return Promise.resolve({ status: 404, headers: {}, body: new Uint8Array() });
  };
  let now = new Date(PIN.sprE4);
  const clock: Clock = { now: () => now };
  const cacheDir = join(tmp, 'pcs-cache');

  test('pass_url_shapes: evidence.md §1.8', () => {
    assert.equal(
      urls.tcbInfo,
      'https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=50806f000000',
    );
    assert.equal(urls.qeIdentity, 'https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity');
    assert.equal(
      urls.pckCrl,
      'https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
    );
    assert.equal(urls.rootCaCrl, 'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der');
  });

  test('pass_fetch_then_memory_then_disk_then_refresh_after_nextUpdate', async () => {
    const src = createPcsCollateralSource({ fetch: fetcher, cacheDir, clock });
    const c1 = await src.get(req);
    assert.equal(served.length, 4);
    assert.deepEqual(c1, sprE4Collateral());
    await src.get(req);
    assert.equal(served.length, 4, 'memory cache serves until nextUpdate');
    const fresh = createPcsCollateralSource({ fetch: fetcher, cacheDir, clock });
    await fresh.get(req);
    assert.equal(served.length, 4, 'disk cache serves a new source');
    // After 2023-07-08T07:24:59Z the QE identity and the PCK CRL are stale; TCB info (07-18) and
    // the root CRL (2024) are not.
    now = new Date('2023-07-09T00:00:00Z');
    await fresh.get(req);
    assert.deepEqual(served.slice(4).sort(), [urls.pckCrl, urls.qeIdentity].sort());
    now = new Date(PIN.sprE4);
  });

  test('pass_verifier_with_pcs_source: FMSPC and CA type read from the PCK leaf select the collateral', async () => {
    const v = createTdxVerifier({ collateral: createPcsCollateralSource({ fetch: fetcher, clock }), clock });
    const r = await v.verify({
      evidence: tdx('gotdx-v4-spr-e4/quote-v4.bin'),
      reportData: expected.notProvided(),
      initDataHash: expected.notProvided(),
    });
    assertFailure(r, 'ERR_TDX_TCB_NOT_SUPPORTED', 'tcb');
  });

  test('fail_fetch_status: a non-200 answer is ERR_TDX_COLLATERAL_FETCH_FAILED', async () => {
    const src = createPcsCollateralSource({
      fetch: () => Promise.resolve({ status: 503, headers: {}, body: new Uint8Array() }),
      clock,
    });
    await rejectsCode(src.get(req), 'ERR_TDX_COLLATERAL_FETCH_FAILED');
  });

  test('fail_fetch_throws: a network error is ERR_TDX_COLLATERAL_FETCH_FAILED', async () => {
    const src = createPcsCollateralSource({ fetch: () => Promise.reject(new Error('ECONNREFUSED')), clock });
    await rejectsCode(src.get(req), 'ERR_TDX_COLLATERAL_FETCH_FAILED');
  });

  test('fail_verifier_fetch_error_is_a_verdict: collateral stage failure, not a crash', async () => {
    const v = createTdxVerifier({
      collateral: createPcsCollateralSource({ fetch: () => Promise.reject(new Error('down')), clock }),
      clock,
    });
    const r = await v.verify({
      evidence: tdx('gotdx-v4-spr-e4/quote-v4.bin'),
      reportData: expected.notProvided(),
      initDataHash: expected.notProvided(),
    });
    assertFailure(r, 'ERR_TDX_COLLATERAL_FETCH_FAILED', 'collateral');
  });
});
