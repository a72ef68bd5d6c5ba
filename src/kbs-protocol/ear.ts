/**
 * EAR attestation results (kbs-protocol.md §6): the claims layout Trustee's attestation service
 * issues, the AR4SI trust-vector → status rule (§6.3), and where a relying party finds the TEE
 * public key inside a token (§6.5).
 */
import type { TeePubKey } from './jwk.js';

/** `eat_profile` of Trustee's EAR tokens (§6.2). */
export const EAR_PROFILE = 'tag:github.com,2024:confidential-containers/Trustee';
/** Default `iss` (§6.2). */
export const EAR_ISSUER = 'CoCo-Attestation-Service';

/** Trust-vector claim names in wire order (§6.3). */
export const TRUST_CLAIMS = [
  'instance-identity',
  'configuration',
  'executables',
  'file-system',
  'hardware',
  'runtime-opaque',
  'storage-opaque',
  'sourced-data',
] as const;
/** One trust-vector claim name. */
export type TrustClaim = (typeof TRUST_CLAIMS)[number];
/** An AR4SI trustworthiness vector: each claim an int8. */
export type TrustVector = Readonly<Record<TrustClaim, number>>;

/** EAR status tiers, from best to worst (§6.3). */
export const EAR_STATUSES = ['none', 'affirming', 'warning', 'contraindicated'] as const;
/** One EAR status. */
export type EarStatus = (typeof EAR_STATUSES)[number];

/** Tier of one claim value (§6.3): −1..1 none, |v|<32 affirming, |v|<96 warning, else contraindicated. */
export function tierOf(v: number): EarStatus {
  const a = Math.abs(v);
  if (a <= 1) return 'none';
  if (a < 32) return 'affirming';
  if (a < 96) return 'warning';
  return 'contraindicated';
}

/** The worst tier over all claims of a vector (§6.3). */
export function statusOf(tv: TrustVector): EarStatus {
  let worst = 0;
  for (const k of TRUST_CLAIMS) worst = Math.max(worst, EAR_STATUSES.indexOf(tierOf(tv[k])));
  return EAR_STATUSES[worst]!;
}

/** A vector with every claim 0, to fill in (§6.3: unset claims are 0). */
export function zeroTrustVector(): Record<TrustClaim, number> {
  return Object.fromEntries(TRUST_CLAIMS.map((k) => [k, 0])) as Record<TrustClaim, number>;
}

/** JSON pointers, in order, where a relying party looks for the TEE public key (§6.5). */
export const TEE_PUBKEY_POINTERS: readonly (readonly string[])[] = [
  ['tdx', 'attester_runtime_data', 'tee-pubkey'],
  ['tdx', 'attester_user_data', 'tee-pubkey'],
  ['customized_claims', 'runtime_data', 'tee-pubkey'],
  ['submods', 'cpu0', 'ear.veraison.annotated-evidence', 'runtime_data_claims', 'tee-pubkey'],
  ['tee-pubkey'],
];

/** Reads a nested member by path; undefined when any step is missing. */
export function pointer(obj: unknown, path: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** The first tee-pubkey candidate found in token claims (validate it with parseTeePubKey). */
export function teePubKeyCandidate(claims: unknown): unknown {
  for (const p of TEE_PUBKEY_POINTERS) {
    const v = pointer(claims, p);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** The `submods.cpu0` record of an EAR token. */
export interface EarSubmod {
  readonly 'ear.status': EarStatus;
  readonly 'ear.trustworthiness-vector': TrustVector;
  readonly 'ear.appraisal-policy-id': string;
  readonly 'ear.veraison.annotated-evidence': Readonly<Record<string, unknown>>;
  readonly [extension: string]: unknown;
}

/** The claims of an EAR token (§6.2). */
export interface EarClaims {
  readonly eat_profile: string;
  readonly iat: number;
  readonly exp: number;
  readonly iss: string;
  readonly 'ear.verifier-id': { readonly developer: string; readonly build: string };
  readonly submods: Readonly<Record<string, EarSubmod>>;
}

/** The runtime_data_claims member of annotated evidence (§6.2). */
export function runtimeDataClaims(
  nonce: string,
  teePubKey: TeePubKey,
  additionalEvidence: string,
  verbose = true,
): Record<string, unknown> {
  return verbose
    ? { nonce, 'tee-pubkey': teePubKey, 'additional-evidence': additionalEvidence }
    : { nonce, 'tee-pubkey': teePubKey };
}
