/** RemovePodSandbox: "must not return an error if the sandbox has already been removed" (cri-api proto). */
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import { requireString } from '../validate.js';

/** RemovePodSandbox handler. */
export const removePodSandbox: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'pod_sandbox_id');
  const fwd = await forwardForeign(d, 'pod', id, 'runtime', 'RemovePodSandbox', req);
  if (fwd !== undefined) return fwd;
  await d.runtime.removePodSandbox(id);
  return {};
};
