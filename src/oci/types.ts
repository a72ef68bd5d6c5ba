/**
 * OCI image-spec and Docker v2 schema 2 shapes the client reads (image-spec v1.1 manifest.md,
 * image-index.md, config.md; Docker "Image Manifest V 2, Schema 2").
 */

/** Media types the client accepts and produces. */
export const MediaType = {
  OCI_INDEX: 'application/vnd.oci.image.index.v1+json',
  OCI_MANIFEST: 'application/vnd.oci.image.manifest.v1+json',
  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  OCI_LAYER: 'application/vnd.oci.image.layer.v1.tar',
  OCI_LAYER_GZIP: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OCI_LAYER_ZSTD: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OCI_LAYER_NONDIST_GZIP: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  DOCKER_MANIFEST_LIST: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DOCKER_MANIFEST: 'application/vnd.docker.distribution.manifest.v2+json',
  DOCKER_CONFIG: 'application/vnd.docker.container.image.v1+json',
  DOCKER_LAYER_GZIP: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DOCKER_FOREIGN_LAYER_GZIP: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** Manifest-level media types (what `Accept` lists). */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.OCI_INDEX,
  MediaType.OCI_MANIFEST,
  MediaType.DOCKER_MANIFEST_LIST,
  MediaType.DOCKER_MANIFEST,
];

/** A content descriptor (image-spec descriptor.md). */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: Platform;
}

/** A platform (image-spec image-index.md `platform`). */
export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
}

/** An image manifest (OCI or Docker schema 2). */
export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An image index / manifest list. */
export interface ImageIndex {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly manifests: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The `config` member of an image config (what a container runs with). */
export interface ImageRuntimeConfig {
  readonly User?: string;
  readonly Env?: readonly string[];
  readonly Entrypoint?: readonly string[] | null;
  readonly Cmd?: readonly string[] | null;
  readonly WorkingDir?: string;
  readonly Labels?: Readonly<Record<string, string>> | null;
  readonly StopSignal?: string;
  readonly ExposedPorts?: Readonly<Record<string, unknown>> | null;
  readonly Volumes?: Readonly<Record<string, unknown>> | null;
}

/** An image config blob (image-spec config.md). */
export interface ImageConfig {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly created?: string;
  readonly config?: ImageRuntimeConfig;
  readonly rootfs: { readonly type: string; readonly diff_ids: readonly string[] };
  readonly history?: readonly unknown[];
}

/** Per-call registry credentials, shaped like CRI `AuthConfig`. */
export interface RegistryAuth {
  /** User name for basic auth or for the token service. */
  readonly username?: string;
  /** Password for basic auth or for the token service. */
  readonly password?: string;
  /** base64 of `username:password` (Docker config `auth`), used when username is absent. */
  readonly auth?: string;
  /** OAuth2 refresh token exchanged at the token service (Docker `identitytoken`). */
  readonly identityToken?: string;
  /** A bearer token sent as is (Docker `registrytoken`). */
  readonly registryToken?: string;
}
