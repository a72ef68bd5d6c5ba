/** Error codes of `src/policy`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';

export const POLICY_ERROR_CODES = {} as const satisfies ErrorCodeTable;
