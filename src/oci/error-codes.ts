/** Error codes of `src/oci`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';
import { Status } from '../common/status.js';

export const OCI_ERROR_CODES = {
  ERR_OCI_REF_INVALID: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'an image reference or digest is malformed',
  },
  ERR_OCI_INSECURE_REGISTRY: {
    status: Status.FAILED_PRECONDITION,
    http: 403,
    description: 'plain HTTP to a registry that is neither loopback nor configured insecure',
  },
  ERR_OCI_REGISTRY_UNREACHABLE: {
    status: Status.UNAVAILABLE,
    http: 502,
    description: 'the registry (or its token service) could not be reached',
  },
  ERR_OCI_REGISTRY_TIMEOUT: {
    status: Status.DEADLINE_EXCEEDED,
    http: 504,
    description: 'the registry did not answer within the configured time',
  },
  ERR_OCI_UNAUTHORIZED: {
    status: Status.UNAUTHENTICATED,
    http: 401,
    description: 'the registry rejected the credentials or requires credentials',
  },
  ERR_OCI_DENIED: {
    status: Status.PERMISSION_DENIED,
    http: 403,
    description: 'the registry denied access to the repository',
  },
  ERR_OCI_NOT_FOUND: {
    status: Status.NOT_FOUND,
    http: 404,
    description: 'the registry has no such repository, tag, manifest or blob',
  },
  ERR_OCI_REGISTRY_ERROR: {
    status: Status.UNAVAILABLE,
    http: 502,
    description: 'the registry answered with an unexpected status',
  },
  ERR_OCI_DIGEST_MISMATCH: {
    status: Status.DATA_LOSS,
    http: 502,
    description: 'downloaded content does not match its digest or declared size',
  },
  ERR_OCI_MANIFEST_INVALID: {
    status: Status.FAILED_PRECONDITION,
    http: 502,
    description: 'a manifest, index or image config is malformed',
  },
  ERR_OCI_MEDIA_TYPE_UNSUPPORTED: {
    status: Status.FAILED_PRECONDITION,
    http: 415,
    description: 'a manifest or layer media type is not supported',
  },
  ERR_OCI_PLATFORM_NOT_FOUND: {
    status: Status.NOT_FOUND,
    http: 404,
    description: 'the image index has no manifest for the requested platform',
  },
  ERR_OCI_TOO_LARGE: {
    status: Status.RESOURCE_EXHAUSTED,
    http: 413,
    description: 'a manifest, config or archive header exceeds its size limit',
  },
  ERR_OCI_TAR_INVALID: {
    status: Status.DATA_LOSS,
    http: 422,
    description: 'a layer archive is corrupt or truncated',
  },
  ERR_OCI_TAR_UNSAFE_PATH: {
    status: Status.PERMISSION_DENIED,
    http: 422,
    description: 'a layer archive entry tries to escape the root filesystem',
  },
  ERR_OCI_IMAGE_NOT_FOUND: {
    status: Status.NOT_FOUND,
    http: 404,
    description: 'the image store has no such image',
  },
  ERR_OCI_STORE_CORRUPT: {
    status: Status.DATA_LOSS,
    http: 500,
    description: 'an image store record is unreadable',
  },
} as const satisfies ErrorCodeTable;
