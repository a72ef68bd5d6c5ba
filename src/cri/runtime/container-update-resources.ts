/** UpdateContainerResources: applied through the shim's Update (§4.4). */
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import type { Msg } from '../state/model.js';
import { requireString } from '../validate.js';

/** UpdateContainerResources handler. */
export const updateContainerResources: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'container_id');
  const fwd = await forwardForeign(d, 'container', id, 'runtime', 'UpdateContainerResources', req);
  if (fwd !== undefined) return fwd;
  await d.runtime.updateContainerResources(id, (req['linux'] ?? null) as Msg | null);
  return {};
};
