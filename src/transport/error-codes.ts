/** Error codes of `src/transport`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';
import { Status } from '../common/status.js';

export const TRANSPORT_ERROR_CODES = {
  ERR_TRANSPORT_ADDRESS_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'a transport address (unix://, vsock://, hvsock://, tcp://) is malformed',
  },
  ERR_TRANSPORT_CONNECT_FAILED: {
    status: Status.UNAVAILABLE,
    http: 503,
    description: 'connecting to a transport address failed after every retry',
  },
  ERR_TRANSPORT_TIMEOUT: {
    status: Status.DEADLINE_EXCEEDED,
    http: 504,
    description: 'connecting or the hybrid vsock handshake did not finish in time',
  },
  ERR_TRANSPORT_CANCELLED: {
    status: Status.CANCELLED,
    http: 499,
    description: 'a dial was aborted by its caller',
  },
  ERR_TRANSPORT_HANDSHAKE_FAILED: {
    status: Status.UNAVAILABLE,
    http: 502,
    description: 'the hybrid vsock CONNECT handshake was refused, malformed or cut short',
  },
  ERR_TRANSPORT_LISTEN_FAILED: {
    status: Status.UNAVAILABLE,
    http: 500,
    description: 'listening on a transport address failed',
  },
  ERR_TRANSPORT_VSOCK_UNAVAILABLE: {
    status: Status.UNIMPLEMENTED,
    http: 501,
    description: 'AF_VSOCK needs the native addon, which is not built or cannot load',
  },
  ERR_TRANSPORT_VSOCK_IO: {
    status: Status.UNAVAILABLE,
    http: 500,
    description: 'an AF_VSOCK socket operation failed',
  },
} as const satisfies ErrorCodeTable;
