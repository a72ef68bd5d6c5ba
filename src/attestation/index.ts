/**
 * Public entry of `src/attestation`: registers every TEE verifier factory with the registry of
 * verifier.ts, so `createVerifier('snp' | 'tdx' | 'sample', options)` works after importing this
 * module. Callers (KBS, CLI) import from here.
 */
import { registerVerifier, type VerifierFactory } from './verifier.js';
import {
  createSampleDeviceVerifier,
  createSampleVerifier,
  type SampleVerifierOptions,
} from './sample/index.js';
import { createSnpVerifier, type SnpVerifierOptions } from './snp/index.js';
import { createTdxVerifier, type TdxVerifierOptions } from './tdx/index.js';

registerVerifier('sample', ((o) => createSampleVerifier(o as SampleVerifierOptions)) as VerifierFactory);
registerVerifier('sampledevice', ((o) =>
  createSampleDeviceVerifier(o as SampleVerifierOptions)) as VerifierFactory);
registerVerifier('snp', ((o) => createSnpVerifier(o as SnpVerifierOptions)) as VerifierFactory);
registerVerifier('tdx', ((o) => createTdxVerifier(o as TdxVerifierOptions)) as VerifierFactory);

export * from './verifier.js';
export {
  createSampleDeviceVerifier,
  createSampleVerifier,
  makeSampleEvidence,
  type SampleVerifierOptions,
} from './sample/index.js';
export { createSnpVerifier, type SnpVerifierOptions } from './snp/index.js';
export { createTdxVerifier, type TdxVerifierOptions } from './tdx/index.js';
export { detectTee, jsonObjectOf, type DetectedEvidence } from './detect.js';
export { toDisplayJson, flattenClaims, hexClaim } from './claims.js';
