/** Error codes of `src/attestation`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';

export const ATTESTATION_ERROR_CODES = {} as const satisfies ErrorCodeTable;
