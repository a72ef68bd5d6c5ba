/** StreamPodSandboxStats (1.36). */
import { writeBatches, type StreamRpc } from '../rpc.js';
import { listPodSandboxStats } from './sandbox-stats-list.js';

/** StreamPodSandboxStats handler. */
export const streamPodSandboxStats: StreamRpc = async (d, req, out) => {
  const r = await listPodSandboxStats(d, req, out.ctx);
  writeBatches(out, 'pod_sandbox_stats', (r['stats'] as unknown[]) ?? []);
};
