/**
 * Durability: the CRI server child process is killed with SIGKILL (by PID) in the middle of a
 * concurrent pod/container workload, restarted, and checked, in a bounded loop. After every
 * restart: every acknowledged pod/container is listed with its true state, nothing the client
 * removed comes back, no pod metadata appears twice, and no container is orphaned.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxLayerTar, pushImage, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { CriTestClient, containerConfig, podConfig, type Reply } from '../unit/cri/helpers.js';

const ITERATIONS = 4;
const ROOT = join(import.meta.dirname, '..', '..');

let reg: TestRegistry;
let dir = '';
let image = '';
let child: ChildProcess | undefined;

async function startChild(): Promise<CriTestClient> {
  const p = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/bin.ts'),
      '--config',
      join(dir, 'cocoon.toml'),
      '--log-level',
      'warn',
      'cri',
      'serve',
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  child = p;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('cri serve did not start in 30 s')), 30_000);
    p.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('"listening"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    p.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cri serve exited with ${code}`));
    });
  });
  return new CriTestClient(`unix://${join(dir, 'cri.sock')}`);
}

function killChild(): Promise<void> {
  const p = child;
  child = undefined;
  if (p === undefined || p.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    process.kill(p.pid!, 'SIGKILL');
  });
}

before(async () => {
  reg = await startRegistry();
  image = (
    await pushImage(reg, 'library/busybox', {
      layers: [busyboxLayerTar()],
      runtimeConfig: { Cmd: ['/bin/sh'] },
      tag: 'latest',
    })
  ).ref;
  dir = await mkdtemp(join(tmpdir(), 'cocoon-cri-dur-'));
  await writeFile(
    join(dir, 'cocoon.toml'),
    [
      '[cri]',
      `listen = "unix://${join(dir, 'cri.sock')}"`,
      `state_dir = "${join(dir, 'state')}"`,
      'metrics_listen = ""',
      'network = "host"',
      'default_runtime_handler = "noop"',
      '[cri.handlers.noop]',
      'kind = "test-noop"',
    ].join('\n'),
  );
});

after(async () => {
  await killChild();
  await reg?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

interface Expect {
  /** Last acknowledged state; `pending` = an unacknowledged op may have moved it on. */
  state: string;
  pending: boolean;
  podId: string;
}

test('pass_kill_9_mid_operation_loses_and_duplicates_nothing', { timeout: 170_000 }, async () => {
  const pods = new Map<string, { meta: string; pending: boolean; removed: boolean }>();
  const ctrs = new Map<string, Expect>();
  let seq = 0;
  let imageId = '';
  for (let iter = 0; iter < ITERATIONS; iter++) {
    const client = await startChild();
    try {
      if (imageId === '')
        imageId = (await client.call('PullImage', { image: { image } }, { image: true, deadlineMs: 30_000 }))
          .image_ref;
      // ---- verify what the previous life acknowledged
      const listed = (await client.call('ListPodSandbox', {})).items as Reply[];
      const metas = listed.map((p) => JSON.stringify(p.metadata));
      assert.equal(new Set(metas).size, metas.length, 'no pod metadata appears twice');
      const listedIds = new Set(listed.map((p) => p.id as string));
      for (const [id, p] of pods) {
        if (p.removed && !p.pending) assert.ok(!listedIds.has(id), `removed pod ${id} came back`);
        if (!p.removed && !p.pending)
          assert.ok(listedIds.has(id), `acknowledged pod ${id} was lost (iteration ${iter})`);
      }
      const lc = (await client.call('ListContainers', {})).containers as Reply[];
      for (const c of lc) assert.ok(listedIds.has(c.pod_sandbox_id), `container ${c.id} has no pod`);
      const byId = new Map(lc.map((c) => [c.id as string, c]));
      for (const [id, e] of ctrs) {
        const podGone = pods.get(e.podId)?.removed === true && pods.get(e.podId)?.pending === false;
        if (podGone || e.state === 'REMOVED') {
          if (!e.pending) assert.ok(!byId.has(id), `removed container ${id} came back`);
          continue;
        }
        const c = byId.get(id);
        // An unacknowledged op on the container, or a RemovePodSandbox of its pod in flight at
        // the kill, may or may not have happened: either outcome is correct.
        if (e.pending || pods.get(e.podId)?.pending === true) continue;
        assert.ok(c !== undefined, `acknowledged container ${id} was lost`);
        assert.equal(c.state, e.state, `container ${id} state`);
      }
      // ---- a new burst of concurrent work, then SIGKILL at a random instant
      let stop = false;
      const worker = async (): Promise<void> => {
        while (!stop) {
          const n = seq++;
          const meta = { name: `p${n}`, namespace: 'default', uid: `u${n}`, attempt: 0 };
          let podId: string;
          try {
            podId = (await client.call('RunPodSandbox', { config: podConfig(meta.name, meta.uid) }))
              .pod_sandbox_id;
          } catch {
            return;
          }
          pods.set(podId, { meta: JSON.stringify(meta), pending: false, removed: false });
          let cid = '';
          try {
            cid = (
              await client.call('CreateContainer', {
                pod_sandbox_id: podId,
                config: containerConfig('c', imageId),
              })
            ).container_id;
            ctrs.set(cid, { state: 'CONTAINER_CREATED', pending: false, podId });
            ctrs.get(cid)!.pending = true;
            await client.call('StartContainer', { container_id: cid });
            ctrs.set(cid, { state: 'CONTAINER_RUNNING', pending: false, podId });
            if (n % 3 === 0) {
              ctrs.get(cid)!.pending = true;
              await client.call('StopContainer', { container_id: cid, timeout: 0 });
              ctrs.set(cid, { state: 'CONTAINER_EXITED', pending: false, podId });
            }
            if (n % 4 === 0) {
              pods.get(podId)!.pending = true;
              await client.call('RemovePodSandbox', { pod_sandbox_id: podId });
              pods.set(podId, { meta: JSON.stringify(meta), pending: false, removed: true });
            }
          } catch {
            return;
          }
        }
      };
      const workers = Array.from({ length: 4 }, worker);
      await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 700)));
      await killChild();
      stop = true;
      await Promise.all(workers);
    } finally {
      client.close();
      await killChild();
    }
  }
  assert.ok(seq > ITERATIONS, `the workload ran (${seq} pods attempted)`);
  console.log(
    `durability: ${ITERATIONS} kills, ${seq} pods attempted, ${pods.size} acknowledged, ${ctrs.size} containers`,
  );
});
