import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../../src/cli/main.js';
import { processContext, type CliContext } from '../../../../src/cli/context.js';
import { sharedPath } from '../../../helpers/shared.js';
import { toPem } from '../../../../src/attestation/snp/certs.js';
import { generateSimSnpReport, simSnpRoots } from '../../../../src/attestation/snp/sim.js';

function ctx(): CliContext & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { ...processContext, out: (l) => stdout.push(l), err: (l) => stderr.push(l), stdout, stderr };
}

const snp = (...p: string[]): string => sharedPath('evidence', 'snp', ...p);

interface JsonOut {
  tee: string;
  verdict: string;
  tcbStatus: string;
  failures: { code: string; message: string; stage: string }[];
  claims: Record<string, unknown>;
}

async function verifyJson(
  args: string[],
): Promise<{ code: number; out: JsonOut; c: ReturnType<typeof ctx> }> {
  const c = ctx();
  const code = await runCli(['attest', 'verify', ...args, '--json'], c);
  assert.equal(
    c.stdout.length,
    1,
    `one JSON object expected, got: ${c.stdout.join('\n')} ${c.stderr.join('\n')}`,
  );
  return { code, out: JSON.parse(c.stdout[0]!) as JsonOut, c };
}

describe('cocoon attest verify (in-process, real samples)', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-attest-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('pass_snp_trustee_json_auto_detected_exit_0', async () => {
    const { code, out } = await verifyJson([
      snp('trustee-genoa-e2e', 'evidence.json'),
      '--at',
      '2025-06-01T00:00:00Z',
    ]);
    assert.equal(code, 0);
    assert.deepEqual([out.tee, out.verdict, out.tcbStatus, out.failures], ['snp', 'valid', 'UpToDate', []]);
    assert.equal((out.claims['snp'] as Record<string, unknown>)['reported_tcb_bootloader'], 10);
    assert.deepEqual(Object.keys(out).sort(), ['claims', 'failures', 'tcbStatus', 'tee', 'verdict']);
  });

  test('fail_debug_guest_exit_3; pass_with_allow_debug', async () => {
    const args = [
      snp('gosev-milan', 'report.bin'),
      '--certs',
      snp('gosev-milan', 'vcek.der'),
      '--at',
      '2022-09-24T01:00:00Z',
    ];
    const bad = await verifyJson(args);
    assert.equal(bad.code, 3);
    assert.deepEqual(
      bad.out.failures.map((f) => f.code),
      ['ERR_SNP_DEBUG_ALLOWED'],
    );
    assert.equal((await verifyJson([...args, '--allow-debug'])).code, 0);
  });

  test('fail_expired_at_future_time_exit_3', async () => {
    const { code, out } = await verifyJson([
      snp('virtee-milan', 'report.bin'),
      '--certs',
      snp('virtee-milan', 'vcek.der'),
      '--at',
      '2035-01-01T00:00:00Z',
    ]);
    assert.equal(code, 3);
    assert.equal(out.failures[0]!.code, 'ERR_SNP_CERT_EXPIRED');
  });

  test('pass_vlek_with_vmpl_1_and_certs_folder; fail_tcb_below_minimum_exit_4', async () => {
    const args = [
      snp('trustee-milan-vlek', 'report.bin'),
      '--tee',
      'snp',
      '--certs',
      snp('trustee-milan-vlek'),
      '--at',
      '2025-06-01T00:00:00Z',
    ];
    assert.equal((await verifyJson(args)).code, 3); // VMPL 1 refused by default
    assert.equal((await verifyJson([...args, '--vmpl', '0,1'])).code, 0);
    const low = await verifyJson([...args, '--vmpl', '1', '--min-tcb', 'bootloader=4,snp=25']);
    assert.equal(low.code, 4);
    assert.equal(low.out.tcbStatus, 'OutOfDate');
    assert.ok(low.out.failures.every((f) => f.code === 'ERR_SNP_TCB_TOO_LOW'));
  });

  test('pass_report_data_expectation; fail_mismatch_exit_3', async () => {
    const file = snp('trustee-genoa-e2e', 'evidence.json');
    const ok = await verifyJson([
      file,
      '--at',
      '2025-06-01T00:00:00Z',
      '--expect-report-data',
      '7e7320889600c7ac133aea7b896c51f41026002982292a7369559796999c1bf929eef3ff23c46e858f0b1982f9a92b17c51b578d958cde6b0c92978f150cf9b0',
    ]);
    assert.equal(ok.code, 0);
    const bad = await verifyJson([file, '--at', '2025-06-01T00:00:00Z', '--expect-report-data', '00ff']);
    assert.equal(bad.code, 3);
    assert.equal(bad.out.failures[0]!.code, 'ERR_SNP_REPORT_DATA_MISMATCH');
  });

  test('pass_simulated_evidence_only_with_roots_flag', async () => {
    const rd = Buffer.alloc(64, 3);
    const sim = generateSimSnpReport({ reportData: rd });
    const ev = join(dir, 'sim.json');
    writeFileSync(ev, JSON.stringify(sim.evidence));
    const roots = join(dir, 'roots.pem');
    const m = simSnpRoots()['Milan']!;
    writeFileSync(roots, toPem(m.ark as Uint8Array) + toPem(m.ask as Uint8Array));
    const ok = await verifyJson([
      ev,
      '--roots',
      roots,
      '--at',
      '2026-01-01T00:00:00Z',
      '--expect-report-data',
      rd.toString('hex'),
    ]);
    assert.equal(ok.code, 0, JSON.stringify(ok.out.failures));
    const refused = await verifyJson([ev, '--at', '2026-01-01T00:00:00Z']);
    assert.equal(refused.code, 3);
    assert.equal(refused.out.failures[0]!.code, 'ERR_SNP_CHAIN_INVALID');
  });

  test('pass_sample_tee_exit_0; fail_report_data_exit_3; kbs tee-evidence wrapper unwrapped', async () => {
    const digest = Buffer.alloc(48, 5);
    const f = join(dir, 'sample.json');
    writeFileSync(
      f,
      JSON.stringify({
        primary_evidence: { svn: '1', report_data: digest.toString('base64') },
        additional_evidence: '',
      }),
    );
    const ok = await verifyJson([f, '--expect-report-data', digest.toString('hex')]);
    assert.equal(ok.code, 0);
    assert.equal(ok.out.tee, 'sample');
    assert.equal((ok.out.claims['sample'] as Record<string, unknown>)['launch_digest'], 'abcde');
    const bad = await verifyJson([f, '--tee', 'sample', '--expect-report-data', '00']);
    assert.equal(bad.code, 3);
    assert.equal(bad.out.failures[0]!.code, 'ERR_SAMPLE_REPORT_DATA_MISMATCH');
  });

  test('pass_trustee_offline_vcek_store_as_certs_folder', async () => {
    const hw =
      '371c55d6d15cb50f16dc31d39a24e300caaabff4431e841111429b73ec45ad67ea6e687ffae7bf84b54a5d0e6d79b3ef6ff0bd8b4cff94c2163af5c5de8718e8';
    const store = join(dir, 'store');
    mkdirSync(join(store, 'vcek', hw), { recursive: true });
    copyFileSync(snp('trustee-genoa-e2e', 'vcek.der'), join(store, 'vcek', hw, 'vcek.der'));
    const { code } = await verifyJson([
      snp('trustee-genoa-e2e', 'report.bin'),
      '--certs',
      store,
      '--at',
      '2025-06-01T00:00:00Z',
    ]);
    assert.equal(code, 0);
  });

  test('fail_undetectable_evidence_exit_3', async () => {
    const f = join(dir, 'garbage.bin');
    writeFileSync(f, Buffer.from('not evidence at all'));
    const { code, out } = await verifyJson([f]);
    assert.equal(code, 3);
    assert.equal(out.failures[0]!.code, 'ERR_ATTEST_TEE_UNDETECTED');
  });

  const usage: { name: string; args: string[] }[] = [
    { name: 'fail_usage_bad_tee', args: ['--tee', 'sev'] },
    { name: 'fail_usage_bad_time', args: ['--at', 'yesterday'] },
    { name: 'fail_usage_bad_hex', args: ['--expect-report-data', 'zz'] },
    { name: 'fail_usage_collateral_and_online', args: ['--collateral', '/x', '--online'] },
    { name: 'fail_usage_bad_vmpl', args: ['--vmpl', '9'] },
    { name: 'fail_usage_bad_min_tcb', args: ['--min-tcb', 'bl=1'] },
  ];
  for (const u of usage) {
    test(`${u.name}_exit_2`, async () => {
      const c = ctx();
      const code = await runCli(
        ['attest', 'verify', snp('trustee-genoa-e2e', 'evidence.json'), ...u.args],
        c,
      );
      assert.equal(code, 2, c.stderr.join('\n'));
      assert.match(c.stderr.join('\n'), /ERR_CLI_USAGE/);
    });
  }

  test('pass_text_output_names_verdict_and_failures', async () => {
    const c = ctx();
    const code = await runCli(
      [
        'attest',
        'verify',
        snp('teekit-gcp', 'sev-gcp-reportdata.bin'),
        '--certs',
        snp('teekit-gcp', 'sev-gcp-cert-chain.pem'),
        '--at',
        '2026-01-01T00:00:00Z',
      ],
      c,
    );
    // sev-gcp-cert-chain.pem holds ASK+ARK only: no VCEK → ERR_SNP_CERT_MISSING.
    assert.equal(code, 3);
    assert.match(c.stdout.join('\n'), /verdict: invalid/);
    assert.match(c.stdout.join('\n'), /ERR_SNP_CERT_MISSING/);
  });
});

