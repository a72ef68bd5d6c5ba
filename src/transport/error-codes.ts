/** Error codes of `src/transport`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';

export const TRANSPORT_ERROR_CODES = {} as const satisfies ErrorCodeTable;
