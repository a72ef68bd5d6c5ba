/** Error codes of `src/ttrpc`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';
import { Status } from '../common/status.js';

export const TTRPC_ERROR_CODES = {
  ERR_TTRPC_STATUS: {
    status: Status.UNKNOWN,
    http: 502,
    description: 'the ttrpc peer answered with a non-OK status (details.status, details.statusMessage)',
  },
  ERR_TTRPC_CONNECTION_CLOSED: {
    status: Status.UNAVAILABLE,
    http: 503,
    description: 'the ttrpc connection closed before the call finished',
  },
  ERR_TTRPC_FRAME_TOO_LARGE: {
    status: Status.RESOURCE_EXHAUSTED,
    http: 413,
    description: 'a ttrpc frame exceeds the 4 MiB message length limit',
  },
  ERR_TTRPC_PROTOCOL: {
    status: Status.INTERNAL,
    http: 502,
    description: 'the ttrpc peer broke the protocol (bad message type, flags or stream order)',
  },
  ERR_TTRPC_MESSAGE_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'a ttrpc Request, Response or payload message does not decode',
  },
  ERR_TTRPC_DEADLINE_EXCEEDED: {
    status: Status.DEADLINE_EXCEEDED,
    http: 504,
    description: 'a ttrpc call passed its deadline',
  },
  ERR_TTRPC_CANCELLED: {
    status: Status.CANCELLED,
    http: 499,
    description: 'a ttrpc call was cancelled by its caller',
  },
  ERR_TTRPC_UNIMPLEMENTED: {
    status: Status.UNIMPLEMENTED,
    http: 501,
    description: 'no handler is registered for the ttrpc service or method',
  },
  ERR_TTRPC_STREAM_CLOSED: {
    status: Status.FAILED_PRECONDITION,
    http: 409,
    description: 'data was sent on a ttrpc stream whose sending side is closed',
  },
  ERR_TTRPC_ALREADY_REGISTERED: {
    status: Status.ALREADY_EXISTS,
    http: 409,
    description: 'a handler for this ttrpc service and method is already registered',
  },
  ERR_TTRPC_PROTO_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'a .proto file, service or method for the typed ttrpc helpers cannot be loaded or found',
  },
} as const satisfies ErrorCodeTable;
