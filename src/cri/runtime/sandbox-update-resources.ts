/** UpdatePodSandboxResources (1.33): recorded for the pod; a running VM is not resized. */
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import type { Msg } from '../state/model.js';
import { requireString } from '../validate.js';

/** UpdatePodSandboxResources handler. */
export const updatePodSandboxResources: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'pod_sandbox_id');
  const fwd = await forwardForeign(d, 'pod', id, 'runtime', 'UpdatePodSandboxResources', req);
  if (fwd !== undefined) return fwd;
  await d.runtime.updatePodSandboxResources(
    id,
    (req['overhead'] ?? null) as Msg | null,
    (req['resources'] ?? null) as Msg | null,
  );
  return {};
};
