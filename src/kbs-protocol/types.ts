/**
 * KBS protocol 0.4.0 messages (kbs-protocol.md §3): Request, Challenge, Attestation, Response and
 * ErrorInformation, with runtime validation. Member names are exactly the wire names — kebab-case
 * outside, snake_case inside `tee-evidence` (§3.3). Parsers read every untrusted member once into
 * a fresh snapshot (STYLE.md rule 4) and reject wrong types with ERR_KBS_PROTOCOL_INVALID_MESSAGE.
 */
import { CocoonError } from '../common/errors.js';
import { parseTeePubKey, type TeePubKey, type TeePubKeyOptions } from './jwk.js';

/** The protocol version this implementation speaks (kbs-protocol.md §1: newest, Trustee ≥ v0.14). */
export const KBS_PROTOCOL_VERSION = '0.4.0';

/** Every TEE wire name of kbs-types (kbs-protocol.md §3.1). */
export const TEE_NAMES = [
  'az-snp-vtpm',
  'az-tdx-vtpm',
  'nvidia',
  'sgx',
  'snp',
  'tdx',
  'cca',
  'csv',
  'se',
  'hygondcu',
  'tpm',
  'sample',
  'sampledevice',
] as const;
/** One kbs-types TEE wire name. */
export type KbsTee = (typeof TEE_NAMES)[number];

/** Hash algorithms a client lists in `extra-params` (kbs-protocol.md §3.1). */
export const SUPPORTED_HASH_ALGORITHMS = ['sha256', 'sha384', 'sha512'] as const;
/** One runtime-data hash algorithm. */
export type RuntimeHashAlg = (typeof SUPPORTED_HASH_ALGORITHMS)[number];

/** Largest JSON body of any protocol message we parse from text (bytes). */
export const MESSAGE_MAX_DEPTH = 64;

/** `POST /kbs/v0/auth` body (§3.1). */
export interface KbsRequest {
  readonly version: string;
  readonly tee: KbsTee;
  readonly 'extra-params': unknown;
}

/** `/auth` reply (§3.2). */
export interface KbsChallenge {
  readonly nonce: string;
  readonly 'extra-params': unknown;
}

/** `init-data` member of Attestation (§3.3, §10). */
export interface InitData {
  readonly format: string;
  readonly body: string;
}

/** `runtime-data` member of Attestation (§3.3). */
export interface RuntimeData {
  readonly nonce: string;
  readonly 'tee-pubkey': TeePubKey;
}

/** `tee-evidence` member of Attestation; snake_case inside (§3.3). */
export interface TeeEvidence {
  readonly primary_evidence: unknown;
  readonly additional_evidence: string;
}

/** `POST /kbs/v0/attest` body (§3.3). */
export interface KbsAttestation {
  readonly 'init-data'?: InitData;
  readonly 'runtime-data': RuntimeData;
  readonly 'tee-evidence': TeeEvidence;
}

/** `/attest` reply (§3.7). */
export interface KbsAttestationResponse {
  readonly token: string;
}

/** Error body of every endpoint (§4.4). */
export interface ErrorInformation {
  readonly type: string;
  readonly detail: string;
}

/** Prefix of ErrorInformation.type (an identifier, not a resolvable URL; §4.4). */
export const ERROR_TYPE_PREFIX = 'https://github.com/confidential-containers/kbs/errors/';

/** Response header carrying Cocoon's stable error code next to the ErrorInformation body. */
export const ERROR_CODE_HEADER = 'x-cocoon-error-code';

/** Name of the session cookie (§3.1 step 4). */
export const SESSION_COOKIE = 'kbs-session-id';

/** Path prefix of every KBS endpoint (§2). */
export const KBS_PATH_PREFIX = '/kbs/v0';

function invalid(message: string): CocoonError {
  return new CocoonError('ERR_KBS_PROTOCOL_INVALID_MESSAGE', message);
}

function depthOf(v: unknown, d = 0): number {
  if (d > MESSAGE_MAX_DEPTH) return d;
  if (v === null || typeof v !== 'object') return d;
  let max = d;
  for (const x of Object.values(v as Record<string, unknown>)) max = Math.max(max, depthOf(x, d + 1));
  return max;
}

/** Shared strict decoder: constructing a TextDecoder per message showed up in handshake profiles. */
const UTF8_FATAL = new TextDecoder('utf-8', { fatal: true });

