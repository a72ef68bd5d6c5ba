/**
 * Kubelet reality (cri-kata.md §2.4–2.6): a RunPodSandbox/CreateContainer retried after the
 * client's deadline gets the same finished object, never a duplicate or a name conflict;
 * unclaimed results are cleaned up by the janitor; heavy operations go through a bounded queue.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { status as S } from '@grpc/grpc-js';
import { TestNoopBackend } from '../../../src/cri/backend-noop.js';
import type { SandboxLaunch } from '../../../src/cri/backend.js';
import { podConfig, rejectsGrpc, startTestServer, type TestServer } from './helpers.js';

/** The no-op backend with a slow sandbox start, counting calls. */
class SlowBackend extends TestNoopBackend {
  starts = 0;
  removes = 0;
  delayMs: number;
  constructor(delayMs: number) {
    super();
    this.delayMs = delayMs;
  }
  override async startSandbox(s: SandboxLaunch): Promise<{ pid: number }> {
    this.starts++;
    await new Promise((r) => setTimeout(r, this.delayMs));
    return super.startSandbox(s);
  }
  override async removeSandbox(id: string): Promise<void> {
    this.removes++;
    return super.removeSandbox(id);
  }
}

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('create-once', () => {
  test('pass_retry_after_deadline_returns_same_pod', async () => {
    const b = new SlowBackend(1200);
    t = await startTestServer({ backendFor: () => b });
    await rejectsGrpc(
      t.client.call('RunPodSandbox', { config: podConfig('slow', 'u1') }, { deadlineMs: 400 }),
      S.DEADLINE_EXCEEDED,
    );
    // Hidden while not returned: the kubelet keeps the same attempt number (§2.4).
    assert.equal((await t.client.call('ListPodSandbox', {})).items.length, 0);
    await new Promise((r) => setTimeout(r, 1200));
    const r = await t.client.call('RunPodSandbox', { config: podConfig('slow', 'u1') });
    const l = await t.client.call('ListPodSandbox', {});
    assert.deepEqual(
      l.items.map((p: { id: string }) => p.id),
      [r.pod_sandbox_id],
    );
    assert.equal(b.starts, 1, 'the sandbox was started once');
  });

  test('pass_retry_while_running_joins_the_work', async () => {
    const b = new SlowBackend(500);
    t = await startTestServer({ backendFor: () => b });
    const [a, c] = await Promise.all([
      t.client.call('RunPodSandbox', { config: podConfig('twin', 'u2') }),
      new Promise((r) => setTimeout(r, 100)).then(() =>
        t!.client.call('RunPodSandbox', { config: podConfig('twin', 'u2') }),
      ),
    ]);
    assert.equal(a.pod_sandbox_id, c.pod_sandbox_id);
    assert.equal(b.starts, 1);
    assert.equal((await t.client.call('ListPodSandbox', {})).items.length, 1);
  });

  test('pass_new_attempt_is_a_new_pod', async () => {
    const b = new SlowBackend(0);
    t = await startTestServer({ backendFor: () => b });
    const a = await t.client.call('RunPodSandbox', { config: podConfig('att', 'u3', 0) });
    const c = await t.client.call('RunPodSandbox', { config: podConfig('att', 'u3', 1) });
    assert.notEqual(a.pod_sandbox_id, c.pod_sandbox_id);
  });

  test('pass_unclaimed_result_is_cleaned_by_janitor', async () => {
    const b = new SlowBackend(1500);
    t = await startTestServer({ backendFor: () => b, unclaimedTtlMs: 200 });
    await rejectsGrpc(
      t.client.call('RunPodSandbox', { config: podConfig('orphan', 'u4') }, { deadlineMs: 400 }),
      S.DEADLINE_EXCEEDED,
    );
    assert.equal(b.starts, 1, 'the server took the request');
    const deadline = Date.now() + 8000;
    while (b.removes === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.removes, 1, 'the janitor removed the unclaimed sandbox');
    // The name is free again: a late retry creates a fresh pod.
    const r = await t.client.call('RunPodSandbox', { config: podConfig('orphan', 'u4') });
    assert.equal((await t.client.call('ListPodSandbox', {})).items[0].id, r.pod_sandbox_id);
  });

  test('fail_queue_full_is_resource_exhausted', async () => {
    const b = new SlowBackend(500);
    t = await startTestServer({ backendFor: () => b, raw: { max_concurrent_ops: 1, max_queued_ops: 1 } });
    const results = await Promise.allSettled(
      [1, 2, 3].map((i) => t!.client.call('RunPodSandbox', { config: podConfig(`q${i}`, `uq${i}`) })),
    );
    const rejected = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    assert.equal(rejected.length, 1);
    assert.equal((rejected[0]!.reason as { code: number }).code, S.RESOURCE_EXHAUSTED);
    // Lists never wait on the queue (PLEG health, §2.1).
    const l = await t.client.call('ListPodSandbox', {});
    assert.equal(l.items.length, 2);
  });
});
