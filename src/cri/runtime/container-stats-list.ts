/** ListContainerStats: ours merged with the pass-through runtime's. */
import { foreignList, type UnaryRpc } from '../rpc.js';
import type { Msg } from '../state/model.js';
import { listContainerStats as collect } from '../stats.js';

/** ListContainerStats handler. */
export const listContainerStats: UnaryRpc = async (d, req) => {
  const stats = await collect(d.runtime, (req['filter'] ?? null) as Msg | null, d.config.stateDir);
  stats.push(...(await foreignList(d, 'runtime', 'ListContainerStats', req, 'stats')));
  return { stats };
};
