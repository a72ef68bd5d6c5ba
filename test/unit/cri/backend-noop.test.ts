/** The test-noop backend's task journal: it outlives a restart and drops a torn last line. */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NOOP_JOURNAL, TestNoopBackend } from '../../../src/cri/backend-noop.js';
import type { ContainerLaunch, SandboxLaunch } from '../../../src/cri/backend.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'cocoon-noop-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

// Only the fields the no-op backend reads; the rest of a launch is the runtime's business.
const sandbox = (id: string): SandboxLaunch => ({ id }) as unknown as SandboxLaunch;
const container = (sandboxId: string, id: string): ContainerLaunch =>
  ({ id, sandboxId, args: ['sleep', '1'] }) as unknown as ContainerLaunch;

describe('TestNoopBackend journal', () => {
  test('pass_tasks_outlive_a_restart', async () => {
    const d = tmp();
    const b = new TestNoopBackend({ stateDir: d });
    await b.startSandbox(sandbox('p1'));
    await b.createContainer(container('p1', 'c1'));
    await b.startContainer('p1', 'c1');
    await b.createContainer(container('p1', 'c2'));
    await b.removeContainer('p1', 'c2');
    await b.startSandbox(sandbox('p2'));
    await b.removeSandbox('p2');
    // No close(): a killed server never gets to call it.
    const r = new TestNoopBackend({ stateDir: d });
    const p1 = await r.reattach(sandbox('p1'), ['c1', 'c2']);
    assert.equal(p1.alive, true);
    assert.equal(p1.containers.get('c1')?.status, 'running');
    assert.equal(p1.containers.has('c2'), false, 'a removed task stays removed');
    assert.equal((await r.reattach(sandbox('p2'), [])).alive, false);
    await r.close();
    await b.close();
  });

  test('fail_torn_last_line_is_dropped', async () => {
    const d = tmp();
    const b = new TestNoopBackend({ stateDir: d });
    await b.startSandbox(sandbox('p1'));
    await b.close();
    // A kill during the last append: half a JSON line at the end of the journal.
    appendFileSync(join(d, NOOP_JOURNAL), '{"put":{"sandboxId":"p9","id":"p9","sta');
    const r = new TestNoopBackend({ stateDir: d });
    assert.equal((await r.reattach(sandbox('p1'), [])).alive, true);
    assert.equal((await r.reattach(sandbox('p9'), [])).alive, false);
    // The journal was rewritten without the torn line, so later appends parse again.
    await r.startSandbox(sandbox('p3'));
    await r.close();
    assert.doesNotMatch(readFileSync(join(d, NOOP_JOURNAL), 'utf8'), /"sta$|"sta\n/);
    const again = new TestNoopBackend({ stateDir: d });
    assert.equal((await again.reattach(sandbox('p3'), [])).alive, true);
    await again.close();
  });
});
