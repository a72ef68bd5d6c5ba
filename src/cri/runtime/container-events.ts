/** GetContainerEvents (1.25): a live stream of container lifecycle events until the client cancels. */
import type { StreamRpc } from '../rpc.js';
import type { Msg } from '../state/model.js';

/** GetContainerEvents handler. */
export const getContainerEvents: StreamRpc = async (d, _req, out) => {
  const onEvent = (e: Msg): void => out.write(e);
  d.runtime.events.on('event', onEvent);
  try {
    await out.ctx.whenCancelled;
  } finally {
    d.runtime.events.off('event', onEvent);
  }
};
