/**
 * `cocoon up` + `cocoon demo` + `cocoon down` end to end, as a person runs them: `up` in its own
 * process (CRI runtime with the simulated handlers, embedded KBS, local registry seeded with the
 * demo image), then the demo scenarios through the CRI socket, asserting every step's
 * observable result: zero layer blobs fetched by the host, the secret released only to the
 * affirmed guest, the denial visible in ContainerStatus, and no secret in any log. Then
 * `down`, a second `up` on the same state (nothing lost), and `down` again.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { packagePath } from '../../src/common/paths.js';
import { criClientConstructor } from '../../src/cri/proto.js';
import { runDemo, type DemoEvent, type DemoSummary } from '../../src/up/demo.js';
import { DEMO_SECRET_PATH } from '../../src/up/up.js';
import { runCli } from '../../src/cli/main.js';
import { processContext } from '../../src/cli/context.js';

// As deep as the default /var/lib/cocoon/up and more: guest sockets must still fit the Unix
// socket path limit under it.
const tmpRoot = mkdtempSync(join(tmpdir(), 'cocoon-up-'));
const stateDir = join(tmpRoot, 'var', 'lib', 'cocoon', 'up');
const children: ChildProcess[] = [];

interface Up {
  readonly child: ChildProcess;
  readonly ready: Record<string, unknown>;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

async function startUp(): Promise<Up> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      `file://${packagePath('node_modules/tsx/dist/loader.mjs')}`,
      packagePath('src/cli/bin.ts'),
      'up',
      '--state-dir',
      stateDir,
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COCOON_LOG_LEVEL: 'debug' } },
  );
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  const lines = createInterface({ input: child.stdout! });
  const first = await Promise.race([
    new Promise<string>((r) => lines.once('line', r)),
    exited.then((c) => Promise.reject(new Error(`cocoon up exited with ${c}: ${err.slice(-2000)}`))),
    new Promise<string>((_, rej) =>
      setTimeout(() => rej(new Error(`cocoon up not ready in 90 s: ${err.slice(-2000)}`)), 90_000).unref(),
    ),
  ]);
  return { child, ready: JSON.parse(first) as Record<string, unknown>, stderr: () => err, exited };
}

function filesUnder(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st === undefined) continue;
    if (st.isDirectory()) filesUnder(p, out);
    else if (st.isFile() && (p.endsWith('.log') || p.endsWith('.jsonl'))) out.push(p);
  }
  return out;
}

async function listImages(cri: string): Promise<string[]> {
  const c = new (criClientConstructor('ImageService'))(cri, grpc.credentials.createInsecure());
  try {
    type Reply = { images: { repo_tags: string[] }[] };
    const list = (c as unknown as { ListImages(req: object, cb: (e: Error | null, v: Reply) => void): void })
      .ListImages;
    const r = await new Promise<Reply>((res, rej) =>
      list.call(c, {}, (e, v) => (e === null ? res(v) : rej(e))),
    );
    return r.images.flatMap((i) => i.repo_tags);
  } finally {
    c.close();
  }
}

after(async () => {
  // A failed run may leave `up` running: stop it gracefully (it stops its registry and KBS),
  // and only then by force.
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(t);
  }
  rmSync(tmpRoot, { recursive: true, force: true });
});

test('cocoon up, demo and down: a confidential pod without hardware, end to end', async () => {
  const first = await startUp();
  assert.equal(first.ready['event'], 'ready');
  assert.equal(first.ready['cri'], `unix://${join(stateDir, 'cri.sock')}`);
  assert.match(String(first.ready['kbs']), /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(String(first.ready['demoImage']), /^127\.0\.0\.1:\d+\/cocoon\/demo:latest$/);
  assert.ok((first.ready['handlers'] as string[]).includes('sim-tdx'));
  assert.ok((first.ready['handlers'] as string[]).includes('sim-snp'));

  const events: (DemoEvent | DemoSummary)[] = [];
  const summary = await runDemo({ stateDir, onEvent: (e) => events.push(e) });
  const step = (scenario: string, name: string): DemoEvent => {
    const e = events.find((x) => x.event === name && (x as DemoEvent).scenario === scenario) as
      DemoEvent | undefined;
    assert.ok(e !== undefined, `step ${scenario}/${name} missing: ${JSON.stringify(events)}`);
    return e;
  };
  for (const name of [
    'RunPodSandbox',
    'PullImage',
    'CreateContainer',
    'StartContainer',
    'attestation',
    'secret-released',
    'guest-pull',
    'output',
    'cleanup',
  ]) {
    assert.ok(
      step('confidential-pod', name).ok,
      `${name}: ${JSON.stringify(step('confidential-pod', name))}`,
    );
  }
  assert.equal(step('confidential-pod', 'PullImage')['hostBlobRequests'], 0);
  const att = step('confidential-pod', 'attestation');
  assert.equal(att['verdict'], 'affirming');
  assert.equal(att['tee'], 'tdx');
  assert.match(String(att['nonce']), /^[A-Za-z0-9+/=_-]{20,}$/);
  assert.ok(Number(att['evidenceBytes']) > 1000, 'a real TDX quote layout');
  const out = step('confidential-pod', 'output')['lines'] as string[];
  assert.ok(out.includes('hello from a confidential container'));
  assert.ok(
    out.some((l) => /^secret: \d+ bytes, sha256 [0-9a-f]{64}$/.test(l)),
    out.join('\n'),
  );
  const denied = step('denied-pod', 'denied');
  assert.ok(denied.ok, JSON.stringify(denied));
  assert.equal(denied['state'], 'CONTAINER_EXITED');
  assert.match(String(denied['message']), /denied|attest/i);
  assert.equal(summary.event, 'summary');
  assert.equal(summary.ok, true, JSON.stringify(events));
  assert.equal(summary.hostBlobRequests, 0, 'guest pull moves no layer byte to the host');
  assert.ok(summary.guestBlobRequests >= 1, 'the guest pulled the layer');

  // No secret in any log: cocoon up's own log, shim logs, guest journals, container logs.
  const secret = readFileSync(join(stateDir, 'kbs', 'resources', DEMO_SECRET_PATH), 'utf8');
  assert.ok(secret.length > 10);
  assert.ok(!first.stderr().includes(secret), 'cocoon up log leaks the secret');
  for (const f of filesUnder(stateDir))
    assert.ok(!readFileSync(f, 'utf8').includes(secret), `${f} leaks the secret`);

  // down stops it cleanly; up again on the same state keeps ports, images and KBS resources.
  const downCode = await runCli(['down', '--state-dir', stateDir], {
    ...processContext,
    out: () => undefined,
  });
  assert.equal(downCode, 0);
  assert.equal(await first.exited, 0);
  assert.ok(!existsSync(join(stateDir, 'up.pid')));
  assert.ok(existsSync(join(stateDir, 'kbs', 'resources', DEMO_SECRET_PATH)));
  const second = await startUp();
  assert.equal(second.ready['kbs'], first.ready['kbs'], 'KBS URL survives down/up');
  assert.equal(second.ready['demoImage'], first.ready['demoImage'], 'registry address survives down/up');
  assert.ok(
    (await listImages(String(second.ready['cri']))).includes(String(first.ready['demoImage'])),
    'image metadata survives',
  );
  assert.equal(
    await runCli(['down', '--state-dir', stateDir], { ...processContext, out: () => undefined }),
    0,
  );
  assert.equal(await second.exited, 0);
  const again = await runCli(['down', '--state-dir', stateDir], {
    ...processContext,
    out: () => undefined,
    err: () => undefined,
  });
  assert.equal(again, 1, 'down without a running up is a typed error');
});
