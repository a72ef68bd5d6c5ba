/**
 * Public entry of the TDX verifier (evidence.md §1): parse (abi.ts), verify (verify.ts),
 * collateral (collateral.ts), TCB status (tcb.ts), validate (validate.ts), claims (claims.ts),
 * the Verifier (verifier.ts) and the simulated TDX generator (sim.ts).
 */
export { parseQuote, quoteToBytes, type TdxQuote, type TdQuoteBody, type SgxReportBody } from './abi.js';
export {
  collateralFromDcapQvlJson,
  collateralFromPcsFiles,
  createPcsCollateralSource,
  loadCollateralBundle,
  staticCollateralSource,
  type CollateralSource,
  type PcsFetcher,
  type TdxCollateral,
} from './collateral.js';
export {
  verifyTdxQuote,
  INTEL_SGX_ROOT_CA_SHA256,
  type TdxVerifyOptions,
  type TdxVerification,
} from './verify.js';
export { validateTdx, type TdxExpectations, type TdxAllowlists } from './validate.js';
export { tdxQuoteClaims, tdxDcapClaims } from './claims.js';
export type { TdxTcbStatus } from './tcb.js';
export { createTdxVerifier, parseTdxEvidence, type TdxVerifierOptions } from './verifier.js';
export { TDX_ERROR_CODES } from './error-codes.js';
