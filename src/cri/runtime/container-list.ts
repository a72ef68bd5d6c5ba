/** ListContainers: ours merged with the pass-through runtime's. */
import { foreignList, type UnaryRpc } from '../rpc.js';
import { containerListMessage } from '../runtime.js';
import type { Msg } from '../state/model.js';
import { filterContainers } from '../stats.js';

/** ListContainers handler. */
export const listContainers: UnaryRpc = async (d, req) => {
  const containers = filterContainers(d.runtime, (req['filter'] ?? null) as Msg | null, (c) =>
    String(containerListMessage(c)['state']),
  ).map(containerListMessage);
  containers.push(...(await foreignList(d, 'runtime', 'ListContainers', req, 'containers')));
  return { containers };
};
