/** Rego-backed engines (src/policy) behind src/kbs/policy.ts: same decisions as the built-ins, custom Rego, bad Rego refused. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RegoAttestationPolicy, RegoResourcePolicy } from '../../../src/kbs/rego-policy.js';
import {
  defaultCpuAppraisal,
  evaluateBuiltinResourcePolicy,
  type ResourcePolicyData,
} from '../../../src/kbs/policy.js';
import { rejectsCode } from '../../helpers/assert-code.js';

const sample = {
  sample: { svn: '1', launch_digest: 'abcde', platform_version: { major: 1, minor: 4 }, debug: false },
  report_data: 'x',
};
const rvSets: [string, Record<string, unknown>][] = [
  ['no_rvs', {}],
  ['full_rvs', { launch_digest: ['abcde'], svn: ['1'], major_version: 1, minimum_minor_version: 4 }],
  ['wrong_svn', { launch_digest: ['abcde'], svn: ['2'], major_version: 1, minimum_minor_version: 4 }],
];

describe('RegoAttestationPolicy', () => {
  for (const [name, rvs] of rvSets) {
    test(`pass_sample_${name}_matches_builtin`, async () => {
      const rego = await new RegoAttestationPolicy().appraise(
        'default_cpu',
        { tee: 'sample', input: sample },
        (id) => rvs[id],
      );
      const ts = defaultCpuAppraisal({ tee: 'sample', input: sample }, (id) => rvs[id]);
      assert.deepEqual(rego.trustVector, ts.trustVector);
      assert.equal(rego.status, ts.status);
    });
  }
  test('pass_custom_policy_and_extensions', async () => {
    const p = new RegoAttestationPolicy();
    await p.setPolicy(
      'default_cpu',
      'package policy\nimport rego.v1\ntrust_claims := {"executables": 2, "hardware": 2}\nextensions := [{"name": "x.custom", "key": -70000, "value": input.sample.svn}]\n',
    );
    const a = await p.appraise('default_cpu', { tee: 'sample', input: sample }, () => undefined);
    assert.equal(a.status, 'affirming');
    assert.equal(a.trustVector.configuration, 0);
    assert.deepEqual(a.extensions, { 'x.custom': '1' });
  });
  test('fail_uncompilable_policy', async () => {
    await rejectsCode(
      new RegoAttestationPolicy().setPolicy('default_cpu', 'package policy\nallow if {'),
      'ERR_KBS_POLICY_INVALID',
    );
  });
  test('fail_runtime_error_is_typed', async () => {
    const p = new RegoAttestationPolicy();
    await p.setPolicy(
      'default_cpu',
      'package policy\nimport rego.v1\ntrust_claims := {"executables": 1000}\n',
    );
    await rejectsCode(
      p.appraise('default_cpu', { tee: 'sample', input: sample }, () => undefined),
      'ERR_KBS_POLICY_FAILED',
    );
  });
});

describe('RegoResourcePolicy', () => {
  const data: ResourcePolicyData = { plugin: 'resource', 'resource-path': ['a', 'b', 'c'], query: {} };
  const token = (tee: string, status: string): Record<string, unknown> => ({
    submods: { cpu0: { 'ear.status': status, 'ear.veraison.annotated-evidence': { [tee]: {} } } },
  });
  const table: [string, 'default' | 'allow_all' | 'deny_all' | 'affirming', Record<string, unknown>][] = [
    ['default_tdx', 'default', token('tdx', 'warning')],
    ['default_sample', 'default', token('sample', 'affirming')],
    ['allow_all_sample', 'allow_all', token('sample', 'none')],
    ['deny_all', 'deny_all', token('tdx', 'affirming')],
    ['affirming_ok', 'affirming', token('snp', 'affirming')],
    ['affirming_warning', 'affirming', token('snp', 'warning')],
    ['empty_token', 'default', {}],
  ];
  for (const [name, policy, claims] of table) {
    test(`pass_${name}_matches_builtin`, async () => {
      const r = new RegoResourcePolicy();
      await r.setPolicy(`builtin:${policy}`);
      assert.equal(await r.allow(claims, data), evaluateBuiltinResourcePolicy(policy, claims, data));
    });
  }
  test('pass_custom_path_policy', async () => {
    const r = new RegoResourcePolicy();
    await r.setPolicy(
      'package policy\nimport rego.v1\ndefault allow := false\nallow if data["resource-path"][0] == "open"\n',
    );
    assert.equal(await r.allow({}, { ...data, 'resource-path': ['open', 'x', 'y'] }), true);
    assert.equal(await r.allow({}, data), false);
  });
  test('fail_non_boolean_allow_denies', async () => {
    const r = new RegoResourcePolicy();
    await r.setPolicy('package policy\nallow := "yes"\n');
    assert.equal(await r.allow({}, data), false);
  });
  test('fail_bad_rego_and_unknown_builtin', async () => {
    await rejectsCode(new RegoResourcePolicy().setPolicy('not rego at all {'), 'ERR_KBS_POLICY_INVALID');
    await rejectsCode(new RegoResourcePolicy().setPolicy('builtin:nope'), 'ERR_KBS_POLICY_INVALID');
  });
});
