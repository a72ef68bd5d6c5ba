/** StreamPodSandboxMetrics (1.36). */
import { writeBatches, type StreamRpc } from '../rpc.js';
import { listPodSandboxMetrics } from './sandbox-metrics-list.js';

/** StreamPodSandboxMetrics handler. */
export const streamPodSandboxMetrics: StreamRpc = async (d, req, out) => {
  const r = await listPodSandboxMetrics(d, req, out.ctx);
  writeBatches(out, 'pod_sandbox_metrics', (r['pod_metrics'] as unknown[]) ?? []);
};
