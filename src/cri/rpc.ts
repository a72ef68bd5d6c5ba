/** Types shared by the per-RPC handler files and the server that wires them. */
import type { Logger } from 'pino';
import { CocoonError } from '../common/errors.js';
import type { CriConfig } from '../config/sections/cri.js';
import type { CallContext } from './call-context.js';
import type { ImageManager } from './images.js';
import type { PassthroughClient } from './passthrough.js';
import type { CriRuntime } from './runtime.js';
import type { Msg } from './state/model.js';

/** What every handler receives. */
export interface CriDeps {
  readonly runtime: CriRuntime;
  readonly images: ImageManager | undefined;
  /** Second runtime for passthrough handlers; undefined when not configured. */
  readonly passthrough: PassthroughClient | undefined;
  readonly config: CriConfig;
  /** Cocoon's version string for VersionResponse. */
  readonly version: string;
  readonly logger?: Logger;
}

/** A unary RPC handler. */
export type UnaryRpc = (d: CriDeps, req: Msg, ctx: CallContext) => Promise<Msg>;

/** Where a server-streaming handler writes. */
export interface StreamSink {
  write(m: Msg): void;
  readonly ctx: CallContext;
}

/** A server-streaming RPC handler. */
export type StreamRpc = (d: CriDeps, req: Msg, out: StreamSink) => Promise<void>;

/** An UNIMPLEMENTED error with the reason (also listed in docs/cri.md). */
export function unimplemented(rpc: string, reason: string): CocoonError {
  return new CocoonError('ERR_CRI_UNIMPLEMENTED', `${rpc} is not supported by cocoon: ${reason}`);
}

/**
 * Forwards an id-addressed call to the pass-through runtime when the id is not ours, so one
 * socket serves both runtimes. Returns undefined when the call is ours to answer.
 */
export async function forwardForeign(
  d: CriDeps,
  kind: 'pod' | 'container',
  id: string,
  service: 'runtime' | 'image',
  method: string,
  req: Msg,
): Promise<Msg | undefined> {
  if (d.passthrough === undefined || d.runtime.has(kind, id)) return undefined;
  return d.passthrough.call(service, method, req);
}

/** Lists from the pass-through runtime, or [] when none is configured or it is down. */
export async function foreignList(
  d: CriDeps,
  service: 'runtime' | 'image',
  method: string,
  req: Msg,
  field: string,
): Promise<Msg[]> {
  if (d.passthrough === undefined) return [];
  try {
    const r = await d.passthrough.call(service, method, req, 10_000);
    return (r[field] as Msg[] | undefined) ?? [];
  } catch (e) {
    // A down pass-through runtime must not hide our own pods from PLEG (§2.1): log and go on.
    d.logger?.warn({ method, err: (e as Error).message }, 'pass-through list failed');
    return [];
  }
}

/** Items per message of the 1.36 Stream* list RPCs (each response carries a repeated field). */
export const STREAM_BATCH = 100;

/** Writes `items` as `{ [field]: batch }` messages. */
export function writeBatches(out: StreamSink, field: string, items: readonly unknown[]): void {
  for (let i = 0; i < items.length; i += STREAM_BATCH)
    out.write({ [field]: items.slice(i, i + STREAM_BATCH) });
}
