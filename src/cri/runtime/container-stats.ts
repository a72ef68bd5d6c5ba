/** ContainerStats from the shim's Stats (cgroups inside the guest for Kata, §6). */
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import { containerStatsMessage } from '../stats.js';
import { requireString } from '../validate.js';

/** ContainerStats handler. */
export const containerStats: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'container_id');
  const fwd = await forwardForeign(d, 'container', id, 'runtime', 'ContainerStats', req);
  if (fwd !== undefined) return fwd;
  const c = d.runtime.container(id);
  return {
    stats: containerStatsMessage(c, await d.runtime.containerUsage(c), Date.now(), d.config.stateDir),
  };
};
