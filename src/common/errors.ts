/**
 * The one error base class of Cocoon. Every error thrown across a module boundary is a
 * CocoonError with a stable `code` of the form ERR_<MODULE>_<WHAT>; callers and tests branch on
 * `code`, never on message text. Each module declares its codes in `src/<module>/error-codes.ts`
 * and `src/common/error-registry.ts` collects them into the one registry, which also carries the
 * per-code transport mapping (canonical status for gRPC/ttrpc, HTTP status for the KBS).
 */
import type { StatusCode } from './status.js';

/** Shape every error code must have. */
export type ErrorCodeString = `ERR_${string}`;

/** How one error code is described and mapped onto transports. */
export interface ErrorCodeInfo {
  /** Canonical gRPC/ttrpc status this code maps to. */
  readonly status: StatusCode;
  /** HTTP status this code maps to (KBS server, admin API). */
  readonly http: number;
  /** One line saying what went wrong, for docs and `cocoon --help` listings. */
  readonly description: string;
}

/** A table of codes declared by one module. */
export type ErrorCodeTable = Readonly<Record<ErrorCodeString, ErrorCodeInfo>>;

/** Options for constructing a CocoonError. */
export interface CocoonErrorOptions {
  /** The underlying failure, if any. */
  readonly cause?: unknown;
  /** Structured, non-secret context (field names, offsets, stage). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Base class of all typed Cocoon errors. */
export class CocoonError extends Error {
  /** Stable machine-readable code, ERR_<MODULE>_<WHAT>. */
  readonly code: ErrorCodeString;
  /** Structured context; never contains secret material. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCodeString, message: string, options: CocoonErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CocoonError';
    this.code = code;
    this.details = options.details ?? {};
  }

  /** JSON form used by CLIs and HTTP bodies: code, message and details. */
  toJSON(): { code: string; message: string; details?: Readonly<Record<string, unknown>> } {
    return Object.keys(this.details).length > 0
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

/** True when `e` is a CocoonError, optionally with the given code. */
export function isCocoonError(e: unknown, code?: ErrorCodeString): e is CocoonError {
  return e instanceof CocoonError && (code === undefined || e.code === code);
}

/** Reads a message out of any caught value without throwing. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  try {
    return JSON.stringify(e) ?? String(e);
  } catch {
    return String(e);
  }
}
