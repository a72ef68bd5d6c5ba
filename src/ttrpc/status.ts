/**
 * The one place where errors become ttrpc statuses and back (docs/architecture.md "Errors").
 * ttrpc reuses the gRPC code space (cri-kata.md §4.6), so the registry's canonical status is the
 * wire code; a remote status travelling through a handler keeps its original code.
 */
import { CocoonError, isCocoonError } from '../common/errors.js';
import { mapError } from '../common/error-registry.js';
import { Status, statusName } from '../common/status.js';
import type { TtrpcStatus } from './messages.js';

export type { TtrpcStatus } from './messages.js';

/** Details carried by an ERR_TTRPC_STATUS error. */
export interface TtrpcStatusDetails {
  readonly status: number;
  readonly statusMessage: string;
}

/** Maps anything a handler threw to the status sent on the wire (unknown throws → INTERNAL). */
export function statusFromError(e: unknown): TtrpcStatus {
  const remote = ttrpcStatusOf(e);
  if (remote !== undefined) return remote;
  const m = mapError(e);
  return { code: m.status, message: m.message };
}

/** The error a caller sees for a non-OK status: ERR_TTRPC_STATUS with the code and text. */
export function errorFromStatus(
  s: TtrpcStatus,
  context: { service?: string; method?: string } = {},
): CocoonError {
  const where = context.service === undefined ? '' : ` (${context.service}/${context.method ?? ''})`;
  return new CocoonError('ERR_TTRPC_STATUS', `ttrpc status ${statusName(s.code)}: ${s.message}${where}`, {
    details: { status: s.code, statusMessage: s.message, ...context },
  });
}

/** The remote status of an ERR_TTRPC_STATUS error, else undefined. */
export function ttrpcStatusOf(e: unknown): TtrpcStatus | undefined {
  if (!isCocoonError(e, 'ERR_TTRPC_STATUS')) return undefined;
  const { status, statusMessage } = e.details as Partial<TtrpcStatusDetails>;
  if (typeof status !== 'number') return undefined;
  return { code: status, message: typeof statusMessage === 'string' ? statusMessage : '' };
}

/** Unimplemented for an unknown service, worded as containerd/ttrpc services.go does. */
export function unknownServiceStatus(service: string): TtrpcStatus {
  return { code: Status.UNIMPLEMENTED, message: `service ${service}` };
}

/** Unimplemented for an unknown method, worded as containerd/ttrpc services.go does. */
export function unknownMethodStatus(method: string): TtrpcStatus {
  return { code: Status.UNIMPLEMENTED, message: `method ${method}` };
}
