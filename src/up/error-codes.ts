/** Error codes of `src/up` (`cocoon up`, `down`, `demo`). */
import type { ErrorCodeTable } from '../common/errors.js';
import { Status } from '../common/status.js';

export const UP_ERROR_CODES = {
  ERR_UP_REGISTRY: {
    status: Status.UNAVAILABLE,
    http: 503,
    description: 'the local registry of `cocoon up` could not be started or seeded',
  },
  ERR_UP_ALREADY_RUNNING: {
    status: Status.ALREADY_EXISTS,
    http: 409,
    description: 'a `cocoon up` already runs with this state directory',
  },
  ERR_UP_NOT_RUNNING: {
    status: Status.NOT_FOUND,
    http: 404,
    description: 'no `cocoon up` runs with this state directory',
  },
  ERR_UP_DEMO_FAILED: {
    status: Status.ABORTED,
    http: 500,
    description: 'a step of `cocoon demo` did not produce its expected result',
  },
} as const satisfies ErrorCodeTable;
