/** Error codes of `src/kbs-protocol`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';

export const KBS_PROTOCOL_ERROR_CODES = {} as const satisfies ErrorCodeTable;
