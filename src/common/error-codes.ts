/** Error codes of `src/common`, `src/config` and `src/cli`. See src/common/errors.ts. */
import type { ErrorCodeTable } from './errors.js';
import { Status } from './status.js';

export const COMMON_ERROR_CODES = {
  ERR_COMMON_INTERNAL: { status: Status.INTERNAL, http: 500, description: 'an unexpected internal failure' },
  ERR_COMMON_INVALID_ARGUMENT: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'an argument is missing or malformed',
  },
  ERR_COMMON_TIMEOUT: { status: Status.DEADLINE_EXCEEDED, http: 504, description: 'an operation timed out' },
  ERR_COMMON_CANCELLED: { status: Status.CANCELLED, http: 499, description: 'an operation was cancelled' },
  ERR_COMMON_NOT_IMPLEMENTED: {
    status: Status.UNIMPLEMENTED,
    http: 501,
    description: 'the requested feature is not implemented',
  },
  ERR_COMMON_IO: { status: Status.UNAVAILABLE, http: 500, description: 'a file or socket operation failed' },
  ERR_COMMON_BYTES_SHORT: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'a binary structure is shorter than its layout requires',
  },
  ERR_CONFIG_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'the configuration file, environment or flags are invalid',
  },
  ERR_CONFIG_NOT_FOUND: {
    status: Status.NOT_FOUND,
    http: 404,
    description: 'a configuration file does not exist',
  },
  ERR_CLI_USAGE: { status: Status.INVALID_ARGUMENT, http: 400, description: 'the command line is malformed' },
} as const satisfies ErrorCodeTable;
