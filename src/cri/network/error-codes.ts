/** Error codes of `src/cri/network` (pod networking, CNI). See src/common/errors.ts. */
import type { ErrorCodeTable } from '../../common/errors.js';
import { Status } from '../../common/status.js';

export const CNI_ERROR_CODES = {
  ERR_CNI_INVALID_ARGUMENT: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'a pod network request has a missing or malformed field',
  },
  ERR_CNI_CONFIG_INVALID: {
    status: Status.FAILED_PRECONDITION,
    http: 500,
    description: 'a CNI network configuration file is malformed',
  },
  ERR_CNI_NETWORK_NOT_FOUND: {
    status: Status.FAILED_PRECONDITION,
    http: 500,
    description: 'the requested CNI network is not configured',
  },
  ERR_CNI_PLUGIN_NOT_FOUND: {
    status: Status.FAILED_PRECONDITION,
    http: 500,
    description: 'a CNI plugin binary is not in any plugin directory',
  },
  ERR_CNI_PLUGIN_FAILED: {
    status: Status.INTERNAL,
    http: 500,
    description: 'a CNI plugin failed (details carry its error JSON)',
  },
  ERR_CNI_PLUGIN_TIMEOUT: {
    status: Status.DEADLINE_EXCEEDED,
    http: 504,
    description: 'a CNI plugin did not finish in time and was killed',
  },
  ERR_CNI_RESULT_INVALID: {
    status: Status.INTERNAL,
    http: 500,
    description: 'a CNI plugin printed a result that is not valid JSON of the expected shape',
  },
  ERR_CNI_NETNS_FAILED: {
    status: Status.INTERNAL,
    http: 500,
    description: 'creating or deleting a pod network namespace failed',
  },
} as const satisfies ErrorCodeTable;
