/** Error codes of `src/kbs-client`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';

export const KBS_CLIENT_ERROR_CODES = {} as const satisfies ErrorCodeTable;
