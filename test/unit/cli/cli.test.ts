import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/main.js';
import { processContext, type CliContext } from '../../../src/cli/context.js';
import { packageRoot } from '../../../src/common/paths.js';

function ctx(): CliContext & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { ...processContext, out: (l) => stdout.push(l), err: (l) => stderr.push(l), stdout, stderr };
}

test('cocoon version --json', async () => {
  const c = ctx();
  assert.equal(await runCli(['version', '--json'], c), 0);
  const v = JSON.parse(c.stdout[0]!) as Record<string, string>;
  assert.equal(v['kbsProtocol'], '0.4.0');
  assert.equal(v['criApi'], 'runtime.v1');
});

test('cocoon config print shows the effective level from --set over env', async () => {
  const c = ctx();
  assert.equal(await runCli(['config', 'print', '--json', '--set', 'log.level=warn'], c), 0);
  const printed = JSON.parse(c.stdout.join('\n')) as { config: { log: { level: string } } };
  assert.equal(printed.config.log.level, 'warn');
  const t = ctx();
  assert.equal(await runCli(['--log-level', 'debug', 'config', 'print'], t), 0);
  assert.match(t.stdout.join('\n'), /level = "debug"/);
});

test('usage errors exit 2; typed errors print their code and exit 1', async () => {
  const c = ctx();
  assert.equal(await runCli(['config', 'print', '--set', 'broken'], c), 1);
  assert.match(c.stderr.join('\n'), /ERR_CONFIG_INVALID/);
  const saved = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.equal(await runCli(['no-such-command'], ctx()), 2);
  } finally {
    process.stderr.write = saved;
  }
});

test('the bin/cocoon wrapper runs the built CLI, or says how to build it', () => {
  const r = spawnSync(join(packageRoot(), 'bin/cocoon'), ['version'], { encoding: 'utf8', timeout: 30000 });
  if (r.status === 0) assert.match(r.stdout, /kbsProtocol: 0\.4\.0/);
  else assert.match(r.stderr, /scripts\/setup\.sh/);
});

test('cocoon config print output loads back as a config file with the same effect', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const c = ctx();
  assert.equal(await runCli(['config', 'print', '--set', 'log.level=warn'], c), 0);
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-print-'));
  const file = join(dir, 'printed.toml');
  writeFileSync(file, c.stdout.join('\n'));
  const again = ctx();
  // The environment (COCOON_LOG_LEVEL in tests) outranks the file, so pin the level by flag.
  assert.equal(
    await runCli(['--config', file, 'config', 'print', '--json', '--set', 'log.level=warn'], again),
    0,
    again.stderr.join('\n'),
  );
  const first = ctx();
  assert.equal(await runCli(['config', 'print', '--json', '--set', 'log.level=warn'], first), 0);
  const a = JSON.parse(again.stdout.join('\n')) as { config: unknown };
  const b = JSON.parse(first.stdout.join('\n')) as { config: unknown };
  assert.deepEqual(a.config, b.config);
});
