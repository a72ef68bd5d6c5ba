/**
 * Error codes of `src/attestation`. Shared codes (ERR_ATTEST_*) live here; each TEE keeps its
 * own table (tdx/error-codes.ts: ERR_TDX_*, snp/error-codes.ts: ERR_SNP_*,
 * sample/error-codes.ts: ERR_SAMPLE_*, x509/error-codes.ts: ERR_X509_*) merged below into the one table the registry reads.
 */
import type { ErrorCodeTable } from '../common/errors.js';
import { Status } from '../common/status.js';
import { SAMPLE_ERROR_CODES } from './sample/error-codes.js';
import { SNP_ERROR_CODES } from './snp/error-codes.js';
import { TDX_ERROR_CODES } from './tdx/error-codes.js';
import { X509_ERROR_CODES } from './x509/error-codes.js';

const SHARED = {
  ERR_ATTEST_TEE_UNSUPPORTED: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'the TEE name is not one Cocoon verifies (tdx, snp, sample)',
  },
  ERR_ATTEST_TEE_UNDETECTED: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'the TEE of the evidence cannot be detected from its bytes or JSON',
  },
} as const satisfies ErrorCodeTable;

/** Every attestation code: shared, TDX (+ event log), shared X.509, SNP, sample. */
export const ATTESTATION_ERROR_CODES = {
  ...SHARED,
  ...TDX_ERROR_CODES,
  ...X509_ERROR_CODES,
  ...SNP_ERROR_CODES,
  ...SAMPLE_ERROR_CODES,
} as const satisfies ErrorCodeTable;
