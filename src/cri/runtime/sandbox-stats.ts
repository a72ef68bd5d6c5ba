/** PodSandboxStats (1.23): container samples summed into the pod. */
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import { podStatsMessage } from '../stats.js';
import { requireString } from '../validate.js';

/** PodSandboxStats handler. */
export const podSandboxStats: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'pod_sandbox_id');
  const fwd = await forwardForeign(d, 'pod', id, 'runtime', 'PodSandboxStats', req);
  if (fwd !== undefined) return fwd;
  return { stats: await podStatsMessage(d.runtime, d.runtime.pod(id), d.config.stateDir) };
};
