/** ContainerStatus: image.image and image_ref always non-empty (kubelet check, §1.3); reason/message on exit. */
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import { containerStatusMessage } from '../runtime.js';
import { requireString } from '../validate.js';

/** ContainerStatus handler. */
export const containerStatus: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'container_id');
  const fwd = await forwardForeign(d, 'container', id, 'runtime', 'ContainerStatus', req);
  if (fwd !== undefined) return fwd;
  const c = d.runtime.container(id);
  const info =
    req['verbose'] === true
      ? { info: JSON.stringify({ pid: c.pid, sandboxID: c.podId, phase: c.phase }) }
      : {};
  return { status: containerStatusMessage(c), info };
};
