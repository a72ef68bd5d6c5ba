/** Status: RuntimeReady and NetworkReady (the kubelet needs both, §1.3), handlers and features. */
import type { UnaryRpc } from '../rpc.js';

/** Status handler. */
export const status: UnaryRpc = async (d, req) => {
  const net = await d.runtime.network.status();
  const handlers = Object.keys(d.config.handlers).sort();
  const info =
    req['verbose'] === true
      ? {
          config: JSON.stringify({
            defaultRuntimeHandler: d.config.defaultRuntimeHandler,
            handlers,
            queue: d.runtime.queueDepth(),
          }),
        }
      : {};
  return {
    status: {
      conditions: [
        { type: 'RuntimeReady', status: true, reason: '', message: '' },
        { type: 'NetworkReady', status: net.ready, reason: net.reason, message: net.message },
      ],
    },
    info,
    // The default handler is also listed under the empty name, as containerd does (1.30).
    runtime_handlers: ['', ...handlers].map((name) => ({
      name,
      features: { recursive_read_only_mounts: false, user_namespaces: false },
    })),
    features: {
      supplemental_groups_policy: false,
      user_namespaces_host_network: false,
      mount_options: false,
    },
  };
};
