/**
 * Error codes of `src/attestation`. Shared codes (ERR_ATTEST_*) live here; each TEE keeps its
 * own table (tdx/error-codes.ts: ERR_TDX_*, snp/error-codes.ts: ERR_SNP_*) merged below.
 */
import type { ErrorCodeTable } from '../common/errors.js';
import { Status } from '../common/status.js';

const SHARED = {
  ERR_ATTEST_TEE_UNSUPPORTED: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'the TEE name is not one Cocoon verifies (tdx, snp, sample)',
  },
} as const satisfies ErrorCodeTable;

export const ATTESTATION_ERROR_CODES = { ...SHARED } as const satisfies ErrorCodeTable;
