/** ListPodSandbox: our pods (created ones only, §2.5 item 3) merged with the pass-through runtime's. */
import { foreignList, type UnaryRpc } from '../rpc.js';
import { podListMessage } from '../runtime.js';
import type { Msg } from '../state/model.js';
import { filterPods } from '../stats.js';

/** ListPodSandbox handler. */
export const listPodSandbox: UnaryRpc = async (d, req) => {
  const items = filterPods(d.runtime, (req['filter'] ?? null) as Msg | null).map(podListMessage);
  items.push(...(await foreignList(d, 'runtime', 'ListPodSandbox', req, 'items')));
  return { items };
};
