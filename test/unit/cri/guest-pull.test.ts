/**
 * Guest pull (cri-kata.md §3.9 option A): PullImage for a guest-pull handler fetches the
 * manifest and config only — the counting proxy in front of Debian's docker-registry sees zero
 * layer-blob requests — and ImageStatus still answers a real id, size and user. CreateContainer
 * hands the backend a guest rootfs (no host layers) and the sandbox gets the handler's initdata.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNoopBackend } from '../../../src/cri/backend-noop.js';
import type { ContainerLaunch, SandboxLaunch } from '../../../src/cri/backend.js';
import { decodeInitData, KATA_ANNOTATIONS } from '../../../src/kata/index.js';
import { kataAnnotationsFor } from '../../../src/cri/kata-annotations.js';
import {
  busyboxLayerTar,
  pushImage,
  startRegistry,
  type PushedImage,
  type TestRegistry,
} from '../../helpers/registry.js';
import { containerConfig, podConfig, startTestServer, type TestServer } from './helpers.js';

class CapturingBackend extends TestNoopBackend {
  sandboxes: SandboxLaunch[] = [];
  containers: ContainerLaunch[] = [];
  override async startSandbox(s: SandboxLaunch): Promise<{ pid: number }> {
    this.sandboxes.push(s);
    return super.startSandbox(s);
  }
  override async createContainer(c: ContainerLaunch): Promise<{ pid: number }> {
    this.containers.push(c);
    return super.createContainer(c);
  }
}

let reg: TestRegistry;
let t: TestServer;
let pushed: PushedImage;
const backend = new CapturingBackend();

before(async () => {
  reg = await startRegistry();
  pushed = await pushImage(reg, 'confidential/app', {
    layers: [busyboxLayerTar()],
    runtimeConfig: { Entrypoint: ['/bin/sh'], Cmd: ['-c', 'id'], User: '65532:65532' },
    tag: 'v1',
  });
  t = await startTestServer({ backendFor: () => backend });
});
after(async () => {
  await t?.close();
  await reg?.stop();
});

function layerRequests(): string[] {
  return reg.requestLog
    .filter((r) => r.kind === 'blob' && pushed.layerDigests.some((d) => r.path.endsWith(d)))
    .map((r) => r.path);
}

describe('guest pull', () => {
  test('pass_pull_by_runtime_handler_fetches_no_layer', async () => {
    reg.requestLog.length = 0;
    const p = await t.client.call(
      'PullImage',
      { image: { image: pushed.ref, runtime_handler: 'noop-guest' } },
      { image: true, deadlineMs: 30_000 },
    );
    assert.equal(p.image_ref, pushed.configDigest);
    assert.deepEqual(layerRequests(), [], 'zero layer blob requests');
    assert.ok(
      reg.requestLog.some((r) => r.kind === 'manifest'),
      'the manifest was fetched',
    );
    const s = await t.client.call('ImageStatus', { image: { image: pushed.ref } }, { image: true });
    assert.equal(s.image.id, pushed.configDigest);
    assert.equal(s.image.size, String(pushed.layerSizes.reduce((a, b) => a + b, 0)));
    assert.equal(s.image.uid.value, '65532', 'runAsNonRoot sees the image user');
    assert.deepEqual(layerRequests(), []);
  });

  test('pass_pull_by_sandbox_config_picks_the_pods_handler', async () => {
    const pod = podConfig('cc', 'uid-cc');
    const r = await t.client.call('RunPodSandbox', { config: pod, runtime_handler: 'noop-guest' });
    reg.requestLog.length = 0;
    await t.client.call(
      'PullImage',
      { image: { image: pushed.ref }, sandbox_config: pod },
      { image: true, deadlineMs: 30_000 },
    );
    assert.deepEqual(layerRequests(), []);
    const c = await t.client.call('CreateContainer', {
      pod_sandbox_id: r.pod_sandbox_id,
      config: containerConfig('app', pushed.configDigest, {
        image: { image: pushed.configDigest, user_specified_image: pushed.ref },
        command: [],
        args: [],
      }),
      sandbox_config: pod,
    });
    assert.match(c.container_id, /^[0-9a-f]{64}$/);
    const launch = backend.containers.at(-1)!;
    assert.deepEqual(launch.rootfs, { kind: 'guest', imageName: pushed.ref, imageRef: pushed.configDigest });
    assert.deepEqual(launch.args, ['/bin/sh', '-c', 'id'], 'entrypoint + cmd from the guest-pull metadata');
    assert.equal(launch.uid, 65532);
    assert.deepEqual(layerRequests(), [], 'CreateContainer moved no layer byte either');
    const s = await t.client.call('ContainerStatus', { container_id: c.container_id });
    assert.equal(s.status.image_ref, pushed.configDigest);
  });

  test('pass_confidential_sandbox_gets_initdata', async () => {
    const sb = backend.sandboxes.find((s) => s.handler.name === 'noop-guest')!;
    const ann = sb.extraAnnotations[KATA_ANNOTATIONS.initData];
    assert.ok(ann !== undefined);
    const dec = decodeInitData(ann);
    assert.match(dec.toml, /url = "http:\/\/127\.0\.0\.1:1"/);
    assert.equal(dec.document.algorithm, 'sha384');
    assert.deepEqual(
      kataAnnotationsFor(t.config.handlers['noop']!),
      {},
      'no initdata for a non-confidential handler',
    );
  });
});