/** Parses JSON text into a value, mapping syntax errors and hostile nesting to typed errors. */
export function parseJsonText(text: string | Uint8Array, what: string): unknown {
  let s: string;
  try {
    s = typeof text === 'string' ? text : UTF8_FATAL.decode(text);
  } catch (e) {
    throw new CocoonError('ERR_KBS_PROTOCOL_INVALID_MESSAGE', `${what} is not UTF-8`, { cause: e });
  }
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch (e) {
    throw new CocoonError('ERR_KBS_PROTOCOL_INVALID_MESSAGE', `${what} is not valid JSON`, { cause: e });
  }
  if (depthOf(v) > MESSAGE_MAX_DEPTH) throw invalid(`${what} nests deeper than ${MESSAGE_MAX_DEPTH}`);
  return v;
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

function reqString(o: Record<string, unknown>, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw invalid(`${what}.${key} must be a string`);
  return v;
}

/** True for a kbs-types TEE wire name. */
export function isKbsTee(s: unknown): s is KbsTee {
  return typeof s === 'string' && (TEE_NAMES as readonly string[]).includes(s);
}

/** Validates a Request; the version is checked separately (checkVersion) so callers can report it. */
export function parseRequest(raw: unknown): KbsRequest {
  const o = asObject(raw, 'Request');
  const version = reqString(o, 'version', 'Request');
  const tee = o['tee'];
  if (!('extra-params' in o)) throw invalid('Request.extra-params is required (may be "" or {})');
  const extra = o['extra-params'];
  if (!isKbsTee(tee)) {
    throw new CocoonError(
      'ERR_KBS_PROTOCOL_TEE_UNKNOWN',
      `Request.tee "${String(tee)}" is not a kbs-types TEE name`,
    );
  }
  return { version, tee, 'extra-params': extra };
}

/** Requires `version` to equal KBS_PROTOCOL_VERSION exactly, as Trustee's `=0.4.0` requirement does (§3.1). */
export function checkVersion(version: string, expected = KBS_PROTOCOL_VERSION): void {
  if (version !== expected) {
    throw new CocoonError(
      'ERR_KBS_PROTOCOL_VERSION_MISMATCH',
      `KBS Client Protocol Version Mismatch: expect =${expected} while the request is ${JSON.stringify(version).slice(0, 40)}`,
    );
  }
}

/** Validates a Challenge (§3.2). */
export function parseChallenge(raw: unknown): KbsChallenge {
  const o = asObject(raw, 'Challenge');
  const nonce = reqString(o, 'nonce', 'Challenge');
  if (!('extra-params' in o)) throw invalid('Challenge.extra-params is required');
  return { nonce, 'extra-params': o['extra-params'] };
}

/** Reads `selected-hash-algorithm` from Challenge extra-params; sha384 when absent (§3.2). */
export function selectedHashAlgorithm(extraParams: unknown): RuntimeHashAlg {
  if (extraParams === null || typeof extraParams !== 'object' || Array.isArray(extraParams)) return 'sha384';
  const v = (extraParams as Record<string, unknown>)['selected-hash-algorithm'];
  if (v === undefined) return 'sha384';
  const name = typeof v === 'string' ? v.toLowerCase() : '';
  if (!(SUPPORTED_HASH_ALGORITHMS as readonly string[]).includes(name)) {
    throw new CocoonError(
      'ERR_KBS_PROTOCOL_HASH_UNSUPPORTED',
      `selected-hash-algorithm ${String(v)} is not supported`,
    );
  }
  return name as RuntimeHashAlg;
}

/** Validates an Attestation (§3.3); tee-pubkey is validated strictly (jwk.ts). */
export function parseAttestation(raw: unknown, opts: TeePubKeyOptions = {}): KbsAttestation {
  const o = asObject(raw, 'Attestation');
  for (const k of Object.keys(o)) {
    if (k !== 'init-data' && k !== 'runtime-data' && k !== 'tee-evidence') {
      throw invalid(`Attestation has unknown member "${k}"`);
    }
  }
  const rawInit = o['init-data'];
  const rawRuntime = o['runtime-data'];
  const rawEvidence = o['tee-evidence'];
  let initData: InitData | undefined;
  if (rawInit !== undefined && rawInit !== null) {
    const i = asObject(rawInit, 'init-data');
    initData = { format: reqString(i, 'format', 'init-data'), body: reqString(i, 'body', 'init-data') };
  }
  const rt = asObject(rawRuntime, 'runtime-data');
  const nonce = reqString(rt, 'nonce', 'runtime-data');
  const teePubKey = parseTeePubKey(rt['tee-pubkey'], opts);
  const ev = asObject(rawEvidence, 'tee-evidence');
  if (!('primary_evidence' in ev)) throw invalid('tee-evidence.primary_evidence is required');
  const primary = ev['primary_evidence'];
  const additional = reqString(ev, 'additional_evidence', 'tee-evidence');
  const out: KbsAttestation = {
    ...(initData === undefined ? {} : { 'init-data': initData }),
    'runtime-data': { nonce, 'tee-pubkey': teePubKey },
    'tee-evidence': { primary_evidence: primary, additional_evidence: additional },
  };
  return out;
}

/** Validates an `/attest` reply (§3.7). */
export function parseAttestationResponse(raw: unknown): KbsAttestationResponse {
  const o = asObject(raw, 'attestation response');
  return { token: reqString(o, 'token', 'attestation response') };
}

/** Validates an ErrorInformation body; undefined when the body is not one (§4.4). */
export function parseErrorInformation(raw: unknown): ErrorInformation | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const o = raw as Record<string, unknown>;
  const type = o['type'];
  const detail = o['detail'];
  if (typeof type !== 'string' || typeof detail !== 'string') return undefined;
  return { type, detail };
}

/** The variant name of an ErrorInformation type ("…/errors/PolicyDeny" → "PolicyDeny"). */
export function errorVariant(info: ErrorInformation): string {
  return info.type.startsWith(ERROR_TYPE_PREFIX) ? info.type.slice(ERROR_TYPE_PREFIX.length) : info.type;
}
