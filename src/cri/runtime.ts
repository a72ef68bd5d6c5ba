/**
 * The CRI runtime core: pod sandboxes and containers, their durable records, name reservation
 * with the resource-cache answer to kubelet timeouts (cri-kata.md §2.5–2.6), the bounded queue
 * of heavy operations, container events, and recovery after a restart. The per-RPC files under
 * runtime/ only validate, call one method here and shape the reply.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CocoonError, isCocoonError, messageOf } from '../common/errors.js';
import type { CriConfig, CriHandlerConfig } from '../config/sections/cri.js';
import type {
  BackendExit,
  BackendTaskState,
  ContainerLaunch,
  RuntimeBackend,
  SandboxLaunch,
} from './backend.js';
import type { CallContext } from './call-context.js';
import { containerName, nanos, newId, sandboxName } from './ids.js';
import type { ImageManager } from './images.js';
import type { PodNetwork } from './pod-network.js';
import { OpQueue } from './queue.js';
import { KIND, type ContainerRecord, type Msg, type PodRecord } from './state/model.js';
import type { StateStore } from './state/store.js';
import { kataAnnotationsFor } from './kata-annotations.js';

/** How long a finished but unclaimed create is kept for the kubelet's retry (CRI-O: 1–2 min). */
export const DEFAULT_UNCLAIMED_TTL_MS = 2 * 60_000;

/** Options of CriRuntime. */
export interface CriRuntimeOptions {
  readonly config: CriConfig;
  readonly store: StateStore;
  /** Backend for a handler (kind shim → the shim driver, test-noop → the test backend). */
  readonly backendFor: (h: CriHandlerConfig) => RuntimeBackend;
  readonly network: PodNetwork;
  readonly images: ImageManager | undefined;
  /** Clock in ms; default Date.now. */
  readonly now?: () => number;
  readonly logger?: Logger;
  /** Default DEFAULT_UNCLAIMED_TTL_MS. */
  readonly unclaimedTtlMs?: number;
}

/** What recovery did, for logs, tests and the benchmark. */
export interface RecoveryReport {
  readonly pods: number;
  readonly containers: number;
  readonly cleanedPods: number;
  readonly cleanedContainers: number;
  readonly deadPods: number;
  readonly ms: number;
}

interface InFlight {
  readonly id: string;
  readonly done: Promise<void>;
}

