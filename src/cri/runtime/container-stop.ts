/** StopContainer: "idempotent, must not return an error if the container has already been stopped" (cri-api proto). */
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import { nonNegative, requireString } from '../validate.js';

/** StopContainer handler. */
export const stopContainer: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'container_id');
  const timeout = nonNegative(req, 'timeout');
  const fwd = await forwardForeign(d, 'container', id, 'runtime', 'StopContainer', req);
  if (fwd !== undefined) return fwd;
  await d.runtime.stopContainer(id, timeout);
  return {};
};
