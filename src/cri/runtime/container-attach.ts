/** Attach: needs a streaming server, which Cocoon does not run (docs/cri.md). */
import { unimplemented, type UnaryRpc } from '../rpc.js';
import { requireString } from '../validate.js';

/** Attach handler. */
export const attach: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'container_id');
  d.runtime.container(id);
  throw unimplemented('Attach', 'no streaming server; container output is in the CRI log at log_path');
};
