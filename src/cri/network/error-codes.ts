/** Error codes of `src/cri/network` (CNI). See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../../common/errors.js';

export const CNI_ERROR_CODES = {} as const satisfies ErrorCodeTable;
