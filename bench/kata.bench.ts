/**
 * Shim v2 driver cost: TaskClient.state() (typed request, protobuf encode/decode, namespace
 * metadata, error mapping) against the bare ttrpc unary call with the same pre-encoded payload,
 * both to the same scripted Task service on a Unix socket in this process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measure, report } from './harness.js';
import { TaskClient, encodeContainerdMessage, decodeContainerdMessage } from '../src/kata/index.js';
import { TtrpcClient, TtrpcServer } from '../src/ttrpc/index.js';

export default async function (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-bench-kata-'));
  const server = new TtrpcServer();
  const reply = encodeContainerdMessage('containerd.task.v2.StateResponse', {
    id: 'c1',
    bundle: '/run/cocoon/bundles/c1',
    pid: 4242,
    status: 2,
    stdout: '/run/cocoon/io/c1-stdout',
    stderr: '/run/cocoon/io/c1-stderr',
  });
  server.register('containerd.task.v2.Task', 'State', async () => reply);
  const l = await server.listen(`unix://${join(dir, 'task.sock')}`);
  const raw = await TtrpcClient.connect(l.address);
  const typed = await TaskClient.connect(l.address, { namespace: 'k8s.io' });
  const req = encodeContainerdMessage('containerd.task.v2.StateRequest', { id: 'c1' });
  try {
    for (const concurrency of [1, 10]) {
      const baseline = await measure(
        `bare ttrpc unary State (c=${concurrency})`,
        () => raw.unary('containerd.task.v2.Task', 'State', req, { timeoutMs: 5000 }),
        { concurrency, maxOps: 5000, maxMs: 4000 },
      );
      const subject = await measure(`TaskClient.state (c=${concurrency})`, () => typed.state('c1'), {
        concurrency,
        maxOps: 5000,
        maxMs: 4000,
      });
      report(`kata: Task API State round trip, concurrency ${concurrency}`, subject, baseline, 2);
    }
    const codec = await measure(
      'decode StateResponse',
      () => decodeContainerdMessage('containerd.task.v2.StateResponse', reply),
      { maxOps: 50_000, maxMs: 2000 },
    );
    const noop = await measure('Buffer.from(reply) (copy baseline)', () => Buffer.from(reply), {
      maxOps: 50_000,
      maxMs: 2000,
    });
    report('kata: StateResponse decode vs a buffer copy', codec, noop);
  } finally {
    await typed.close();
    await raw.close();
    await l.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
