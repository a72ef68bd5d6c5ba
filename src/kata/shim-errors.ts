/**
 * Maps failures of Task API calls onto ERR_KATA_* codes: ttrpc statuses from the shim
 * (gRPC code space, cri-kata.md §4.6) and transport failures (closed connection, deadline).
 */
import { CocoonError, isCocoonError, messageOf, type ErrorCodeString } from '../common/errors.js';
import { Status } from '../common/status.js';
import { KATA_ERROR_CODES } from './error-codes.js';

/** ttrpc status code → Kata error code; codes not listed become ERR_KATA_TASK_FAILED. */
export const STATUS_TO_KATA_CODE: Readonly<Record<number, ErrorCodeString>> = {
  [Status.NOT_FOUND]: 'ERR_KATA_NOT_FOUND',
  [Status.ALREADY_EXISTS]: 'ERR_KATA_ALREADY_EXISTS',
  [Status.FAILED_PRECONDITION]: 'ERR_KATA_FAILED_PRECONDITION',
  [Status.INVALID_ARGUMENT]: 'ERR_KATA_INVALID_ARGUMENT',
  [Status.UNIMPLEMENTED]: 'ERR_KATA_UNIMPLEMENTED',
  [Status.DEADLINE_EXCEEDED]: 'ERR_KATA_SHIM_TIMEOUT',
  [Status.UNAVAILABLE]: 'ERR_KATA_SHIM_DEAD',
};

/** Transport-level codes (of src/ttrpc and src/transport) that mean the shim is gone. */
const DEAD_HINTS = [
  'CONNECT_FAILED',
  'CLOSED',
  'DEAD',
  'ECONNREFUSED',
  'ENOENT',
  'EPIPE',
  'ECONNRESET',
  'UNREACHABLE',
  'DIAL',
];
const TIMEOUT_HINTS = ['TIMEOUT', 'DEADLINE', 'ETIMEDOUT'];

/** Reads a ttrpc/gRPC status number out of an error, wherever the ttrpc layer put it. */
export function statusOf(e: unknown): number | undefined {
  if (e === null || typeof e !== 'object') return undefined;
  const o = e as { details?: Record<string, unknown>; status?: unknown; grpcCode?: unknown };
  for (const v of [o.details?.['status'], o.details?.['code'], o.status, o.grpcCode]) {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 16) return v;
  }
  return undefined;
}

/** Converts any failure of a call `method` into a CocoonError with an ERR_KATA_* code. */
export function mapShimError(e: unknown, method: string): CocoonError {
  if (isCocoonError(e) && e.code in KATA_ERROR_CODES) return e;
  const status = statusOf(e);
  const detail = { method, ...(status === undefined ? {} : { status }) };
  if (status !== undefined && status !== Status.OK) {
    const code = STATUS_TO_KATA_CODE[status] ?? 'ERR_KATA_TASK_FAILED';
    return new CocoonError(code, `${method}: ${messageOf(e)}`, { cause: e, details: detail });
  }
  const tag =
    `${isCocoonError(e) ? e.code : ''} ${(e as NodeJS.ErrnoException | undefined)?.code ?? ''}`.toUpperCase();
  if (TIMEOUT_HINTS.some((h) => tag.includes(h))) {
    return new CocoonError('ERR_KATA_SHIM_TIMEOUT', `${method}: ${messageOf(e)}`, {
      cause: e,
      details: detail,
    });
  }
  if (DEAD_HINTS.some((h) => tag.includes(h))) {
    return new CocoonError('ERR_KATA_SHIM_DEAD', `${method}: ${messageOf(e)}`, { cause: e, details: detail });
  }
  return new CocoonError('ERR_KATA_TASK_FAILED', `${method}: ${messageOf(e)}`, { cause: e, details: detail });
}
