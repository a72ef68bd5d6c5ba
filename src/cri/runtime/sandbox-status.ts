/** PodSandboxStatus: id, metadata, created_at always set (kubelet check, §1.3); pod IP from networking. */
import { nanos } from '../ids.js';
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import { containerStatusMessage, podStatusMessage } from '../runtime.js';
import { requireString } from '../validate.js';

/** PodSandboxStatus handler. */
export const podSandboxStatus: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'pod_sandbox_id');
  const fwd = await forwardForeign(d, 'pod', id, 'runtime', 'PodSandboxStatus', req);
  if (fwd !== undefined) return fwd;
  const pod = d.runtime.pod(id);
  const info =
    req['verbose'] === true
      ? { info: JSON.stringify({ handler: pod.handler, phase: pod.phase, netns: pod.netnsPath ?? '' }) }
      : {};
  return {
    status: podStatusMessage(pod),
    info,
    // Evented PLEG fields (1.26): the pod's containers and the time of this answer.
    containers_statuses: d.runtime
      .containers()
      .filter((c) => c.podId === pod.id)
      .map(containerStatusMessage),
    timestamp: nanos(Date.now()),
  };
};
