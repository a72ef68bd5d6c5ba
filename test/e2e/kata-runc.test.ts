/**
 * The shim v2 driver against a real peer: Debian's containerd-shim-runc-v2 + runc with a
 * busybox-static rootfs (env-notes.md). Everything goes through src/kata: bundle, `start`,
 * the events endpoint as TTRPC_ADDRESS, the Task API, stdio FIFOs → CRI log, `delete`,
 * re-attach. Run `bash scripts/install-deps.sh` first; every wait is bounded.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  EventsServer,
  TaskClient,
  TaskStatus,
  buildSandboxSpec,
  createStdioFifos,
  deleteShim,
  execSync,
  processAlive,
  pumpContainerLogs,
  reattachShim,
  startShim,
  writeBundle,
  type Bundle,
  type ShimDeath,
  type TaskEvent,
} from '../../src/kata/index.js';
import { rejectsCode } from '../helpers/assert-code.js';

const SHIM = '/usr/bin/containerd-shim-runc-v2';
const RUNC = '/usr/sbin/runc';
const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'echo', 'sleep', 'cat', 'true', 'ls'];
const WAIT_MS = 10_000;

for (const bin of [SHIM, RUNC, BUSYBOX]) {
  if (!existsSync(bin))
    throw new Error(`${bin} is missing: run \`bash scripts/install-deps.sh\` (CI installs it)`);
}

let dir: string;
let rootfs: string;
let events: EventsServer;
const seen: TaskEvent[] = [];
const namespace = `cocoon-e2e-${process.pid}`;
const cgroupParent = `cocoon-e2e-${process.pid}`;
const shimPids = new Set<number>();
const clients: TaskClient[] = [];
const bundles: Bundle[] = [];

/** Waits for `cond` with a bound; fails the test on timeout. */
async function until(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Bounds a promise. */
function bounded<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    t = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

const pods: Pod[] = [];

interface Pod {
  id: string;
  bundle: Bundle;
  client: TaskClient;
  shimPid: number;
  address: string;
}

async function launch(id: string, args: string[]): Promise<Pod> {
  const spec = buildSandboxSpec({
    id,
    name: `pod-${id}`,
    namespace: 'default',
    uid: `uid-${id}`,
    args,
    rootfs,
    hostname: id,
    cgroupsPath: `/${cgroupParent}/${id}`,
  });
  const bundle = writeBundle(join(dir, 'bundles', id), spec, { rootfs });
  bundles.push(bundle);
  const started = await startShim({
    binary: SHIM,
    id,
    namespace,
    bundle: bundle.dir,
    eventsAddress: events.address,
    publishBinary: '/bin/false',
    timeoutMs: WAIT_MS,
  });
  assert.match(started.address, /^unix:\/\/\/run\/containerd\/s\/[0-9a-f]{64}$/);
  assert.equal(readFileSync(join(bundle.dir, 'address'), 'utf8').trim(), started.address);
  const client = await TaskClient.connect(started.address, { namespace });
  clients.push(client);
  const c = await client.connect(id);
  assert.ok(c.shimPid > 1);
  shimPids.add(c.shimPid);
  const pod = { id, bundle, client, shimPid: c.shimPid, address: started.address };
  pods.push(pod);
  return pod;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cocoon-kata-e2e-'));
  rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'));
  chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
  for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(join(rootfs, d), { recursive: true });
});

before(async () => {
  events = await EventsServer.listen(join(dir, 'events.sock'));
  events.subscribe((e) => seen.push(e));
});

after(async () => {
  // A failed test may leave a container running: runc's `delete` (through the shim binary)
  // force-kills it, then the shims themselves go by pid.
  for (const p of pods) {
    await deleteShim({ binary: SHIM, id: p.id, namespace, bundle: p.bundle.dir, timeoutMs: WAIT_MS }).catch(
      () => undefined,
    );
  }
  for (const c of clients) await c.close().catch(() => undefined);
  for (const pid of shimPids) {
    if (processAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone in between.
      }
    }
  }
  for (const b of bundles) b.close();
  // A shim killed with SIGKILL leaves its socket file behind; remove ours once every shim is gone.
  await sleep(100);
  for (const p of pods) {
    if (!processAlive(p.shimPid)) rmSync(p.address.slice('unix://'.length), { force: true });
  }
  await events?.close();
  rmSync(dir, { recursive: true, force: true });
  for (const ctl of readdirSync('/sys/fs/cgroup')) {
    try {
      rmdirSync(join('/sys/fs/cgroup', ctl, cgroupParent));
    } catch {
      // Absent in this controller, or runc already removed it.
    }
  }
});

