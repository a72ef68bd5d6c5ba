/** Trustee's sample TEE: public entry points. */
export {
  createSampleVerifier,
  createSampleDeviceVerifier,
  sampleClaims,
  sampleDeviceClaims,
  validateSample,
  type SampleVerifierOptions,
} from './verifier.js';
export {
  parseSampleEvidence,
  makeSampleEvidence,
  decodeStdBase64,
  SAMPLE_EVIDENCE_MAX_BYTES,
  type SampleEvidence,
} from './evidence.js';