function notFound(what: string, id: string): CocoonError {
  return new CocoonError('ERR_CRI_NOT_FOUND', `${what} "${id}" not found`, { details: { id } });
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function num(v: unknown): number {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : 0;
  return Number.isFinite(n) ? n : 0;
}

function obj(v: unknown): Msg {
  return v !== null && typeof v === 'object' ? (v as Msg) : {};
}

function strMap(v: unknown): Record<string, string> {
  return v !== null && typeof v === 'object' ? (v as Record<string, string>) : {};
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

/** True when labels contain every key/value of the selector. */
export function matchesSelector(labels: Record<string, string>, selector: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

/** The CRI runtime core. */
export class CriRuntime {
  readonly config: CriConfig;
  readonly store: StateStore;
  readonly network: PodNetwork;
  readonly images: ImageManager | undefined;
  /** Container events for GetContainerEvents ('event' → ContainerEventResponse object). */
  readonly events = new EventEmitter();
  private readonly backendFor: (h: CriHandlerConfig) => RuntimeBackend;
  private readonly queue: OpQueue;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private readonly ttl: number;
  /** Reservation name → id (pods and containers). */
  private readonly names = new Map<string, string>();
  private readonly inflight = new Map<string, InFlight>();
  private readonly janitors = new Map<string, NodeJS.Timeout>();
  private readonly wiredBackends = new Set<RuntimeBackend>();

  constructor(o: CriRuntimeOptions) {
    this.config = o.config;
    this.store = o.store;
    this.network = o.network;
    this.images = o.images;
    this.backendFor = o.backendFor;
    this.queue = new OpQueue(o.config.maxConcurrentOps, o.config.maxQueuedOps);
    this.now = o.now ?? Date.now;
    this.log = o.logger;
    this.ttl = o.unclaimedTtlMs ?? DEFAULT_UNCLAIMED_TTL_MS;
    this.events.setMaxListeners(0);
  }

  /** Heavy operations running / waiting (for metrics). */
  queueDepth(): { active: number; queued: number } {
    return { active: this.queue.active, queued: this.queue.queued };
  }

  // ---------------------------------------------------------------- handlers and backends

  /** The handler for a RuntimeClass name ("" → the configured default). */
  handler(name: string): CriHandlerConfig {
    const n = name === '' ? this.config.defaultRuntimeHandler : name;
    const h = this.config.handlers[n];
    if (h === undefined) {
      throw new CocoonError(
        'ERR_CRI_UNKNOWN_HANDLER',
        `runtime_handler: "${n}" is not a configured handler`,
        {
          details: { field: 'runtime_handler' },
        },
      );
    }
    return h;
  }

  private backend(h: CriHandlerConfig): RuntimeBackend {
    const b = this.backendFor(h);
    if (!this.wiredBackends.has(b)) {
      this.wiredBackends.add(b);
      b.onExit((e) => void this.onExit(e));
    }
    return b;
  }

  private podBackend(pod: PodRecord): RuntimeBackend {
    return this.backend(this.handler(pod.handler));
  }

  // ---------------------------------------------------------------- lookups

  /** A pod visible to the kubelet (claimed); NotFound otherwise. */
  pod(id: string): PodRecord {
    const p = this.store.get<PodRecord>(KIND.pod, id) ?? this.byPrefix<PodRecord>(KIND.pod, id);
    if (p === undefined || !p.claimed) throw notFound('pod sandbox', id);
    return p;
  }

  /** A container visible to the kubelet; NotFound otherwise. */
  container(id: string): ContainerRecord {
    const c =
      this.store.get<ContainerRecord>(KIND.container, id) ??
      this.byPrefix<ContainerRecord>(KIND.container, id);
    if (c === undefined || !c.claimed) throw notFound('container', id);
    return c;
  }

  /** True when the id (or a unique prefix) names a local object of `kind`. */
  has(kind: 'pod' | 'container', id: string): boolean {
    const k = kind === 'pod' ? KIND.pod : KIND.container;
    const r = this.store.get<{ claimed: boolean }>(k, id) ?? this.byPrefix<{ claimed: boolean }>(k, id);
    return r !== undefined && r.claimed;
  }

  private byPrefix<T>(kind: string, prefix: string): T | undefined {
    // containerd and CRI-O accept a unique id prefix (truncindex); require at least 3 characters.
    if (prefix.length < 3 || prefix.length >= 64) return undefined;
    let found: T | undefined;
    for (const r of this.store.all<{ id: string }>(kind)) {
      if (r.id.startsWith(prefix)) {
        if (found !== undefined) return undefined;
        found = r as T;
      }
    }
    return found;
  }

  /** Visible pods. */
  pods(): PodRecord[] {
    return this.store.all<PodRecord>(KIND.pod).filter((p) => p.claimed);
  }

  /** Visible containers. */
  containers(): ContainerRecord[] {
    return this.store.all<ContainerRecord>(KIND.container).filter((c) => c.claimed);
  }

  /** Containers of one pod (visible or not). */
  private podContainers(podId: string): ContainerRecord[] {
    return this.store.all<ContainerRecord>(KIND.container).filter((c) => c.podId === podId);
  }

  /** The handler name of the pod whose metadata equals sandbox_config.metadata (for PullImage). */
  handlerOfSandboxConfig(sandboxConfig: Msg | null | undefined): string | undefined {
    const m = obj(sandboxConfig?.['metadata']);
    if (str(m['name']) === '') return undefined;
    const name = sandboxName({
      name: str(m['name']),
      namespace: str(m['namespace']),
      uid: str(m['uid']),
      attempt: num(m['attempt']),
    });
    const id = this.names.get(name);
    return id === undefined ? undefined : this.store.get<PodRecord>(KIND.pod, id)?.handler;
  }

  // ---------------------------------------------------------------- create-once (§2.5)

  /**
   * Runs `work` once per reservation name, detached from the caller (cri-kata.md §2.6): a retry
   * with the same name joins the running work or receives the finished object; the object is
   * shown to the kubelet (claimed) only when a live caller receives its id.
   */
  private async createOnce(
    kind: string,
    name: string,
    call: CallContext,
    work: (id: string) => Promise<void>,
  ): Promise<string> {
    const held = this.names.get(name);
    if (held !== undefined) {
      const running = this.inflight.get(name);
      if (running !== undefined) {
        const outcome = await Promise.race([
          running.done.then(() => 'done' as const),
          call.whenCancelled.then(() => 'cancelled' as const),
        ]);
        if (outcome === 'cancelled') {
          throw new CocoonError('ERR_CRI_IN_PROGRESS', `${name} is still being created; retry`, {
            details: { name },
          });
        }
      }
      const rec = this.store.get<{ claimed: boolean; phase: string }>(kind, held);
      if (rec === undefined) {
        // The first attempt failed and released the name between our checks: start over.
        if (!this.names.has(name)) return this.createOnce(kind, name, call, work);
        throw new CocoonError('ERR_CRI_ALREADY_EXISTS', `name ${name} is reserved by ${held}`, {
          details: { name, id: held },
        });
      }
      if (!rec.claimed) await this.claim(kind, held, call);
      return held;
    }
    const id = newId();
    this.names.set(name, id);
    const done = this.queue.run(`create ${name}`, () => work(id));
    const entry: InFlight = { id, done };
    this.inflight.set(name, entry);
    done.then(
      () => this.inflight.delete(name),
      () => {
        this.inflight.delete(name);
        if (this.names.get(name) === id) this.names.delete(name);
      },
    );
    const outcome = await Promise.race([
      done.then(() => 'done' as const),
      call.whenCancelled.then(() => 'cancelled' as const),
    ]);
    if (outcome === 'cancelled') {
      // The work goes on; its result waits for the retry (or the janitor).
      done.then(
        () => this.scheduleJanitor(kind, id),
        () => undefined,
      );
      throw new CocoonError(
        'ERR_CRI_IN_PROGRESS',
        `${name}: the caller went away; the kubelet's retry gets the result`,
      );
    }
    await this.claim(kind, id, call);
    return id;
  }

  private async claim(kind: string, id: string, call: CallContext): Promise<void> {
    if (call.cancelled) {
      this.scheduleJanitor(kind, id);
      throw new CocoonError(
        'ERR_CRI_IN_PROGRESS',
        `${id}: the caller went away; the kubelet's retry gets the result`,
      );
    }
    const rec = this.store.get<{ claimed: boolean }>(kind, id);
    if (rec === undefined) throw notFound(kind === KIND.pod ? 'pod sandbox' : 'container', id);
    const t = this.janitors.get(id);
    if (t !== undefined) clearTimeout(t);
    this.janitors.delete(id);
    if (!rec.claimed) await this.store.put(kind, id, { ...rec, claimed: true });
    if (kind === KIND.container) this.emit(id, 'CONTAINER_CREATED_EVENT');
  }

  private scheduleJanitor(kind: string, id: string): void {
    if (this.janitors.has(id)) return;
    const t = setTimeout(() => {
      this.janitors.delete(id);
      const rec = this.store.get<{ claimed: boolean }>(kind, id);
      if (rec === undefined || rec.claimed) return;
      const p = kind === KIND.pod ? this.removePodSandbox(id, true) : this.removeContainer(id, true);
      p.catch((e: unknown) => this.log?.warn({ id, err: messageOf(e) }, 'janitor cleanup failed'));
    }, this.ttl);
    t.unref();
    this.janitors.set(id, t);
  }

  // ---------------------------------------------------------------- pod sandboxes

  /** Sandbox launch description from a record. */
  launchOf(pod: PodRecord): SandboxLaunch {
    const cfg = pod.config;
    const m = obj(cfg['metadata']);
    const h = this.handler(pod.handler);
    return {
      id: pod.id,
      handler: h,
      name: str(m['name']),
      namespace: str(m['namespace']),
      uid: str(m['uid']),
      attempt: num(m['attempt']),
      hostname: str(cfg['hostname']),
      logDirectory: str(cfg['log_directory']),
      labels: strMap(cfg['labels']),
      annotations: strMap(cfg['annotations']),
      netnsPath: pod.netnsPath === undefined || pod.netnsPath === '' ? undefined : pod.netnsPath,
      cgroupParent: str(obj(cfg['linux'])['cgroup_parent']),
      extraAnnotations: kataAnnotationsFor(h),
      podAnnotationAllowlist: this.config.podAnnotations,
    };
  }

  private static hostNetwork(cfg: Msg): boolean {
    const ns = obj(obj(obj(obj(cfg['linux'])['security_context'])['namespace_options']));
    return ns['network'] === 'NODE' || ns['network'] === 2;
  }

  /** RunPodSandbox. */
  async runPodSandbox(config: Msg, handlerName: string, call: CallContext): Promise<string> {
    const h = this.handler(handlerName);
    const m = obj(config['metadata']);
    const name = sandboxName({
      name: str(m['name']),
      namespace: str(m['namespace']),
      uid: str(m['uid']),
      attempt: num(m['attempt']),
    });
    return this.createOnce(KIND.pod, name, call, async (id) => {
      let pod: PodRecord = {
        id,
        name,
        handler: h.name,
        requestedHandler: handlerName,
        config,
        createdAtMs: this.now(),
        phase: 'creating',
        claimed: false,
      };
      await this.store.put(KIND.pod, id, pod);
      const netReq = { id, name: str(m['name']), namespace: str(m['namespace']), uid: str(m['uid']) };
      let netnsPath: string | undefined;
      try {
        if (!CriRuntime.hostNetwork(config)) {
          const net = await this.network.setUp(netReq);
          netnsPath = net.netnsPath;
          pod = { ...pod, netnsPath: net.netnsPath, ip: net.ip, additionalIps: net.additionalIps };
          await this.store.put(KIND.pod, id, pod);
        }
        await this.backend(h).startSandbox(this.launchOf(pod));
        // Claimed in the same record when the caller is still there (one durable write fewer).
        await this.store.put(KIND.pod, id, { ...pod, phase: 'ready', claimed: !call.cancelled });
      } catch (e) {
        await this.backend(h)
          .removeSandbox(id)
          .catch(() => undefined);
        await this.network.tearDown(netReq, netnsPath).catch(() => undefined);
        await this.store.delete(KIND.pod, id);
        throw e;
      }
    });
  }

  /** StopPodSandbox: stops every container, the sandbox task and the network. Idempotent. */
  async stopPodSandbox(id: string): Promise<void> {
    const pod = this.pod(id);
    await this.queue.run(`stop pod ${id}`, async () => {
      for (const c of this.podContainers(pod.id)) {
        if (c.phase === 'running' || c.phase === 'created') await this.stopContainerNow(c, 0);
      }
      await this.podBackend(pod).stopSandbox(pod.id);
      const m = obj(pod.config['metadata']);
      await this.network.tearDown(
        { id: pod.id, name: str(m['name']), namespace: str(m['namespace']), uid: str(m['uid']) },
        pod.netnsPath,
      );
      const cur = this.store.get<PodRecord>(KIND.pod, pod.id);
      if (cur !== undefined && cur.phase !== 'notready')
        await this.store.put(KIND.pod, pod.id, { ...cur, phase: 'notready' });
    });
  }

  /** RemovePodSandbox: forcibly stops and removes everything; idempotent (absent ⇒ success). */
  async removePodSandbox(id: string, includeUnclaimed = false): Promise<void> {
    const pod = this.store.get<PodRecord>(KIND.pod, id) ?? this.byPrefix<PodRecord>(KIND.pod, id);
    if (pod === undefined || (!pod.claimed && !includeUnclaimed)) return;
    await this.queue.run(`remove pod ${id}`, async () => {
      const b = this.podBackend(pod);
      const ctrs = this.podContainers(pod.id);
      for (const c of ctrs) {
        if (c.phase === 'running') await this.stopContainerNow(c, 0).catch(() => undefined);
        await b.removeContainer(pod.id, c.id).catch(() => undefined);
      }
      await b.stopSandbox(pod.id).catch(() => undefined);
      await b.removeSandbox(pod.id);
      const m = obj(pod.config['metadata']);
      await this.network.tearDown(
        { id: pod.id, name: str(m['name']), namespace: str(m['namespace']), uid: str(m['uid']) },
        pod.netnsPath,
      );
      // Every record of the pod goes in one group commit (one fsync, not one per record), the
      // containers' before the pod's: a crash in between leaves at worst the pod record, and a
      // retried RemovePodSandbox finishes the job (every step above is idempotent).
      await Promise.all([
        ...ctrs.map((c) => this.store.delete(KIND.container, c.id)),
        this.store.delete(KIND.pod, pod.id),
      ]);
      for (const c of ctrs) {
        this.releaseName(c.name, c.id);
        if (c.claimed) this.emit(c.id, 'CONTAINER_DELETED_EVENT', c, pod);
      }
      this.releaseName(pod.name, pod.id);
    });
  }

  private releaseName(name: string, id: string): void {
    if (this.names.get(name) === id) this.names.delete(name);
  }

  /** UpdatePodSandboxResources (1.33): recorded; a running VM is not resized. */
  async updatePodSandboxResources(id: string, overhead: Msg | null, resources: Msg | null): Promise<void> {
    const pod = this.pod(id);
    await this.store.put(KIND.pod, pod.id, { ...pod, resources: { overhead, resources } });
  }

  // ---------------------------------------------------------------- containers

  /** CreateContainer. */
  async createContainer(podId: string, config: Msg, call: CallContext): Promise<string> {
    const pod = this.pod(podId);
    if (pod.phase !== 'ready') {
      throw new CocoonError('ERR_CRI_FAILED_PRECONDITION', `pod sandbox ${pod.id} is not ready`, {
        details: { field: 'pod_sandbox_id' },
      });
    }
    const m = obj(config['metadata']);
    const name = containerName(pod.id, { name: str(m['name']), attempt: num(m['attempt']) });
    return this.createOnce(KIND.container, name, call, async (id) => {
      const launch = await this.containerLaunch(id, pod, config);
      const rec: ContainerRecord = {
        id,
        podId: pod.id,
        name,
        config,
        imageRef: launch.imageId,
        imageName: str(obj(config['image'])['image']),
        createdAtMs: this.now(),
        exitCode: 0,
        phase: 'creating',
        claimed: false,
        reason: '',
        message: '',
        logPath: launch.launch.logPath,
        pid: 0,
      };
      await this.store.put(KIND.container, id, rec);
      const b = this.podBackend(pod);
      try {
        const { pid } = await b.createContainer(launch.launch);
        await this.store.put(KIND.container, id, { ...rec, phase: 'created', pid, claimed: !call.cancelled });
      } catch (e) {
        await b.removeContainer(pod.id, id).catch(() => undefined);
        await this.store.delete(KIND.container, id);
        throw e;
      }
    });
  }

  private async containerLaunch(
    id: string,
    pod: PodRecord,
    config: Msg,
  ): Promise<{ launch: ContainerLaunch; imageId: string }> {
    const h = this.handler(pod.handler);
    const spec = obj(config['image']);
    const image = str(spec['image']);
    const userImage = str(spec['user_specified_image']);
    if (this.images === undefined)
      throw new CocoonError('ERR_CRI_FAILED_PRECONDITION', 'no image store configured');
    const rec =
      (await this.images.find(image)) ?? (userImage === '' ? undefined : await this.images.find(userImage));
    if (rec === undefined) {
      throw new CocoonError('ERR_CRI_NOT_FOUND', `image "${image}" is not present; pull it first`, {
        details: { field: 'config.image.image' },
      });
    }
    const ic = rec.config;
    const command = strList(config['command']);
    const args = strList(config['args']);
    const entry = command.length > 0 ? command : [...(ic.Entrypoint ?? [])];
    const argv =
      command.length > 0
        ? [...entry, ...args]
        : [...entry, ...(args.length > 0 ? args : [...(ic.Cmd ?? [])])];
    if (argv.length === 0) {
      throw new CocoonError(
        'ERR_CRI_INVALID_ARGUMENT',
        'config.command: no command given and the image has none',
        {
          details: { field: 'config.command' },
        },
      );
    }
    const env = [...(ic.Env ?? [])];
    for (const kv of (config['envs'] as Msg[] | undefined) ?? []) {
      const v = kv['value'];
      env.push(
        `${str(kv['key'])}=${typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : Buffer.isBuffer(v) ? v.toString('utf8') : ''}`,
      );
    }
    const sc = obj(obj(config['linux'])['security_context']);
    const runAsUser = obj(sc['run_as_user']);
    const runAsGroup = obj(sc['run_as_group']);
    const imageUid = /^[0-9]+/.exec(ic.User ?? '')?.[0];
    const imageGid = /^[0-9]+:([0-9]+)$/.exec(ic.User ?? '')?.[1];
    const uid =
      runAsUser['value'] !== undefined && runAsUser['value'] !== null
        ? num(runAsUser['value'])
        : num(imageUid);
    const gid =
      runAsGroup['value'] !== undefined && runAsGroup['value'] !== null
        ? num(runAsGroup['value'])
        : num(imageGid);
    const logDir = str(pod.config['log_directory']);
    const logRel = str(config['log_path']);
    const guestName = userImage || rec.repoDigests[0] || image;
    const launch: ContainerLaunch = {
      id,
      sandboxId: pod.id,
      handler: h,
      name: str(obj(config['metadata'])['name']),
      sandboxName: str(obj(pod.config['metadata'])['name']),
      sandboxNamespace: str(obj(pod.config['metadata'])['namespace']),
      sandboxUid: str(obj(pod.config['metadata'])['uid']),
      args: argv,
      env,
      cwd: str(config['working_dir']) || ic.WorkingDir || '/',
      uid,
      gid,
      tty: config['tty'] === true,
      stdin: config['stdin'] === true,
      rootfs: h.guestPull
        ? { kind: 'guest', imageName: guestName, imageRef: rec.id }
        : { kind: 'host', path: await this.images.store.rootfsPath(rec.id) },
      mounts: ((config['mounts'] as Msg[] | undefined) ?? []).map((mt) => ({
        containerPath: str(mt['container_path']),
        hostPath: str(mt['host_path']),
        readonly: mt['readonly'] === true,
      })),
      logPath: logDir !== '' && logRel !== '' ? join(logDir, logRel) : '',
      annotations: strMap(config['annotations']),
      netnsPath: pod.netnsPath === undefined || pod.netnsPath === '' ? undefined : pod.netnsPath,
    };
    return { launch, imageId: rec.id };
  }

  /** StartContainer. */
  async startContainer(id: string): Promise<void> {
    const c = this.container(id);
    if (c.phase !== 'created') {
      throw new CocoonError('ERR_CRI_FAILED_PRECONDITION', `container ${c.id} is ${c.phase}, not created`, {
        details: { field: 'container_id' },
      });
    }
    const pod = this.store.get<PodRecord>(KIND.pod, c.podId);
    if (pod === undefined) throw notFound('pod sandbox', c.podId);
    await this.queue.run(`start ${c.id}`, async () => {
      let pid: number;
      try {
        ({ pid } = await this.podBackend(pod).startContainer(pod.id, c.id));
      } catch (e) {
        // As containerd does: a container whose start failed is exited with reason StartError
        // and the failure as its message, so the kubelet (and kubectl describe) can show why —
        // for a confidential pod that is typically a refused attestation.
        const cur = this.store.get<ContainerRecord>(KIND.container, c.id) ?? c;
        const now = this.now();
        await this.store.put(KIND.container, c.id, {
          ...cur,
          phase: 'exited',
          exitCode: cur.phase === 'exited' ? cur.exitCode : 128,
          finishedAtMs: cur.phase === 'exited' ? cur.finishedAtMs : now,
          startedAtMs: cur.startedAtMs ?? now,
          reason: 'StartError',
          message: messageOf(e),
        });
        this.emit(c.id, 'CONTAINER_STOPPED_EVENT');
        throw e;
      }
      const cur = this.store.get<ContainerRecord>(KIND.container, c.id) ?? c;
      // The exit may already have been reported while Start was answering.
      if (cur.phase === 'exited') return;
      await this.store.put(KIND.container, c.id, { ...cur, phase: 'running', startedAtMs: this.now(), pid });
    });
    this.emit(c.id, 'CONTAINER_STARTED_EVENT');
  }

  /** StopContainer: idempotent for a stopped container. */
  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    const c = this.container(id);
    if (c.phase !== 'running' && c.phase !== 'created') return;
    await this.queue.run(`stop ${c.id}`, () => this.stopContainerNow(c, timeoutSeconds));
  }

  private async stopContainerNow(c: ContainerRecord, timeoutSeconds: number): Promise<void> {
    const pod = this.store.get<PodRecord>(KIND.pod, c.podId);
    if (pod === undefined) return;
    const signal = stopSignalNumber(str(c.config['stop_signal']));
    const st = await this.podBackend(pod).stopContainer(pod.id, c.id, timeoutSeconds, signal);
    await this.markExited(c.id, st.exitCode, st.exitedAt ?? this.now());
  }

  private async markExited(id: string, exitCode: number, exitedAt: number): Promise<void> {
    const cur = this.store.get<ContainerRecord>(KIND.container, id);
    if (cur === undefined || cur.phase === 'exited') return;
    const reason =
      exitCode === 0 ? 'Completed' : exitCode === 137 && cur.reason === 'OOMKilled' ? 'OOMKilled' : 'Error';
    await this.store.put(KIND.container, id, {
      ...cur,
      phase: 'exited',
      exitCode,
      finishedAtMs: exitedAt,
      startedAtMs: cur.startedAtMs ?? (cur.phase === 'created' ? undefined : exitedAt),
      reason,
      pid: 0,
    });
    if (cur.claimed) this.emit(id, 'CONTAINER_STOPPED_EVENT');
  }

  private async onExit(e: BackendExit): Promise<void> {
    try {
      if (e.id === e.sandboxId) {
        const pod = this.store.get<PodRecord>(KIND.pod, e.id);
        if (pod !== undefined && pod.phase === 'ready')
          await this.store.put(KIND.pod, e.id, { ...pod, phase: 'notready' });
        return;
      }
      await this.markExited(e.id, e.exitCode, e.exitedAt);
    } catch (err) {
      this.log?.warn({ id: e.id, err: messageOf(err) }, 'recording an exit failed');
    }
  }

  /** RemoveContainer: idempotent (absent ⇒ success); a running container is killed first. */
  async removeContainer(id: string, includeUnclaimed = false): Promise<void> {
    const c =
      this.store.get<ContainerRecord>(KIND.container, id) ??
      this.byPrefix<ContainerRecord>(KIND.container, id);
    if (c === undefined || (!c.claimed && !includeUnclaimed)) return;
    await this.queue.run(`remove ${c.id}`, async () => {
      const pod = this.store.get<PodRecord>(KIND.pod, c.podId);
      if (pod !== undefined) {
        if (c.phase === 'running') await this.stopContainerNow(c, 0).catch(() => undefined);
        await this.podBackend(pod).removeContainer(pod.id, c.id);
      }
      await this.store.delete(KIND.container, c.id);
      this.releaseName(c.name, c.id);
      if (c.claimed) this.emit(c.id, 'CONTAINER_DELETED_EVENT', c, pod);
    });
  }

  /** ExecSync through the backend. */
  async execSync(
    id: string,
    cmd: readonly string[],
    timeoutSeconds: number,
  ): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    const c = this.container(id);
    if (c.phase !== 'running') {
      throw new CocoonError('ERR_CRI_FAILED_PRECONDITION', `container ${c.id} is not running`, {
        details: { field: 'container_id' },
      });
    }
    const pod = this.store.get<PodRecord>(KIND.pod, c.podId)!;
    return this.podBackend(pod).execSync(pod.id, c.id, cmd, timeoutSeconds > 0 ? timeoutSeconds * 1000 : 0);
  }

  /** UpdateContainerResources. */
  async updateContainerResources(id: string, linux: Msg | null): Promise<void> {
    const c = this.container(id);
    const pod = this.store.get<PodRecord>(KIND.pod, c.podId)!;
    const r = obj(linux);
    const opt = (k: string): number | undefined =>
      r[k] === undefined || num(r[k]) === 0 ? undefined : num(r[k]);
    await this.podBackend(pod).updateContainer(pod.id, c.id, {
      ...(opt('cpu_period') === undefined ? {} : { cpuPeriod: opt('cpu_period')! }),
      ...(opt('cpu_quota') === undefined ? {} : { cpuQuota: opt('cpu_quota')! }),
      ...(opt('cpu_shares') === undefined ? {} : { cpuShares: opt('cpu_shares')! }),
      ...(opt('memory_limit_in_bytes') === undefined
        ? {}
        : { memoryLimitBytes: opt('memory_limit_in_bytes')! }),
      ...(str(r['cpuset_cpus']) === '' ? {} : { cpusetCpus: str(r['cpuset_cpus']) }),
      ...(str(r['cpuset_mems']) === '' ? {} : { cpusetMems: str(r['cpuset_mems']) }),
    });
    await this.store.put(KIND.container, c.id, {
      ...(this.store.get<ContainerRecord>(KIND.container, c.id) ?? c),
      resources: r,
    });
  }

  /** ReopenContainerLog. */
  async reopenContainerLog(id: string): Promise<void> {
    const c = this.container(id);
    if (c.phase !== 'running') {
      throw new CocoonError('ERR_CRI_FAILED_PRECONDITION', `container ${c.id} is not running`, {
        details: { field: 'container_id' },
      });
    }
    const pod = this.store.get<PodRecord>(KIND.pod, c.podId)!;
    await this.podBackend(pod).reopenLog(pod.id, c.id);
  }

  /** Usage of a container (undefined when the backend has none). */
  async containerUsage(c: ContainerRecord): Promise<import('./backend.js').BackendUsage | undefined> {
    const pod = this.store.get<PodRecord>(KIND.pod, c.podId);
    if (pod === undefined || c.phase !== 'running') return undefined;
    return this.podBackend(pod)
      .stats(pod.id, c.id)
      .catch(() => undefined);
  }

  // ---------------------------------------------------------------- events

  private emit(id: string, type: string, rec?: ContainerRecord, podRec?: PodRecord): void {
    if (this.events.listenerCount('event') === 0) return;
    const c = rec ?? this.store.get<ContainerRecord>(KIND.container, id);
    if (c === undefined) return;
    const pod = podRec ?? this.store.get<PodRecord>(KIND.pod, c.podId);
    this.events.emit('event', {
      container_id: id,
      container_event_type: type,
      created_at: nanos(this.now()),
      ...(pod === undefined ? {} : { pod_sandbox_status: podStatusMessage(pod) }),
      containers_statuses: type === 'CONTAINER_DELETED_EVENT' ? [] : [containerStatusMessage(c)],
    });
  }

  // ---------------------------------------------------------------- recovery

  /**
   * After a restart: removes half-created and unclaimed objects (their creator is gone), rebuilds
   * the name index, re-attaches every pod's runtime and folds in exits missed while down.
   */
  async recover(): Promise<RecoveryReport> {
    const t0 = performance.now();
    let cleanedPods = 0;
    let cleanedContainers = 0;
    let deadPods = 0;
    const pods = this.store.all<PodRecord>(KIND.pod);
    // One pass to index containers by pod: recovery stays linear in the number of objects.
    const byPod = new Map<string, ContainerRecord[]>();
    for (const c of this.store.all<ContainerRecord>(KIND.container)) {
      const pod = this.store.get<PodRecord>(KIND.pod, c.podId);
      if (pod === undefined || c.phase === 'creating' || !c.claimed) {
        if (pod !== undefined)
          await this.podBackend(pod)
            .removeContainer(pod.id, c.id)
            .catch(() => undefined);
        await this.store.delete(KIND.container, c.id);
        cleanedContainers++;
      } else {
        this.names.set(c.name, c.id);
        const list = byPod.get(c.podId);
        if (list === undefined) byPod.set(c.podId, [c]);
        else list.push(c);
      }
    }
    const work: Promise<void>[] = [];
    for (const p of pods) {
      if (p.phase === 'creating' || !p.claimed) {
        const b = this.podBackend(p);
        for (const c of byPod.get(p.id) ?? []) {
          await b.removeContainer(p.id, c.id).catch(() => undefined);
          await this.store.delete(KIND.container, c.id);
          this.releaseName(c.name, c.id);
          cleanedContainers++;
        }
        await b.removeSandbox(p.id).catch(() => undefined);
        const m = obj(p.config['metadata']);
        await this.network
          .tearDown(
            { id: p.id, name: str(m['name']), namespace: str(m['namespace']), uid: str(m['uid']) },
            p.netnsPath,
          )
          .catch(() => undefined);
        await this.store.delete(KIND.pod, p.id);
        cleanedPods++;
        continue;
      }
      this.names.set(p.name, p.id);
      work.push(
        (async () => {
          const ctrs = byPod.get(p.id) ?? [];
          const r = await this.podBackend(p).reattach(
            this.launchOf(p),
            ctrs.map((c) => c.id),
          );
          if (!r.alive && p.phase === 'ready') {
            deadPods++;
            await this.store.put(KIND.pod, p.id, { ...p, phase: 'notready' });
          }
          for (const c of ctrs) await this.reconcile(c, r.alive ? r.containers.get(c.id) : undefined);
        })().catch((e: unknown) => this.log?.warn({ pod: p.id, err: messageOf(e) }, 're-attach failed')),
      );
    }
    await Promise.all(work);
    return {
      pods: this.store.all<PodRecord>(KIND.pod).length,
      containers: this.store.all<ContainerRecord>(KIND.container).length,
      cleanedPods,
      cleanedContainers,
      deadPods,
      ms: performance.now() - t0,
    };
  }

  private async reconcile(c: ContainerRecord, st: BackendTaskState | undefined): Promise<void> {
    if (st === undefined) {
      // The runtime lost the task while we were down: a running container's end is unknown.
      if (c.phase === 'running' || c.phase === 'created') {
        await this.store.put(KIND.container, c.id, {
          ...c,
          phase: 'exited',
          exitCode: 255,
          finishedAtMs: this.now(),
          reason: 'Unknown',
          message: 'the runtime lost the task while cocoon was down',
        });
      }
      return;
    }
    if (st.status === 'exited' && c.phase !== 'exited')
      await this.markExited(c.id, st.exitCode, st.exitedAt ?? this.now());
    else if (st.status === 'running' && c.phase === 'created') {
      await this.store.put(KIND.container, c.id, {
        ...c,
        phase: 'running',
        startedAtMs: c.startedAtMs ?? this.now(),
        pid: st.pid,
      });
    }
  }

  /** Stops timers; pods keep running. */
  close(): void {
    for (const t of this.janitors.values()) clearTimeout(t);
    this.janitors.clear();
  }
}

/** Signal number for ContainerConfig.stop_signal (Signal enum name; default SIGTERM). */
export function stopSignalNumber(name: string): number {
  const n = name.replace(/^SIGNAL_/, '');
  const table: Record<string, number> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGUSR1: 10,
    SIGUSR2: 12,
    SIGTERM: 15,
    SIGWINCH: 28,
    SIGSTOP: 19,
    SIGCONT: 18,
    SIGPWR: 30,
  };
  return table[n] ?? 15;
}

