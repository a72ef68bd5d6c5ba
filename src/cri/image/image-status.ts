/**
 * ImageStatus: a real id, non-zero size and the config user (runAsNonRoot) also for guest-pull
 * images, whose layers never reached the host (cri-kata.md §3.9 option A); absent ⇒ image unset.
 */
import { toCriImage } from '../images.js';
import type { UnaryRpc } from '../rpc.js';
import { requireMessage, requireString } from '../validate.js';

/** ImageStatus handler. */
export const imageStatus: UnaryRpc = async (d, req) => {
  const spec = requireMessage(req, 'image');
  const image = requireString(spec, 'image', 'image.image');
  const rec = d.images === undefined ? undefined : await d.images.find(image);
  if (rec === undefined) {
    if (d.passthrough !== undefined) return d.passthrough.call('image', 'ImageStatus', req);
    return { image: null, info: {} };
  }
  const info =
    req['verbose'] === true
      ? { info: JSON.stringify({ layersOnHost: rec.layersPulled, manifestDigest: rec.manifestDigest }) }
      : {};
  return { image: toCriImage(rec), info };
};
