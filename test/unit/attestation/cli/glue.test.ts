import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readShared } from '../../../helpers/shared.js';
import { throwsCode } from '../../../helpers/assert-code.js';
import { detectTee, flattenClaims, toDisplayJson } from '../../../../src/attestation/index.js';
import { assembleClaims } from '../../../../src/attestation/claims.js';
import { failureFromError, fitTo } from '../../../../src/attestation/validate-common.js';
import { CocoonError } from '../../../../src/common/errors.js';

describe('shared attestation glue', () => {
  const cases: { name: string; bytes: () => Uint8Array; tee: string }[] = [
    {
      name: 'pass_snp_raw',
      bytes: () => readShared('evidence', 'snp', 'virtee-milan', 'report.bin'),
      tee: 'snp',
    },
    {
      name: 'pass_snp_json',
      bytes: () => readShared('evidence', 'snp', 'trustee-genoa-e2e', 'evidence.json'),
      tee: 'snp',
    },
    {
      name: 'pass_tdx_raw',
      bytes: () => readShared('evidence', 'tdx', 'dcapqvl-uptodate', 'quote.bin'),
      tee: 'tdx',
    },
    {
      name: 'pass_tdx_json',
      bytes: () => Buffer.from(JSON.stringify({ quote: 'AAAA', cc_eventlog: null })),
      tee: 'tdx',
    },
    {
      name: 'pass_sample_wrapped',
      bytes: () => Buffer.from(' {"primary_evidence":{"svn":"1"}}'),
      tee: 'sample',
    },
  ];
  for (const c of cases) {
    test(`detect_${c.name}`, () => assert.equal(detectTee(c.bytes()).tee, c.tee));
  }
  test('detect_fail_unknown_json_and_garbage', () => {
    throwsCode(() => detectTee(Buffer.from('{"x":1}')), 'ERR_ATTEST_TEE_UNDETECTED');
    throwsCode(() => detectTee(new Uint8Array(10)), 'ERR_ATTEST_TEE_UNDETECTED');
    throwsCode(() => detectTee(new Uint8Array(0x4a0)), 'ERR_ATTEST_TEE_UNDETECTED'); // version 0
  });
  test('claims_helpers', () => {
    assert.deepEqual(flattenClaims({ quote: { body: { mr_td: 'ab' } }, list: [1, 2], n: null }), {
      'quote.body.mr_td': 'ab',
      list: [1, 2],
      n: null,
    });
    assert.deepEqual(assembleClaims('snp', { a: 1 }, 'rd', undefined), { snp: { a: 1 }, report_data: 'rd' });
    assert.deepEqual(toDisplayJson({ b: new Uint8Array([1, 255]), n: 10n, d: new Date(0), f: () => 1 }), {
      b: '01ff',
      n: '0xa',
      d: '1970-01-01T00:00:00.000Z',
    });
    assert.deepEqual(fitTo(new Uint8Array([1, 2, 3]), 2), new Uint8Array([1, 2]));
    assert.deepEqual(fitTo(new Uint8Array([1]), 3), new Uint8Array([1, 0, 0]));
    const typed = failureFromError(
      new CocoonError('ERR_SNP_CERT_EXPIRED', 'x', { details: { stage: 'verify' } }),
      'parse',
    );
    assert.deepEqual(typed, { code: 'ERR_SNP_CERT_EXPIRED', message: 'x', stage: 'verify' });
    assert.equal(failureFromError(new Error('secret'), 'parse').code, 'ERR_COMMON_INTERNAL');
  });
});
