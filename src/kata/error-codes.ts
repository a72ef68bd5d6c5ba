/** Error codes of `src/kata`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';

export const KATA_ERROR_CODES = {} as const satisfies ErrorCodeTable;
