/**
 * The end-to-end runc proof: a pod on the `runc` handler with an image pulled from a local
 * registry (Debian's docker-registry seeded with busybox-static) really runs through
 * containerd-shim-runc-v2 + runc (src/kata driver behind ShimBackend), stops, and reports its
 * real exit codes and CRI-format logs, all over the CRI socket.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxLayerTar, pushImage, startRegistry, type TestRegistry } from '../helpers/registry.js';
import {
  containerConfig,
  podConfig,
  startTestServer,
  type Reply,
  type TestServer,
} from '../unit/cri/helpers.js';

for (const bin of ['/usr/bin/containerd-shim-runc-v2', '/usr/sbin/runc', '/bin/busybox']) {
  if (!existsSync(bin))
    throw new Error(`${bin} is missing: run \`bash scripts/install-deps.sh\` (CI installs it)`);
}

let reg: TestRegistry;
let t: TestServer;
let image = '';
let imageId = '';

before(async () => {
  reg = await startRegistry();
  image = (
    await pushImage(reg, 'library/busybox', {
      layers: [busyboxLayerTar()],
      runtimeConfig: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] },
      tag: '1.35',
    })
  ).ref;
  t = await startTestServer({ raw: { default_runtime_handler: 'runc' } });
});

after(async () => {
  // Even after a failure, leave no pod (shim, runc container) behind.
  for (const p of ((await t?.client.call('ListPodSandbox', {}).catch(() => ({ items: [] })))?.items ??
    []) as Reply[]) {
    await t.client
      .call('RemovePodSandbox', { pod_sandbox_id: p.id }, { deadlineMs: 30_000 })
      .catch(() => undefined);
  }
  await t?.close();
  // A restarted server reuses the first one's directory, so remove it here.
  if (t !== undefined) rmSync(t.dir, { recursive: true, force: true });
  await reg?.stop();
});

async function waitState(id: string, want: string, ms = 15_000): Promise<Reply> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = (await t.client.call('ContainerStatus', { container_id: id })).status as Reply;
    if (s.state === want) return s;
    if (Date.now() > deadline) throw new Error(`container ${id} stayed ${s.state}, wanted ${want}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function logLines(path: string): { stream: string; tag: string; text: string }[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP]) (.*)$/.exec(
        l,
      );
      assert.ok(m !== null, `CRI log line format: ${JSON.stringify(l)}`);
      return { stream: m[2]!, tag: m[3]!, text: m[4]! };
    });
}

test('pass_runc_pod_runs_stops_and_reports_real_exit_codes_and_logs', { timeout: 120_000 }, async () => {
  imageId = (
    await t.client.call(
      'PullImage',
      { image: { image, runtime_handler: 'runc' } },
      { image: true, deadlineMs: 60_000 },
    )
  ).image_ref;
  const logDir = join(t.dir, 'pods', 'default_web_uid-runc');
  mkdirSync(logDir, { recursive: true });
  const pod = podConfig('web', 'uid-runc', 0, { log_directory: logDir });
  const podId = (
    await t.client.call('RunPodSandbox', { config: pod, runtime_handler: 'runc' }, { deadlineMs: 60_000 })
  ).pod_sandbox_id;
  assert.equal(
    (await t.client.call('PodSandboxStatus', { pod_sandbox_id: podId })).status.state,
    'SANDBOX_READY',
  );

  // 1. A container that prints to both streams and exits 3.
  const job = await t.client.call(
    'CreateContainer',
    {
      pod_sandbox_id: podId,
      config: containerConfig('job', imageId, {
        command: ['/bin/sh'],
        args: ['-c', 'echo to-out; echo to-err >&2; exit 3'],
      }),
      sandbox_config: pod,
    },
    { deadlineMs: 60_000 },
  );
  await t.client.call('StartContainer', { container_id: job.container_id }, { deadlineMs: 30_000 });
  const done = await waitState(job.container_id, 'CONTAINER_EXITED');
  assert.equal(done.exit_code, 3);
  assert.equal(done.reason, 'Error');
  assert.notEqual(done.finished_at, '0');
  const jobLog = join(logDir, 'job', '0.log');
  await new Promise((r) => setTimeout(r, 300));
  const lines = logLines(jobLog);
  assert.deepEqual(lines.map((l) => [l.stream, l.tag, l.text]).sort(), [
    ['stderr', 'F', 'to-err'],
    ['stdout', 'F', 'to-out'],
  ]);

  // 2. A long-running container: exec, stats, then a graceful stop with a real exit code.
  const svc = await t.client.call(
    'CreateContainer',
    {
      pod_sandbox_id: podId,
      config: containerConfig('svc', imageId, {
        command: ['/bin/sh'],
        args: ['-c', 'trap "echo bye; exit 42" TERM; echo up; while :; do sleep 1; done'],
      }),
      sandbox_config: pod,
    },
    { deadlineMs: 60_000 },
  );
  await t.client.call('StartContainer', { container_id: svc.container_id }, { deadlineMs: 30_000 });
  await waitState(svc.container_id, 'CONTAINER_RUNNING');
  const ex = await t.client.call(
    'ExecSync',
    {
      container_id: svc.container_id,
      cmd: ['/bin/sh', '-c', 'echo $((6*7)); echo oops >&2; exit 7'],
      timeout: 20,
    },
    { deadlineMs: 30_000 },
  );
  assert.equal(Buffer.from(ex.stdout, 'base64').toString(), '42\n');
  assert.equal(Buffer.from(ex.stderr, 'base64').toString(), 'oops\n');
  assert.equal(ex.exit_code, 7);
  const st = await t.client.call('ContainerStats', { container_id: svc.container_id });
  assert.notEqual(st.stats.cpu.timestamp, '0');
  await t.client.call(
    'StopContainer',
    { container_id: svc.container_id, timeout: 10 },
    { deadlineMs: 30_000 },
  );
  const stopped = await waitState(svc.container_id, 'CONTAINER_EXITED');
  assert.equal(stopped.exit_code, 42, 'the process exit code from its TERM trap');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(
    logLines(join(logDir, 'svc', '0.log')).map((l) => l.text),
    ['up', 'bye'],
  );

  // 3. Teardown through the CRI: the pod's shim goes away.
  await t.client.call('RemoveContainer', { container_id: job.container_id }, { deadlineMs: 30_000 });
  await t.client.call('RemoveContainer', { container_id: svc.container_id }, { deadlineMs: 30_000 });
  await t.client.call('StopPodSandbox', { pod_sandbox_id: podId }, { deadlineMs: 30_000 });
  await t.client.call('RemovePodSandbox', { pod_sandbox_id: podId }, { deadlineMs: 30_000 });
  assert.equal((await t.client.call('ListPodSandbox', {})).items.length, 0);
  assert.equal((await t.client.call('ListContainers', {})).containers.length, 0);
});

test('pass_restart_reattaches_running_runc_shim', { timeout: 120_000 }, async () => {
  const logDir = join(t.dir, 'pods', 'default_re_uid-re');
  mkdirSync(logDir, { recursive: true });
  const pod = podConfig('re', 'uid-re', 0, { log_directory: logDir });
  const podId = (
    await t.client.call('RunPodSandbox', { config: pod, runtime_handler: 'runc' }, { deadlineMs: 60_000 })
  ).pod_sandbox_id;
  const c = await t.client.call(
    'CreateContainer',
    {
      pod_sandbox_id: podId,
      config: containerConfig('long', imageId, {
        command: ['/bin/sh'],
        args: ['-c', 'trap "echo term; exit 9" TERM; echo before; while :; do sleep 1; done'],
      }),
    },
    { deadlineMs: 60_000 },
  );
  await t.client.call('StartContainer', { container_id: c.container_id }, { deadlineMs: 30_000 });
  await waitState(c.container_id, 'CONTAINER_RUNNING');
  // Restart Cocoon on the same state directory; the shim and the container keep running.
  const dir = t.dir;
  await t.server.close();
  t.client.close();
  t = await startTestServer({ dir, raw: { default_runtime_handler: 'runc' } });
  assert.equal(t.server.recovery.deadPods, 0);
  assert.equal(
    (await t.client.call('PodSandboxStatus', { pod_sandbox_id: podId })).status.state,
    'SANDBOX_READY',
  );
  await waitState(c.container_id, 'CONTAINER_RUNNING');
  const ex = await t.client.call(
    'ExecSync',
    { container_id: c.container_id, cmd: ['/bin/echo', 'still here'], timeout: 20 },
    { deadlineMs: 30_000 },
  );
  assert.equal(Buffer.from(ex.stdout, 'base64').toString(), 'still here\n');
  await t.client.call('StopContainer', { container_id: c.container_id, timeout: 10 }, { deadlineMs: 30_000 });
  const s = await waitState(c.container_id, 'CONTAINER_EXITED');
  assert.equal(s.exit_code, 9, 'the exit seen by the re-attached shim');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(
    logLines(join(logDir, 'long', '0.log')).map((l) => l.text),
    ['before', 'term'],
    'the log resumed after re-attach',
  );
  await t.client.call('RemovePodSandbox', { pod_sandbox_id: podId }, { deadlineMs: 30_000 });
});
