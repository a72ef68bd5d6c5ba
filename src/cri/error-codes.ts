/** Error codes of `src/cri`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';
import { Status } from '../common/status.js';

export const CRI_ERROR_CODES = {
  ERR_CRI_INVALID_ARGUMENT: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'a CRI request has a missing or malformed field (the message names it)',
  },
  ERR_CRI_NOT_FOUND: {
    status: Status.NOT_FOUND,
    http: 404,
    description: 'no pod sandbox, container, exec session or image with that id or name',
  },
  ERR_CRI_ALREADY_EXISTS: {
    status: Status.ALREADY_EXISTS,
    http: 409,
    description: 'the name derived from the request metadata is held by another object',
  },
  ERR_CRI_FAILED_PRECONDITION: {
    status: Status.FAILED_PRECONDITION,
    http: 409,
    description: 'the object is not in a state that allows the call (e.g. start of a running container)',
  },
  ERR_CRI_UNKNOWN_HANDLER: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'the RuntimeClass handler is not configured',
  },
  ERR_CRI_BUSY: {
    status: Status.RESOURCE_EXHAUSTED,
    http: 429,
    description: 'the bounded queue of heavy operations is full',
  },
  ERR_CRI_IN_PROGRESS: {
    status: Status.DEADLINE_EXCEEDED,
    http: 504,
    description: 'a create with the same name is still running; the kubelet will get it on its next retry',
  },
  ERR_CRI_BACKEND: {
    status: Status.UNKNOWN,
    http: 502,
    description: 'the runtime backend (shim, runc, simulated guest) failed',
  },
  ERR_CRI_PASSTHROUGH: {
    status: Status.UNAVAILABLE,
    http: 502,
    description: 'the pass-through CRI endpoint could not be reached',
  },
  ERR_CRI_STORE_CORRUPT: {
    status: Status.DATA_LOSS,
    http: 500,
    description: 'the state store holds a record that fails its checksum outside the torn tail',
  },
  ERR_CRI_STORE_IO: {
    status: Status.UNAVAILABLE,
    http: 500,
    description: 'the state store could not be read or written',
  },
  ERR_CRI_IMAGE_PULL: {
    status: Status.UNKNOWN,
    http: 502,
    description: 'pulling or resolving an image failed (message starts with the kubelet reason)',
  },
  ERR_CRI_EXEC_TIMEOUT: {
    status: Status.DEADLINE_EXCEEDED,
    http: 504,
    description: 'ExecSync did not finish within its timeout',
  },
  ERR_CRI_UNIMPLEMENTED: {
    status: Status.UNIMPLEMENTED,
    http: 501,
    description: 'the RPC cannot be served by this runtime (see docs/cri.md for the reason)',
  },
  ERR_CRI_SERVER: {
    status: Status.UNAVAILABLE,
    http: 500,
    description: 'the CRI server could not bind or serve its socket',
  },
} as const satisfies ErrorCodeTable;

/** One of the codes above. */
export type CriErrorCode = keyof typeof CRI_ERROR_CODES;
