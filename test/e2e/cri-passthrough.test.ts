/**
 * Pass-through against Debian's real containerd (its CRI plugin): a handler configured as
 * `passthrough` is forwarded to containerd's socket, and the List RPCs merge both runtimes.
 * containerd runs with its own root/state under a temp dir, `restrict_oom_score_adj = true`
 * (env-notes.md), on its own Unix socket, and is killed by PID; its one pod uses the host network
 * namespace, so nothing creates an interface.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassthroughClient } from '../../src/cri/passthrough.js';
import { busyboxLayerTar, pushImage, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { podConfig, startTestServer, type Reply, type TestServer } from '../unit/cri/helpers.js';

const CONTAINERD = '/usr/bin/containerd';
if (!existsSync(CONTAINERD))
  throw new Error(
    `${CONTAINERD} is missing: install the Debian package containerd (bash scripts/install-deps.sh)`,
  );

let reg: TestRegistry;
let t: TestServer;
let containerd: ChildProcess | undefined;
let sock = '';
let pauseRef = '';
let appRef = '';
let ctrDir = '';

before(async () => {
  reg = await startRegistry();
  pauseRef = (
    await pushImage(reg, 'library/pause', {
      layers: [busyboxLayerTar()],
      runtimeConfig: { Cmd: ['/bin/sleep', '3600'] },
      tag: '1',
    })
  ).ref;
  appRef = (
    await pushImage(reg, 'library/app', {
      layers: [busyboxLayerTar()],
      runtimeConfig: { Cmd: ['/bin/sh'] },
      tag: '1',
    })
  ).ref;
  const d = (ctrDir = mkdtempSync(join(tmpdir(), 'cocoon-containerd-')));
  mkdirSync(join(d, 'cni'), { recursive: true });
  sock = join(d, 'containerd.sock');
  writeFileSync(
    join(d, 'config.toml'),
    [
      'version = 2',
      `root = "${d}/root"`,
      `state = "${d}/state"`,
      '[grpc]',
      `  address = "${sock}"`,
      '[ttrpc]',
      `  address = "${sock}.ttrpc"`,
      '[debug]',
      `  address = "${d}/debug.sock"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      '  restrict_oom_score_adj = true',
      `  sandbox_image = "${pauseRef}"`,
      '  [plugins."io.containerd.grpc.v1.cri".cni]',
      `    conf_dir = "${d}/cni"`,
      `  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."${reg.host}"]`,
      `    endpoint = ["${reg.url}"]`,
    ].join('\n'),
  );
  // containerd stays in the host network namespace so it can pull from the loopback registry;
  // the only pod it runs is host-network, so it creates no interface (CNI is never called).
  containerd = spawn(CONTAINERD, ['--config', join(d, 'config.toml')], { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  while (!existsSync(sock)) {
    if (Date.now() > deadline || containerd.exitCode !== null) throw new Error('containerd did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  // Our server, with runc forwarded to containerd (handler names are configuration).
  t = await startTestServer({
    raw: { passthrough_endpoint: `unix://${sock}`, handlers: { runc: { kind: 'passthrough' } } },
  });
});

after(async () => {
  await t?.close();
  const c = containerd;
  if (c !== undefined && c.exitCode === null) {
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      process.kill(c.pid!, 'SIGKILL');
    });
  }
  await reg?.stop();
  if (ctrDir !== '') rmSync(ctrDir, { recursive: true, force: true });
});

test('pass_passthrough_forwards_and_lists_merge', { timeout: 120_000 }, async () => {
  const direct = new PassthroughClient(`unix://${sock}`);
  try {
    const v = await direct.call('runtime', 'Version', { version: 'v1' });
    assert.equal(v['runtime_name'], 'containerd', 'the peer really is containerd');
  } finally {
    direct.close();
  }
  // Our own Version/Status answer for Cocoon.
  assert.equal((await t.client.call('Version', {})).runtime_name, 'cocoon');
  // A pull for the passthrough handler goes to containerd (our store never sees the image).
  for (const ref of [pauseRef, appRef]) {
    const p = await t.client.call(
      'PullImage',
      { image: { image: ref, runtime_handler: 'runc' } },
      { image: true, deadlineMs: 60_000 },
    );
    assert.match(p.image_ref, /^sha256:/);
  }
  const imgs = (await t.client.call('ListImages', {}, { image: true })).images as Reply[];
  assert.ok(
    imgs.some((i) => (i.repo_tags as string[]).includes(appRef)),
    'ListImages includes containerd images',
  );
  // A local pod (test-noop) and a forwarded host-network pod in containerd.
  const local = (
    await t.client.call('RunPodSandbox', { config: podConfig('local', 'u-local'), runtime_handler: 'noop' })
  ).pod_sandbox_id;
  const hostNet = podConfig('remote', 'u-remote', 0, {
    hostname: '',
    linux: { security_context: { namespace_options: { network: 'NODE', pid: 'POD', ipc: 'POD' } } },
  });
  const remote = (
    await t.client.call('RunPodSandbox', { config: hostNet, runtime_handler: 'runc' }, { deadlineMs: 60_000 })
  ).pod_sandbox_id;
  assert.notEqual(remote, local);
  const items = (await t.client.call('ListPodSandbox', {})).items as Reply[];
  assert.deepEqual(
    items.map((p) => p.id).sort(),
    [local, remote].sort(),
    'ListPodSandbox merges both runtimes',
  );
  const st = await t.client.call('PodSandboxStatus', { pod_sandbox_id: remote });
  assert.equal(st.status.metadata.name, 'remote');
  assert.equal(st.status.runtime_handler, 'runc');
  await t.client.call('StopPodSandbox', { pod_sandbox_id: remote }, { deadlineMs: 60_000 });
  await t.client.call('RemovePodSandbox', { pod_sandbox_id: remote }, { deadlineMs: 60_000 });
  const after = (await t.client.call('ListPodSandbox', {})).items as Reply[];
  assert.deepEqual(
    after.map((p) => p.id),
    [local],
  );
  await t.client.call('RemovePodSandbox', { pod_sandbox_id: local });
});
