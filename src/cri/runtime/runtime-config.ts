/** RuntimeConfig (1.28): the cgroup driver the kubelet should use. */
import type { UnaryRpc } from '../rpc.js';

/** RuntimeConfig handler. */
export const runtimeConfig: UnaryRpc = async (d) => ({
  linux: { cgroup_driver: d.config.cgroupDriver === 'systemd' ? 'SYSTEMD' : 'CGROUPFS' },
});
