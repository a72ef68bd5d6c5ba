/**
 * Error codes of `src/kbs-protocol`. HTTP statuses follow Trustee's KBS (kbs-protocol.md §4.4):
 * every protocol-level rejection is 401; the server's one mapping (src/kbs/http-errors.ts) reads
 * them from here through mapError().
 */
import type { ErrorCodeTable } from '../common/errors.js';
import { Status } from '../common/status.js';

export const KBS_PROTOCOL_ERROR_CODES = {
  ERR_KBS_PROTOCOL_INVALID_MESSAGE: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'a KBS protocol message (Request, Challenge, Attestation, Response) is malformed',
  },
  ERR_KBS_PROTOCOL_VERSION_MISMATCH: {
    status: Status.FAILED_PRECONDITION,
    http: 401,
    description: 'the KBS protocol version is not the one this side speaks (0.4.0)',
  },
  ERR_KBS_PROTOCOL_TEE_UNKNOWN: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'the TEE name is not one of the kbs-types wire names',
  },
  ERR_KBS_PROTOCOL_JWK_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'a tee-pubkey JWK has missing, extra or malformed members',
  },
  ERR_KBS_PROTOCOL_ALG_UNSUPPORTED: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'a JOSE algorithm is not on the allowlist',
  },
  ERR_KBS_PROTOCOL_BASE64_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'a base64 or base64url member does not decode strictly',
  },
  ERR_KBS_PROTOCOL_JWE_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'a JWE is not a well-formed flattened JSON serialization',
  },
  ERR_KBS_PROTOCOL_JWE_DECRYPT_FAILED: {
    status: Status.PERMISSION_DENIED,
    http: 401,
    description: 'a JWE did not decrypt with the given key (wrong key or tampered data)',
  },
  ERR_KBS_PROTOCOL_JWT_INVALID: {
    status: Status.UNAUTHENTICATED,
    http: 401,
    description: 'a JWT is malformed or its signature does not verify',
  },
  ERR_KBS_PROTOCOL_JCS_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'a value cannot be canonicalized with RFC 8785 (non-finite number, lone surrogate)',
  },
  ERR_KBS_PROTOCOL_HASH_UNSUPPORTED: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'the selected runtime-data hash algorithm is not supported',
  },
} as const satisfies ErrorCodeTable;
