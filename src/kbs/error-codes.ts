/** Error codes of `src/kbs`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';

export const KBS_ERROR_CODES = {} as const satisfies ErrorCodeTable;
