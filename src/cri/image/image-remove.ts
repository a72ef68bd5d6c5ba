/** RemoveImage: idempotent; removed from every store (ours and the pass-through runtime's). */
import type { UnaryRpc } from '../rpc.js';
import { PassthroughError } from '../passthrough.js';
import { requireMessage, requireString } from '../validate.js';

/** gRPC NOT_FOUND. */
const GRPC_NOT_FOUND = 5;

/** RemoveImage handler. */
export const removeImage: UnaryRpc = async (d, req) => {
  const spec = requireMessage(req, 'image');
  const image = requireString(spec, 'image', 'image.image');
  if (d.images !== undefined) await d.images.remove(image);
  if (d.passthrough !== undefined) {
    try {
      await d.passthrough.call('image', 'RemoveImage', req);
    } catch (e) {
      if (!(e instanceof PassthroughError && e.grpcCode === GRPC_NOT_FOUND)) throw e;
    }
  }
  return {};
};
