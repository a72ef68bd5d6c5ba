/**
 * The events endpoint shims publish to: `containerd.services.events.ttrpc.v1.Events/Forward` on
 * a Unix socket whose address the shim gets as TTRPC_ADDRESS (cri-kata.md §4.2, env-notes.md:
 * without a listener every event waits 5 s and the shim exits ~25 s late). Envelopes are
 * decoded into typed task events and handed to subscribers.
 */
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import { CocoonError } from '../common/errors.js';
import type { TaskMount } from './guest-pull.js';
import { decodeMessage, encodeMessage, timestampToDate, toAny, type AnyMessage } from './protos.js';
import type { TaskEvent } from './task-types.js';
import type { TtrpcLink, UnaryServer } from './ttrpc-link.js';
import { defaultTtrpcLink } from './default-link.js';

/** ttrpc service shims forward events to. */
export const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';

/** Largest event payload decoded (ttrpc already caps frames at 4 MiB, §4.6). */
export const MAX_EVENT_BYTES = 4 << 20;

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
}

function mounts(v: unknown): TaskMount[] {
  if (!Array.isArray(v)) return [];
  return v.map((m) => {
    const o = obj(m);
    return {
      type: String(o['type'] ?? ''),
      source: String(o['source'] ?? ''),
      target: String(o['target'] ?? ''),
      options: Array.isArray(o['options']) ? o['options'].map(String) : [],
    };
  });
}

function withDate<T extends object>(base: T, key: string, d: Date | undefined): T {
  return d === undefined ? base : { ...base, [key]: d };
}

/** Decodes the event Any of an envelope into a typed event (by the message name in its type URL). */
export function decodeTaskEvent(
  topic: string,
  namespace: string,
  timestamp: Date | undefined,
  event?: AnyMessage,
): TaskEvent {
  const base = withDate({ topic, namespace }, 'timestamp', timestamp);
  if (event === undefined) return { ...base, type: 'Unknown' };
  // containerd's typeurl names events "containerd.events.TaskExit" (sometimes with a host prefix).
  const name = event.typeUrl.slice(event.typeUrl.lastIndexOf('/') + 1);
  const msg = (t: string): Record<string, unknown> => decodeMessage(`containerd.events.${t}`, event.value);
  switch (name) {
    case 'containerd.events.TaskCreate': {
      const m = msg('TaskCreate');
      const io = obj(m['io']);
      return {
        ...base,
        type: 'TaskCreate',
        containerId: String(m['container_id']),
        bundle: String(m['bundle']),
        pid: Number(m['pid']),
        io: {
          stdin: String(io['stdin'] ?? ''),
          stdout: String(io['stdout'] ?? ''),
          stderr: String(io['stderr'] ?? ''),
          terminal: Boolean(io['terminal']),
        },
        rootfs: mounts(m['rootfs']),
        checkpoint: String(m['checkpoint']),
      };
    }
    case 'containerd.events.TaskStart': {
      const m = msg('TaskStart');
      return { ...base, type: 'TaskStart', containerId: String(m['container_id']), pid: Number(m['pid']) };
    }
    case 'containerd.events.TaskExit': {
      const m = msg('TaskExit');
      return withDate(
        {
          ...base,
          type: 'TaskExit' as const,
          containerId: String(m['container_id']),
          id: String(m['id']),
          pid: Number(m['pid']),
          exitStatus: Number(m['exit_status']),
        },
        'exitedAt',
        timestampToDate(m['exited_at']),
      );
    }
    case 'containerd.events.TaskDelete': {
      const m = msg('TaskDelete');
      return withDate(
        {
          ...base,
          type: 'TaskDelete' as const,
          containerId: String(m['container_id']),
          id: String(m['id']),
          pid: Number(m['pid']),
          exitStatus: Number(m['exit_status']),
        },
        'exitedAt',
        timestampToDate(m['exited_at']),
      );
    }
    case 'containerd.events.TaskOOM': {
      const m = msg('TaskOOM');
      return { ...base, type: 'TaskOOM', containerId: String(m['container_id']) };
    }
    case 'containerd.events.TaskExecAdded':
    case 'containerd.events.TaskExecStarted': {
      const t = name === 'containerd.events.TaskExecAdded' ? 'TaskExecAdded' : 'TaskExecStarted';
      const m = msg(t);
      return {
        ...base,
        type: t,
        containerId: String(m['container_id']),
        execId: String(m['exec_id']),
        pid: Number(m['pid'] ?? 0),
      };
    }
    case 'containerd.events.TaskPaused':
    case 'containerd.events.TaskResumed': {
      const t = name === 'containerd.events.TaskPaused' ? 'TaskPaused' : 'TaskResumed';
      const m = msg(t);
      return { ...base, type: t, containerId: String(m['container_id']) };
    }
    default:
      return { ...base, type: 'Unknown', event };
  }
}

