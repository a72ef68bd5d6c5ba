/**
 * `cocoon policy eval|test|explain`, run in-process through runCli with captured output.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/main.js';
import { processContext, type CliContext } from '../../../src/cli/context.js';
import { DEFAULT_ATTESTATION_POLICY } from '../../../src/policy/trustee.js';
import { makeSampleEvidence } from '../../../src/attestation/index.js';
import { sharedPath } from '../../helpers/shared.js';
import { packagePath } from '../../../src/common/paths.js';

function ctx(): CliContext & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { ...processContext, out: (l) => stdout.push(l), err: (l) => stderr.push(l), stdout, stderr };
}

let dir = '';
const f = (name: string): string => join(dir, name);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cocoon-policy-cli-'));
  writeFileSync(
    f('allow.rego'),
    'package policy\n\ndefault allow = false\n\nallow {\n  input.user == "alice"\n  input.level >= 3\n}\n\nrv := query_reference_value("k")\n',
  );
  writeFileSync(f('in-ok.json'), JSON.stringify({ user: 'alice', level: 5 }));
  writeFileSync(f('in-low.json'), JSON.stringify({ user: 'alice', level: 2 }));
  writeFileSync(f('rvs.json'), JSON.stringify({ k: ['v1'] }));
  writeFileSync(f('bad.rego'), 'package policy\np := nope(1)\n');
  writeFileSync(f('conflict.rego'), 'package policy\np := 1\np := 2\n');
  writeFileSync(f('default.rego'), DEFAULT_ATTESTATION_POLICY);
  writeFileSync(f('sample-evidence.json'), JSON.stringify(makeSampleEvidence(new Uint8Array(48))));
  writeFileSync(
    f('sample-rvs.json'),
    JSON.stringify({ launch_digest: ['abcde'], svn: ['1'], major_version: 1, minimum_minor_version: 4 }),
  );
  mkdirSync(f('tests'));
  writeFileSync(f('tests/lib.rego'), 'package lib\nimport rego.v1\nis_admin(u) if u == "root"\n');
  writeFileSync(
    f('tests/lib_test.rego'),
    'package lib_test\nimport rego.v1\nimport data.lib\ntest_root if lib.is_admin("root")\ntest_other if not lib.is_admin("bob")\n',
  );
  mkdirSync(f('failing'));
  writeFileSync(
    f('failing/x_test.rego'),
    'package x_test\nimport rego.v1\ntest_ok if true\ntest_bad if 1 == 2\n',
  );
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('pass_eval_json_result', async () => {
  const c = ctx();
  assert.equal(
    await runCli(
      [
        'policy',
        'eval',
        '--policy',
        f('allow.rego'),
        '--input',
        f('in-ok.json'),
        '--query',
        'data.policy.allow',
        '--json',
      ],
      c,
    ),
    0,
  );
  assert.deepEqual(JSON.parse(c.stdout[0]), { result: true });
});

test('pass_eval_default_false_and_rules_listed', async () => {
  const c = ctx();
  assert.equal(
    await runCli(
      [
        'policy',
        'eval',
        '--policy',
        f('allow.rego'),
        '--input',
        f('in-low.json'),
        '--query',
        'data.policy.allow',
      ],
      c,
    ),
    0,
  );
  assert.equal(c.stdout[0], 'false');
  assert.match(c.stdout.join('\n'), /policy\.allow \(default, .*allow\.rego:3\)/);
});

test('pass_eval_undefined_is_empty_object', async () => {
  const c = ctx();
  assert.equal(
    await runCli(
      ['policy', 'eval', '--policy', f('allow.rego'), '--query', 'data.policy.nothing', '--json'],
      c,
    ),
    0,
  );
  assert.deepEqual(JSON.parse(c.stdout[0]), {});
});

test('pass_eval_reference_values', async () => {
  const c = ctx();
  assert.equal(
    await runCli(
      [
        'policy',
        'eval',
        '--policy',
        f('allow.rego'),
        '--reference-values',
        f('rvs.json'),
        '--query',
        'data.policy.rv',
        '--json',
      ],
      c,
    ),
    0,
  );
  assert.deepEqual(JSON.parse(c.stdout[0]), { result: ['v1'] });
});

test('fail_eval_compile_error_json', async () => {
  const c = ctx();
  assert.equal(await runCli(['policy', 'eval', '--policy', f('bad.rego'), '--json'], c), 1);
  const out = JSON.parse(c.stdout[0]) as { error: { code: string; message: string } };
  assert.equal(out.error.code, 'ERR_POLICY_COMPILE');
  assert.match(out.error.message, /bad\.rego:2:6/);
});

test('fail_eval_conflict_json', async () => {
  const c = ctx();
  assert.equal(
    await runCli(['policy', 'eval', '--policy', f('conflict.rego'), '--query', 'data.policy.p', '--json'], c),
    1,
  );
  assert.equal((JSON.parse(c.stdout[0]) as { error: { code: string } }).error.code, 'ERR_POLICY_CONFLICT');
});

test('fail_eval_input_and_evidence_together', async () => {
  const c = ctx();
  assert.equal(
    await runCli(
      [
        'policy',
        'eval',
        '--policy',
        f('allow.rego'),
        '--input',
        f('in-ok.json'),
        '--evidence',
        f('sample-evidence.json'),
      ],
      c,
    ),
    2,
  );
});

test('pass_eval_sample_evidence_through_attestation', async () => {
  const c = ctx();
  const code = await runCli(
    [
      'policy',
      'eval',
      '--policy',
      f('default.rego'),
      '--evidence',
      f('sample-evidence.json'),
      '--tee',
      'sample',
      '--reference-values',
      f('sample-rvs.json'),
      '--query',
      'data.policy.trust_claims',
      '--json',
    ],
    c,
  );
  assert.equal(code, 0, c.stderr.join('\n'));
  const r = JSON.parse(c.stdout[0]) as { result: Record<string, number> };
  assert.equal(r.result['executables'], 3);
  assert.equal(r.result['hardware'], 2);
});

test('pass_eval_snp_evidence_auto_detected', async () => {
  const c = ctx();
  const code = await runCli(
    [
      'policy',
      'eval',
      '--policy',
      f('default.rego'),
      '--evidence',
      sharedPath('evidence', 'snp', 'trustee-genoa-e2e', 'evidence.json'),
      '--at',
      '2025-06-01T00:00:00Z',
      '--query',
      'data.policy.trust_claims',
      '--json',
    ],
    c,
  );
  assert.equal(code, 0, c.stderr.join('\n'));
  const r = JSON.parse(c.stdout[0]) as { result: Record<string, number> };
  // No reference values: unrecognised executables and hardware; debug and migration are off.
  assert.equal(r.result['executables'], 33);
  assert.equal(r.result['configuration'], 3);
});

test('pass_policy_test_dir', async () => {
  const c = ctx();
  assert.equal(await runCli(['policy', 'test', f('tests')], c), 0);
  assert.match(c.stdout.join('\n'), /PASS data\.lib_test\.test_root/);
  assert.match(c.stdout.join('\n'), /2\/2 passed/);
});

test('fail_policy_test_dir_nonzero_exit', async () => {
  const c = ctx();
  assert.equal(await runCli(['policy', 'test', f('failing')], c), 1);
  assert.match(c.stdout.join('\n'), /FAIL data\.x_test\.test_bad \(.*x_test\.rego:4\)/);
  assert.match(c.stdout.join('\n'), /1\/2 passed/);
});

test('pass_explain_names_failed_condition_with_line', async () => {
  const c = ctx();
  assert.equal(
    await runCli(['policy', 'explain', '--policy', f('allow.rego'), '--input', f('in-low.json')], c),
    0,
  );
  const out = c.stdout.join('\n');
  assert.match(out, /data\.policy\.allow = false/);
  assert.match(out, /allow\.rego:7:3 {2}policy\.allow: input\.level >= 3/);
});

test('pass_policy_test_fixture_examples', async () => {
  const c = ctx();
  assert.equal(
    await runCli(['policy', 'test', packagePath('fixtures', 'policy', 'examples')], c),
    0,
    c.stdout.join('\n'),
  );
  assert.match(c.stdout.join('\n'), /5\/5 passed/);
});

test('pass_eval_tdx_quote_evidence_claims', async () => {
  writeFileSync(f('mrtd.rego'), 'package p\nmr_td := input.tdx.quote.body.mr_td\n');
  const c = ctx();
  const code = await runCli(
    [
      'policy',
      'eval',
      '--policy',
      f('mrtd.rego'),
      '--evidence',
      sharedPath('evidence', 'tdx', 'dcapqvl-uptodate', 'quote.bin'),
      '--query',
      'data.p.mr_td',
      '--json',
    ],
    c,
  );
  assert.equal(code, 0, c.stderr.join('\n'));
  // MRTD of this quote per shared/evidence/MANIFEST.md.
  assert.deepEqual(JSON.parse(c.stdout[0]), {
    result:
      '91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7',
  });
});
