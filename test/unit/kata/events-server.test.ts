/**
 * EventsServer: a real ttrpc client forwards envelopes to Events/Forward on a Unix socket, as
 * a shim does with TTRPC_ADDRESS (cri-kata.md §4.2, env-notes.md).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EventsServer,
  EVENTS_SERVICE,
  decodeForwardRequest,
  encodeContainerdMessage,
  encodeForwardRequest,
  type TaskEvent,
} from '../../../src/kata/index.js';
import { TtrpcClient } from '../../../src/ttrpc/index.js';
import { rejectsCode, throwsCode } from '../../helpers/assert-code.js';

let dir: string;
let server: EventsServer;
let client: TtrpcClient;
const got: TaskEvent[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cocoon-kata-events-'));
  server = await EventsServer.listen(join(dir, 'events.sock'));
  server.subscribe((e) => got.push(e));
  client = await TtrpcClient.connect(server.address);
});

after(async () => {
  await client.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const AT = new Date('2026-01-02T03:04:05.678Z');

function forward(payload: Uint8Array): Promise<Uint8Array> {
  return client.unary(EVENTS_SERVICE, 'Forward', payload, { timeoutMs: 2000 });
}

describe('EventsServer (Events/Forward)', () => {
  test('pass_address_and_path', () => {
    assert.equal(server.address, `unix://${join(dir, 'events.sock')}`);
    assert.equal(server.path, join(dir, 'events.sock'));
  });

  const cases: [
    string,
    string,
    string,
    Record<string, unknown>,
    Partial<TaskEvent> & Record<string, unknown>,
  ][] = [
    [
      'pass_task_create',
      '/tasks/create',
      'TaskCreate',
      {
        container_id: 'c1',
        bundle: '/b',
        pid: 9,
        io: { stdout: '/o', stderr: '/e' },
        rootfs: [{ type: 't', source: 's', options: ['o'] }],
      },
      {
        type: 'TaskCreate',
        containerId: 'c1',
        bundle: '/b',
        pid: 9,
        io: { stdin: '', stdout: '/o', stderr: '/e', terminal: false },
        rootfs: [{ type: 't', source: 's', target: '', options: ['o'] }],
        checkpoint: '',
      },
    ],
    [
      'pass_task_start',
      '/tasks/start',
      'TaskStart',
      { container_id: 'c1', pid: 9 },
      { type: 'TaskStart', containerId: 'c1', pid: 9 },
    ],
    [
      'pass_task_exit',
      '/tasks/exit',
      'TaskExit',
      {
        container_id: 'c1',
        id: 'c1',
        pid: 9,
        exit_status: 7,
        exited_at: { seconds: 1_767_323_045, nanos: 0 },
      },
      {
        type: 'TaskExit',
        containerId: 'c1',
        id: 'c1',
        pid: 9,
        exitStatus: 7,
        exitedAt: new Date(1_767_323_045_000),
      },
    ],
    [
      'pass_task_delete',
      '/tasks/delete',
      'TaskDelete',
      { container_id: 'c1', pid: 9, exit_status: 137 },
      { type: 'TaskDelete', containerId: 'c1', id: '', pid: 9, exitStatus: 137 },
    ],
    [
      'pass_task_oom',
      '/tasks/oom',
      'TaskOOM',
      { container_id: 'c1' },
      { type: 'TaskOOM', containerId: 'c1' },
    ],
    [
      'pass_exec_started',
      '/tasks/exec-started',
      'TaskExecStarted',
      { container_id: 'c1', exec_id: 'e1', pid: 10 },
      { type: 'TaskExecStarted', containerId: 'c1', execId: 'e1', pid: 10 },
    ],
    [
      'pass_paused',
      '/tasks/paused',
      'TaskPaused',
      { container_id: 'c1' },
      { type: 'TaskPaused', containerId: 'c1' },
    ],
  ];
  for (const [name, topic, eventType, event, want] of cases) {
    test(name, async () => {
      const n = got.length;
      await forward(encodeForwardRequest({ topic, namespace: 'k8s.io', timestamp: AT, eventType, event }));
      assert.equal(got.length, n + 1);
      assert.deepEqual(got[n], { topic, namespace: 'k8s.io', timestamp: AT, ...want });
    });
  }

  test('pass_unknown_event_kept_raw', () => {
    const payload = encodeContainerdMessage('containerd.services.events.ttrpc.v1.ForwardRequest', {
      envelope: {
        topic: '/images/create',
        namespace: 'ns',
        event: { type_url: 'containerd.events.ImageCreate', value: Buffer.from([10, 1, 120]) },
      },
    });
    const e = decodeForwardRequest(payload);
    assert.equal(e.type, 'Unknown');
    assert.equal(e.type === 'Unknown' ? e.event?.typeUrl : '', 'containerd.events.ImageCreate');
  });

  test('pass_wait_for', async () => {
    const w = server.waitFor((e) => e.type === 'TaskOOM' && e.containerId === 'zz', 2000);
    await forward(
      encodeForwardRequest({
        topic: '/tasks/oom',
        namespace: 'ns',
        eventType: 'TaskOOM',
        event: { container_id: 'zz' },
      }),
    );
    const e = await w;
    assert.equal(e.topic, '/tasks/oom');
  });

  test('fail_wait_for_times_out', async () => {
    await rejectsCode(
      server.waitFor(() => false, 50),
      'ERR_COMMON_TIMEOUT',
    );
  });

  const malformed: [string, Uint8Array][] = [
    ['fail_garbage', Buffer.from([0xff, 0xff, 0xff])],
    ['fail_no_envelope', new Uint8Array(0)],
    [
      'fail_no_topic',
      encodeContainerdMessage('containerd.services.events.ttrpc.v1.ForwardRequest', {
        envelope: { namespace: 'ns' },
      }),
    ],
    [
      'fail_corrupt_event_body',
      encodeContainerdMessage('containerd.services.events.ttrpc.v1.ForwardRequest', {
        envelope: {
          topic: '/tasks/exit',
          event: { type_url: 'containerd.events.TaskExit', value: Buffer.from([0x0a, 0xff]) },
        },
      }),
    ],
  ];
  for (const [name, payload] of malformed) {
    test(`${name}_decode`, () => {
      throwsCode(() => decodeForwardRequest(payload), 'ERR_KATA_EVENT_INVALID');
    });
    test(`${name}_wire_invalid_argument_and_server_survives`, async () => {
      const n = got.length;
      const e = await rejectsCode(forward(payload), 'ERR_TTRPC_STATUS');
      assert.equal(e.details['status'], 3);
      assert.equal(got.length, n);
      await forward(
        encodeForwardRequest({
          topic: '/tasks/start',
          namespace: 'ns',
          eventType: 'TaskStart',
          event: { container_id: 'ok' },
        }),
      );
      assert.equal(got.length, n + 1);
    });
  }

  test('pass_failing_subscriber_does_not_stop_others', async () => {
    const off = server.subscribe(() => {
      throw new Error('subscriber bug');
    });
    const n = got.length;
    await forward(
      encodeForwardRequest({
        topic: '/tasks/start',
        namespace: 'ns',
        eventType: 'TaskStart',
        event: { container_id: 'x' },
      }),
    );
    off();
    assert.equal(got.length, n + 1);
  });
});
