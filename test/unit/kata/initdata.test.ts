import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { adjustDigest, decodeInitData, encodeInitData } from '../../../src/kata/index.js';
import { throwsCode } from '../../helpers/assert-code.js';

/** An initdata document shaped as CoCo writes it (guest.md §4.1, cri-kata.md §3.8). */
function doc(alg = 'sha384', version = '0.1.0', extra = ''): string {
  return `version = "${version}"
algorithm = "${alg}"
${extra}
[data]
"aa.toml" = '''
[token_configs]
[token_configs.kbs]
url = "http://127.0.0.1:8080"
'''
"cdh.toml" = '''
[kbc]
name = "cc_kbc"
url = "http://127.0.0.1:8080"
'''
"policy.rego" = '''
package agent_policy
default AllowRequestsFailingPolicy := true
'''
`;
}

describe('encodeInitData / decodeInitData (guest.md §4)', () => {
  for (const alg of ['sha256', 'sha384', 'sha512'] as const) {
    test(`pass_${alg}_digest_over_exact_bytes`, () => {
      const toml = doc(alg);
      const enc = encodeInitData(toml);
      const want = createHash(alg).update(Buffer.from(toml, 'utf8')).digest();
      assert.deepEqual(enc.digest, want);
      assert.equal(enc.document.algorithm, alg);
      assert.equal(enc.document.version, '0.1.0');
      assert.deepEqual(Object.keys(enc.document.data).sort(), ['aa.toml', 'cdh.toml', 'policy.rego']);
      // The annotation is base64(gzip(exact bytes)).
      assert.equal(gunzipSync(Buffer.from(enc.annotation, 'base64')).toString('utf8'), toml);
      // MRCONFIGID is 48 bytes: sha256 zero-padded, sha384 exact, sha512 truncated (§4.3).
      assert.equal(enc.tdxMrConfigId.length, 48);
      assert.deepEqual(enc.tdxMrConfigId.subarray(0, Math.min(48, want.length)), want.subarray(0, 48));
      if (alg === 'sha256') assert.ok(enc.tdxMrConfigId.subarray(32).every((b) => b === 0));
      // HOST_DATA is 32 bytes: leading digest bytes (§4.3).
      assert.deepEqual(enc.snpHostData, want.subarray(0, 32));
    });
  }

  test('pass_round_trip', () => {
    const enc = encodeInitData(doc());
    const dec = decodeInitData(enc.annotation);
    assert.equal(dec.toml, enc.toml);
    assert.deepEqual(dec.digest, enc.digest);
    assert.deepEqual(dec.document, enc.document);
  });

  test('pass_digest_changes_with_a_byte', () => {
    const a = encodeInitData(doc());
    const b = encodeInitData(`${doc()}\n`);
    assert.notDeepEqual(a.digest, b.digest);
  });

  test('pass_required_algorithm_matches', () => {
    assert.equal(encodeInitData(doc('sha256'), 'sha256').document.algorithm, 'sha256');
  });

  test('pass_adjust_digest', () => {
    assert.deepEqual(adjustDigest(Buffer.from([1, 2, 3]), 5), Buffer.from([1, 2, 3, 0, 0]));
    assert.deepEqual(adjustDigest(Buffer.from([1, 2, 3]), 2), Buffer.from([1, 2]));
  });

  const bad: [string, string, string][] = [
    ['fail_version', doc('sha384', '0.2.0'), 'ERR_KATA_INITDATA_INVALID'],
    ['fail_algorithm_unknown', doc('sha1'), 'ERR_KATA_INITDATA_ALGORITHM'],
    ['fail_algorithm_case', doc('SHA384'), 'ERR_KATA_INITDATA_ALGORITHM'],
    ['fail_unknown_key', doc('sha384', '0.1.0', 'extra = 1'), 'ERR_KATA_INITDATA_INVALID'],
    [
      'fail_data_not_table',
      'version = "0.1.0"\nalgorithm = "sha384"\ndata = "x"\n',
      'ERR_KATA_INITDATA_INVALID',
    ],
    ['fail_data_missing', 'version = "0.1.0"\nalgorithm = "sha384"\n', 'ERR_KATA_INITDATA_INVALID'],
    [
      'fail_data_value_not_string',
      'version = "0.1.0"\nalgorithm = "sha384"\n[data]\nx = 1\n',
      'ERR_KATA_INITDATA_INVALID',
    ],
    ['fail_not_toml', 'version = ', 'ERR_KATA_INITDATA_INVALID'],
  ];
  for (const [name, toml, code] of bad) {
    test(`${name}_encode`, () => {
      throwsCode(() => encodeInitData(toml), code);
    });
    test(`${name}_decode`, () => {
      throwsCode(() => decodeInitData(gzipSync(Buffer.from(toml)).toString('base64')), code);
    });
  }

  test('fail_required_algorithm_differs', () => {
    const e = throwsCode(() => encodeInitData(doc('sha256'), 'sha384'), 'ERR_KATA_INITDATA_ALGORITHM');
    assert.equal(e.details['required'], 'sha384');
  });

  const badAnnotations: [string, string, string][] = [
    ['fail_empty_annotation', '', 'base64'],
    ['fail_not_base64', 'H4sI!!!!', 'base64'],
    ['fail_not_gzip', Buffer.from(doc()).toString('base64'), 'gzip'],
    ['fail_truncated_gzip', gzipSync(Buffer.from(doc())).subarray(0, 20).toString('base64'), 'gzip'],
    ['fail_invalid_utf8', gzipSync(Buffer.from([0xff, 0xfe, 0x41])).toString('base64'), 'utf8'],
  ];
  for (const [name, annotation, field] of badAnnotations) {
    test(name, () => {
      const e = throwsCode(() => decodeInitData(annotation), 'ERR_KATA_INITDATA_INVALID');
      assert.equal(e.details['field'], field);
    });
  }

  test('fail_gzip_bomb_over_limit', () => {
    const big = gzipSync(Buffer.alloc(2 << 20, 0x20)).toString('base64');
    const e = throwsCode(() => decodeInitData(big, { maxBytes: 1 << 20 }), 'ERR_KATA_INITDATA_INVALID');
    assert.equal(e.details['field'], 'gzip');
  });
});
