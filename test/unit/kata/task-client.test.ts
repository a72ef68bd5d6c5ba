/**
 * TaskClient against a scripted Task service on a real ttrpc server over a Unix socket: field
 * mapping, metadata, Any payloads, stats decoding, status → ERR_KATA_* mapping, deadlines and
 * shim death.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CocoonError } from '../../../src/common/errors.js';
import {
  TaskClient,
  TaskStatus,
  decodeContainerdMessage,
  encodeContainerdMessage,
  guestPullMount,
  decodeGuestPullMount,
  runtimeOptions,
  PROCESS_SPEC_TYPE_URL,
  LINUX_RESOURCES_TYPE_URL,
  RUNTIME_OPTIONS_TYPE_URL,
  type ShimDeath,
  type TaskMount,
} from '../../../src/kata/index.js';
import { TtrpcServer } from '../../../src/ttrpc/index.js';
import { rejectsCode } from '../../helpers/assert-code.js';

const SVC = 'containerd.task.v2.Task';
const T = (name: string): string => `containerd.task.v2.${name}`;
const EMPTY = encodeContainerdMessage('google.protobuf.Empty', {});

let dir: string;
let server: TtrpcServer;
let address: string;
let closeListener: () => Promise<void>;
const received: { method: string; req: Record<string, unknown>; ns: string | undefined }[] = [];
/** Scripted behaviour per method: return an object to encode, or throw. */
const behaviour = new Map<string, (req: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>>();

const REQ_TYPES: Record<string, [string, string]> = {
  Connect: [T('ConnectRequest'), T('ConnectResponse')],
  Create: [T('CreateTaskRequest'), T('CreateTaskResponse')],
  Start: [T('StartRequest'), T('StartResponse')],
  State: [T('StateRequest'), T('StateResponse')],
  Pids: [T('PidsRequest'), T('PidsResponse')],
  Kill: [T('KillRequest'), 'google.protobuf.Empty'],
  Wait: [T('WaitRequest'), T('WaitResponse')],
  Delete: [T('DeleteRequest'), T('DeleteResponse')],
  Shutdown: [T('ShutdownRequest'), 'google.protobuf.Empty'],
  Exec: [T('ExecProcessRequest'), 'google.protobuf.Empty'],
  ResizePty: [T('ResizePtyRequest'), 'google.protobuf.Empty'],
  CloseIO: [T('CloseIORequest'), 'google.protobuf.Empty'],
  Stats: [T('StatsRequest'), T('StatsResponse')],
  Update: [T('UpdateTaskRequest'), 'google.protobuf.Empty'],
  Pause: [T('PauseRequest'), 'google.protobuf.Empty'],
  Resume: [T('ResumeRequest'), 'google.protobuf.Empty'],
};

function statusError(code: number, message: string): CocoonError {
  return new CocoonError('ERR_TTRPC_STATUS', message, { details: { status: code, statusMessage: message } });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cocoon-kata-task-'));
  server = new TtrpcServer();
  for (const [method, [reqType, resType]] of Object.entries(REQ_TYPES)) {
    server.register(SVC, method, async (payload, ctx) => {
      const req = decodeContainerdMessage(reqType, payload);
      received.push({ method, req, ns: ctx.metadata['containerd-namespace-ttrpc']?.[0] });
      const b = behaviour.get(method);
      const out = b === undefined ? {} : await b(req, ctx.signal);
      return resType === 'google.protobuf.Empty'
        ? EMPTY
        : encodeContainerdMessage(resType, out as Record<string, unknown>);
    });
  }
  const l = await server.listen(`unix://${join(dir, 'task.sock')}`);
  address = l.address;
  closeListener = () => l.close();
});

