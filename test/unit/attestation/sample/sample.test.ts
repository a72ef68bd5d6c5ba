import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createVerifier, expected } from '../../../../src/attestation/index.js';
import {
  decodeStdBase64,
  makeSampleEvidence,
  parseSampleEvidence,
} from '../../../../src/attestation/sample/index.js';
import { throwsCode } from '../../../helpers/assert-code.js';

// kbs-protocol.md §3.5 protocol vector: the 48-byte digest and its standard base64.
const DIGEST = Buffer.from(
  'd4bd1841ef158d7c3904848b81d834cafb2fb888d896151632a2aa5e8c258da20f8ba11735fc30d095f10ed26e055e09',
  'hex',
);
const DIGEST_B64 = '1L0YQe8VjXw5BISLgdg0yvsvuIjYlhUWMqKqXowljaIPi6EXNfww0JXxDtJuBV4J';

describe('sample TEE verifier', () => {
  const v = createVerifier('sample');

  test('pass_protocol_vector: evidence built for the spec digest verifies with Trustee claims', async () => {
    const ev = makeSampleEvidence(DIGEST);
    assert.equal(ev.report_data, DIGEST_B64);
    const r = await v.verify({
      evidence: ev,
      reportData: expected.value(DIGEST),
      initDataHash: expected.notProvided(),
    });
    assert.equal(r.verdict, 'valid');
    assert.deepEqual(r.failures, []);
    assert.equal(r.tee, 'sample');
    assert.equal(r.tcbStatus, 'NotEvaluated');
    assert.deepEqual(r.claims, {
      sample: { svn: '1', launch_digest: 'abcde', platform_version: { major: 1, minor: 4 }, debug: false },
      report_data: DIGEST_B64,
    });
  });

  test('pass_json_bytes_and_init_data_echoed_as_base64', async () => {
    const init = createHash('sha384').update('init').digest();
    const r = await v.verify({
      evidence: Buffer.from(JSON.stringify({ svn: '7', report_data: DIGEST_B64 })),
      reportData: expected.value(DIGEST),
      initDataHash: expected.value(init),
    });
    assert.equal(r.verdict, 'valid');
    assert.equal((r.claims['sample'] as Record<string, unknown>)['svn'], '7');
    assert.equal(r.claims['init_data'], init.toString('base64'));
  });

  test('pass_report_data_not_provided_skips_the_check_explicitly', async () => {
    const r = await v.verify({
      evidence: { svn: '1', report_data: 'not base64!' },
      reportData: expected.notProvided(),
      initDataHash: expected.notProvided(),
    });
    assert.equal(r.verdict, 'valid');
  });

  const failing: { name: string; evidence: unknown; code: string; stage: string }[] = [
    {
      name: 'fail_padded_digest_is_not_equal',
      evidence: makeSampleEvidence(Buffer.concat([DIGEST, Buffer.alloc(16)])),
      code: 'ERR_SAMPLE_REPORT_DATA_MISMATCH',
      stage: 'validate',
    },
    {
      name: 'fail_one_byte_flipped',
      evidence: makeSampleEvidence(Buffer.from(DIGEST.map((b, i) => (i === 5 ? b ^ 1 : b)))),
      code: 'ERR_SAMPLE_REPORT_DATA_MISMATCH',
      stage: 'validate',
    },
    {
      name: 'fail_missing_report_data_defaults_to_empty',
      evidence: { svn: '1' },
      code: 'ERR_SAMPLE_REPORT_DATA_MISMATCH',
      stage: 'validate',
    },
    {
      name: 'fail_url_safe_base64',
      evidence: { svn: '1', report_data: DIGEST.toString('base64url') + 'A' },
      code: 'ERR_SAMPLE_EVIDENCE_INVALID',
      stage: 'parse',
    },
    {
      name: 'fail_svn_number',
      evidence: { svn: 1, report_data: DIGEST_B64 },
      code: 'ERR_SAMPLE_EVIDENCE_INVALID',
      stage: 'parse',
    },
    {
      name: 'fail_not_json',
      evidence: Buffer.from('{svn'),
      code: 'ERR_SAMPLE_EVIDENCE_INVALID',
      stage: 'parse',
    },
    { name: 'fail_array', evidence: Buffer.from('[]'), code: 'ERR_SAMPLE_EVIDENCE_INVALID', stage: 'parse' },
    {
      name: 'fail_report_data_number',
      evidence: { svn: '1', report_data: 5 },
      code: 'ERR_SAMPLE_EVIDENCE_INVALID',
      stage: 'parse',
    },
  ];
  for (const c of failing) {
    test(c.name, async () => {
      const r = await v.verify({
        evidence: c.evidence as Record<string, unknown>,
        reportData: expected.value(DIGEST),
        initDataHash: expected.notProvided(),
      });
      assert.equal(r.verdict, 'invalid');
      assert.equal(r.failures.length, 1);
      assert.equal(r.failures[0]!.code, c.code);
      assert.equal(r.failures[0]!.stage, c.stage);
    });
  }

  test('strict base64: non-canonical trailing bits and whitespace are refused', () => {
    assert.deepEqual(decodeStdBase64('AQ=='), new Uint8Array([1]));
    assert.equal(decodeStdBase64('AR=='), undefined);
    assert.equal(decodeStdBase64('AQ== '), undefined);
    assert.equal(decodeStdBase64('AQ'), undefined);
    assert.deepEqual(decodeStdBase64(''), new Uint8Array([]));
  });

  test('parse throws typed errors; oversized input refused', () => {
    throwsCode(() => parseSampleEvidence(new Uint8Array(70000)), 'ERR_SAMPLE_EVIDENCE_INVALID');
    throwsCode(() => parseSampleEvidence(new Uint8Array([0xff, 0xfe])), 'ERR_SAMPLE_EVIDENCE_INVALID');
  });

  test('unknown TEE names are refused with ERR_ATTEST_TEE_UNSUPPORTED', () => {
    throwsCode(() => createVerifier('sev'), 'ERR_ATTEST_TEE_UNSUPPORTED');
  });
});
