/**
 * PullImage: for a guest-pull handler only manifest + config are fetched (no layer blob ever);
 * otherwise a full host pull. The handler comes from ImageSpec.runtime_handler, else the pod
 * found through sandbox_config (cri-kata.md §1.4); passthrough handlers are forwarded.
 */
import type { RegistryAuth } from '../../oci/index.js';
import { CocoonError } from '../../common/errors.js';
import type { UnaryRpc } from '../rpc.js';
import type { Msg } from '../state/model.js';
import { requireMessage, requireString } from '../validate.js';

function authOf(a: Msg | null | undefined): RegistryAuth | undefined {
  if (a === null || a === undefined) return undefined;
  const pick = (k: string): string | undefined =>
    typeof a[k] === 'string' && a[k] !== '' ? (a[k] as string) : undefined;
  const out: Record<string, string> = {};
  for (const [from, to] of [
    ['username', 'username'],
    ['password', 'password'],
    ['auth', 'auth'],
    ['identity_token', 'identityToken'],
    ['registry_token', 'registryToken'],
  ] as const) {
    const v = pick(from);
    if (v !== undefined) out[to] = v;
  }
  return Object.keys(out).length === 0 ? undefined : (out as RegistryAuth);
}

/** PullImage handler. */
export const pullImage: UnaryRpc = async (d, req, ctx) => {
  const spec = requireMessage(req, 'image');
  const image = requireString(spec, 'image', 'image.image');
  const sandboxConfig = (req['sandbox_config'] ?? null) as Msg | null;
  if (d.images === undefined)
    throw new CocoonError('ERR_CRI_FAILED_PRECONDITION', 'no image store configured');
  const handler = d.images.handlerFor(spec, sandboxConfig);
  if (handler.kind === 'passthrough' && d.passthrough !== undefined)
    return d.passthrough.call('image', 'PullImage', req);
  // The kubelet puts no deadline on PullImage (§2.3) but may cancel it.
  const abort = new AbortController();
  void ctx.whenCancelled.then(() => abort.abort());
  return {
    image_ref: await d.images.pull(image, authOf((req['auth'] ?? null) as Msg | null), handler, abort.signal),
  };
};
