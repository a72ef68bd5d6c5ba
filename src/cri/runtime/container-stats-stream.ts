/** StreamContainerStats (1.36): the ListContainerStats entries, in batches of STREAM_BATCH. */
import { writeBatches, type StreamRpc } from '../rpc.js';
import { listContainerStats } from './container-stats-list.js';

/** StreamContainerStats handler. */
export const streamContainerStats: StreamRpc = async (d, req, out) => {
  const r = await listContainerStats(d, req, out.ctx);
  writeBatches(out, 'container_stats', (r['stats'] as unknown[]) ?? []);
};