/** The CRI PodSandboxStatus message of a record (passes the kubelet checks of §1.3). */
export function podStatusMessage(p: PodRecord): Msg {
  const cfg = p.config;
  const ns = obj(obj(obj(cfg['linux'])['security_context'])['namespace_options']);
  return {
    id: p.id,
    metadata: cfg['metadata'],
    state: p.phase === 'ready' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY',
    created_at: nanos(p.createdAtMs),
    network: { ip: p.ip ?? '', additional_ips: (p.additionalIps ?? []).map((ip) => ({ ip })) },
    linux: { namespaces: { options: ns } },
    labels: cfg['labels'] ?? {},
    annotations: cfg['annotations'] ?? {},
    runtime_handler: p.requestedHandler ?? p.handler,
  };
}

/** The CRI PodSandbox (list entry) of a record. */
export function podListMessage(p: PodRecord): Msg {
  return {
    id: p.id,
    metadata: p.config['metadata'],
    state: p.phase === 'ready' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY',
    created_at: nanos(p.createdAtMs),
    labels: p.config['labels'] ?? {},
    annotations: p.config['annotations'] ?? {},
    runtime_handler: p.requestedHandler ?? p.handler,
  };
}

function containerState(c: ContainerRecord): string {
  switch (c.phase) {
    case 'created':
      return 'CONTAINER_CREATED';
    case 'running':
      return 'CONTAINER_RUNNING';
    case 'exited':
      return 'CONTAINER_EXITED';
    default:
      return 'CONTAINER_UNKNOWN';
  }
}

