/** CreateContainer: create-once by (sandbox, name, attempt); guest pull happens here for guest-pull handlers (§3.4). */
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import { checkContainerConfig, requireMessage, requireString } from '../validate.js';

/** CreateContainer handler. */
export const createContainer: UnaryRpc = async (d, req, ctx) => {
  const podId = requireString(req, 'pod_sandbox_id');
  const fwd = await forwardForeign(d, 'pod', podId, 'runtime', 'CreateContainer', req);
  if (fwd !== undefined) return fwd;
  const config = requireMessage(req, 'config');
  checkContainerConfig(config);
  return { container_id: await d.runtime.createContainer(podId, config, ctx) };
};