/** Decodes a ForwardRequest payload into a typed event; ERR_KATA_EVENT_INVALID on malformed input. */
export function decodeForwardRequest(payload: Uint8Array): TaskEvent {
  if (payload.byteLength > MAX_EVENT_BYTES) {
    throw new CocoonError('ERR_KATA_EVENT_INVALID', 'event too large', {
      details: { size: payload.byteLength },
    });
  }
  try {
    const req = decodeMessage('containerd.services.events.ttrpc.v1.ForwardRequest', payload);
    const env = req['envelope'];
    if (env === null || env === undefined) {
      throw new CocoonError('ERR_KATA_EVENT_INVALID', 'ForwardRequest has no envelope', { details: {} });
    }
    const e = obj(env);
    const topic = String(e['topic'] ?? '');
    if (topic.length === 0)
      throw new CocoonError('ERR_KATA_EVENT_INVALID', 'envelope has no topic', { details: {} });
    return decodeTaskEvent(
      topic,
      String(e['namespace'] ?? ''),
      timestampToDate(e['timestamp']),
      toAny(e['event']),
    );
  } catch (err) {
    if (err instanceof CocoonError && err.code === 'ERR_KATA_EVENT_INVALID') throw err;
    throw new CocoonError('ERR_KATA_EVENT_INVALID', 'malformed event envelope', { cause: err, details: {} });
  }
}

/** Encodes an envelope as a ForwardRequest payload (what a shim sends; used by the simulated guest and tests). */
export function encodeForwardRequest(envelope: {
  topic: string;
  namespace: string;
  timestamp?: Date;
  eventType: string;
  event: Record<string, unknown>;
}): Uint8Array {
  const value = encodeMessage(`containerd.events.${envelope.eventType}`, envelope.event);
  const ts = envelope.timestamp ?? new Date(0);
  const seconds = Math.floor(ts.getTime() / 1000);
  return encodeMessage('containerd.services.events.ttrpc.v1.ForwardRequest', {
    envelope: {
      timestamp: { seconds, nanos: (ts.getTime() - seconds * 1000) * 1e6 },
      namespace: envelope.namespace,
      topic: envelope.topic,
      event: { type_url: `containerd.events.${envelope.eventType}`, value: Buffer.from(value) },
    },
  });
}

/** Options of EventsServer.listen. */
export interface EventsServerOptions {
  /** ttrpc plumbing; default the src/ttrpc implementation. */
  readonly link?: TtrpcLink;
  /** Logger for malformed events and subscriber failures; default silent. */
  readonly logger?: Logger;
}

/** A subscriber of task events. */
export type TaskEventHandler = (event: TaskEvent) => void;

/** Serves the Events/Forward endpoint and fans decoded events out to subscribers. */
export class EventsServer {
  private readonly server: UnaryServer;
  private readonly handlers = new Set<TaskEventHandler>();
  private readonly logger: Logger;
  private received = 0;

  private constructor(server: UnaryServer, logger: Logger) {
    this.server = server;
    this.logger = logger;
  }

  /** Listens on `path` (a Unix socket path, or a unix:// address); pass `address` to shims as TTRPC_ADDRESS. */
  static async listen(path: string, opts: EventsServerOptions = {}): Promise<EventsServer> {
    const address = path.startsWith('unix://') ? path : `unix://${path}`;
    const link = opts.link ?? defaultTtrpcLink();
    const logger = opts.logger ?? silentLogger;
    const box: { self?: EventsServer } = {};
    const server = await link.serve(address, EVENTS_SERVICE, {
      Forward: async (payload) => {
        let ev: TaskEvent;
        try {
          ev = decodeForwardRequest(payload);
        } catch (e) {
          logger.warn({ err: (e as Error).message }, 'malformed event from shim');
          throw e;
        }
        box.self?.dispatch(ev);
        return encodeMessage('google.protobuf.Empty', {});
      },
    });
    box.self = new EventsServer(server, logger);
    return box.self;
  }

  /** The address to hand to shims as TTRPC_ADDRESS. */
  get address(): string {
    return this.server.address;
  }

  /** The plain socket path of address (TTRPC_ADDRESS takes a path for the runc shim). */
  get path(): string {
    return this.server.address.replace(/^unix:\/\//, '');
  }

  /** Number of events received so far. */
  get count(): number {
    return this.received;
  }

  private dispatch(ev: TaskEvent): void {
    this.received++;
    for (const h of [...this.handlers]) {
      try {
        h(ev);
      } catch (e) {
        this.logger.warn({ err: (e as Error).message, topic: ev.topic }, 'event subscriber failed');
      }
    }
  }

  /** Subscribes to every event; returns an unsubscribe function. */
  subscribe(handler: TaskEventHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /**
   * Resolves with the first event matching `predicate`, or rejects with ERR_COMMON_TIMEOUT after
   * `timeoutMs`. Only events arriving after the call are seen.
   */
  waitFor(predicate: (ev: TaskEvent) => boolean, timeoutMs: number): Promise<TaskEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(
          new CocoonError('ERR_COMMON_TIMEOUT', `no matching event within ${timeoutMs} ms`, { details: {} }),
        );
      }, timeoutMs);
      const off = this.subscribe((ev) => {
        if (!predicate(ev)) return;
        clearTimeout(timer);
        off();
        resolve(ev);
      });
    });
  }

  /** Stops serving. Idempotent. */
  async close(): Promise<void> {
    this.handlers.clear();
    await this.server.close();
  }
}
