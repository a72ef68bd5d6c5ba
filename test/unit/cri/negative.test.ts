/** Malformed and unknown-id requests: INVALID_ARGUMENT naming the field, NOT_FOUND, UNIMPLEMENTED with a reason. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { status as S } from '@grpc/grpc-js';
import { containerConfig, podConfig, rejectsGrpc, startTestServer, type TestServer } from './helpers.js';
import type { Msg } from '../../../src/cri/state/model.js';

let t: TestServer;
let podId = '';
before(async () => {
  t = await startTestServer();
  podId = (await t.client.call('RunPodSandbox', { config: podConfig('neg', 'uid-neg') })).pod_sandbox_id;
});
after(async () => t?.close());

const UNKNOWN = 'f'.repeat(64);
const base = podConfig('x', 'uid-x');
const without = (o: Msg, path: string[]): Msg => {
  const c = structuredClone(o);
  let cur: Msg = c;
  for (const p of path.slice(0, -1)) cur = cur[p] as Msg;
  delete cur[path[path.length - 1]!];
  return c;
};

interface Case {
  readonly name: string;
  readonly method: string;
  readonly req: () => Msg;
  readonly code: number;
  readonly cocoon?: string;
  /** Text the message must contain (the field name). */
  readonly field?: string;
  readonly image?: boolean;
}

