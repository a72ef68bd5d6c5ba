/** Error codes of `src/oci`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';

export const OCI_ERROR_CODES = {} as const satisfies ErrorCodeTable;
