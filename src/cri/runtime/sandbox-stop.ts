/** StopPodSandbox: idempotent for a stopped pod; NotFound for an unknown id (kubelet tolerates it, §1.3). */
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import { requireString } from '../validate.js';

/** StopPodSandbox handler. */
export const stopPodSandbox: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'pod_sandbox_id');
  const fwd = await forwardForeign(d, 'pod', id, 'runtime', 'StopPodSandbox', req);
  if (fwd !== undefined) return fwd;
  await d.runtime.stopPodSandbox(id);
  return {};
};
