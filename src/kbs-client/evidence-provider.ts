/**
 * Evidence providers: where the RCAR client gets `primary_evidence` for a runtime-data digest.
 * The client computes the digest (kbs-protocol.md §3.5); each provider places it as its TEE
 * requires (raw for sample, zero-padded to 64 bytes for TDX/SNP).
 */
import { makeSampleEvidence } from '../attestation/index.js';
import type { KbsTee } from '../kbs-protocol/index.js';

/** Context of one evidence request. */
export interface EvidenceContext {
  /** Digest of the init-data document when one is sent (MRCONFIGID / HOSTDATA binding, §10). */
  readonly initDataDigest?: Uint8Array;
}

/** Produces primary evidence for the RCAR handshake. */
export interface EvidenceProvider {
  /** The TEE wire name sent in Request.tee. */
  teeType(): Promise<KbsTee>;
  /** Evidence JSON bound to `runtimeDigest` (the raw H(JCS(runtime data)) digest). */
  primaryEvidence(runtimeDigest: Uint8Array, ctx: EvidenceContext): Promise<unknown>;
}

/** Trustee's sample TEE (kbs-protocol.md §8): `{"svn": "1", "report_data": <std b64 of digest>}`. */
export function sampleEvidenceProvider(svn = '1'): EvidenceProvider {
  return {
    teeType: () => Promise.resolve('sample'),
    primaryEvidence: (digest) => Promise.resolve(makeSampleEvidence(digest, svn)),
  };
}

/**
 * A secondary device attester (kbs-protocol.md §3.5 steps 1-2): its evidence is bound to
 * H(JCS({nonce, tee-pubkey})) and sent, keyed by `tee`, in `additional_evidence`.
 */
export interface DeviceAttester {
  /** Device TEE wire name (e.g. `sampledevice`). */
  readonly tee: string;
  /** Evidence JSON bound to the device runtime-data digest. */
  evidence(deviceDigest: Uint8Array): Promise<unknown>;
}

/**
 * Trustee's simulated secondary device (`sampledevice`, TEE class gpu; guest-components enables it
 * with ENABLE_SAMPLE_DEVICE): `{"svn": "2", "report_data": <std b64 of the device digest>}`.
 */
export function sampleDeviceAttester(svn = '2'): DeviceAttester {
  return { tee: 'sampledevice', evidence: (digest) => Promise.resolve(makeSampleEvidence(digest, svn)) };
}
