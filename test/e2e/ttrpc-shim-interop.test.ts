/**
 * Interop with a real Go ttrpc peer: Debian's containerd-shim-runc-v2 (containerd 1.6, ttrpc 1.1),
 * driven directly as env-notes.md describes. Our client calls the shim's Task service; the shim's
 * Go client calls our server (events Forward) when a task is created and deleted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { Status } from '../../src/common/status.js';
import { runCli } from '../../src/cli/main.js';
import { processContext } from '../../src/cli/context.js';
import { TtrpcClient, TtrpcServer, ttrpcStatusOf } from '../../src/ttrpc/index.js';
import { rejectsCode } from '../helpers/assert-code.js';

const SHIM = '/usr/bin/containerd-shim-runc-v2';
const TASK = 'containerd.task.v2.Task';
const NS = `cocoon-ttrpc-${process.pid}`;
const ID = `interop-${Date.now().toString(36)}`;

// The few Task API messages this test needs (field numbers: cri-kata.md §4.1).
const root = protobuf.parse(
  `
syntax = "proto3";
package t;
message ConnectRequest { string id = 1; }
message ConnectResponse { uint32 shim_pid = 1; uint32 task_pid = 2; string version = 3; }
message CreateTaskRequest { string id = 1; string bundle = 2; bool terminal = 4; string stdin = 5; string stdout = 6; string stderr = 7; }
message CreateTaskResponse { uint32 pid = 1; }
message DeleteRequest { string id = 1; string exec_id = 2; }
message ShutdownRequest { string id = 1; bool now = 2; }
message Envelope { string namespace = 2; string topic = 3; }
`,
  { keepCase: true },
).root;
const T = (n: string): protobuf.Type => root.lookupType(`t.${n}`);
const enc = (n: string, o: Record<string, unknown>): Uint8Array => T(n).encode(T(n).fromObject(o)).finish();
const dec = (n: string, b: Uint8Array): Record<string, unknown> =>
  T(n).toObject(T(n).decode(b), { defaults: true });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

describe('interop with containerd-shim-runc-v2 (Go ttrpc)', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-shim-'));
  const bundle = join(dir, 'bundle');
  const events = new TtrpcServer();
  const topics: string[] = [];
  let logReader: Socket | undefined;
  let shimAddress = '';
  let shimPid = 0;
  let client: TtrpcClient;

  before(async () => {
    assert.ok(
      existsSync(SHIM),
      `${SHIM} is missing: run bash scripts/install-deps.sh (Debian package containerd)`,
    );
    // Bundle: config.json from `runc spec`, a busybox rootfs, and the `log` FIFO with a reader.
    mkdirSync(join(bundle, 'rootfs', 'bin'), { recursive: true });
    execFileSync('runc', ['spec'], { cwd: bundle });
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as {
      process: { terminal: boolean; args: string[] };
    };
    spec.process.terminal = false;
    spec.process.args = ['/bin/busybox', 'sleep', '30'];
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    copyFileSync('/bin/busybox', join(bundle, 'rootfs', 'bin', 'busybox'));
    execFileSync('mkfifo', ['-m', '0700', join(bundle, 'log')]);
    const fd = openSync(join(bundle, 'log'), constants.O_RDONLY | constants.O_NONBLOCK);
    logReader = new Socket({ fd, readable: true, writable: false });
    logReader.on('error', () => undefined);
    logReader.resume();

    // The events endpoint the shim publishes to (TTRPC_ADDRESS), served by our TtrpcServer.
    events.register('containerd.services.events.ttrpc.v1.Events', 'Forward', async (p) => {
      // ForwardRequest {envelope = 1}
      const r = protobuf.Reader.create(p);
      while (r.pos < r.len) {
        const t = r.uint32();
        if (t === 0x0a) topics.push(String(dec('Envelope', r.bytes())['topic']));
        else r.skipType(t & 7);
      }
      return new Uint8Array(0);
    });
    const eventsSock = join(dir, 'events.sock');
    await events.listen(`unix://${eventsSock}`);

    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        SHIM,
        [
          '-namespace',
          NS,
          '-id',
          ID,
          '-address',
          join(dir, 'containerd.sock'),
          '-publish-binary',
          '/bin/false',
          'start',
        ],
        {
          cwd: bundle,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, TTRPC_ADDRESS: eventsSock },
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(stdout.trim());
        else reject(new Error(`shim start exited ${code}: ${stderr}`));
      });
    });
    assert.match(out, /^unix:\/\/\/run\/containerd\/s\/[0-9a-f]{64}$/);
    shimAddress = out;
    client = await TtrpcClient.connect(shimAddress, {
      metadata: { 'containerd-namespace-ttrpc': NS },
      dial: { timeoutMs: 5000 },
    });
  });

  after(async () => {
    await client?.close();
    // The shim writes its daemon's PID to BUNDLE/shim.pid: the fallback when Connect never ran.
    const pidFile = join(bundle, 'shim.pid');
    if (shimPid === 0 && existsSync(pidFile)) shimPid = Number(readFileSync(pidFile, 'utf8').trim()) || 0;
    if (shimPid > 0 && !(await waitGone(shimPid, 5000))) process.kill(shimPid, 'SIGKILL');
    await events.close();
    logReader?.destroy();
    const sock = shimAddress.replace(/^unix:\/\//, '');
    if (sock !== '') rmSync(sock, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  test('pass_connect_returns_the_shim_pid', async () => {
    const res = dec(
      'ConnectResponse',
      await client.unary(TASK, 'Connect', enc('ConnectRequest', { id: ID }), { timeoutMs: 5000 }),
    );
    shimPid = Number(res['shim_pid']);
    assert.ok(shimPid > 0 && alive(shimPid), `shim pid ${shimPid} is alive`);
    assert.equal(res['task_pid'], 0, 'no task yet');
  });

  test('pass_concurrent_calls_multiplexed_on_one_connection', async () => {
    const outs = await Promise.all(
      Array.from({ length: 32 }, () =>
        client.unary(TASK, 'Connect', enc('ConnectRequest', { id: ID }), { timeoutMs: 5000 }),
      ),
    );
    for (const o of outs) assert.equal(dec('ConnectResponse', o)['shim_pid'], shimPid);
  });

  test('fail_unknown_method_and_service_are_unimplemented_from_go', async () => {
    const m = await rejectsCode(client.unary(TASK, 'NoSuchMethod', new Uint8Array(0)), 'ERR_TTRPC_STATUS');
    assert.equal(ttrpcStatusOf(m)?.code, Status.UNIMPLEMENTED);
    assert.match(ttrpcStatusOf(m)!.message, /NoSuchMethod/);
    const s = await rejectsCode(client.unary('no.such.Service', 'X', new Uint8Array(0)), 'ERR_TTRPC_STATUS');
    assert.equal(ttrpcStatusOf(s)?.code, Status.UNIMPLEMENTED);
    assert.match(ttrpcStatusOf(s)!.message, /no\.such\.Service/);
  });

  test('fail_go_status_for_an_unknown_task', async () => {
    const e = await rejectsCode(
      client.unary(TASK, 'Delete', enc('DeleteRequest', { id: 'nope' })),
      'ERR_TTRPC_STATUS',
    );
    assert.equal(ttrpcStatusOf(e)?.code, Status.NOT_FOUND);
  });

  test('pass_cli_call_against_the_shim', async () => {
    const out: string[] = [];
    const ctx = { ...processContext, out: (l: string) => out.push(l), err: () => undefined };
    const hex = Buffer.from(enc('ConnectRequest', { id: ID })).toString('hex');
    const code = await runCli(
      [
        'ttrpc',
        'call',
        shimAddress,
        `${TASK}/Connect`,
        '--payload-hex',
        hex,
        '--md',
        `containerd-namespace-ttrpc=${NS}`,
        '--timeout',
        '5000',
      ],
      ctx,
    );
    assert.equal(code, 0);
    const line = JSON.parse(out[0]!) as { status: { code: number }; payloadHex: string };
    assert.equal(line.status.code, 0);
    assert.equal(dec('ConnectResponse', Buffer.from(line.payloadHex, 'hex'))['shim_pid'], shimPid);
  });

  test('pass_go_client_calls_our_events_server', async () => {
    const created = dec(
      'CreateTaskResponse',
      await client.unary(TASK, 'Create', enc('CreateTaskRequest', { id: ID, bundle }), { timeoutMs: 20_000 }),
    );
    assert.ok(Number(created['pid']) > 0);
    await client.unary(TASK, 'Delete', enc('DeleteRequest', { id: ID }), { timeoutMs: 20_000 });
    const deadline = Date.now() + 10_000;
    while (!topics.includes('/tasks/delete') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(topics.includes('/tasks/create'), `topics: ${topics.join(',')}`);
    assert.ok(topics.includes('/tasks/delete'), `topics: ${topics.join(',')}`);
  });

  test('pass_shutdown_stops_the_shim', async () => {
    try {
      await client.unary(TASK, 'Shutdown', enc('ShutdownRequest', { id: ID, now: true }), {
        timeoutMs: 5000,
      });
    } catch (e) {
      // The shim may exit before its answer is flushed: a closed connection is success here.
      assert.equal((e as { code?: string }).code, 'ERR_TTRPC_CONNECTION_CLOSED');
    }
    assert.ok(await waitGone(shimPid, 10_000), 'the shim exited after Shutdown');
    await client.closed; // the client noticed the shim going away
    assert.equal(client.isClosed, true);
  });
});
