/** PortForward: needs a streaming server, which Cocoon does not run (docs/cri.md). */
import { unimplemented, type UnaryRpc } from '../rpc.js';
import { requireString } from '../validate.js';

/** PortForward handler. */
export const portForward: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'pod_sandbox_id');
  d.runtime.pod(id);
  throw unimplemented('PortForward', 'no streaming server; use a Service or the pod IP');
};
