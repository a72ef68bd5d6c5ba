/**
 * The guest-pull KataVirtualVolume (cri-kata.md §3.3) and the single rootfs mount that carries
 * it to Kata's shim as `io.katacontainers.volume=<base64 JSON>` (§3.4 step 1–3).
 */
import { CocoonError } from '../common/errors.js';
import { KATA_VOLUME_OPTION_PREFIX } from './annotations.js';

/** `volume_type` of a guest-pull volume (§3.3). */
export const VOLUME_TYPE_IMAGE_GUEST_PULL = 'image_guest_pull';

/**
 * Mount type that makes Kata's shim skip host mounting (`IsNydusRootFSType`, §3.4 step 1);
 * CRI-O and nydus-snapshotter use the same value.
 */
export const GUEST_PULL_MOUNT_TYPE = 'fuse.nydus-overlayfs';

/** Upper bound on an encoded volume option; annotations and mount options are small. */
export const MAX_VOLUME_OPTION_BYTES = 1 << 20;

/** A guest-pull KataVirtualVolume as JSON (§3.3 table; keys in the order Kata's Go type writes). */
export interface GuestPullVolume {
  volume_type: typeof VOLUME_TYPE_IMAGE_GUEST_PULL;
  source: string;
  fs_type: string;
  options: string[];
  image_pull: { metadata: Record<string, string> };
}

/** A containerd.types.Mount (type=1, source=2, target=3, options=4). */
export interface TaskMount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

/** Input of guestPullVolume / guestPullMount. */
export interface GuestPullInput {
  /** The image reference (Kata replaces it by io.kubernetes.cri.image-name, §3.4; kept for runtime-rs). */
  readonly source: string;
  /** image_pull.metadata; Kata merges the container's OCI annotations over it. Default {}. */
  readonly metadata?: Readonly<Record<string, string>>;
}

function invalid(message: string, stage: string, cause?: unknown): CocoonError {
  return new CocoonError('ERR_KATA_VOLUME_INVALID', message, { cause, details: { stage } });
}

function stringMap(v: unknown, stage: string): Record<string, string> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw invalid('metadata must be an object', stage);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw invalid(`metadata value of ${k} must be a string`, stage);
    out[k] = val;
  }
  return out;
}

/**
 * Builds the guest-pull volume. `image_pull.metadata` is always an object, never null: Kata's
 * Go runtime writes into that map and a null map fails IsValid (§3.3).
 */
export function guestPullVolume(input: GuestPullInput): GuestPullVolume {
  if (typeof input.source !== 'string' || input.source.length === 0) {
    throw invalid('source (image reference) must be non-empty', 'source');
  }
  return {
    volume_type: VOLUME_TYPE_IMAGE_GUEST_PULL,
    source: input.source,
    fs_type: 'overlayfs',
    options: [],
    image_pull: { metadata: stringMap(input.metadata ?? {}, 'metadata') },
  };
}

/** The mount option `io.katacontainers.volume=<standard base64 with padding of the UTF-8 JSON>` (§3.3). */
export function encodeVolumeOption(volume: GuestPullVolume): string {
  return KATA_VOLUME_OPTION_PREFIX + Buffer.from(JSON.stringify(volume), 'utf8').toString('base64');
}

/**
 * The one rootfs mount for CreateTaskRequest.rootfs: Kata considers the rootfs only when there
 * is exactly one mount (§3.4 step 1), so callers pass this mount alone.
 */
export function guestPullMount(input: GuestPullInput): TaskMount {
  return {
    type: GUEST_PULL_MOUNT_TYPE,
    source: 'overlay',
    target: '',
    options: [encodeVolumeOption(guestPullVolume(input))],
  };
}

/** What the receiving side (Kata, the simulated guest) reads from a guest-pull rootfs mount. */
export interface DecodedGuestPull {
  readonly volume: GuestPullVolume;
  readonly source: string;
  readonly metadata: Record<string, string>;
}

/** Decodes and validates one `io.katacontainers.volume=` option value (base64 JSON). */
export function decodeVolumeOption(option: string): DecodedGuestPull {
  if (!option.startsWith(KATA_VOLUME_OPTION_PREFIX)) {
    throw invalid(`option lacks the ${KATA_VOLUME_OPTION_PREFIX} prefix`, 'prefix');
  }
  const b64 = option.slice(KATA_VOLUME_OPTION_PREFIX.length);
  if (b64.length > MAX_VOLUME_OPTION_BYTES) throw invalid('volume option too large', 'size');
  // Standard base64 with padding (Go base64.StdEncoding): reject anything else instead of
  // letting Buffer silently skip invalid characters.
  if (b64.length === 0 || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
    throw invalid('volume option is not standard base64', 'base64');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
  } catch (e) {
    throw invalid('volume option is not JSON', 'json', e);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalid('volume JSON is not an object', 'json');
  }
  const o = parsed as Record<string, unknown>;
  // Snapshot each untrusted member once (STYLE rule 4).
  const volumeType = o['volume_type'];
  const source = o['source'];
  const fsType = o['fs_type'];
  const options = o['options'];
  const imagePull = o['image_pull'];
  if (volumeType !== VOLUME_TYPE_IMAGE_GUEST_PULL) {
    throw invalid(`volume_type must be ${VOLUME_TYPE_IMAGE_GUEST_PULL}`, 'volume_type');
  }
  // Kata's Rust validate() requires source for guest-pull volumes (§3.3).
  if (typeof source !== 'string' || source.length === 0) throw invalid('source must be non-empty', 'source');
  if (fsType !== undefined && typeof fsType !== 'string')
    throw invalid('fs_type must be a string', 'fs_type');
  if (options !== undefined && (!Array.isArray(options) || options.some((x) => typeof x !== 'string'))) {
    throw invalid('options must be an array of strings', 'options');
  }
  // Go IsValid(): image_pull, when present, needs a non-null metadata map; we require it.
  if (imagePull === null || typeof imagePull !== 'object' || Array.isArray(imagePull)) {
    throw invalid('image_pull must be an object', 'image_pull');
  }
  const metadata = stringMap((imagePull as Record<string, unknown>)['metadata'], 'image_pull.metadata');
  const volume: GuestPullVolume = {
    volume_type: VOLUME_TYPE_IMAGE_GUEST_PULL,
    source,
    fs_type: fsType ?? '',
    options: [...((options as string[] | undefined) ?? [])],
    image_pull: { metadata },
  };
  return { volume, source, metadata: { ...metadata } };
}

/**
 * Decodes the guest-pull volume of a CreateTaskRequest rootfs: exactly one mount (§3.4 step 1)
 * with exactly one `io.katacontainers.volume=` option.
 */
export function decodeGuestPullMount(rootfs: TaskMount | readonly TaskMount[]): DecodedGuestPull {
  const mounts = Array.isArray(rootfs) ? (rootfs as readonly TaskMount[]) : [rootfs as TaskMount];
  if (mounts.length !== 1) throw invalid(`expected exactly one rootfs mount, got ${mounts.length}`, 'mounts');
  const options = mounts[0]!.options ?? [];
  const vol = options.filter((o) => typeof o === 'string' && o.startsWith(KATA_VOLUME_OPTION_PREFIX));
  if (vol.length !== 1) {
    throw invalid(`expected exactly one ${KATA_VOLUME_OPTION_PREFIX} option, got ${vol.length}`, 'options');
  }
  return decodeVolumeOption(vol[0]!);
}
