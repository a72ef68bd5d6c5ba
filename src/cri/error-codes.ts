/** Error codes of `src/cri`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';

export const CRI_ERROR_CODES = {} as const satisfies ErrorCodeTable;
