/** SEV-SNP: public entry points (parse, verify, validate, claims, KDS, simulator). */
export * from './abi.js';
export { parseSnpEvidence, reportBytesFromTrusteeJson, reportToTrusteeJson } from './trustee-json.js';
export type { EvidenceCerts, SnpEvidence } from './trustee-json.js';
export { parseCert, parseCrl, pemBlocks, toPem, roleOf, vekExtensions } from './certs.js';
export type { AmdCert, AmdCrl, VekExtensions, CertRole } from './certs.js';
export { SnpReportVerifier, verifyReportSignature, checkVekBinding, productFromName } from './verify.js';
export type { SnpVerifyOptions, SnpVerified, SnpRoots, ProductRoots } from './verify.js';
export {
  validateSnpReport,
  DEFAULT_ALLOWED_VMPLS,
  DEFAULT_ALLOWED_VERSIONS,
  TRUSTEE_ALLOWED_VERSIONS,
} from './validate.js';
export type { SnpValidateOptions, MinimumTcb } from './validate.js';
export { snpClaims, snpTeeClaims } from './claims.js';
export { createSnpVerifier, type SnpVerifierOptions, type SnpVerificationResult } from './verifier.js';
export {
  createKdsClient,
  createOfflineKdsClient,
  kdsHwId,
  httpFetcher,
  vcekUrl,
  certChainUrl,
  crlUrl,
  DEFAULT_KDS_BASE_URL,
} from './kds.js';
export type { Fetcher, KdsClient, KdsClientOptions } from './kds.js';
export { AMD_ROOTS_PEM } from './roots/index.js';
export { describeSnpReport, formatDescription } from './describe.js';
export {
  generateSimSnpReport,
  simSnpRoots,
  buildSimVcekCert,
  buildSimCrl,
  SIM_CHIP_ID,
  SIM_MEASUREMENT,
  SIM_TCB,
  SIM_ASK_SERIAL,
} from './sim.js';
export type { SimSnpReportOptions, SimSnpReport, SimTcb } from './sim.js';
