/** StreamImages (1.36): the ListImages entries, in batches of STREAM_BATCH. */
import { writeBatches, type StreamRpc } from '../rpc.js';
import { listImages } from './image-list.js';

/** StreamImages handler. */
export const streamImages: StreamRpc = async (d, req, out) => {
  const r = await listImages(d, req, out.ctx);
  writeBatches(out, 'images', (r['images'] as unknown[]) ?? []);
};
