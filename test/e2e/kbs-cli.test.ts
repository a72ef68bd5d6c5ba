/**
 * The CLI end to end: `cocoon kbs serve` as a child process (stopped by PID with SIGTERM), and
 * `cocoon kbs-client` subcommands run in-process against it: admin config, attest, get-resource.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { processContext, type CliContext } from '../../src/cli/context.js';
import { packageRoot } from '../../src/common/paths.js';
import { decodeJwt } from '../../src/kbs-protocol/index.js';

function ctx(): CliContext & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { ...processContext, out: (l) => stdout.push(l), err: (l) => stderr.push(l), stdout, stderr };
}

describe('kbs e2e: cocoon kbs serve + cocoon kbs-client', () => {
  let dir: string;
  let child: ChildProcess;
  let url = '';
  let admin: string[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kbs-cli-'));
    const keys = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'admin.pub'), keys.publicKey.export({ format: 'pem', type: 'spki' }));
    writeFileSync(join(dir, 'admin.key'), keys.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(packageRoot(), 'src/cli/bin.ts'),
        '--log-level',
        'silent',
        'kbs',
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--insecure-http',
        '--resources-dir',
        join(dir, 'res'),
        '--admin-public-key',
        join(dir, 'admin.pub'),
        '--allow-sample',
        '--trust-test-roots',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: packageRoot() },
    );
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(
        () => reject(new Error(`kbs serve did not start within 90 s: ${err}`)),
        90_000,
      );
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /^(http:\/\/\S+)$/m.exec(out);
        if (m !== null) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      child.on('exit', (code) => reject(new Error(`kbs serve exited ${code}: ${err}`)));
    });
    admin = ['kbs-client', '--url', url, '--insecure-http', 'config', '--admin-key', join(dir, 'admin.key')];
  });

  after(async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('pass_admin_then_get_resource', async () => {
    writeFileSync(join(dir, 'secret'), 'cli-secret');
    writeFileSync(join(dir, 'policy'), 'builtin:allow_all');
    assert.equal(
      await runCli(
        [...admin, 'set-resource', '--path', 'default/key/cli', '--resource-file', join(dir, 'secret')],
        ctx(),
      ),
      0,
    );
    assert.equal(
      await runCli([...admin, 'set-resource-policy', '--policy-file', join(dir, 'policy')], ctx()),
      0,
    );
    const c = ctx();
    assert.equal(
      await runCli(
        [
          'kbs-client',
          '--url',
          url,
          '--insecure-http',
          'get-resource',
          '--path',
          'default/key/cli',
          '--base64',
        ],
        c,
      ),
      0,
      c.stderr.join('\n'),
    );
    assert.equal(Buffer.from(c.stdout[0]!, 'base64').toString(), 'cli-secret');
  });

  test('pass_attest_prints_token_sim_snp', async () => {
    const c = ctx();
    assert.equal(
      await runCli(['kbs-client', '--url', url, '--insecure-http', 'attest', '--tee', 'sim-snp'], c),
      0,
      c.stderr.join('\n'),
    );
    const cpu0 = (decodeJwt(c.stdout[0]!).payload['submods'] as Record<string, Record<string, unknown>>)[
      'cpu0'
    ]!;
    assert.ok('snp' in (cpu0['ear.veraison.annotated-evidence'] as Record<string, unknown>));
  });

  test('pass_attest_with_sample_device_adds_gpu0', async () => {
    const c = ctx();
    assert.equal(
      await runCli(
        ['kbs-client', '--url', url, '--insecure-http', 'attest', '--tee', 'sim-tdx', '--sample-device', '4'],
        c,
      ),
      0,
      c.stderr.join('\n'),
    );
    const s = decodeJwt(c.stdout[0]!).payload['submods'] as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(s).sort(), ['cpu0', 'gpu0']);
    const ae = s['gpu0']!['ear.veraison.annotated-evidence'] as Record<string, unknown>;
    assert.deepEqual(ae['sampledevice'], { svn: '4' });
  });

  test('pass_reference_value_round_trip', async () => {
    assert.equal(await runCli([...admin, 'set-reference-value', 'svn', '1'], ctx()), 0);
    assert.equal(
      await runCli(
        [...admin, 'set-sample-reference-value', 'major_version', '1', '--as-integer', '--as-single-value'],
        ctx(),
      ),
      0,
    );
    const c = ctx();
    assert.equal(await runCli([...admin, 'get-reference-value', '--id', 'svn'], c), 0);
    assert.deepEqual(JSON.parse(c.stdout[0]!), ['1']);
  });

  test('fail_admin_without_key', async () => {
    writeFileSync(join(dir, 'x'), 'x');
    const c = ctx();
    assert.equal(
      await runCli(
        [
          'kbs-client',
          '--url',
          url,
          '--insecure-http',
          'config',
          'set-resource',
          '--path',
          'a/b/c',
          '--resource-file',
          join(dir, 'x'),
        ],
        c,
      ),
      1,
    );
    assert.match(c.stderr.join('\n'), /ERR_KBS_CLIENT_ADMIN_REJECTED/);
  });

  test('fail_https_default_refuses_http_url', async () => {
    const c = ctx();
    assert.equal(await runCli(['kbs-client', '--url', url, 'attest'], c), 1);
    assert.match(c.stderr.join('\n'), /ERR_KBS_CLIENT_INSECURE_URL/);
  });

  test('fail_bad_tee_flag', async () => {
    const c = ctx();
    assert.equal(
      await runCli(['kbs-client', '--url', url, '--insecure-http', 'attest', '--tee', 'sev'], c),
      2,
    );
  });
});
