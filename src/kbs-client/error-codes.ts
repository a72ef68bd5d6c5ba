/** Error codes of `src/kbs-client` (the RCAR client, evidence providers, admin client). */
import type { ErrorCodeTable } from '../common/errors.js';
import { Status } from '../common/status.js';

export const KBS_CLIENT_ERROR_CODES = {
  ERR_KBS_CLIENT_INSECURE_URL: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'the KBS URL is plain http:// but --insecure-http was not given (or the URL is malformed)',
  },
  ERR_KBS_CLIENT_HTTP_FAILED: {
    status: Status.UNAVAILABLE,
    http: 503,
    description: 'the HTTP request to the KBS failed (connection, TLS)',
  },
  ERR_KBS_CLIENT_TIMEOUT: {
    status: Status.DEADLINE_EXCEEDED,
    http: 504,
    description: 'the KBS did not answer within the timeout',
  },
  ERR_KBS_CLIENT_RESPONSE_INVALID: {
    status: Status.INTERNAL,
    http: 502,
    description: 'the KBS answered with a malformed or oversized body',
  },
  ERR_KBS_CLIENT_ATTESTATION_FAILED: {
    status: Status.PERMISSION_DENIED,
    http: 401,
    description: 'the KBS rejected the RCAR handshake (auth or attest)',
  },
  ERR_KBS_CLIENT_UNAUTHORIZED: {
    status: Status.UNAUTHENTICATED,
    http: 401,
    description: 'the KBS kept refusing the token after the bounded number of re-attestations',
  },
  ERR_KBS_CLIENT_POLICY_DENIED: {
    status: Status.PERMISSION_DENIED,
    http: 403,
    description: 'the KBS resource policy denied the request (not retried)',
  },
  ERR_KBS_CLIENT_RESOURCE_NOT_FOUND: {
    status: Status.NOT_FOUND,
    http: 404,
    description: 'the KBS has no resource at that path',
  },
  ERR_KBS_CLIENT_SERVER_ERROR: {
    status: Status.UNAVAILABLE,
    http: 502,
    description: 'the KBS answered with an unexpected error status',
  },
  ERR_KBS_CLIENT_ADMIN_REJECTED: {
    status: Status.PERMISSION_DENIED,
    http: 401,
    description: 'the KBS rejected an admin call',
  },
  ERR_KBS_CLIENT_EVIDENCE_FAILED: {
    status: Status.INTERNAL,
    http: 500,
    description: 'the evidence provider could not produce evidence',
  },
  ERR_KBS_CLIENT_TEE_UNAVAILABLE: {
    status: Status.UNIMPLEMENTED,
    http: 501,
    description: 'the requested evidence provider is not available in this build',
  },
  ERR_KBS_CLIENT_KEY_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'a TEE or admin key is not a usable PEM key of a supported type',
  },
  ERR_KBS_CLIENT_AA_FAILED: {
    status: Status.UNAVAILABLE,
    http: 503,
    description: 'the Attestation Agent call failed or returned malformed data',
  },
  ERR_KBS_CLIENT_TOKEN_INVALID: {
    status: Status.INTERNAL,
    http: 502,
    description: 'an attestation token could not be decoded',
  },
} as const satisfies ErrorCodeTable;
