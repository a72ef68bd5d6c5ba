/** ListMetricDescriptors (1.26): a static set, as the kubelet reads it once (§6). */
import type { UnaryRpc } from '../rpc.js';
import { metricDescriptors } from '../stats.js';

/** ListMetricDescriptors handler. */
export const listMetricDescriptors: UnaryRpc = async () => ({ descriptors: metricDescriptors() });
