/**
 * Image handling behind the ImageService RPCs. Guest-pull handlers get manifest + config only
 * (cri-kata.md §3.9 option A: ImageStatus answers a real id, size and user and no layer blob is
 * requested); other handlers get a full host pull into src/oci's content-addressed store.
 */
import { CocoonError, isCocoonError } from '../common/errors.js';
import type { CriConfig, CriHandlerConfig } from '../config/sections/cri.js';
import { parseImageUser, type ImageRecord, type ImageStore, type RegistryAuth } from '../oci/index.js';
import type { Msg } from './state/model.js';

/** Pod annotation containerd honours for the pull's handler (cri-kata.md §1.4). */
export const RUNTIME_HANDLER_ANNOTATION = 'io.containerd.cri.runtime-handler';

/** Finds the handler of the sandbox a PullImageRequest.sandbox_config describes. */
export type SandboxHandlerLookup = (sandboxConfig: Msg | null | undefined) => string | undefined;

/** Image operations over the OCI image store. */
export class ImageManager {
  readonly store: ImageStore;
  private readonly config: CriConfig;
  private readonly lookup: SandboxHandlerLookup;

  constructor(store: ImageStore, config: CriConfig, lookup: SandboxHandlerLookup) {
    this.store = store;
    this.config = config;
    this.lookup = lookup;
  }

  /**
   * The handler a pull is for: ImageSpec.runtime_handler (1.29+, gated), else the sandbox found
   * through sandbox_config.metadata, else the containerd pod annotation, else the default.
   */
  handlerFor(spec: Msg | null | undefined, sandboxConfig: Msg | null | undefined): CriHandlerConfig {
    const explicit = typeof spec?.['runtime_handler'] === 'string' ? (spec['runtime_handler'] as string) : '';
    const annotations = (sandboxConfig?.['annotations'] ?? {}) as Record<string, string>;
    const name =
      explicit ||
      this.lookup(sandboxConfig) ||
      annotations[RUNTIME_HANDLER_ANNOTATION] ||
      this.config.defaultRuntimeHandler;
    const h = this.config.handlers[name];
    if (h === undefined) {
      throw new CocoonError('ERR_CRI_UNKNOWN_HANDLER', `runtime handler "${name}" is not configured`, {
        details: { field: 'image.runtime_handler' },
      });
    }
    return h;
  }

  /** PullImage: returns the image id used as image_ref. */
  async pull(
    reference: string,
    auth: RegistryAuth | undefined,
    handler: CriHandlerConfig,
    signal?: AbortSignal,
  ): Promise<string> {
    const opts = { ...(auth === undefined ? {} : { auth }), ...(signal === undefined ? {} : { signal }) };
    try {
      const rec = handler.guestPull
        ? await this.store.pullMetadata(reference, opts)
        : await this.store.pull(reference, opts);
      return rec.id;
    } catch (e) {
      if (isCocoonError(e) && e.code === 'ERR_OCI_REF_INVALID') {
        throw new CocoonError('ERR_CRI_INVALID_ARGUMENT', `image.image: ${e.message}`, {
          cause: e,
          details: { field: 'image.image' },
        });
      }
      // cri-api pkg/errors: a "RegistryUnavailable" prefix becomes the kubelet's waiting reason.
      const unreachable = isCocoonError(e) && /UNREACHABLE|TIMEOUT|CONNECT/.test(e.code);
      const msg = `${unreachable ? 'RegistryUnavailable: ' : ''}pulling ${reference}: ${(e as Error).message}`;
      throw new CocoonError('ERR_CRI_IMAGE_PULL', msg, { cause: e, details: { image: reference } });
    }
  }

  /** Looks an image up by id, digest or reference; undefined when absent. */
  async find(image: string): Promise<ImageRecord | undefined> {
    try {
      return await this.store.get(image);
    } catch (e) {
      if (isCocoonError(e) && e.code === 'ERR_OCI_REF_INVALID') {
        throw new CocoonError('ERR_CRI_INVALID_ARGUMENT', `image.image: ${e.message}`, {
          cause: e,
          details: { field: 'image.image' },
        });
      }
      throw e;
    }
  }

  /** Every image. */
  list(): Promise<ImageRecord[]> {
    return this.store.list();
  }

  /** RemoveImage: idempotent. */
  async remove(image: string): Promise<void> {
    const rec = await this.find(image);
    if (rec !== undefined) await this.store.remove(rec.id);
  }
}

/** The CRI `Image` message for a store record (kubelet checks: id non-empty, size != 0, §1.3). */
export function toCriImage(rec: ImageRecord): Msg {
  const u = parseImageUser(rec.user);
  return {
    id: rec.id,
    repo_tags: [...rec.repoTags],
    repo_digests: [...rec.repoDigests],
    // A zero size makes the kubelet treat the image as broken; an image has at least its config.
    size: String(Math.max(rec.size, 1)),
    ...(u.uid === undefined ? {} : { uid: { value: String(u.uid) } }),
    username: u.username ?? '',
    spec: { image: rec.id, annotations: { ...rec.annotations } },
    pinned: false,
  };
}
