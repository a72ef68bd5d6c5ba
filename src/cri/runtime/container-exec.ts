/** Exec: needs a streaming server (SPDY/WebSocket), which Cocoon does not run (docs/cri.md). */
import { unimplemented, type UnaryRpc } from '../rpc.js';
import { requireString } from '../validate.js';

/** Exec handler. */
export const exec: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'container_id');
  d.runtime.container(id);
  throw unimplemented(
    'Exec',
    'no streaming server (interactive exec needs SPDY/WebSocket streaming); ExecSync is supported',
  );
};