after(async () => {
  await closeListener();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function client(): Promise<TaskClient> {
  return TaskClient.connect(address, { namespace: 'k8s.io', callTimeoutMs: 2000 });
}

function last(method: string): Record<string, unknown> {
  const r = [...received].reverse().find((x) => x.method === method);
  assert.ok(r, `no ${method} received`);
  return r.req;
}

describe('TaskClient requests and responses (cri-kata.md §4.1)', () => {
  test('pass_state_mapped_camel_case_with_namespace', async () => {
    behaviour.set('State', async () => ({
      id: 'c1',
      bundle: '/b',
      pid: 42,
      status: 2,
      stdout: '/o',
      stderr: '/e',
      exit_status: 0,
      exec_id: 'e1',
    }));
    const c = await client();
    try {
      const s = await c.state('c1', 'e1');
      assert.deepEqual(s, {
        id: 'c1',
        bundle: '/b',
        pid: 42,
        status: TaskStatus.RUNNING,
        statusName: 'running',
        stdin: '',
        stdout: '/o',
        stderr: '/e',
        terminal: false,
        exitStatus: 0,
        execId: 'e1',
      });
      assert.deepEqual(last('State'), { id: 'c1', exec_id: 'e1' });
      assert.equal(received.at(-1)!.ns, 'k8s.io');
    } finally {
      await c.close();
    }
  });

  test('pass_create_with_guest_pull_mount_and_runtime_options', async () => {
    behaviour.set('Create', async () => ({ pid: 7 }));
    const c = await client();
    try {
      const mount = guestPullMount({ source: 'r/app:1', metadata: { a: 'b' } });
      const r = await c.create({
        id: 'c1',
        bundle: '/run/b/c1',
        rootfs: [mount],
        stdout: '/io/o',
        stderr: '/io/e',
        options: runtimeOptions('/opt/kata/share/defaults/kata-containers/configuration-qemu-tdx.toml'),
      });
      assert.deepEqual(r, { pid: 7 });
      const req = last('Create');
      assert.equal(req['bundle'], '/run/b/c1');
      assert.equal(req['stdout'], '/io/o');
      assert.equal(decodeGuestPullMount(req['rootfs'] as TaskMount[]).source, 'r/app:1');
      const opts = req['options'] as { type_url: string; value: Buffer };
      assert.equal(opts.type_url, RUNTIME_OPTIONS_TYPE_URL);
      const o = decodeContainerdMessage('runtimeoptions.v1.Options', opts.value);
      assert.equal(o['config_path'], '/opt/kata/share/defaults/kata-containers/configuration-qemu-tdx.toml');
    } finally {
      await c.close();
    }
  });

  test('pass_exec_spec_is_json_process_any', async () => {
    const c = await client();
    try {
      const spec = { args: ['/bin/sh', '-c', 'echo x'], cwd: '/', env: ['A=1'], user: { uid: 0, gid: 0 } };
      await c.exec({ id: 'c1', execId: 'x1', spec, stdout: '/o', stderr: '/e' });
      const req = last('Exec');
      const any = req['spec'] as { type_url: string; value: Buffer };
      assert.equal(any.type_url, PROCESS_SPEC_TYPE_URL);
      assert.deepEqual(JSON.parse(any.value.toString('utf8')), spec);
      assert.equal(req['exec_id'], 'x1');
    } finally {
      await c.close();
    }
  });

  test('pass_update_resources_any_and_annotations', async () => {
    const c = await client();
    try {
      await c.update({
        id: 'c1',
        resources: { cpu: { quota: 5000, period: 100000 } },
        annotations: { k: 'v' },
      });
      const req = last('Update');
      const any = req['resources'] as { type_url: string; value: Buffer };
      assert.equal(any.type_url, LINUX_RESOURCES_TYPE_URL);
      assert.deepEqual(JSON.parse(any.value.toString()), { cpu: { quota: 5000, period: 100000 } });
      assert.deepEqual(req['annotations'], { k: 'v' });
    } finally {
      await c.close();
    }
  });

  test('pass_small_calls_carry_their_fields', async () => {
    behaviour.set('Connect', async () => ({ shim_pid: 10, task_pid: 11, version: 'v2' }));
    behaviour.set('Pids', async () => ({
      processes: [{ pid: 5 }, { pid: 6, info: { type_url: 'x/y', value: Buffer.from([1]) } }],
    }));
    behaviour.set('Wait', async () => ({ exit_status: 137, exited_at: { seconds: 10, nanos: 2_000_000 } }));
    behaviour.set('Delete', async () => ({ pid: 5, exit_status: 137 }));
    behaviour.set('Start', async () => ({ pid: 5 }));
    const c = await client();
    try {
      assert.deepEqual(await c.connect('c1'), { shimPid: 10, taskPid: 11, version: 'v2' });
      assert.deepEqual(await c.start('c1', 'e'), { pid: 5 });
      assert.deepEqual(last('Start'), { id: 'c1', exec_id: 'e' });
      const pids = await c.pids('c1');
      assert.equal(pids.length, 2);
      assert.deepEqual(pids[1]!.info, { typeUrl: 'x/y', value: Buffer.from([1]) });
      await c.kill('c1', 9, { all: true, execId: 'e' });
      assert.deepEqual(last('Kill'), { id: 'c1', exec_id: 'e', signal: 9, all: true });
      const w = await c.wait('c1');
      assert.equal(w.exitStatus, 137);
      assert.equal(w.exitedAt?.getTime(), 10_002);
      assert.deepEqual(await c.delete('c1'), { pid: 5, exitStatus: 137 });
      await c.resizePty('c1', 'e', 80, 24);
      assert.deepEqual(last('ResizePty'), { id: 'c1', exec_id: 'e', width: 80, height: 24 });
      await c.closeIO('c1', 'e');
      assert.deepEqual(last('CloseIO'), { id: 'c1', exec_id: 'e', stdin: true });
      await c.pause('c1');
      await c.resume('c1');
      await c.shutdown('c1', true);
      assert.deepEqual(last('Shutdown'), { id: 'c1', now: true });
    } finally {
      await c.close();
    }
  });
});

describe('TaskClient stats decoding (cri-kata.md §6)', () => {
  test('pass_cgroups_v1_metrics', async () => {
    const metrics = encodeContainerdMessage('io.containerd.cgroups.v1.Metrics', {
      pids: { current: 3, limit: 100 },
      cpu: { usage: { total: 123456789, kernel: 1, user: 2 } },
      memory: {
        usage: { usage: 10_000_000, limit: 1 << 30 },
        total_inactive_file: 4_000_000,
        total_rss: 5_000_000,
      },
    });
    behaviour.set('Stats', async () => ({
      stats: { type_url: 'io.containerd.cgroups.v1.Metrics', value: Buffer.from(metrics) },
    }));
    const c = await client();
    try {
      const s = await c.stats('c1');
      assert.equal(s.cgroups, 'v1');
      assert.equal(s.summary.cpuUsageNanos, 123456789);
      assert.equal(s.summary.memoryUsageBytes, 10_000_000);
      assert.equal(s.summary.memoryWorkingSetBytes, 6_000_000);
      assert.equal(s.summary.memoryRssBytes, 5_000_000);
      assert.equal(s.summary.pidsCurrent, 3);
    } finally {
      await c.close();
    }
  });

  test('pass_cgroups_v2_metrics', async () => {
    const metrics = encodeContainerdMessage('io.containerd.cgroups.v2.Metrics', {
      pids: { current: 2 },
      cpu: { usage_usec: 1500 },
      memory: { usage: 8192, inactive_file: 4096, anon: 1024 },
      memory_events: { oom_kill: 1 },
    });
    behaviour.set('Stats', async () => ({
      stats: {
        type_url: 'types.containerd.io/io.containerd.cgroups.v2.Metrics',
        value: Buffer.from(metrics),
      },
    }));
    const c = await client();
    try {
      const s = await c.stats('c1');
      assert.equal(s.cgroups, 'v2');
      assert.deepEqual(s.summary, {
        cpuUsageNanos: 1_500_000,
        memoryUsageBytes: 8192,
        memoryWorkingSetBytes: 4096,
        memoryRssBytes: 1024,
        pageFaults: 0,
        majorPageFaults: 0,
        pidsCurrent: 2,
        oomKills: 1,
      });
    } finally {
      await c.close();
    }
  });

  test('pass_unknown_stats_kept_raw', async () => {
    behaviour.set('Stats', async () => ({ stats: { type_url: 'example/Other', value: Buffer.from([9]) } }));
    const c = await client();
    try {
      const s = await c.stats('c1');
      assert.equal(s.cgroups, undefined);
      assert.deepEqual(s.raw, { typeUrl: 'example/Other', value: Buffer.from([9]) });
    } finally {
      await c.close();
    }
  });

  test('fail_corrupt_metrics', async () => {
    behaviour.set('Stats', async () => ({
      stats: { type_url: 'io.containerd.cgroups.v1.Metrics', value: Buffer.from([0x1a, 0xff, 0xff]) },
    }));
    const c = await client();
    try {
      await rejectsCode(c.stats('c1'), 'ERR_KATA_PROTO_INVALID');
    } finally {
      await c.close();
    }
  });
});

describe('TaskClient errors', () => {
  const statuses: [string, number, string][] = [
    ['fail_not_found', 5, 'ERR_KATA_NOT_FOUND'],
    ['fail_already_exists', 6, 'ERR_KATA_ALREADY_EXISTS'],
    ['fail_failed_precondition', 9, 'ERR_KATA_FAILED_PRECONDITION'],
    ['fail_invalid_argument', 3, 'ERR_KATA_INVALID_ARGUMENT'],
    ['fail_unimplemented', 12, 'ERR_KATA_UNIMPLEMENTED'],
    ['fail_unknown', 2, 'ERR_KATA_TASK_FAILED'],
    ['fail_internal', 13, 'ERR_KATA_TASK_FAILED'],
  ];
  for (const [name, code, want] of statuses) {
    test(name, async () => {
      behaviour.set('Start', async () => {
        throw statusError(code, 'scripted');
      });
      const c = await client();
      try {
        const e = await rejectsCode(c.start('c1'), want);
        assert.equal(e.details['status'], code);
        assert.equal(e.details['method'], 'Start');
      } finally {
        await c.close();
      }
    });
  }

  test('fail_stdout_without_stderr_rejected_locally', async () => {
    const c = await client();
    try {
      const before = received.length;
      await rejectsCode(c.create({ id: 'c1', bundle: '/b', stdout: '/o' }), 'ERR_KATA_INVALID_ARGUMENT');
      await rejectsCode(
        c.exec({
          id: 'c1',
          execId: 'e',
          stderr: '/e',
          spec: { args: ['/x'], cwd: '/', user: { uid: 0, gid: 0 } },
        }),
        'ERR_KATA_INVALID_ARGUMENT',
      );
      await rejectsCode(c.kill('c1', 0), 'ERR_KATA_INVALID_ARGUMENT');
      assert.equal(received.length, before, 'a rejected request reached the shim');
    } finally {
      await c.close();
    }
  });

  test('fail_deadline', async () => {
    behaviour.set(
      'State',
      (_req, signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve({}))),
    );
    const c = await client();
    try {
      const t0 = Date.now();
      await rejectsCode(c.state('c1', '', { timeoutMs: 150 }), 'ERR_KATA_SHIM_TIMEOUT');
      assert.ok(Date.now() - t0 < 1500);
    } finally {
      await c.close();
    }
  });

  test('fail_bad_address', async () => {
    await rejectsCode(
      TaskClient.connect('tcp://127.0.0.1:1', { namespace: 'ns' }),
      'ERR_KATA_ADDRESS_INVALID',
    );
    await rejectsCode(TaskClient.connect('unix://', { namespace: 'ns' }), 'ERR_KATA_ADDRESS_INVALID');
  });

  test('fail_nobody_listening', async () => {
    await rejectsCode(
      TaskClient.connect(`unix://${join(dir, 'none.sock')}`, { namespace: 'ns', dialTimeoutMs: 300 }),
      'ERR_KATA_SHIM_DEAD',
    );
  });

  test('fail_shim_death_detected', async () => {
    // A second server whose connections we cut, as a killed shim would.
    const victim = new TtrpcServer();
    victim.register(SVC, 'Wait', () => new Promise<Uint8Array>(() => undefined));
    const l = await victim.listen(`unix://${join(dir, 'victim.sock')}`);
    const c = await TaskClient.connect(l.address, { namespace: 'ns' });
    const deaths: ShimDeath[] = [];
    c.onDeath((d) => deaths.push(d));
    // Observe the rejection at once so it is never unhandled while the server goes away.
    const pending = c.wait('c1').then(
      () => assert.fail('Wait resolved on a dead shim'),
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 50));
    await l.close();
    await victim.close();
    await rejectsCode(
      pending.then((e) => Promise.reject(e)),
      'ERR_KATA_SHIM_DEAD',
    );
    const end = Date.now() + 2000;
    while (deaths.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert.equal(deaths.length, 1);
    assert.equal(deaths[0]!.afterShutdown, false);
    assert.equal(c.dead, true);
    await rejectsCode(c.state('c1'), 'ERR_KATA_SHIM_DEAD');
  });

  test('pass_shutdown_tolerates_closed_connection', async () => {
    const s = new TtrpcServer();
    const box: { l?: { close(): Promise<void> } } = {};
    s.register(SVC, 'Shutdown', async () => {
      // The shim exits while answering: the connection closes before the response.
      setImmediate(() => void box.l?.close());
      return new Promise<Uint8Array>(() => undefined);
    });
    box.l = await s.listen(`unix://${join(dir, 'shut.sock')}`);
    const c = await TaskClient.connect(`unix://${join(dir, 'shut.sock')}`, { namespace: 'ns' });
    const deaths: ShimDeath[] = [];
    c.onDeath((d) => deaths.push(d));
    await c.shutdown('c1');
    assert.equal(deaths.length <= 1, true);
    if (deaths.length === 1) assert.equal(deaths[0]!.afterShutdown, true);
    await s.close();
  });
});
