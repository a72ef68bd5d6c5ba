/** ListImages: the host image store (host pulls and guest-pull metadata) merged with the pass-through runtime's. */
import { toCriImage } from '../images.js';
import { foreignList, type UnaryRpc } from '../rpc.js';
import type { Msg } from '../state/model.js';

/** ListImages handler. */
export const listImages: UnaryRpc = async (d, req) => {
  const wanted = String((((req['filter'] ?? {}) as Msg)['image'] as Msg | null)?.['image'] ?? '');
  const images: Msg[] = [];
  if (d.images !== undefined) {
    if (wanted !== '') {
      const rec = await d.images.find(wanted);
      if (rec !== undefined) images.push(toCriImage(rec));
    } else for (const rec of await d.images.list()) images.push(toCriImage(rec));
  }
  images.push(...(await foreignList(d, 'image', 'ListImages', req, 'images')));
  return { images };
};