/** The CRI Container (list entry) of a record. */
export function containerListMessage(c: ContainerRecord): Msg {
  return {
    id: c.id,
    pod_sandbox_id: c.podId,
    metadata: c.config['metadata'],
    image: { image: c.imageName, user_specified_image: str(obj(c.config['image'])['user_specified_image']) },
    image_ref: c.imageRef,
    state: containerState(c),
    created_at: nanos(c.createdAtMs),
    labels: c.config['labels'] ?? {},
    annotations: c.config['annotations'] ?? {},
    image_id: c.imageRef,
  };
}

/** The CRI ContainerStatus of a record (kubelet checks: image.image and image_ref non-empty). */
export function containerStatusMessage(c: ContainerRecord): Msg {
  return {
    id: c.id,
    metadata: c.config['metadata'],
    state: containerState(c),
    created_at: nanos(c.createdAtMs),
    started_at: c.startedAtMs === undefined ? '0' : nanos(c.startedAtMs),
    finished_at: c.finishedAtMs === undefined ? '0' : nanos(c.finishedAtMs),
    exit_code: c.exitCode,
    image: {
      image: c.imageName || c.imageRef,
      user_specified_image: str(obj(c.config['image'])['user_specified_image']),
    },
    image_ref: c.imageRef,
    reason: c.reason,
    message: c.message,
    labels: c.config['labels'] ?? {},
    annotations: c.config['annotations'] ?? {},
    mounts: c.config['mounts'] ?? [],
    log_path: c.logPath,
    image_id: c.imageRef,
    ...(c.resources === undefined ? {} : { resources: { linux: c.resources } }),
    stop_signal: str(c.config['stop_signal']) || 'RUNTIME_DEFAULT',
  };
}

/** True when an error means "gone" (tolerated on stop/remove paths). */
export function isGone(e: unknown): boolean {
  return isCocoonError(e) && /NOT_FOUND/.test(e.code);
}
