/** RunPodSandbox: create-once by metadata name, detached from the kubelet's deadline (§2.5–2.6). */
import type { UnaryRpc } from '../rpc.js';
import { checkPodSandboxConfig, requireMessage } from '../validate.js';

/** RunPodSandbox handler. */
export const runPodSandbox: UnaryRpc = async (d, req, ctx) => {
  const config = requireMessage(req, 'config');
  checkPodSandboxConfig(config);
  const handlerName = typeof req['runtime_handler'] === 'string' ? req['runtime_handler'] : '';
  const h = d.runtime.handler(handlerName);
  if (h.kind === 'passthrough' && d.passthrough !== undefined)
    return d.passthrough.call('runtime', 'RunPodSandbox', req);
  const id = await d.runtime.runPodSandbox(config, handlerName, ctx);
  return { pod_sandbox_id: id };
};
