/**
 * Initdata (guest.md §4): the TOML document, its annotation
 * `io.katacontainers.config.hypervisor.cc_init_data` (standard base64 of gzip), and its digest
 * as bound into TDX MRCONFIGID (48 bytes) and SEV-SNP HOST_DATA (32 bytes).
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parse as parseToml } from 'smol-toml';
import { CocoonError } from '../common/errors.js';

/** The only initdata version Kata accepts (guest.md §4.1). */
export const INITDATA_VERSION = '0.1.0';

/** Digest algorithms Kata accepts, as the exact strings it checks (guest.md §4.1). */
export const INITDATA_ALGORITHMS = ['sha256', 'sha384', 'sha512'] as const;

/** One of the initdata digest algorithms. */
export type InitDataAlgorithm = (typeof INITDATA_ALGORITHMS)[number];

/** TDX MRCONFIGID size in bytes (guest.md §4.3). */
export const TDX_MRCONFIGID_SIZE = 48;

/** SEV-SNP HOST_DATA size in bytes (guest.md §4.3). */
export const SNP_HOSTDATA_SIZE = 32;

/** Largest decompressed initdata accepted when decoding (bounds a gzip bomb). */
export const DEFAULT_MAX_INITDATA_BYTES = 4 << 20;

/** A validated initdata document (guest.md §4.1 table). */
export interface InitDataDocument {
  readonly version: string;
  readonly algorithm: InitDataAlgorithm;
  /** `[data]`: file name → content ("aa.toml", "cdh.toml", "policy.rego", others). */
  readonly data: Readonly<Record<string, string>>;
}

/** The encoded forms and digests of one initdata TOML. */
export interface EncodedInitData {
  /** Value of io.katacontainers.config.hypervisor.cc_init_data: base64(gzip(toml)). */
  readonly annotation: string;
  /** The hash of the exact TOML bytes with the document's algorithm (guest.md §4.1). */
  readonly digest: Buffer;
  /** The digest adjusted to TDX MRCONFIGID: zero-padded or truncated to 48 bytes (§4.3). */
  readonly tdxMrConfigId: Buffer;
  /** The digest adjusted to SEV-SNP HOST_DATA: truncated to 32 bytes (§4.3). */
  readonly snpHostData: Buffer;
  /** The parsed, validated document. */
  readonly document: InitDataDocument;
  /** The exact TOML text that was hashed and gzipped. */
  readonly toml: string;
}

function invalid(message: string, field: string, cause?: unknown): CocoonError {
  return new CocoonError('ERR_KATA_INITDATA_INVALID', message, { cause, details: { field } });
}

/**
 * Keeps the leading bytes and appends zeros up to `size` (the trustee rule implemented by Kata's
 * adjustProperLength / adjust_digest, guest.md §4.3).
 */
export function adjustDigest(digest: Uint8Array, size: number): Buffer {
  const out = Buffer.alloc(size);
  Buffer.from(digest.buffer, digest.byteOffset, Math.min(digest.byteLength, size)).copy(out);
  return out;
}

/** Validates the parsed TOML against guest.md §4.1; unknown top-level keys are rejected (fail closed). */
export function validateInitData(toml: string): InitDataDocument {
  let parsed: Record<string, unknown>;
  try {
    parsed = parseToml(toml) as Record<string, unknown>;
  } catch (e) {
    throw invalid('initdata is not valid TOML', 'toml', e);
  }
  const version = parsed['version'];
  const algorithm = parsed['algorithm'];
  const data = parsed['data'];
  for (const k of Object.keys(parsed)) {
    if (k !== 'version' && k !== 'algorithm' && k !== 'data') throw invalid(`unknown initdata key ${k}`, k);
  }
  if (version !== INITDATA_VERSION) throw invalid(`version must be "${INITDATA_VERSION}"`, 'version');
  if (typeof algorithm !== 'string' || !(INITDATA_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new CocoonError('ERR_KATA_INITDATA_ALGORITHM', 'algorithm must be sha256, sha384 or sha512', {
      details: {
        field: 'algorithm',
        algorithm: typeof algorithm === 'string' ? algorithm : typeof algorithm,
      },
    });
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data) || data instanceof Date) {
    throw invalid('[data] must be a table', 'data');
  }
  const map: Record<string, string> = {};
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    if (typeof v !== 'string') throw invalid(`data.${k} must be a string`, `data.${k}`);
    map[k] = v;
  }
  return { version, algorithm: algorithm as InitDataAlgorithm, data: map };
}

function digestsOf(toml: string, document: InitDataDocument): Omit<EncodedInitData, 'annotation'> {
  const digest = createHash(document.algorithm).update(Buffer.from(toml, 'utf8')).digest();
  return {
    digest,
    tdxMrConfigId: adjustDigest(digest, TDX_MRCONFIGID_SIZE),
    snpHostData: adjustDigest(digest, SNP_HOSTDATA_SIZE),
    document,
    toml,
  };
}

/**
 * Validates an initdata TOML and encodes it for the sandbox annotation. The digest is taken over
 * the exact bytes that are gzipped, with the document's own `algorithm` (the KBS/AS hashes with
 * that one, guest.md §4.4); `requireAlgorithm`, when given, must equal it.
 */
export function encodeInitData(toml: string, requireAlgorithm?: InitDataAlgorithm): EncodedInitData {
  if (typeof toml !== 'string') throw invalid('initdata must be a string', 'toml');
  const document = validateInitData(toml);
  if (requireAlgorithm !== undefined && document.algorithm !== requireAlgorithm) {
    throw new CocoonError(
      'ERR_KATA_INITDATA_ALGORITHM',
      `initdata algorithm ${document.algorithm} differs from the required ${requireAlgorithm}`,
      { details: { field: 'algorithm', algorithm: document.algorithm, required: requireAlgorithm } },
    );
  }
  const annotation = gzipSync(Buffer.from(toml, 'utf8')).toString('base64');
  return { annotation, ...digestsOf(toml, document) };
}

/** Options of decodeInitData. */
export interface DecodeInitDataOptions {
  /** Largest decompressed size in bytes; default DEFAULT_MAX_INITDATA_BYTES. */
  readonly maxBytes?: number;
}

/**
 * Decodes a cc_init_data annotation (base64 → gunzip → UTF-8 TOML), validates it and recomputes
 * the digests, as Kata's addHypervisorInitdataOverrides does (guest.md §4.2).
 */
export function decodeInitData(annotation: string, opts: DecodeInitDataOptions = {}): EncodedInitData {
  if (typeof annotation !== 'string' || annotation.length === 0)
    throw invalid('annotation is empty', 'base64');
  const compact = annotation.trim();
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    throw invalid('annotation is not standard base64', 'base64');
  }
  const gz = Buffer.from(compact, 'base64');
  let raw: Buffer;
  try {
    raw = gunzipSync(gz, { maxOutputLength: opts.maxBytes ?? DEFAULT_MAX_INITDATA_BYTES });
  } catch (e) {
    throw invalid('annotation is not gzip or exceeds the size limit', 'gzip', e);
  }
  const toml = new TextDecoder('utf-8', { fatal: false }).decode(raw);
  if (!Buffer.from(toml, 'utf8').equals(raw)) throw invalid('initdata is not valid UTF-8', 'utf8');
  const document = validateInitData(toml);
  return { annotation: compact, ...digestsOf(toml, document) };
}
