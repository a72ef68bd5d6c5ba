/**
 * Error codes of the shared X.509 / CRL helpers (src/attestation/x509). The lead merges
 * X509_ERROR_CODES into src/attestation/error-codes.ts.
 */
import type { ErrorCodeTable } from '../../common/errors.js';
import { Status } from '../../common/status.js';

/** Every ERR_X509_* code. */
export const X509_ERROR_CODES = {
  ERR_X509_CERT_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'a certificate is not well-formed DER/PEM X.509 (RFC 5280 §4.1)',
  },
  ERR_X509_CRL_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'a CRL is not well-formed DER/PEM (RFC 5280 §5.1)',
  },
} as const satisfies ErrorCodeTable;
