/**
 * The simulated confidential guest end to end, driven through the shim v2 driver exactly as the
 * CRI runtime drives any shim: start the shim binary, Create/Start the sandbox task, Create a
 * container carrying the image_guest_pull volume, Start it — the guest attests to a real KBS
 * (simulated TDX evidence, verified with the test roots), fetches the image security policy and
 * pulls the image from a real registry INSIDE the guest — and the container reads its secret
 * through the guest's api-server-rest. A second pod boots other firmware: its measurement is not
 * a reference value, attestation is contraindicated, and Start fails with the reason.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKbs, type RunningKbs } from '../../src/kbs/server.js';
import { testRootVerifierOptions } from '../../src/kbs/test-roots.js';
import { KbsAdminClient } from '../../src/kbs-client/index.js';
import { packagePath } from '../../src/common/paths.js';
import {
  EventsServer,
  TaskClient,
  TaskStatus,
  buildContainerSpec,
  buildSandboxSpec,
  createStdioFifos,
  encodeInitData,
  guestPullMount,
  openFifoReader,
  startShim,
  writeBundle,
  type TaskEvent,
} from '../../src/kata/index.js';
import { simMeasurement } from '../../src/kata/sim/attester.js';
import { guestDir } from '../../src/kata/sim/paths.js';
import { startRegistry, seedBusybox, type TestRegistry } from '../helpers/registry.js';
import { rejectsCode } from '../helpers/assert-code.js';

const SHIM = packagePath('bin/containerd-shim-cocoon-sim-v2');
const NS = 'k8s.io';
const work = mkdtempSync(join(tmpdir(), 'cocoon-sim-'));
const runDir = join(work, 'run');
let registry: TestRegistry;
let kbs: RunningKbs;
let events: EventsServer;
let image: string;
const seen: TaskEvent[] = [];
const shimPids: number[] = [];
const readers: { close(): void }[] = [];
const clients: TaskClient[] = [];

function initDataToml(kbsUrl: string): string {
  return [
    'version = "0.1.0"',
    'algorithm = "sha384"',
    '[data]',
    `"aa.toml" = '''`,
    '[token_configs.kbs]',
    `url = "${kbsUrl}"`,
    `'''`,
    `"cdh.toml" = '''`,
    'socket = "unix:///run/confidential-containers/cdh.sock"',
    '[kbc]',
    'name = "cc_kbc"',
    `url = "${kbsUrl}"`,
    '[image]',
    'image_security_policy_uri = "kbs:///default/security-policy/test"',
    `'''`,
    '',
  ].join('\n');
}

before(async () => {
  registry = await startRegistry();
  const pushed = await seedBusybox(registry);
  image = `${registry.host}/library/busybox:latest`;
  assert.ok(pushed);
  const admin = generateKeyPairSync('ed25519');
  kbs = await startKbs({
    listen: '127.0.0.1:0',
    insecureHttp: true,
    resourcesDir: join(work, 'kbs'),
    adminPublicKey: admin.publicKey.export({ type: 'spki', format: 'pem' }),
    verifierOptions: testRootVerifierOptions(),
    resourcePolicy: 'builtin:affirming',
  });
  const client = new KbsAdminClient({ url: kbs.url, insecureHttp: true, adminKey: admin.privateKey });
  await client.setResource('default/demo/secret', Buffer.from('the-demo-secret-42'));
  await client.setResource(
    'default/security-policy/test',
    Buffer.from(JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] })),
  );
  await client.setReferenceValues({
    mr_td: [simMeasurement('tdx').toString('hex')],
    rtmr_1: ['0'.repeat(96)],
    rtmr_2: ['0'.repeat(96)],
    xfam: ['e702060000000000'],
  });
  events = await EventsServer.listen(join(work, 'events.sock'));
  events.subscribe((e) => seen.push(e));
});

after(async () => {
  for (const r of readers) r.close();
  for (const c of clients) await c.close().catch(() => undefined);
  for (const pid of shimPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await events?.close();
  await kbs?.close();
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

interface Pod {
  readonly client: TaskClient;
  readonly sandboxId: string;
  readonly shimPid: number | undefined;
}

async function runPod(name: string, podAnnotations: Record<string, string>): Promise<Pod> {
  const sandboxId = `${name}-sandbox`;
  const bundle = join(work, 'bundles', sandboxId);
  const init = encodeInitData(initDataToml(kbs.url));
  const spec = buildSandboxSpec({
    id: sandboxId,
    name,
    namespace: 'default',
    uid: `${name}-uid`,
    args: ['/pause'],
    podAnnotations: {
      ...podAnnotations,
      'io.katacontainers.config.hypervisor.cc_init_data': init.annotation,
    },
    podAnnotationAllowlist: ['io.katacontainers.*'],
  });
  readers.push(writeBundle(bundle, spec));
  const env = {
    COCOON_SIM_RUN_DIR: runDir,
    COCOON_SIM_TEE: 'tdx',
    COCOON_LOG_LEVEL: 'silent',
  };
  const started = await startShim({
    binary: SHIM,
    id: sandboxId,
    namespace: NS,
    bundle,
    eventsAddress: events.address,
    env,
    timeoutMs: 30_000,
  });
  if (started.pid !== undefined) shimPids.push(started.pid);
  const client = await TaskClient.connect(started.address, { namespace: NS });
  clients.push(client);
  await client.create({ id: sandboxId, bundle });
  await client.start(sandboxId);
  assert.equal((await client.state(sandboxId)).status, TaskStatus.RUNNING);
  return { client, sandboxId, shimPid: started.pid };
}

async function createContainer(pod: Pod, id: string, args: string[]): Promise<{ out: () => string }> {
  const bundle = join(work, 'bundles', id);
  const spec = buildContainerSpec({
    id,
    name: id,
    sandboxId: pod.sandboxId,
    sandboxName: 'p',
    sandboxNamespace: 'default',
    sandboxUid: 'u',
    imageName: image,
    args,
  });
  readers.push(writeBundle(bundle, spec));
  const io = createStdioFifos(join(work, 'io'), id);
  const stdout = openFifoReader(io.stdout);
  const stderr = openFifoReader(io.stderr);
  readers.push(stdout, stderr);
  let text = '';
  stdout.socket.on('data', (d: Buffer) => (text += d.toString()));
  stderr.socket.on('data', (d: Buffer) => (text += d.toString()));
  await pod.client.create({
    id,
    bundle,
    rootfs: [guestPullMount({ source: image })],
    stdout: io.stdout,
    stderr: io.stderr,
  });
  return { out: () => text };
}

test('a confidential pod attests, pulls in the guest, reads its secret; zero layer bytes on the host', async () => {
  const pod = await runPod('good', {});
  const blobsBefore = registry.requestLog.filter((r) => r.kind === 'blob').length;
  const c = await createContainer(pod, 'reader', [
    '/bin/sh',
    '-c',
    'echo start; wget -qO- "$COCOON_GUEST_API/cdh/resource/default/demo/secret"; echo; exit 3',
  ]);
  // Create alone touched no registry blob: the pull happens in the guest at Start.
  assert.equal(registry.requestLog.filter((r) => r.kind === 'blob').length, blobsBefore);
  await pod.client.start('reader');
  const exit = await pod.client.wait('reader');
  assert.equal(exit.exitStatus, 3);
  await new Promise((r) => setTimeout(r, 200));
  assert.match(c.out(), /start\nthe-demo-secret-42/);
  // The image landed in the guest's private store, not in any host image store.
  assert.ok(existsSync(join(guestDir(join(runDir, 'vm'), pod.sandboxId), 'images')));
  assert.ok(
    seen.some((e) => e.topic === '/tasks/exit'),
    'exit event published to TTRPC_ADDRESS',
  );
  await pod.client.delete('reader');
  await pod.client.kill(pod.sandboxId, 9);
  await pod.client.wait(pod.sandboxId);
  await pod.client.delete(pod.sandboxId);
  await pod.client.shutdown(pod.sandboxId);
  await pod.client.close();
  assert.ok(
    !existsSync(guestDir(join(runDir, 'vm'), pod.sandboxId)),
    'guest folder removed with the sandbox',
  );
});

test('a container without the image_guest_pull volume is refused', async () => {
  const pod = await runPod('nopull', {});
  const bundle = join(work, 'bundles', 'plain');
  const b = writeBundle(
    bundle,
    buildContainerSpec({
      id: 'plain',
      name: 'plain',
      sandboxId: pod.sandboxId,
      sandboxName: 'p',
      sandboxNamespace: 'default',
      sandboxUid: 'u',
      imageName: image,
      args: ['/bin/true'],
    }),
  );
  readers.push(b);
  await rejectsCode(pod.client.create({ id: 'plain', bundle }), 'ERR_KATA_FAILED_PRECONDITION');
  await pod.client.shutdown(pod.sandboxId, true);
  await pod.client.close();
});

test('other firmware measures differently: attestation is contraindicated and Start says why', async () => {
  const pod = await runPod('evil', { 'io.katacontainers.config.hypervisor.firmware': '/tmp/evil-ovmf.fd' });
  await createContainer(pod, 'evil-reader', ['/bin/true']);
  const err = await rejectsCode(pod.client.start('evil-reader'), 'ERR_KATA_TASK_FAILED');
  assert.match(err.message, /PolicyDeny/);
  assert.equal((await pod.client.state('evil-reader')).status, TaskStatus.STOPPED);
  await pod.client.shutdown(pod.sandboxId, true);
  await pod.client.close();
});