describe('cocoon attest verify on TDX samples', () => {
  const tdx = (...p: string[]): string => sharedPath('evidence', 'tdx', ...p);
  test('pass_tdx_uptodate_with_offline_collateral_exit_0', async () => {
    const { code, out } = await verifyJson([
      tdx('dcapqvl-uptodate', 'quote.bin'),
      '--collateral',
      tdx('dcapqvl-uptodate', 'collateral.json'),
      '--at',
      '2025-07-19T10:00:34Z',
    ]);
    assert.deepEqual(
      [code, out.tee, out.verdict, out.tcbStatus],
      [0, 'tdx', 'valid', 'UpToDate'],
      JSON.stringify(out.failures),
    );
  });
  test('fail_tdx_tcb_level_not_supported_exit_4', async () => {
    const { code, out } = await verifyJson([
      tdx('dcapqvl-outdated', 'quote.bin'),
      '--collateral',
      tdx('dcapqvl-outdated', 'collateral.json'),
      '--at',
      '2026-03-20T10:41:14Z',
    ]);
    assert.equal(code, 4);
    assert.ok(
      out.failures.length > 0 && out.failures.every((f) => f.stage === 'tcb'),
      JSON.stringify(out.failures),
    );
  });
  test('fail_tdx_without_collateral_is_not_evaluated_exit_4; --tee snp on a quote exit 3', async () => {
    const q = tdx('dcapqvl-uptodate', 'quote.bin');
    const { code, out } = await verifyJson([q, '--at', '2025-07-19T10:00:34Z']);
    assert.deepEqual([code, out.verdict, out.tcbStatus], [4, 'valid', 'NotEvaluated']);
    const wrong = await verifyJson([q, '--tee', 'snp']);
    assert.equal(wrong.code, 3);
    assert.equal(wrong.out.failures[0]!.code, 'ERR_SNP_REPORT_SIZE');
  });
  test('pass_tdx_show_json', async () => {
    const c = ctx();
    assert.equal(await runCli(['attest', 'show', tdx('dcapqvl-uptodate', 'quote.bin'), '--json'], c), 0);
    const d = JSON.parse(c.stdout[0]!) as { tee: string; quote: { body: { mrTd: string } } };
    assert.equal(d.tee, 'tdx');
    assert.match(d.quote.body.mrTd, /^91eb2b44d141/);
  });
});

