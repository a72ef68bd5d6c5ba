/** ReopenContainerLog: the log writer reopens log_path after the kubelet rotated it. */
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import { requireString } from '../validate.js';

/** ReopenContainerLog handler. */
export const reopenContainerLog: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'container_id');
  const fwd = await forwardForeign(d, 'container', id, 'runtime', 'ReopenContainerLog', req);
  if (fwd !== undefined) return fwd;
  await d.runtime.reopenContainerLog(id);
  return {};
};
