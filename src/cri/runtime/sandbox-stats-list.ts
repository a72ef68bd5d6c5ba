/** ListPodSandboxStats (1.23). */
import { foreignList, type UnaryRpc } from '../rpc.js';
import type { Msg } from '../state/model.js';
import { filterPods, podStatsMessage } from '../stats.js';

/** ListPodSandboxStats handler. */
export const listPodSandboxStats: UnaryRpc = async (d, req) => {
  const pods = filterPods(d.runtime, (req['filter'] ?? null) as Msg | null);
  const stats: Msg[] = [];
  for (const p of pods) stats.push(await podStatsMessage(d.runtime, p, d.config.stateDir));
  stats.push(...(await foreignList(d, 'runtime', 'ListPodSandboxStats', req, 'stats')));
  return { stats };
};
