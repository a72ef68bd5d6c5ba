/**
 * The runtime-data binding of protocol 0.4.0 (kbs-protocol.md §3.5): both sides canonicalize
 * `{"additional-evidence": A, "nonce": N, "tee-pubkey": K}` with RFC 8785, hash it (SHA-384 unless
 * the challenge selected another algorithm) and place the digest in the TEE's user-data field —
 * zero-padded to 64 bytes for TDX REPORTDATA and SNP REPORT_DATA, raw for the sample TEE.
 */
import { createHash } from 'node:crypto';
import { CocoonError } from '../common/errors.js';
import { canonicalize } from './jcs.js';
import type { TeePubKey } from './jwk.js';
import type { RuntimeHashAlg } from './types.js';

/** Size of TDX REPORTDATA and SNP REPORT_DATA (kbs-protocol.md §3.5). */
export const REPORT_DATA_SIZE = 64;

/** The primary attester's runtime-data object (§3.5 step 3). */
export function primaryRuntimeData(
  nonce: string,
  teePubKey: TeePubKey,
  additionalEvidence: string,
): { 'additional-evidence': string; nonce: string; 'tee-pubkey': TeePubKey } {
  return { 'additional-evidence': additionalEvidence, nonce, 'tee-pubkey': teePubKey };
}

/** An additional device's runtime-data object (§3.5 step 1): no additional-evidence member. */
export function deviceRuntimeData(
  nonce: string,
  teePubKey: TeePubKey,
): { nonce: string; 'tee-pubkey': TeePubKey } {
  return { nonce, 'tee-pubkey': teePubKey };
}

/** H(JCS(value)) with the given algorithm (default SHA-384, §3.5 step 5). */
export function runtimeDataDigest(value: unknown, alg: RuntimeHashAlg = 'sha384'): Buffer {
  return createHash(alg).update(canonicalize(value), 'utf8').digest();
}

/** Digest of the primary runtime data for a nonce, key and additional-evidence string. */
export function primaryRuntimeDigest(
  nonce: string,
  teePubKey: TeePubKey,
  additionalEvidence = '',
  alg: RuntimeHashAlg = 'sha384',
): Buffer {
  return runtimeDataDigest(primaryRuntimeData(nonce, teePubKey, additionalEvidence), alg);
}

/**
 * The bytes the verifier expects in the evidence's user-data field for `tee`: 64 bytes
 * (digest then zeros) for TDX/SNP, the raw digest for sample and sampledevice (§3.5 placement).
 */
export function reportDataFor(tee: string, digest: Uint8Array): Buffer {
  if (tee === 'sample' || tee === 'sampledevice') return Buffer.from(digest);
  if (digest.length > REPORT_DATA_SIZE) {
    throw new CocoonError(
      'ERR_KBS_PROTOCOL_HASH_UNSUPPORTED',
      `digest of ${digest.length} bytes exceeds report data`,
    );
  }
  const out = Buffer.alloc(REPORT_DATA_SIZE);
  out.set(digest);
  return out;
}
