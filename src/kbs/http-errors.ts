/**
 * The one place the KBS turns thrown values into HTTP responses (docs/architecture.md "Errors"):
 * status from the error registry through mapError(), body an ErrorInformation whose `type` names
 * Trustee's variant (kbs-protocol.md §4.4), and Cocoon's stable code in a response header so our
 * client can tell an expired token from a policy denial without parsing prose.
 */
import { mapError } from '../common/error-registry.js';
import { ERROR_TYPE_PREFIX, type ErrorInformation } from '../kbs-protocol/index.js';

/** Trustee error variant per Cocoon code; codes not listed take the caller's fallback. */
export const ERROR_VARIANTS: Readonly<Record<string, string>> = {
  ERR_KBS_SESSION_MISSING: 'AttestationError',
  ERR_KBS_SESSION_UNKNOWN: 'AttestationError',
  ERR_KBS_SESSION_EXPIRED: 'AttestationError',
  ERR_KBS_NONCE_MISMATCH: 'AttestationError',
  ERR_KBS_NONCE_REPLAY: 'AttestationError',
  ERR_KBS_TEE_NOT_ALLOWED: 'AttestationError',
  ERR_KBS_EVIDENCE_REJECTED: 'AttestationError',
  ERR_KBS_INIT_DATA_INVALID: 'AttestationError',
  ERR_KBS_SESSIONS_EXHAUSTED: 'AttestationError',
  ERR_KBS_TOKEN_MISSING: 'TokenNotFound',
  ERR_KBS_TOKEN_INVALID: 'TokenVerifierError',
  ERR_KBS_TOKEN_EXPIRED: 'TokenVerifierError',
  ERR_KBS_POLICY_DENY: 'PolicyDeny',
  ERR_KBS_POLICY_INVALID: 'ParsePolicyError',
  ERR_KBS_POLICY_ENGINE_UNAVAILABLE: 'ParsePolicyError',
  ERR_KBS_POLICY_FAILED: 'PolicyError',
  ERR_KBS_RESOURCE_NOT_FOUND: 'PluginInternalError',
  ERR_KBS_RESOURCE_PATH_INVALID: 'PluginInternalError',
  ERR_KBS_RESOURCE_STORE_FAILED: 'PluginInternalError',
  ERR_KBS_PLUGIN_NOT_FOUND: 'PluginNotFound',
  ERR_KBS_METHOD_NOT_ALLOWED: 'PluginNotFound',
  ERR_KBS_ADMIN_UNAUTHORIZED: 'AdminAuthAccess',
  ERR_KBS_BODY_TOO_LARGE: 'PayloadTooLarge',
  ERR_KBS_RATE_LIMITED: 'TooManyRequests',
  ERR_KBS_REFERENCE_VALUE_INVALID: 'RvpsError',
  ERR_KBS_REFERENCE_VALUE_NOT_FOUND: 'RvpsError',
  ERR_KBS_JWE_FAILED: 'JweError',
  ERR_KBS_PROTOCOL_VERSION_MISMATCH: 'AttestationError',
  ERR_KBS_CONFIG_INVALID: 'InternalError',
  ERR_KBS_SIGNING_KEY_INVALID: 'InternalError',
  ERR_COMMON_INTERNAL: 'InternalError',
};

/** An error rendered for the wire. */
export interface HttpErrorResponse {
  readonly status: number;
  readonly code: string;
  readonly body: ErrorInformation;
}

/**
 * Maps any thrown value to status + ErrorInformation. `fallbackVariant` is the endpoint's
 * variant for codes without their own (e.g. a malformed Attestation is an AttestationError).
 */
export function toHttpError(e: unknown, fallbackVariant = 'AttestationError'): HttpErrorResponse {
  const m = mapError(e);
  const variant = ERROR_VARIANTS[m.code] ?? fallbackVariant;
  const status = m.http >= 400 && m.http <= 599 ? m.http : 500;
  return { status, code: m.code, body: { type: `${ERROR_TYPE_PREFIX}${variant}`, detail: m.message } };
}
