/**
 * CRI client suite over the socket: the whole pod/container lifecycle on the test-noop backend
 * with a real host pull from Debian's docker-registry, the kubelet's reply checks (cri-kata.md
 * §1.3), byte-exact labels/annotations, idempotent stop/remove, NotFound, events and metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { status as grpcStatus } from '@grpc/grpc-js';
import { busyboxLayerTar, pushImage, startRegistry, type TestRegistry } from '../../helpers/registry.js';
import {
  containerConfig,
  podConfig,
  rejectsGrpc,
  startTestServer,
  type Reply,
  type TestServer,
} from './helpers.js';

let reg: TestRegistry;
let t: TestServer;
let imageRef = '';
let image = '';

before(async () => {
  reg = await startRegistry();
  const pushed = await pushImage(reg, 'library/busybox', {
    layers: [busyboxLayerTar()],
    runtimeConfig: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'], User: '1000:1000' },
    tag: 'latest',
  });
  image = pushed.ref;
  t = await startTestServer();
});

after(async () => {
  await t?.close();
  await reg?.stop();
});

describe('runtime info', () => {
  test('pass_version_all_fields_set', async () => {
    const v = await t.client.call('Version', { version: 'v1' });
    for (const k of ['version', 'runtime_name', 'runtime_version', 'runtime_api_version'])
      assert.notEqual(v[k], '', k);
    assert.equal(v.runtime_api_version, 'v1');
  });
  test('pass_status_runtime_and_network_ready', async () => {
    const s = await t.client.call('Status', { verbose: true });
    const conds = s.status.conditions as Reply[];
    assert.ok(conds.length >= 2);
    assert.deepEqual(
      conds.map((c) => [c.type, c.status]),
      [
        ['RuntimeReady', true],
        ['NetworkReady', true],
      ],
    );
    assert.ok((s.runtime_handlers as Reply[]).some((h) => h.name === 'kata-qemu-tdx'));
    assert.ok(s.info.config.includes('defaultRuntimeHandler'));
  });
  test('pass_runtime_config_cgroup_driver', async () => {
    const r = await t.client.call('RuntimeConfig', {});
    assert.equal(r.linux.cgroup_driver, 'CGROUPFS');
  });
  test('pass_image_fs_info_has_mountpoint', async () => {
    const r = await t.client.call('ImageFsInfo', {}, { image: true });
    assert.ok(r.image_filesystems[0].fs_id.mountpoint.length > 0);
  });
  test('pass_update_runtime_config_pod_cidr', async () => {
    await t.client.call('UpdateRuntimeConfig', {
      runtime_config: { network_config: { pod_cidr: '10.88.0.0/16' } },
    });
    const s = await t.client.call('Status', {});
    assert.match(s.status.conditions[1].message, /10\.88\.0\.0\/16/);
  });
});

describe('images (host pull)', () => {
  test('pass_pull_status_list_remove', async () => {
    const p = await t.client.call('PullImage', { image: { image } }, { image: true, deadlineMs: 30_000 });
    assert.match(p.image_ref, /^sha256:[0-9a-f]{64}$/);
    imageRef = p.image_ref;
    const s = await t.client.call('ImageStatus', { image: { image } }, { image: true });
    assert.equal(s.image.id, imageRef);
    assert.notEqual(s.image.size, '0');
    assert.equal(s.image.uid.value, '1000');
    assert.ok(s.image.repo_tags.includes(image));
    const byId = await t.client.call('ImageStatus', { image: { image: imageRef } }, { image: true });
    assert.equal(byId.image.id, imageRef);
    const l = await t.client.call('ListImages', {}, { image: true });
    assert.ok((l.images as Reply[]).some((i) => i.id === imageRef));
    assert.ok(
      reg.requestLog.some((r) => r.kind === 'blob'),
      'a host pull fetches layers',
    );
  });
  test('pass_image_status_absent_is_null', async () => {
    const s = await t.client.call(
      'ImageStatus',
      { image: { image: `${reg.host}/library/absent:1` } },
      { image: true },
    );
    assert.equal(s.image, null);
  });
  test('fail_pull_unreachable_registry_is_typed_and_bounded', async () => {
    const e = await rejectsGrpc(
      t.client.call(
        'PullImage',
        { image: { image: '127.0.0.1:1/x/y:z' } },
        { image: true, deadlineMs: 30_000 },
      ),
      grpcStatus.UNKNOWN,
      'ERR_CRI_IMAGE_PULL',
    );
    assert.match(e.details, /^RegistryUnavailable: /);
  });
});

describe('pod and container lifecycle', () => {
  const labels = {
    'io.kubernetes.pod.name': 'web',
    'io.kubernetes.pod.namespace': 'default',
    'io.kubernetes.pod.uid': 'uid-1',
    'odd/ключ': 'v\u00e9 \u2603 "quoted"\n',
  };
  let podId = '';
  let ctrId = '';
  const events: Reply[] = [];

  let stream: ReturnType<TestServer['client']['stream']> | undefined;
  before(() => {
    stream = t.client.stream('GetContainerEvents', {});
    stream.on('data', (e: Reply) => events.push(e));
    stream.on('error', () => undefined);
  });
  after(() => stream?.cancel());

  test('pass_run_pod_sandbox_and_status', async () => {
    const cfg = podConfig('web', 'uid-1', 0, { labels });
    const r = await t.client.call('RunPodSandbox', { config: cfg, runtime_handler: '' });
    podId = r.pod_sandbox_id;
    assert.match(podId, /^[0-9a-f]{64}$/);
    const s = await t.client.call('PodSandboxStatus', { pod_sandbox_id: podId });
    assert.equal(s.status.id, podId);
    assert.equal(s.status.metadata.name, 'web');
    assert.equal(s.status.metadata.namespace, 'default');
    assert.equal(s.status.metadata.uid, 'uid-1');
    assert.notEqual(s.status.created_at, '0');
    assert.equal(s.status.state, 'SANDBOX_READY');
    assert.deepEqual(s.status.labels, labels, 'labels round-trip byte for byte');
    assert.deepEqual(s.status.annotations, cfg['annotations']);
    assert.equal(s.status.runtime_handler, '');
  });

  test('pass_retried_run_pod_sandbox_returns_same_id', async () => {
    const r = await t.client.call('RunPodSandbox', { config: podConfig('web', 'uid-1', 0, { labels }) });
    assert.equal(r.pod_sandbox_id, podId);
    const l = await t.client.call('ListPodSandbox', {
      filter: { label_selector: { 'io.kubernetes.pod.uid': 'uid-1' } },
    });
    assert.equal(l.items.length, 1);
  });

  test('pass_create_start_exec_stats_stop_remove_container', async () => {
    const cfg = containerConfig('app', image, { image: { image: imageRef, user_specified_image: image } });
    const c = await t.client.call('CreateContainer', {
      pod_sandbox_id: podId,
      config: cfg,
      sandbox_config: podConfig('web', 'uid-1'),
    });
    ctrId = c.container_id;
    let s = await t.client.call('ContainerStatus', { container_id: ctrId });
    assert.equal(s.status.state, 'CONTAINER_CREATED');
    assert.equal(s.status.image.image, imageRef);
    assert.equal(s.status.image_ref, imageRef);
    assert.notEqual(s.status.created_at, '0');
    assert.deepEqual(s.status.annotations, cfg['annotations']);
    await t.client.call('StartContainer', { container_id: ctrId });
    s = await t.client.call('ContainerStatus', { container_id: ctrId, verbose: true });
    assert.equal(s.status.state, 'CONTAINER_RUNNING');
    assert.notEqual(s.status.started_at, '0');
    const ex = await t.client.call('ExecSync', { container_id: ctrId, cmd: ['echo', 'hi'], timeout: 5 });
    assert.equal(Buffer.from(ex.stdout, 'base64').toString(), 'hi\n');
    assert.equal(ex.exit_code, 0);
    const bad = await t.client.call('ExecSync', { container_id: ctrId, cmd: ['false'] });
    assert.equal(bad.exit_code, 1);
    const st = await t.client.call('ContainerStats', { container_id: ctrId });
    assert.notEqual(st.stats.cpu.timestamp, '0');
    assert.notEqual(st.stats.memory.timestamp, '0');
    const ls = await t.client.call('ListContainerStats', { filter: { pod_sandbox_id: podId } });
    assert.equal(ls.stats.length, 1);
    const ps = await t.client.call('PodSandboxStats', { pod_sandbox_id: podId });
    assert.equal(ps.stats.linux.containers.length, 1);
    const md = await t.client.call('ListMetricDescriptors', {});
    assert.ok(md.descriptors.length > 0);
    const pm = await t.client.call('ListPodSandboxMetrics', {});
    assert.ok(pm.pod_metrics.some((m: Reply) => m.pod_sandbox_id === podId));
    await t.client.call('UpdateContainerResources', {
      container_id: ctrId,
      linux: { cpu_shares: '512', memory_limit_in_bytes: '67108864' },
    });
    await t.client.call('ReopenContainerLog', { container_id: ctrId });
    const lc = await t.client.call('ListContainers', {
      filter: { label_selector: { 'io.kubernetes.container.name': 'app' } },
    });
    assert.deepEqual(
      lc.containers.map((x: Reply) => x.id),
      [ctrId],
    );
    assert.equal(lc.containers[0].image_ref, imageRef);
    await t.client.call('StopContainer', { container_id: ctrId, timeout: 1 });
    s = await t.client.call('ContainerStatus', { container_id: ctrId });
    assert.equal(s.status.state, 'CONTAINER_EXITED');
    assert.equal(s.status.exit_code, 143);
    assert.equal(s.status.reason, 'Error');
    assert.notEqual(s.status.finished_at, '0');
    await t.client.call('StopContainer', { container_id: ctrId, timeout: 0 });
    await t.client.call('RemoveContainer', { container_id: ctrId });
    await t.client.call('RemoveContainer', { container_id: ctrId });
    await rejectsGrpc(
      t.client.call('ContainerStatus', { container_id: ctrId }),
      grpcStatus.NOT_FOUND,
      'ERR_CRI_NOT_FOUND',
    );
  });

  test('pass_events_stream_saw_the_lifecycle', async () => {
    const deadline = Date.now() + 5000;
    while (events.filter((e) => e.container_id === ctrId).length < 4 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      events.filter((e) => e.container_id === ctrId).map((e) => e.container_event_type),
      [
        'CONTAINER_CREATED_EVENT',
        'CONTAINER_STARTED_EVENT',
        'CONTAINER_STOPPED_EVENT',
        'CONTAINER_DELETED_EVENT',
      ],
    );
  });

  test('pass_stop_and_remove_pod_idempotent', async () => {
    await t.client.call('StopPodSandbox', { pod_sandbox_id: podId });
    await t.client.call('StopPodSandbox', { pod_sandbox_id: podId });
    const s = await t.client.call('PodSandboxStatus', { pod_sandbox_id: podId });
    assert.equal(s.status.state, 'SANDBOX_NOTREADY');
    await t.client.call('RemovePodSandbox', { pod_sandbox_id: podId });
    await t.client.call('RemovePodSandbox', { pod_sandbox_id: podId });
    await rejectsGrpc(t.client.call('PodSandboxStatus', { pod_sandbox_id: podId }), grpcStatus.NOT_FOUND);
    await rejectsGrpc(t.client.call('StopPodSandbox', { pod_sandbox_id: podId }), grpcStatus.NOT_FOUND);
  });

  test('pass_streaming_list_rpcs', async () => {
    const r = await t.client.call('RunPodSandbox', { config: podConfig('s', 'uid-s') });
    const items: Reply[] = [];
    await new Promise<void>((resolve, reject) => {
      const s = t.client.stream('StreamPodSandboxes', {});
      s.on('data', (m: Reply) => items.push(m));
      s.on('end', resolve);
      s.on('error', reject);
    });
    assert.ok(items.flatMap((i) => i.pod_sandboxes as Reply[]).some((p) => p.id === r.pod_sandbox_id));
    await t.client.call('RemovePodSandbox', { pod_sandbox_id: r.pod_sandbox_id });
  });

  test('pass_metrics_listener_counts_rpcs', async () => {
    const body = await (await fetch(t.server.metricsUrl!)).text();
    assert.match(body, /cocoon_cri_requests_total\{method="RunPodSandbox",code="0"\} \d+/);
    assert.match(body, /cocoon_cri_request_duration_seconds_bucket/);
    assert.match(body, /cocoon_cri_errors_total\{method="ContainerStatus",code="ERR_CRI_NOT_FOUND"\}/);
  });
});
