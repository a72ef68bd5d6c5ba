/** Error codes of Trustee's sample TEE verifier (src/attestation/sample). */
import type { ErrorCodeTable } from '../../common/errors.js';
import { Status } from '../../common/status.js';

/** Every ERR_SAMPLE_* code with its canonical status and HTTP status. */
export const SAMPLE_ERROR_CODES = {
  ERR_SAMPLE_EVIDENCE_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 401,
    description: 'sample TEE evidence is not {"svn": string, "report_data": base64 string}',
  },
  ERR_SAMPLE_REPORT_DATA_MISMATCH: {
    status: Status.PERMISSION_DENIED,
    http: 401,
    description: 'sample TEE report_data differs from the expected report data',
  },
} as const satisfies ErrorCodeTable;