describe('cocoon attest show', () => {
  test('pass_show_json_has_every_field', async () => {
    const c = ctx();
    assert.equal(await runCli(['attest', 'show', snp('teekit-gcp', 'sev-gcp.bin'), '--json'], c), 0);
    const d = JSON.parse(c.stdout[0]!) as { tee: string; report: Record<string, unknown> };
    assert.equal(d.tee, 'snp');
    for (const k of [
      'VERSION',
      'POLICY',
      'MEASUREMENT',
      'CHIP_ID',
      'REPORTED_TCB',
      'CURRENT_MIT_VECTOR',
      'SIGNATURE',
    ]) {
      assert.ok(k in d.report, k);
    }
    assert.equal(d.report['CURRENT_MIT_VECTOR'], '0x000000000000000b');
  });
  test('pass_show_text_for_trustee_json', async () => {
    const c = ctx();
    assert.equal(await runCli(['attest', 'show', snp('trustee-genoa-e2e', 'evidence.json')], c), 0);
    const text = c.stdout.join('\n');
    assert.match(text, /product: Genoa/);
    assert.match(text, /debugAllowed: false/);
    assert.match(text, /CURRENT: 1\.55\.40/);
  });
  test('fail_show_of_a_truncated_report_is_a_typed_error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-attest-show-'));
    try {
      const f = join(dir, 'r.bin');
      const b = Buffer.alloc(0x4a0);
      b.writeUInt32LE(9, 0);
      writeFileSync(f, b);
      const c = ctx();
      assert.equal(await runCli(['attest', 'show', f, '--tee', 'snp'], c), 1);
      assert.match(c.stderr.join('\n'), /ERR_SNP_REPORT_VERSION/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
