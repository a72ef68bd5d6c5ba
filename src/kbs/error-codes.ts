/**
 * Error codes of `src/kbs`, the test KBS server. HTTP statuses follow Trustee's actual mapping
 * (kbs-protocol.md §4.4: 404 for an unknown plugin, 401 for everything else), plus the statuses
 * Trustee lacks and we add: 413 (body limit), 429 (/auth rate limit), 405, 503. The
 * ErrorInformation variant of each code lives in http-errors.ts.
 */
import type { ErrorCodeTable } from '../common/errors.js';
import { Status } from '../common/status.js';

export const KBS_ERROR_CODES = {
  ERR_KBS_SESSION_MISSING: {
    status: Status.UNAUTHENTICATED,
    http: 401,
    description: 'the request carries no kbs-session-id cookie',
  },
  ERR_KBS_SESSION_UNKNOWN: {
    status: Status.UNAUTHENTICATED,
    http: 401,
    description: 'the kbs-session-id cookie names no session of this KBS',
  },
  ERR_KBS_SESSION_EXPIRED: {
    status: Status.UNAUTHENTICATED,
    http: 401,
    description: 'the session expired before it was used',
  },
  ERR_KBS_SESSIONS_EXHAUSTED: {
    status: Status.RESOURCE_EXHAUSTED,
    http: 503,
    description: 'the session table is full; retry later',
  },
  ERR_KBS_NONCE_MISMATCH: {
    status: Status.PERMISSION_DENIED,
    http: 401,
    description: 'runtime-data.nonce differs from the session challenge',
  },
  ERR_KBS_NONCE_REPLAY: {
    status: Status.PERMISSION_DENIED,
    http: 401,
    description: 'the session challenge was already used (nonces are single-use)',
  },
  ERR_KBS_TEE_NOT_ALLOWED: {
    status: Status.PERMISSION_DENIED,
    http: 401,
    description: 'this KBS does not accept evidence of that TEE (sample needs --allow-sample)',
  },
  ERR_KBS_EVIDENCE_REJECTED: {
    status: Status.PERMISSION_DENIED,
    http: 401,
    description: 'the evidence did not verify or is not bound to the nonce and TEE key',
  },
  ERR_KBS_INIT_DATA_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'init-data is not a TOML document with a supported algorithm',
  },
  ERR_KBS_TOKEN_MISSING: {
    status: Status.UNAUTHENTICATED,
    http: 401,
    description: 'no attested session cookie and no bearer token',
  },
  ERR_KBS_TOKEN_INVALID: {
    status: Status.UNAUTHENTICATED,
    http: 401,
    description: 'the attestation token is malformed or not signed by a trusted key',
  },
  ERR_KBS_TOKEN_EXPIRED: {
    status: Status.UNAUTHENTICATED,
    http: 401,
    description: 'the attestation token has expired',
  },
  ERR_KBS_POLICY_DENY: {
    status: Status.PERMISSION_DENIED,
    http: 401,
    description: 'the resource policy denied access',
  },
  ERR_KBS_POLICY_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'a policy upload is malformed (JSON, base64url or policy text)',
  },
  ERR_KBS_POLICY_FAILED: {
    status: Status.INTERNAL,
    http: 401,
    description: 'a policy did not evaluate (runtime error, limit, malformed result)',
  },
  ERR_KBS_POLICY_ENGINE_UNAVAILABLE: {
    status: Status.UNIMPLEMENTED,
    http: 501,
    description: 'the policy is Rego but no Rego engine is available; use a builtin: policy',
  },
  ERR_KBS_RESOURCE_NOT_FOUND: {
    status: Status.NOT_FOUND,
    http: 401,
    description: 'no resource is stored at that path',
  },
  ERR_KBS_RESOURCE_PATH_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'a resource path is not repository/type/tag of [A-Za-z0-9_-][A-Za-z0-9_.-]* segments',
  },
  ERR_KBS_RESOURCE_STORE_FAILED: {
    status: Status.INTERNAL,
    http: 500,
    description: 'the resource store could not read or write a resource',
  },
  ERR_KBS_PLUGIN_NOT_FOUND: {
    status: Status.NOT_FOUND,
    http: 404,
    description: 'the first path segment names no endpoint of this KBS',
  },
  ERR_KBS_METHOD_NOT_ALLOWED: {
    status: Status.UNIMPLEMENTED,
    http: 405,
    description: 'the endpoint does not support that HTTP method',
  },
  ERR_KBS_ADMIN_UNAUTHORIZED: {
    status: Status.UNAUTHENTICATED,
    http: 401,
    description: 'an admin call lacks a bearer JWT signed by the configured admin key',
  },
  ERR_KBS_BODY_TOO_LARGE: {
    status: Status.RESOURCE_EXHAUSTED,
    http: 413,
    description: 'the request body exceeds the configured limit (raise it for large TDX event logs)',
  },
  ERR_KBS_RATE_LIMITED: {
    status: Status.RESOURCE_EXHAUSTED,
    http: 429,
    description: 'too many /auth requests from this client address',
  },
  ERR_KBS_REFERENCE_VALUE_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'a reference-value message is malformed',
  },
  ERR_KBS_REFERENCE_VALUE_NOT_FOUND: {
    status: Status.NOT_FOUND,
    http: 401,
    description: 'no reference value is stored under that id',
  },
  ERR_KBS_JWE_FAILED: {
    status: Status.INTERNAL,
    http: 401,
    description: 'the resource could not be encrypted to the TEE key named in the token',
  },
  ERR_KBS_CONFIG_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'the KBS server options are invalid (listen address, TLS, keys, directories)',
  },
  ERR_KBS_SIGNING_KEY_INVALID: {
    status: Status.INTERNAL,
    http: 500,
    description: 'the persistent token signing key is unreadable or not EC P-256',
  },
} as const satisfies ErrorCodeTable;