const CASES: Case[] = [
  {
    name: 'fail_run_pod_no_config',
    method: 'RunPodSandbox',
    req: () => ({}),
    code: S.INVALID_ARGUMENT,
    cocoon: 'ERR_CRI_INVALID_ARGUMENT',
    field: 'config',
  },
  {
    name: 'fail_run_pod_no_metadata',
    method: 'RunPodSandbox',
    req: () => ({ config: without(base, ['metadata']) }),
    code: S.INVALID_ARGUMENT,
    field: 'config.metadata',
  },
  {
    name: 'fail_run_pod_empty_name',
    method: 'RunPodSandbox',
    req: () => ({ config: { ...base, metadata: { namespace: 'd', uid: 'u' } } }),
    code: S.INVALID_ARGUMENT,
    field: 'config.metadata.name',
  },
  {
    name: 'fail_run_pod_empty_uid',
    method: 'RunPodSandbox',
    req: () => ({ config: { ...base, metadata: { name: 'n', namespace: 'd' } } }),
    code: S.INVALID_ARGUMENT,
    field: 'config.metadata.uid',
  },
  {
    name: 'fail_run_pod_unknown_handler',
    method: 'RunPodSandbox',
    req: () => ({ config: base, runtime_handler: 'nope' }),
    code: S.INVALID_ARGUMENT,
    cocoon: 'ERR_CRI_UNKNOWN_HANDLER',
    field: 'runtime_handler',
  },
  {
    name: 'fail_pod_status_empty_id',
    method: 'PodSandboxStatus',
    req: () => ({}),
    code: S.INVALID_ARGUMENT,
    field: 'pod_sandbox_id',
  },
  {
    name: 'fail_pod_status_unknown_id',
    method: 'PodSandboxStatus',
    req: () => ({ pod_sandbox_id: UNKNOWN }),
    code: S.NOT_FOUND,
    cocoon: 'ERR_CRI_NOT_FOUND',
  },
  {
    name: 'fail_stop_pod_unknown_id',
    method: 'StopPodSandbox',
    req: () => ({ pod_sandbox_id: UNKNOWN }),
    code: S.NOT_FOUND,
  },
  {
    name: 'fail_create_no_pod_id',
    method: 'CreateContainer',
    req: () => ({ config: containerConfig('c', 'busybox') }),
    code: S.INVALID_ARGUMENT,
    field: 'pod_sandbox_id',
  },
  {
    name: 'fail_create_unknown_pod',
    method: 'CreateContainer',
    req: () => ({ pod_sandbox_id: UNKNOWN, config: containerConfig('c', 'busybox') }),
    code: S.NOT_FOUND,
  },
  {
    name: 'fail_create_no_config',
    method: 'CreateContainer',
    req: () => ({ pod_sandbox_id: podId }),
    code: S.INVALID_ARGUMENT,
    field: 'config',
  },
  {
    name: 'fail_create_no_image',
    method: 'CreateContainer',
    req: () => ({ pod_sandbox_id: podId, config: without(containerConfig('c', 'x'), ['image']) }),
    code: S.INVALID_ARGUMENT,
    field: 'config.image',
  },
  {
    name: 'fail_create_absolute_log_path',
    method: 'CreateContainer',
    req: () => ({ pod_sandbox_id: podId, config: containerConfig('c', 'x', { log_path: '/etc/passwd' }) }),
    code: S.INVALID_ARGUMENT,
    field: 'config.log_path',
  },
  {
    name: 'fail_create_image_not_pulled',
    method: 'CreateContainer',
    req: () => ({ pod_sandbox_id: podId, config: containerConfig('c', '127.0.0.1:9/never/pulled:1') }),
    code: S.NOT_FOUND,
    field: 'not present',
  },
  {
    name: 'fail_container_status_unknown',
    method: 'ContainerStatus',
    req: () => ({ container_id: UNKNOWN }),
    code: S.NOT_FOUND,
  },
  {
    name: 'fail_start_unknown',
    method: 'StartContainer',
    req: () => ({ container_id: UNKNOWN }),
    code: S.NOT_FOUND,
  },
  {
    name: 'fail_stop_negative_timeout',
    method: 'StopContainer',
    req: () => ({ container_id: UNKNOWN, timeout: '-1' }),
    code: S.INVALID_ARGUMENT,
    field: 'timeout',
  },
  {
    name: 'fail_exec_sync_empty_cmd',
    method: 'ExecSync',
    req: () => ({ container_id: UNKNOWN, cmd: [] }),
    code: S.INVALID_ARGUMENT,
    field: 'cmd',
  },
  {
    name: 'fail_exec_unimplemented_reason',
    method: 'Exec',
    req: () => ({ container_id: UNKNOWN }),
    code: S.NOT_FOUND,
  },
  {
    name: 'fail_port_forward_unimplemented',
    method: 'PortForward',
    req: () => ({ pod_sandbox_id: podId }),
    code: S.UNIMPLEMENTED,
    cocoon: 'ERR_CRI_UNIMPLEMENTED',
    field: 'streaming',
  },
  {
    name: 'fail_checkpoint_unimplemented',
    method: 'CheckpointContainer',
    req: () => ({ container_id: UNKNOWN }),
    code: S.UNIMPLEMENTED,
    field: 'CRIU',
  },
  {
    name: 'fail_image_status_no_image',
    method: 'ImageStatus',
    req: () => ({}),
    code: S.INVALID_ARGUMENT,
    field: 'image',
    image: true,
  },
  {
    name: 'fail_image_status_bad_ref',
    method: 'ImageStatus',
    req: () => ({ image: { image: 'UPPER/Case::bad' } }),
    code: S.INVALID_ARGUMENT,
    field: 'image.image',
    image: true,
  },
  {
    name: 'fail_pull_empty_image',
    method: 'PullImage',
    req: () => ({ image: { image: '' } }),
    code: S.INVALID_ARGUMENT,
    field: 'image.image',
    image: true,
  },
  {
    name: 'fail_pull_unknown_handler',
    method: 'PullImage',
    req: () => ({ image: { image: 'busybox', runtime_handler: 'nope' } }),
    code: S.INVALID_ARGUMENT,
    cocoon: 'ERR_CRI_UNKNOWN_HANDLER',
    image: true,
  },
  {
    name: 'fail_remove_image_no_spec',
    method: 'RemoveImage',
    req: () => ({}),
    code: S.INVALID_ARGUMENT,
    field: 'image',
    image: true,
  },
];

describe('malformed and unknown requests', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const e = await rejectsGrpc(
        t.client.call(c.method, c.req(), { image: c.image === true }),
        c.code,
        c.cocoon,
      );
      if (c.field !== undefined) assert.ok(e.details.includes(c.field), `"${e.details}" names ${c.field}`);
    });
  }
  test('pass_remove_unknown_ids_are_idempotent', async () => {
    await t.client.call('RemovePodSandbox', { pod_sandbox_id: UNKNOWN });
    await t.client.call('RemoveContainer', { container_id: UNKNOWN });
    await t.client.call('RemoveImage', { image: { image: `sha256:${UNKNOWN}` } }, { image: true });
  });
  test('pass_server_survives_every_bad_request', async () => {
    const v = await t.client.call('Version', {});
    assert.equal(v.runtime_name, 'cocoon');
  });
});
