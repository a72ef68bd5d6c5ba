/** StreamPodSandboxes (1.36, CRIListStreaming): the ListPodSandbox items, in batches of STREAM_BATCH. */
import { writeBatches, type StreamRpc } from '../rpc.js';
import { listPodSandbox } from './sandbox-list.js';

/** StreamPodSandboxes handler. */
export const streamPodSandboxes: StreamRpc = async (d, req, out) => {
  const r = await listPodSandbox(d, req, out.ctx);
  writeBatches(out, 'pod_sandboxes', (r['items'] as unknown[]) ?? []);
};
