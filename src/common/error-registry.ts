/**
 * The one registry of error codes. Every module declares its codes in its own
 * `error-codes.ts` (pure data, so modules never edit a shared file); this file collects them.
 * It is the only file in `src/common` allowed to import from other modules, and only their
 * `error-codes.ts` tables (enforced by test/unit/architecture.test.ts).
 */
import type { ErrorCodeInfo, ErrorCodeString, ErrorCodeTable } from './errors.js';
import { CocoonError } from './errors.js';
import { COMMON_ERROR_CODES } from './error-codes.js';
import { Status, type StatusCode } from './status.js';
import { TTRPC_ERROR_CODES } from '../ttrpc/error-codes.js';
import { TRANSPORT_ERROR_CODES } from '../transport/error-codes.js';
import { CRI_ERROR_CODES } from '../cri/error-codes.js';
import { KATA_ERROR_CODES } from '../kata/error-codes.js';
import { ATTESTATION_ERROR_CODES } from '../attestation/error-codes.js';
import { KBS_PROTOCOL_ERROR_CODES } from '../kbs-protocol/error-codes.js';
import { KBS_CLIENT_ERROR_CODES } from '../kbs-client/error-codes.js';
import { KBS_ERROR_CODES } from '../kbs/error-codes.js';
import { POLICY_ERROR_CODES } from '../policy/error-codes.js';
import { OCI_ERROR_CODES } from '../oci/error-codes.js';
import { CNI_ERROR_CODES } from '../cri/network/error-codes.js';
import { KATA_SIM_ERROR_CODES } from '../kata/sim/error-codes.js';
import { UP_ERROR_CODES } from '../up/error-codes.js';

/** Every module's table, by module name; duplicates across tables are a test failure. */
export const ERROR_CODE_TABLES: Readonly<Record<string, ErrorCodeTable>> = {
  common: COMMON_ERROR_CODES,
  ttrpc: TTRPC_ERROR_CODES,
  transport: TRANSPORT_ERROR_CODES,
  cri: CRI_ERROR_CODES,
  kata: KATA_ERROR_CODES,
  attestation: ATTESTATION_ERROR_CODES,
  'kbs-protocol': KBS_PROTOCOL_ERROR_CODES,
  'kbs-client': KBS_CLIENT_ERROR_CODES,
  kbs: KBS_ERROR_CODES,
  policy: POLICY_ERROR_CODES,
  oci: OCI_ERROR_CODES,
  'cri/network': CNI_ERROR_CODES,
  'kata/sim': KATA_SIM_ERROR_CODES,
  up: UP_ERROR_CODES,
};

const REGISTRY: ReadonlyMap<string, ErrorCodeInfo> = new Map(
  Object.values(ERROR_CODE_TABLES).flatMap((t) => Object.entries(t)),
);

/** Looks up a registered code; undefined for unknown codes. */
export function lookupErrorCode(code: string): ErrorCodeInfo | undefined {
  return REGISTRY.get(code);
}

/** All registered codes, sorted. */
export function allErrorCodes(): ErrorCodeString[] {
  return [...REGISTRY.keys()].sort() as ErrorCodeString[];
}

/** A transport-neutral description of a failure: canonical status, HTTP status, code, message. */
export interface MappedError {
  readonly status: StatusCode;
  readonly http: number;
  readonly code: ErrorCodeString;
  readonly message: string;
}

/**
 * Maps any thrown value to the registry's status. Unknown values become ERR_COMMON_INTERNAL
 * with a generic message, so internals never leak onto the wire. Transports (cri/status.ts,
 * ttrpc/status.ts, kbs/http-errors.ts) build their wire shape from this one function.
 */
export function mapError(e: unknown): MappedError {
  if (e instanceof CocoonError) {
    const info = REGISTRY.get(e.code);
    if (info !== undefined) return { status: info.status, http: info.http, code: e.code, message: e.message };
    return { status: Status.UNKNOWN, http: 500, code: e.code, message: e.message };
  }
  return { status: Status.INTERNAL, http: 500, code: 'ERR_COMMON_INTERNAL', message: 'internal error' };
}
