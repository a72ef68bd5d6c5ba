/** StreamContainers (1.36): the ListContainers entries, in batches of STREAM_BATCH. */
import { writeBatches, type StreamRpc } from '../rpc.js';
import { listContainers } from './container-list.js';

/** StreamContainers handler. */
export const streamContainers: StreamRpc = async (d, req, out) => {
  const r = await listContainers(d, req, out.ctx);
  writeBatches(out, 'containers', (r['containers'] as unknown[]) ?? []);
};
