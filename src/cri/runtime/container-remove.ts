/** RemoveContainer: "must not return an error if the container has already been removed" (cri-api proto). */
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import { requireString } from '../validate.js';

/** RemoveContainer handler. */
export const removeContainer: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'container_id');
  const fwd = await forwardForeign(d, 'container', id, 'runtime', 'RemoveContainer', req);
  if (fwd !== undefined) return fwd;
  await d.runtime.removeContainer(id);
  return {};
};