describe('containerd-shim-runc-v2 driven through src/kata', () => {
  test('pass_lifecycle: create, start, exit 7 with CRI log, events, delete, shutdown', async () => {
    const pod = await launch('life', ['sh', '-c', 'echo hello; echo oops >&2; exit 7']);
    const { client, id } = pod;
    const io = createStdioFifos(join(dir, 'io'), id);
    const logPath = join(dir, 'logs', `${id}.log`);
    const pump = pumpContainerLogs(io, logPath);
    try {
      const created = await client.create({
        id,
        bundle: pod.bundle.dir,
        stdout: io.stdout,
        stderr: io.stderr,
      });
      assert.ok(created.pid > 1);
      const st = await client.state(id);
      assert.equal(st.status, TaskStatus.CREATED);
      assert.equal(st.statusName, 'created');
      assert.equal(st.stdout, io.stdout);
      await client.start(id);
      pump.release();
      const exit = await client.wait(id, '', { timeoutMs: WAIT_MS });
      assert.equal(exit.exitStatus, 7);
      assert.ok(exit.exitedAt instanceof Date);
      await bounded(pump.done, 'log pump to finish');
    } finally {
      pump.close();
    }
    const log = readFileSync(logPath, 'utf8');
    assert.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z stdout F hello$/m);
    assert.match(log, /^\S+ stderr F oops$/m);
    const stopped = await client.state(id);
    assert.equal(stopped.status, TaskStatus.STOPPED);
    assert.equal(stopped.exitStatus, 7);
    await until(() => seen.some((e) => e.type === 'TaskExit' && e.containerId === id), '/tasks/exit');
    const mine = seen.filter((e) => 'containerId' in e && e.containerId === id);
    const topics = mine.map((e) => e.topic);
    for (const t of ['/tasks/create', '/tasks/start', '/tasks/exit'])
      assert.ok(topics.includes(t), `missing ${t} in ${topics}`);
    const ex = mine.find((e) => e.type === 'TaskExit');
    assert.equal(ex?.type === 'TaskExit' ? ex.exitStatus : -1, 7);
    assert.ok(mine.every((e) => e.namespace === namespace));
    const del = await client.delete(id);
    assert.equal(del.exitStatus, 7);
    await rejectsCode(client.state(id), 'ERR_KATA_NOT_FOUND');
    await until(() => seen.some((e) => e.type === 'TaskDelete' && e.containerId === id), '/tasks/delete');
    await client.shutdown(id);
    await until(() => !processAlive(pod.shimPid), 'the shim to exit after Shutdown');
    await until(() => client.dead, 'the connection to close');
    await rejectsCode(client.state(id), 'ERR_KATA_SHIM_DEAD');
  });

  test('pass_kill_exec_pids_stats: Kill(9) → 137, Exec exit code and output, Pids, Stats', async () => {
    const pod = await launch('long', ['sleep', '300']);
    const { client, id } = pod;
    const io = createStdioFifos(join(dir, 'io'), id);
    const pump = pumpContainerLogs(io, join(dir, 'logs', `${id}.log`));
    try {
      await client.create({ id, bundle: pod.bundle.dir, stdout: io.stdout, stderr: io.stderr });
      const { pid } = await client.start(id);
      pump.release();
      assert.equal((await client.state(id)).status, TaskStatus.RUNNING);
      const pids = await client.pids(id);
      assert.ok(
        pids.some((p) => p.pid === pid),
        `pids ${JSON.stringify(pids)} lack ${pid}`,
      );

      const stats = await client.stats(id);
      assert.ok(stats.raw !== undefined, 'Stats returned no Any');
      assert.match(stats.raw.typeUrl, /io\.containerd\.cgroups\.v[12]\.Metrics$/);
      assert.ok((stats.summary.pidsCurrent ?? 0) >= 1, `pids.current ${stats.summary.pidsCurrent}`);
      assert.ok((stats.summary.memoryUsageBytes ?? 0) > 0, 'memory usage is zero');

      // Update: LinuxResources JSON Any; the new pids limit shows up in the cgroup metrics.
      await client.update({ id, resources: { pids: { limit: 77 } } });
      const after = await client.stats(id);
      const limit = (after.metrics?.['pids'] as { limit?: number } | undefined)?.limit;
      assert.equal(limit, 77);

      // Exec: sh -c 'echo x; exit 3' with its own FIFOs.
      const eio = createStdioFifos(join(dir, 'io'), `${id}-exec1`);
      const elog = join(dir, 'logs', `${id}-exec1.log`);
      const epump = pumpContainerLogs(eio, elog);
      try {
        await client.exec({
          id,
          execId: 'exec1',
          stdout: eio.stdout,
          stderr: eio.stderr,
          spec: {
            args: ['/bin/sh', '-c', 'echo x; exit 3'],
            cwd: '/',
            env: ['PATH=/bin'],
            user: { uid: 0, gid: 0 },
          },
        });
        await client.start(id, 'exec1');
        epump.release();
        const eexit = await client.wait(id, 'exec1', { timeoutMs: WAIT_MS });
        assert.equal(eexit.exitStatus, 3);
        await bounded(epump.done, 'exec log pump');
      } finally {
        epump.close();
      }
      assert.match(readFileSync(elog, 'utf8'), /^\S+ stdout F x$/m);
      await client.delete(id, 'exec1');
      await rejectsCode(client.state(id, 'exec1'), 'ERR_KATA_NOT_FOUND');

      // execSync (what CRI ExecSync uses): output collected, exit code, timeout, truncation.
      const ioDir = join(dir, 'io');
      const r = await execSync(client, {
        id,
        execId: 'sync1',
        ioDir,
        timeoutMs: WAIT_MS,
        spec: {
          args: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 4'],
          cwd: '/',
          user: { uid: 0, gid: 0 },
        },
      });
      assert.deepEqual(
        {
          exitCode: r.exitCode,
          stdout: r.stdout.toString(),
          stderr: r.stderr.toString(),
          truncated: r.truncated,
        },
        { exitCode: 4, stdout: 'out\n', stderr: 'err\n', truncated: false },
      );
      const big = await execSync(client, {
        id,
        execId: 'sync2',
        ioDir,
        timeoutMs: WAIT_MS,
        maxOutputBytes: 5,
        spec: { args: ['/bin/sh', '-c', 'echo 0123456789'], cwd: '/', user: { uid: 0, gid: 0 } },
      });
      assert.equal(big.stdout.toString(), '01234');
      assert.equal(big.truncated, true);
      const t0 = Date.now();
      await rejectsCode(
        execSync(client, {
          id,
          execId: 'sync3',
          ioDir,
          timeoutMs: 300,
          spec: { args: ['/bin/sleep', '30'], cwd: '/', user: { uid: 0, gid: 0 } },
        }),
        'ERR_KATA_EXEC_TIMEOUT',
      );
      assert.ok(Date.now() - t0 < 5000, 'exec timeout not bounded');
      // Every exec was deleted from the shim.
      for (const e of ['sync1', 'sync2', 'sync3'])
        await rejectsCode(client.state(id, e), 'ERR_KATA_NOT_FOUND');

      await client.kill(id, 9);
      const exit = await client.wait(id, '', { timeoutMs: WAIT_MS });
      assert.equal(exit.exitStatus, 137);
      assert.equal((await client.state(id)).status, TaskStatus.STOPPED);
      await client.delete(id);
      await client.shutdown(id);
      await until(() => !processAlive(pod.shimPid), 'the shim to exit');
    } finally {
      pump.close();
    }
  });

  test('fail_shim_killed: SIGKILL on the shim is detected; delete cleans up; re-attach says dead', async () => {
    const pod = await launch('victim', ['sleep', '300']);
    const { client, id } = pod;
    await client.create({ id, bundle: pod.bundle.dir });
    const { pid: taskPid } = await client.start(id);
    const deaths: ShimDeath[] = [];
    client.onDeath((d) => deaths.push(d));
    process.kill(pod.shimPid, 'SIGKILL');
    await until(() => deaths.length === 1, 'death notification');
    assert.equal(deaths[0]!.afterShutdown, false);
    assert.equal(client.dead, true);
    await rejectsCode(client.state(id), 'ERR_KATA_SHIM_DEAD');
    assert.equal(await reattachShim({ bundle: pod.bundle.dir, namespace, dialTimeoutMs: 2000 }), 'dead');
    const del = await deleteShim({ binary: SHIM, id, namespace, bundle: pod.bundle.dir, timeoutMs: WAIT_MS });
    // runc's delete kills the orphaned container: SIGKILL → 128 + 9.
    assert.equal(del.exitStatus, 137);
    await until(() => !processAlive(taskPid), 'the orphaned container to be gone');
  });

  test('pass_reattach: a new TaskClient from <bundle>/address after a "restart" drives the task', async () => {
    const pod = await launch('survivor', [
      'sh',
      '-c',
      'trap "exit 143" TERM; while true; do sleep 0.2; done',
    ]);
    const { id } = pod;
    await pod.client.create({ id, bundle: pod.bundle.dir });
    const { pid } = await pod.client.start(id);
    await pod.client.close(); // Cocoon "restarts": the connection goes away, the shim stays.
    assert.ok(processAlive(pod.shimPid));
    const again = await reattachShim({ bundle: pod.bundle.dir, namespace });
    assert.notEqual(again, 'dead');
    const client = again as TaskClient;
    clients.push(client);
    const st = await client.state(id);
    assert.equal(st.status, TaskStatus.RUNNING);
    assert.equal(st.pid, pid);
    // PID 1 ignores SIGTERM without a handler; the shell traps it and exits 143 itself.
    await client.kill(id, 15);
    assert.equal((await client.wait(id, '', { timeoutMs: WAIT_MS })).exitStatus, 143);
    await client.delete(id);
    await client.shutdown(id);
    await until(() => !processAlive(pod.shimPid), 'the shim to exit');
  });
});
