/** StartContainer. */
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import { requireString } from '../validate.js';

/** StartContainer handler. */
export const startContainer: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'container_id');
  const fwd = await forwardForeign(d, 'container', id, 'runtime', 'StartContainer', req);
  if (fwd !== undefined) return fwd;
  await d.runtime.startContainer(id);
  return {};
};
