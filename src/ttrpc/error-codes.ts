/** Error codes of `src/ttrpc`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';

export const TTRPC_ERROR_CODES = {} as const satisfies ErrorCodeTable;
