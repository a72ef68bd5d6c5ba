/**
 * The `start` / `delete` protocol (cri-kata.md §4.2) against real processes: small shell
 * scripts that behave like shims (print an address, JSON, garbage, fail, hang).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  deleteShim,
  encodeContainerdMessage,
  parseShimAddress,
  reattachShim,
  startShim,
} from '../../../src/kata/index.js';
import { TtrpcServer } from '../../../src/ttrpc/index.js';
import { rejectsCode, throwsCode } from '../../helpers/assert-code.js';

let dir: string;
let bundle: string;

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cocoon-kata-shim-'));
  bundle = join(dir, 'bundle');
  mkdirSync(bundle);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('parseShimAddress', () => {
  const ok: [string, string, string][] = [
    ['pass_plain', 'unix:///run/containerd/s/abc', 'unix:///run/containerd/s/abc'],
    ['pass_plain_trailing_newline', 'unix:///run/x.sock\n', 'unix:///run/x.sock'],
    ['pass_json_v2', '{"version":2,"address":"unix:///run/y.sock","protocol":"ttrpc"}', 'unix:///run/y.sock'],
    ['pass_json_without_protocol', '{"version":3,"address":"unix:///run/z.sock"}', 'unix:///run/z.sock'],
  ];
  for (const [name, input, want] of ok) test(name, () => assert.equal(parseShimAddress(input).address, want));

  const bad: [string, string][] = [
    ['fail_empty', ''],
    ['fail_not_unix', 'tcp://127.0.0.1:1'],
    ['fail_bare_scheme', 'unix://'],
    ['fail_two_words', 'unix:///a b'],
    ['fail_json_v1', '{"version":1,"address":"unix:///a"}'],
    ['fail_json_grpc', '{"version":2,"address":"unix:///a","protocol":"grpc"}'],
    ['fail_json_broken', '{"version":2,'],
  ];
  for (const [name, input] of bad) {
    test(name, () => {
      throwsCode(() => parseShimAddress(input), 'ERR_KATA_ADDRESS_INVALID');
    });
  }
});

describe('startShim', () => {
  test('pass_protocol_flags_cwd_env_stdin', async () => {
    const bin = script(
      'shim-ok',
      `printf '%s\\n' "$@" > "$PWD/args"
echo "$TTRPC_ADDRESS|$NAMESPACE|$MAX_SHIM_VERSION|$EXTRA" > "$PWD/env"
cat > "$PWD/stdin"
echo 4242 > "$PWD/shim.pid"
printf 'unix:///run/containerd/s/feed'`,
    );
    const r = await startShim({
      binary: bin,
      id: 'sb-1',
      namespace: 'k8s.io',
      bundle,
      eventsAddress: 'unix:///run/cocoon/events.sock',
      containerdAddress: '/run/cocoon/fake.sock',
      publishBinary: '/bin/false',
      env: { EXTRA: 'x' },
      timeoutMs: 5000,
    });
    assert.deepEqual(r, { address: 'unix:///run/containerd/s/feed', protocol: 'ttrpc', pid: 4242 });
    assert.deepEqual(readFileSync(join(bundle, 'args'), 'utf8').trim().split('\n'), [
      '-namespace',
      'k8s.io',
      '-address',
      '/run/cocoon/fake.sock',
      '-publish-binary',
      '/bin/false',
      '-id',
      'sb-1',
      'start',
    ]);
    // TTRPC_ADDRESS is a plain path, as containerd passes it.
    assert.equal(readFileSync(join(bundle, 'env'), 'utf8').trim(), '/run/cocoon/events.sock|k8s.io|2|x');
    assert.equal(readFileSync(join(bundle, 'stdin'), 'utf8'), '', 'stdin was not at EOF');
    rmSync(join(bundle, 'shim.pid'));
  });

  test('pass_json_address', async () => {
    const bin = script(
      'shim-json',
      `printf '{"version":2,"address":"unix:///run/j.sock","protocol":"ttrpc"}'`,
    );
    const r = await startShim({ binary: bin, id: 'a', namespace: 'ns', bundle, timeoutMs: 5000 });
    assert.equal(r.address, 'unix:///run/j.sock');
    assert.equal(r.pid, undefined);
  });

  test('pass_daemon_holding_stdout_does_not_block', async () => {
    // The "daemon" keeps the inherited stdout open; start must still return promptly.
    const bin = script(
      'shim-leaky',
      `sleep 20 & echo $! > "$PWD/leaky.pid"; printf 'unix:///run/leaky.sock'`,
    );
    const t0 = Date.now();
    try {
      const r = await startShim({ binary: bin, id: 'a', namespace: 'ns', bundle, timeoutMs: 8000 });
      assert.equal(r.address, 'unix:///run/leaky.sock');
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      const pid = Number(readFileSync(join(bundle, 'leaky.pid'), 'utf8'));
      if (pid > 1) process.kill(pid, 'SIGKILL');
    }
  });

  const failing: [string, string, number][] = [
    ['fail_exit_status', 'echo "boom" >&2; exit 1', 5000],
    ['fail_garbage_stdout', 'printf hello', 5000],
    ['fail_grpc_protocol', `printf '{"version":2,"address":"unix:///a","protocol":"grpc"}'`, 5000],
    ['fail_hang_times_out', 'exec sleep 30', 300],
  ];
  for (const [name, body, timeoutMs] of failing) {
    test(name, async () => {
      const bin = script(`shim-${name}`, body);
      const t0 = Date.now();
      const e = await rejectsCode(
        startShim({ binary: bin, id: 'a', namespace: 'ns', bundle, timeoutMs }),
        'ERR_KATA_SHIM_START_FAILED',
      );
      assert.ok(Date.now() - t0 < 4000, 'not bounded');
      if (name === 'fail_exit_status') assert.equal(e.details['stderr'], 'boom');
    });
  }

  const badOpts: [string, Record<string, string>][] = [
    ['fail_relative_binary', { binary: 'containerd-shim-runc-v2' }],
    ['fail_bad_id', { id: '../x' }],
    ['fail_empty_namespace', { namespace: '' }],
    ['fail_relative_bundle', { bundle: 'b' }],
    ['fail_missing_binary', { binary: '/nonexistent/shim' }],
  ];
  for (const [name, patch] of badOpts) {
    test(name, async () => {
      await rejectsCode(
        startShim({ binary: '/bin/true', id: 'a', namespace: 'ns', bundle, timeoutMs: 2000, ...patch }),
        'ERR_KATA_SHIM_START_FAILED',
      );
    });
  }
});

describe('deleteShim', () => {
  test('pass_decodes_delete_response', async () => {
    const resp = encodeContainerdMessage('containerd.task.v2.DeleteResponse', {
      pid: 77,
      exit_status: 137,
      exited_at: { seconds: 1_700_000_000, nanos: 5_000_000 },
    });
    writeFileSync(join(dir, 'delresp.bin'), resp);
    const bin = script('shim-del', `printf '%s\\n' "$@" > "$PWD/delargs"; cat "${join(dir, 'delresp.bin')}"`);
    const r = await deleteShim({ binary: bin, id: 'c-9', namespace: 'ns', bundle, timeoutMs: 5000 });
    assert.equal(r.pid, 77);
    assert.equal(r.exitStatus, 137);
    assert.equal(r.exitedAt?.toISOString(), '2023-11-14T22:13:20.005Z');
    const args = readFileSync(join(bundle, 'delargs'), 'utf8').trim().split('\n');
    assert.deepEqual(args.slice(-4), ['c-9', '-bundle', bundle, 'delete']);
  });

  test('fail_exit_status', async () => {
    const bin = script('shim-del-fail', 'echo nope >&2; exit 2');
    await rejectsCode(
      deleteShim({ binary: bin, id: 'c', namespace: 'ns', bundle, timeoutMs: 5000 }),
      'ERR_KATA_SHIM_DELETE_FAILED',
    );
  });

  test('fail_garbage_response', async () => {
    const bin = script('shim-del-garbage', `printf '\\377\\377\\377'`);
    await rejectsCode(
      deleteShim({ binary: bin, id: 'c', namespace: 'ns', bundle, timeoutMs: 5000 }),
      'ERR_KATA_SHIM_DELETE_FAILED',
    );
  });
});

describe('reattachShim', () => {
  test('pass_dead_without_address_file', async () => {
    const b = join(dir, 'ra-none');
    mkdirSync(b);
    assert.equal(await reattachShim({ bundle: b, namespace: 'ns' }), 'dead');
  });

  test('pass_dead_when_pid_gone', async () => {
    const b = join(dir, 'ra-pid');
    mkdirSync(b);
    writeFileSync(join(b, 'address'), 'unix:///nonexistent.sock');
    writeFileSync(join(b, 'shim.pid'), '2147483646');
    assert.equal(await reattachShim({ bundle: b, namespace: 'ns' }), 'dead');
  });

  test('pass_dead_when_nobody_listens', async () => {
    const b = join(dir, 'ra-sock');
    mkdirSync(b);
    writeFileSync(join(b, 'address'), `unix://${join(dir, 'nobody.sock')}`);
    assert.equal(await reattachShim({ bundle: b, namespace: 'ns', dialTimeoutMs: 500 }), 'dead');
  });

  test('pass_dead_shim_cleaned_up_with_delete', async () => {
    const b = join(dir, 'ra-clean');
    mkdirSync(b);
    writeFileSync(join(b, 'address'), `unix://${join(dir, 'gone.sock')}`);
    writeFileSync(
      join(dir, 'delresp2.bin'),
      encodeContainerdMessage('containerd.task.v2.DeleteResponse', { pid: 1 }),
    );
    const bin = script(
      'shim-clean',
      `printf '%s\\n' "$@" > "$PWD/cleaned"; cat "${join(dir, 'delresp2.bin')}"`,
    );
    const r = await reattachShim({
      bundle: b,
      namespace: 'ns',
      dialTimeoutMs: 300,
      cleanup: { binary: bin, timeoutMs: 5000 },
    });
    assert.equal(r, 'dead');
    const args = readFileSync(join(b, 'cleaned'), 'utf8').trim().split('\n');
    assert.deepEqual(args.slice(-4), ['ra-clean', '-bundle', b, 'delete']);
  });

  test('pass_failing_cleanup_still_dead', async () => {
    const b = join(dir, 'ra-clean-fail');
    mkdirSync(b);
    writeFileSync(join(b, 'address'), `unix://${join(dir, 'gone2.sock')}`);
    const bin = script('shim-clean-fail', 'exit 1');
    assert.equal(
      await reattachShim({ bundle: b, namespace: 'ns', dialTimeoutMs: 300, cleanup: { binary: bin } }),
      'dead',
    );
  });

  test('fail_malformed_address_file', async () => {
    const b = join(dir, 'ra-bad');
    mkdirSync(b);
    writeFileSync(join(b, 'address'), 'tcp://127.0.0.1:1');
    await rejectsCode(reattachShim({ bundle: b, namespace: 'ns' }), 'ERR_KATA_ADDRESS_INVALID');
  });

  test('pass_live_shim_answers_connect', async () => {
    const b = join(dir, 'task-1');
    mkdirSync(b);
    const sock = join(dir, 'live.sock');
    const server = new TtrpcServer();
    const seen: string[] = [];
    server.register('containerd.task.v2.Task', 'Connect', async (payload, ctx) => {
      seen.push(`${ctx.metadata['containerd-namespace-ttrpc']?.[0]}:${payload.length}`);
      return encodeContainerdMessage('containerd.task.v2.ConnectResponse', {
        shim_pid: process.pid,
        task_pid: 9,
      });
    });
    const l = await server.listen(`unix://${sock}`);
    try {
      writeFileSync(join(b, 'address'), `unix://${sock}`);
      writeFileSync(join(b, 'shim.pid'), String(process.pid));
      const c = await reattachShim({ bundle: b, namespace: 'k8s.io' });
      assert.notEqual(c, 'dead');
      if (c !== 'dead') await c.close();
      // Connect used the bundle name as id ("task-1" = 8 bytes payload: tag, len, 6 chars).
      assert.deepEqual(seen, ['k8s.io:8']);
    } finally {
      await l.close();
      await server.close();
    }
  });
});
