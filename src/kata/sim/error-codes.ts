/** Error codes of the simulated confidential guest (`src/kata/sim`). */
import type { ErrorCodeTable } from '../../common/errors.js';
import { Status } from '../../common/status.js';

export const KATA_SIM_ERROR_CODES = {
  ERR_KATA_SIM_IMAGE_POLICY_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'the image security policy (containers-policy.json) is malformed',
  },
  ERR_KATA_SIM_IMAGE_REJECTED: {
    status: Status.PERMISSION_DENIED,
    http: 403,
    description: 'the image security policy refuses this image',
  },
  ERR_KATA_SIM_GUEST_PULL_REQUIRED: {
    status: Status.FAILED_PRECONDITION,
    http: 400,
    description: 'a guest-pull handler got a container without an image_guest_pull volume',
  },
  ERR_KATA_SIM_ATTESTATION_FAILED: {
    status: Status.PERMISSION_DENIED,
    http: 403,
    description: 'the simulated guest could not attest to the KBS, so no secret or image was released',
  },
  ERR_KATA_SIM_CONFIG_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'the simulated guest configuration (initdata, TEE, KBS URL) is invalid',
  },
  ERR_KATA_SIM_NOT_FOUND: {
    status: Status.NOT_FOUND,
    http: 404,
    description: 'no such task or exec in the simulated guest',
  },
  ERR_KATA_SIM_STATE: {
    status: Status.FAILED_PRECONDITION,
    http: 409,
    description: 'the task is not in a state that allows this call',
  },
  ERR_KATA_SIM_RUNC: {
    status: Status.INTERNAL,
    http: 500,
    description: 'runc failed to run the container in the simulated guest',
  },
} as const satisfies ErrorCodeTable;
