/** UpdateRuntimeConfig: the node's pod CIDR goes to pod networking (§2.1) and is stored. */
import type { UnaryRpc } from '../rpc.js';
import { KIND, type Msg } from '../state/model.js';

/** UpdateRuntimeConfig handler. */
export const updateRuntimeConfig: UnaryRpc = async (d, req) => {
  const rc = (req['runtime_config'] ?? {}) as Msg;
  const cidr = String(((rc['network_config'] ?? {}) as Msg)['pod_cidr'] ?? '');
  if (cidr !== '') {
    d.runtime.network.setPodCidr(cidr);
    await d.runtime.store.put(KIND.runtime, 'config', { podCidr: cidr });
  }
  return {};
};
