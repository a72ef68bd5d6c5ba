/** Version: all four fields non-empty (kubelet check, cri-kata.md §1.3). */
import type { UnaryRpc } from '../rpc.js';

/** runtime_name reported to the kubelet. */
export const RUNTIME_NAME = 'cocoon';
/** CRI API version. */
export const RUNTIME_API_VERSION = 'v1';
/** `version` field: the CRI wire version containerd and CRI-O report. */
export const KUBELET_API_VERSION = '0.1.0';

/** Version handler. */
export const version: UnaryRpc = async (d) => ({
  version: KUBELET_API_VERSION,
  runtime_name: RUNTIME_NAME,
  runtime_version: d.version,
  runtime_api_version: RUNTIME_API_VERSION,
});
