/** Error codes of `src/kata`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';
import { Status } from '../common/status.js';

export const KATA_ERROR_CODES = {
  ERR_KATA_NOT_FOUND: {
    status: Status.NOT_FOUND,
    http: 404,
    description: 'the shim does not know the task or exec process (ttrpc NotFound)',
  },
  ERR_KATA_ALREADY_EXISTS: {
    status: Status.ALREADY_EXISTS,
    http: 409,
    description: 'the shim already has a task or exec process with this id (ttrpc AlreadyExists)',
  },
  ERR_KATA_FAILED_PRECONDITION: {
    status: Status.FAILED_PRECONDITION,
    http: 409,
    description: 'the task is not in a state that allows the call (ttrpc FailedPrecondition)',
  },
  ERR_KATA_INVALID_ARGUMENT: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'the shim rejected a request argument (ttrpc InvalidArgument)',
  },
  ERR_KATA_UNIMPLEMENTED: {
    status: Status.UNIMPLEMENTED,
    http: 501,
    description: 'the shim does not implement the called method (ttrpc Unimplemented)',
  },
  ERR_KATA_TASK_FAILED: {
    status: Status.UNKNOWN,
    http: 500,
    description: 'the shim answered a Task API call with an error status',
  },
  ERR_KATA_SHIM_TIMEOUT: {
    status: Status.DEADLINE_EXCEEDED,
    http: 504,
    description: 'the shim did not answer within the deadline',
  },
  ERR_KATA_EXEC_TIMEOUT: {
    status: Status.DEADLINE_EXCEEDED,
    http: 504,
    description: 'an ExecSync process outlived its timeout and was killed',
  },
  ERR_KATA_SHIM_DEAD: {
    status: Status.UNAVAILABLE,
    http: 503,
    description: 'the shim connection is closed or the shim cannot be reached',
  },
  ERR_KATA_SHIM_START_FAILED: {
    status: Status.UNAVAILABLE,
    http: 503,
    description: 'the shim `start` subcommand failed or printed no usable address',
  },
  ERR_KATA_SHIM_DELETE_FAILED: {
    status: Status.UNAVAILABLE,
    http: 503,
    description: 'the shim `delete` subcommand failed or printed no DeleteResponse',
  },
  ERR_KATA_ADDRESS_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'a shim address is empty or not a unix:// address',
  },
  ERR_KATA_PROTO_INVALID: {
    status: Status.INTERNAL,
    http: 502,
    description: 'a shim message does not decode as its declared protobuf type',
  },
  ERR_KATA_EVENT_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'an event envelope forwarded by a shim is malformed',
  },
  ERR_KATA_SPEC_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'the input for an OCI runtime spec is missing or malformed',
  },
  ERR_KATA_BUNDLE_IO: {
    status: Status.UNAVAILABLE,
    http: 500,
    description: 'writing or reading an OCI bundle, FIFO or log file failed',
  },
  ERR_KATA_VOLUME_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'a KataVirtualVolume (io.katacontainers.volume) is missing or malformed',
  },
  ERR_KATA_INITDATA_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'an initdata document or annotation is malformed (version, algorithm, data, encoding)',
  },
  ERR_KATA_INITDATA_ALGORITHM: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'the initdata algorithm is not sha256, sha384 or sha512, or differs from the one required',
  },
} as const satisfies ErrorCodeTable;
