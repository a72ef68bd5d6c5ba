/**
 * `cocoon demo`: a confidential pod through the CRI socket of a running `cocoon up`, step by
 * step, as a timeline a person can follow (or JSON lines with --json):
 *
 *   RunPodSandbox (sim-tdx) → PullImage (metadata only: no layer on the host) → CreateContainer
 *   (guest-pull volume) → StartContainer → attestation inside the guest (evidence, verdict) →
 *   secret released → image pulled in the guest → the container's output (it reads the secret
 *   through the guest's api-server-rest and prints only its digest) → cleanup.
 *
 * The second scenario boots a pod on other firmware: its measurement is not a reference value,
 * the KBS does not affirm it, and the refusal surfaces in ContainerStatus reason and message.
 */
import * as grpc from '@grpc/grpc-js';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CocoonError, messageOf } from '../common/errors.js';
import { criClientConstructor } from '../cri/proto.js';
import { GUEST_JOURNAL } from '../kata/sim/guest.js';
import { guestDir } from '../kata/sim/paths.js';
import { COUNTERS_PATH, type RegistryCounters } from './registry.js';
import { DEMO_SECRET_PATH } from './up.js';

type Msg = Record<string, unknown>;

/** One line of the timeline. */
export interface DemoEvent {
  readonly event: string;
  readonly scenario: 'confidential-pod' | 'denied-pod';
  readonly ok: boolean;
  readonly ms: number;
  readonly [k: string]: unknown;
}

/** The final line. */
export interface DemoSummary {
  readonly event: 'summary';
  readonly ok: boolean;
  readonly hostBlobRequests: number;
  readonly guestBlobRequests: number;
  readonly secretReleased: boolean;
  readonly denialObserved: boolean;
  readonly ms: number;
}

/** Where the demo finds a running `cocoon up`. */
export interface DemoOptions {
  readonly stateDir: string;
  /** Handler to use; default sim-tdx. */
  readonly handler?: string;
  /** Skip the denial scenario. */
  readonly skipDenial?: boolean;
  /** Deadline per CRI call; default 120 s (a guest pull attests and downloads). */
  readonly callTimeoutMs?: number;
  readonly onEvent: (e: DemoEvent | DemoSummary) => void;
  /** Called when a step begins (a progress display shows it until the step's event). */
  readonly onProgress?: (label: string) => void;
}

interface UpInfo {
  readonly cri: string;
  readonly registry: string;
  readonly demoImage: string;
}

/** Reads the `cocoon up` facts written at start-up. */
export function readUpInfo(stateDir: string): UpInfo {
  const f = join(stateDir, 'up-info.json');
  if (!existsSync(f)) {
    throw new CocoonError(
      'ERR_UP_NOT_RUNNING',
      `no cocoon up information in ${stateDir}; start one with cocoon up --state-dir ${stateDir}`,
    );
  }
  return JSON.parse(readFileSync(f, 'utf8')) as UpInfo;
}

class Cri {
  private readonly rt: grpc.Client;
  private readonly img: grpc.Client;
  private readonly timeoutMs: number;
  private readonly progress: ((label: string) => void) | undefined;
  constructor(address: string, timeoutMs: number, progress?: (label: string) => void) {
    this.progress = progress;
    this.rt = new (criClientConstructor('RuntimeService'))(address, grpc.credentials.createInsecure());
    this.img = new (criClientConstructor('ImageService'))(address, grpc.credentials.createInsecure());
    this.timeoutMs = timeoutMs;
  }
  call(method: string, req: Msg, image = false): Promise<Msg> {
    if (method !== 'ContainerStatus')
      this.progress?.(
        method === 'StartContainer' ? 'StartContainer (attestation and image pull inside the guest)' : method,
      );
    const c = image ? this.img : this.rt;
    const fn = (
      c as unknown as Record<
        string,
        (
          r: Msg,
          md: grpc.Metadata,
          o: grpc.CallOptions,
          cb: (e: grpc.ServiceError | null, v: Msg) => void,
        ) => void
      >
    )[method];
    if (fn === undefined)
      return Promise.reject(new CocoonError('ERR_UP_DEMO_FAILED', `no CRI method ${method}`));
    return new Promise((res, rej) =>
      fn.call(c, req, new grpc.Metadata(), { deadline: Date.now() + this.timeoutMs }, (e, v) =>
        e === null ? res(v) : rej(e),
      ),
    );
  }
  close(): void {
    this.rt.close();
    this.img.close();
  }
}

async function counters(registry: string): Promise<RegistryCounters | undefined> {
  try {
    const r = await fetch(`http://${registry}${COUNTERS_PATH}`, { signal: AbortSignal.timeout(5000) });
    return r.status === 200 ? ((await r.json()) as RegistryCounters) : undefined;
  } catch {
    return undefined;
  }
}

