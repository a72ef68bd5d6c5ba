/**
 * Image references and digests, normalised the way Docker and containerd do
 * (distribution/reference grammar): `busybox` → `docker.io/library/busybox:latest`.
 */
import { CocoonError } from '../common/errors.js';

/** Registry host that unqualified names belong to. */
export const DEFAULT_DOMAIN = 'docker.io';
/** Repository namespace Docker puts single-component Docker Hub names under. */
export const OFFICIAL_REPO_PREFIX = 'library/';
/** Tag assumed when a reference has neither tag nor digest. */
export const DEFAULT_TAG = 'latest';
/** API endpoint host of Docker Hub (docker.io is not itself the API host). */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
/** Longest repository name (domain + path) the reference grammar allows. */
export const NAME_MAX_LENGTH = 255;

/** A parsed, normalised image reference. */
export interface ImageRef {
  /** Registry host, with port when given (`docker.io`, `127.0.0.1:5000`). */
  readonly domain: string;
  /** Repository path inside the registry (`library/busybox`). */
  readonly path: string;
  /** `domain/path`, the fully-qualified repository name. */
  readonly name: string;
  /** Tag; `latest` when the input had neither tag nor digest; absent for digest-only refs. */
  readonly tag?: string;
  /** Digest (`sha256:<hex>`) when the input pinned one. */
  readonly digest?: string;
  /** Canonical string form: `name[:tag][@digest]`. */
  readonly canonical: string;
  /** What a registry API call names: the digest when pinned, else the tag. */
  readonly reference: string;
}

/** A parsed content digest. */
export interface Digest {
  /** Hash algorithm: `sha256` or `sha512`. */
  readonly algorithm: 'sha256' | 'sha512';
  /** Lower-case hex encoding. */
  readonly hex: string;
}

// distribution/reference regexp.go: path components, tags and domain components.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[0-9a-fA-F:.]+\]$/;
const DIGEST_HEX_LENGTH = { sha256: 64, sha512: 128 } as const;

function invalid(ref: string, why: string): CocoonError {
  return new CocoonError('ERR_OCI_REF_INVALID', `invalid image reference ${JSON.stringify(ref)}: ${why}`, {
    details: { ref, reason: why },
  });
}

/** Parses `algorithm:hex`; throws ERR_OCI_REF_INVALID on an unknown algorithm or bad hex. */
export function parseDigest(s: string): Digest {
  const m = /^([a-z0-9]+):([0-9a-f]+)$/.exec(s);
  if (m === null) throw invalid(s, 'digest must be algorithm:lowercase-hex');
  const algorithm = m[1]!;
  if (algorithm !== 'sha256' && algorithm !== 'sha512')
    throw invalid(s, `unsupported digest algorithm ${algorithm}`);
  if (m[2]!.length !== DIGEST_HEX_LENGTH[algorithm])
    throw invalid(s, `${algorithm} digest needs ${DIGEST_HEX_LENGTH[algorithm]} hex digits`);
  return { algorithm, hex: m[2]! };
}

/** True when `s` is a well-formed supported digest. */
export function isDigest(s: string): boolean {
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

function validDomain(d: string): boolean {
  let host = d;
  const portMatch = /^(.*):([0-9]+)$/.exec(d);
  if (portMatch !== null) {
    host = portMatch[1]!;
    const port = Number(portMatch[2]);
    if (port < 1 || port > 65535) return false;
  }
  if (IPV6_HOST.test(host)) return true;
  return host.length > 0 && host.split('.').every((c) => DOMAIN_COMPONENT.test(c));
}

/**
 * Parses and normalises an image reference (Docker rules): the first component is a domain
 * only if it contains `.` or `:` or is `localhost`; Docker Hub single names get `library/`;
 * `index.docker.io` becomes `docker.io`; no tag and no digest means `:latest`.
 * Throws ERR_OCI_REF_INVALID on anything else (upper case, empty components, bad tag...).
 */
export function parseImageRef(ref: string): ImageRef {
  if (typeof ref !== 'string' || ref.length === 0) throw invalid(String(ref), 'empty reference');
  if (ref.length > 4096) throw invalid(ref.slice(0, 64), 'reference too long');
  if (/\s/.test(ref)) throw invalid(ref, 'whitespace is not allowed');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    parseDigest(digest);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref, `invalid tag ${JSON.stringify(tag)}`);
  }
  if (rest.length === 0) throw invalid(ref, 'empty repository name');
  const parts = rest.split('/');
  let domain = DEFAULT_DOMAIN;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    domain = first;
    parts.shift();
    if (!validDomain(domain)) throw invalid(ref, `invalid registry host ${JSON.stringify(domain)}`);
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  for (const p of parts) {
    if (!PATH_COMPONENT.test(p)) throw invalid(ref, `invalid repository path component ${JSON.stringify(p)}`);
  }
  let path = parts.join('/');
  if (domain === DEFAULT_DOMAIN && parts.length === 1) path = OFFICIAL_REPO_PREFIX + path;
  const name = `${domain}/${path}`;
  if (name.length > NAME_MAX_LENGTH) throw invalid(ref, `repository name longer than ${NAME_MAX_LENGTH}`);
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  const canonical = name + (tag !== undefined ? `:${tag}` : '') + (digest !== undefined ? `@${digest}` : '');
  return {
    domain,
    path,
    name,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    canonical,
    reference: digest ?? tag!,
  };
}

/** The host the registry API lives on for `domain` (Docker Hub's API is not at docker.io). */
export function apiHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DOCKER_HUB_API_HOST : domain;
}

/** `name:tag` of a ref, or undefined when it is digest-only. */
export function repoTag(ref: ImageRef): string | undefined {
  return ref.tag === undefined ? undefined : `${ref.name}:${ref.tag}`;
}

/** `name@digest` for a repository name and a manifest digest. */
export function repoDigest(ref: ImageRef, manifestDigest: string): string {
  return `${ref.name}@${manifestDigest}`;
}
