/** ListPodSandboxMetrics (1.26): cAdvisor-named metrics from backend samples. */
import type { UnaryRpc } from '../rpc.js';
import { podMetrics } from '../stats.js';

/** ListPodSandboxMetrics handler. */
export const listPodSandboxMetrics: UnaryRpc = async (d) => {
  const pod_metrics = [];
  for (const p of d.runtime.pods()) pod_metrics.push(await podMetrics(d.runtime, p));
  return { pod_metrics };
};