/** Where simulated guests of this `cocoon up` keep their folders (the CRI's shim dir, or the default). */
function simRunDirs(stateDir: string): string[] {
  return [
    join(stateDir, 'cri', 'shim', 'sim-run'),
    join(stateDir, 'sim'),
    process.env['COCOON_SIM_RUN_DIR'] ?? '/run/cocoon/sim',
  ];
}

function journal(stateDir: string, sandboxId: string): Record<string, unknown>[] {
  const f = simRunDirs(stateDir)
    .map((d) => join(guestDir(join(d, 'vm'), sandboxId), GUEST_JOURNAL))
    .find((p) => existsSync(p));
  if (f === undefined) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function waitExited(cri: Cri, id: string, timeoutMs: number): Promise<Msg> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = (await cri.call('ContainerStatus', { container_id: id })).status as Msg;
    if (st['state'] === 'CONTAINER_EXITED') return st;
    if (Date.now() > deadline)
      throw new CocoonError('ERR_UP_DEMO_FAILED', `container ${id} did not exit within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const DEMO_SCRIPT = [
  'echo "hello from a confidential container";',
  's=$(wget -qO- "$COCOON_GUEST_API/cdh/resource/' +
    DEMO_SECRET_PATH +
    '") || { echo "secret: refused"; exit 2; };',
  'printf "secret: %s bytes, sha256 %s\\n" "$(printf %s "$s" | wc -c)" "$(printf %s "$s" | sha256sum | cut -d" " -f1)"',
].join(' ');

/** Runs the demo scenarios; resolves with the summary (also emitted as the last event). */
export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const stateDir = resolve(o.stateDir);
  const info = readUpInfo(stateDir);
  const handler = o.handler ?? 'sim-tdx';
  const cri = new Cri(info.cri, o.callTimeoutMs ?? 120_000, o.onProgress);
  const t0 = Date.now();
  let ok = true;
  let secretReleased = false;
  let denialObserved = o.skipDenial === true;
  const before = await counters(info.registry);
  const emit = (
    scenario: DemoEvent['scenario'],
    event: string,
    good: boolean,
    extra: Record<string, unknown> = {},
  ): void => {
    if (!good) ok = false;
    o.onEvent({ event, scenario, ok: good, ms: Date.now() - t0, ...extra });
  };
  // Pods still standing; cleaned up even when a step fails, so no shim is left behind.
  const live = new Map<string, { scenario: DemoEvent['scenario']; containerId?: string }>();
  const logDir = join(stateDir, 'demo-logs');
  await mkdir(logDir, { recursive: true });

  const pod = async (
    scenario: DemoEvent['scenario'],
    annotations: Record<string, string>,
  ): Promise<{ sandboxId: string; config: Msg }> => {
    const uid = randomUUID();
    const config: Msg = {
      metadata: { name: `cocoon-${scenario}`, uid, namespace: 'default', attempt: 0 },
      log_directory: join(logDir, uid),
      annotations,
      labels: { app: 'cocoon-demo' },
    };
    await mkdir(join(logDir, uid), { recursive: true });
    const r = await cri.call('RunPodSandbox', { config, runtime_handler: handler });
    const sandboxId = String(r['pod_sandbox_id']);
    live.set(sandboxId, { scenario });
    emit(scenario, 'RunPodSandbox', true, { handler, sandboxId });
    return { sandboxId, config };
  };

  const container = async (
    scenario: DemoEvent['scenario'],
    p: { sandboxId: string; config: Msg },
    args: string[],
  ): Promise<string> => {
    const pulled = await cri.call(
      'PullImage',
      { image: { image: info.demoImage, runtime_handler: handler }, sandbox_config: p.config },
      true,
    );
    const c = await counters(info.registry);
    const hostBlobs = (c?.hostBlobRequests ?? 0) - (before?.hostBlobRequests ?? 0);
    emit(scenario, 'PullImage', hostBlobs === 0, {
      image: info.demoImage,
      imageRef: pulled['image_ref'],
      note: 'manifest and config only: no layer reaches the host',
      hostBlobRequests: hostBlobs,
    });
    const r = await cri.call('CreateContainer', {
      pod_sandbox_id: p.sandboxId,
      config: {
        metadata: { name: 'demo', attempt: 0 },
        image: { image: info.demoImage, user_specified_image: info.demoImage },
        command: args,
        log_path: 'demo.log',
        labels: { app: 'cocoon-demo' },
      },
      sandbox_config: p.config,
    });
    const id = String(r['container_id']);
    live.set(p.sandboxId, { scenario, containerId: id });
    emit(scenario, 'CreateContainer', true, {
      containerId: id,
      note: 'rootfs is an image_guest_pull volume (io.katacontainers.volume)',
    });
    return id;
  };

  const cleanup = async (
    scenario: DemoEvent['scenario'],
    sandboxId: string,
    containerId?: string,
  ): Promise<void> => {
    live.delete(sandboxId);
    try {
      if (containerId !== undefined) {
        await cri.call('StopContainer', { container_id: containerId, timeout: 5 });
        await cri.call('RemoveContainer', { container_id: containerId });
      }
      await cri.call('StopPodSandbox', { pod_sandbox_id: sandboxId });
      await cri.call('RemovePodSandbox', { pod_sandbox_id: sandboxId });
      emit(scenario, 'cleanup', true, { sandboxId });
    } catch (e) {
      emit(scenario, 'cleanup', false, { error: messageOf(e) });
    }
  };

  try {
    // Scenario 1: a confidential pod that attests and gets its secret.
    const p = await pod('confidential-pod', {});
    const id = await container('confidential-pod', p, ['/bin/sh', '-c', DEMO_SCRIPT]);
    await cri.call('StartContainer', { container_id: id });
    emit('confidential-pod', 'StartContainer', true, { containerId: id });
    const st = await waitExited(cri, id, o.callTimeoutMs ?? 120_000);
    const j = journal(stateDir, p.sandboxId);
    const att = j.find((e) => e['kind'] === 'attested');
    emit('confidential-pod', 'attestation', att !== undefined && att['earStatus'] === 'affirming', {
      tee: att?.['tee'],
      nonce: att?.['nonce'],
      runtimeDataDigest: att?.['runtimeDataDigest'],
      evidenceBytes: att?.['evidenceBytes'],
      verdict: att?.['earStatus'],
      trustVector: att?.['trustVector'],
      tokenExpiresAt: att?.['tokenExpiresAt'],
    });
    const res = j.filter((e) => e['kind'] === 'resource');
    secretReleased = res.some((e) => String(e['uri']).endsWith(DEMO_SECRET_PATH));
    emit('confidential-pod', 'secret-released', secretReleased, {
      resources: res.map((e) => ({ uri: e['uri'], bytes: e['bytes'] })),
    });
    const pulledInGuest = j.find((e) => e['kind'] === 'pulled');
    emit('confidential-pod', 'guest-pull', pulledInGuest !== undefined, {
      image: pulledInGuest?.['image'],
      imageId: pulledInGuest?.['imageId'],
      where: 'inside the guest (its private image store)',
    });
    const logPath = join(String(p.config['log_directory']), 'demo.log');
    const logText = existsSync(logPath) ? await readFile(logPath, 'utf8') : '';
    const lines = logText
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split(' ').slice(3).join(' '));
    const expectDigest = secretDigest(stateDir);
    const printed = lines.find((l) => l.startsWith('secret:'));
    emit(
      'confidential-pod',
      'output',
      st['exit_code'] === 0 && (expectDigest === undefined || (printed ?? '').includes(expectDigest)),
      {
        exitCode: st['exit_code'],
        lines,
      },
    );
    await cleanup('confidential-pod', p.sandboxId, id);

    // Scenario 2: other firmware → not affirmed → refused, visible in ContainerStatus.
    if (o.skipDenial !== true) {
      const q = await pod('denied-pod', {
        'io.katacontainers.config.hypervisor.firmware': '/opt/untrusted/OVMF.fd',
      });
      const qid = await container('denied-pod', q, ['/bin/sh', '-c', DEMO_SCRIPT]);
      let startError: string | undefined;
      try {
        await cri.call('StartContainer', { container_id: qid });
      } catch (e) {
        startError = messageOf(e);
      }
      const st2 = (await cri.call('ContainerStatus', { container_id: qid })).status as Msg;
      const jq = journal(stateDir, q.sandboxId);
      const refused = jq.find((e) => e['kind'] === 'resource-denied' || e['kind'] === 'attestation-failed');
      denialObserved =
        startError !== undefined &&
        st2['state'] === 'CONTAINER_EXITED' &&
        String(st2['message'] ?? '') !== '';
      emit('denied-pod', 'denied', denialObserved, {
        state: st2['state'],
        reason: st2['reason'],
        message: st2['message'],
        guest: refused === undefined ? undefined : { kind: refused['kind'], error: refused['error'] },
      });
      await cleanup('denied-pod', q.sandboxId, qid);
    }
  } catch (e) {
    emit('confidential-pod', 'error', false, { error: messageOf(e) });
  } finally {
    for (const [sandboxId, v] of [...live]) await cleanup(v.scenario, sandboxId, v.containerId);
    cri.close();
  }
  const after = await counters(info.registry);
  const summary: DemoSummary = {
    event: 'summary',
    ok: ok && secretReleased && denialObserved,
    hostBlobRequests: (after?.hostBlobRequests ?? 0) - (before?.hostBlobRequests ?? 0),
    guestBlobRequests: (after?.guestBlobRequests ?? 0) - (before?.guestBlobRequests ?? 0),
    secretReleased,
    denialObserved,
    ms: Date.now() - t0,
  };
  o.onEvent(summary);
  return summary;
}

/** SHA-256 of the provisioned demo secret (read from the KBS store of this machine). */
function secretDigest(stateDir: string): string | undefined {
  const f = join(stateDir, 'kbs', 'resources', DEMO_SECRET_PATH);
  return existsSync(f) ? createHash('sha256').update(readFileSync(f)).digest('hex') : undefined;
}
