/**
 * Public API of `src/oci`: image references, the OCI distribution client, the layer
 * unpacker, a tiny tar writer (test images) and the content-addressed image store.
 * See docs/oci.md.
 */
export {
  parseImageRef,
  parseDigest,
  isDigest,
  apiHost,
  repoTag,
  repoDigest,
  DEFAULT_DOMAIN,
  DEFAULT_TAG,
  type ImageRef,
  type Digest,
} from './ref.js';
export {
  RegistryClient,
  hostPlatform,
  isLoopbackHost,
  parseChallenge,
  parseManifest,
  parseIndex,
  parseImageConfig,
  selectPlatform,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_BLOB_IDLE_TIMEOUT_MS,
  type FetchLike,
  type RegistryClientOptions,
  type ResolveOptions,
  type FetchBlobOptions,
  type RegistryCallOptions,
  type ResolvedImage,
  type RegistryStats,
  type BlobStream,
} from './registry-client.js';
export { sha256Digest, verifyBytes, DigestVerifier } from './digest.js';
export {
  unpackLayer,
  layerCompression,
  resolveInRoot,
  WHITEOUT_PREFIX,
  WHITEOUT_OPAQUE,
  type UnpackOptions,
  type UnpackResult,
  type SkippedEntry,
  type LayerSource,
} from './unpack.js';
export {
  readTar,
  writeTar,
  type TarEntry,
  type TarEntryType,
  type TarWriteEntry,
  type TarReadItem,
} from './tar.js';
export {
  ImageStore,
  parseImageUser,
  DEFAULT_LAYER_CONCURRENCY,
  DEFAULT_FS_INFO_MAX_AGE_MS,
  DEFAULT_COPY_TIMEOUT_MS,
  type ImageRecord,
  type ImageStoreOptions,
  type PullOptions,
  type FsInfo,
  type ImageUser,
} from './image-store.js';
export {
  MediaType,
  MANIFEST_MEDIA_TYPES,
  type Descriptor,
  type Platform,
  type ImageManifest,
  type ImageIndex,
  type ImageConfig,
  type ImageRuntimeConfig,
  type RegistryAuth,
} from './types.js';
export { pullRootfs, type PullRootfsOptions } from './pull-rootfs.js';
