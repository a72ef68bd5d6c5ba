/**
 * Error codes of the Intel TDX verifier (src/attestation/tdx) and of the CC event log parser
 * (src/attestation/eventlog). Parse codes come from abi.ts / evidence.ts, verify codes from
 * verify.ts / collateral.ts / tcb.ts, validate codes from validate.ts (evidence.md §1.5, §1.9).
 * The lead merges TDX_ERROR_CODES into src/attestation/error-codes.ts.
 */
import type { ErrorCodeTable } from '../../common/errors.js';
import { Status } from '../../common/status.js';

const bad = (description: string) => ({ status: Status.INVALID_ARGUMENT, http: 401, description }) as const;
const denied = (description: string) =>
  ({ status: Status.PERMISSION_DENIED, http: 401, description }) as const;
const unavailable = (description: string) =>
  ({ status: Status.UNAVAILABLE, http: 503, description }) as const;

/** Every ERR_TDX_* code with its canonical status, HTTP status and description. */
export const TDX_ERROR_CODES = {
  // parse (abi.ts, evidence.ts; evidence.md §1.1–§1.4)
  ERR_TDX_QUOTE_TRUNCATED: bad('the TDX quote ends before a field or a length field points past the end'),
  ERR_TDX_QUOTE_VERSION: bad('the quote version is not 4 or 5'),
  ERR_TDX_QUOTE_ATT_KEY_TYPE: bad('the attestation key type is not 2 (ECDSA P-256)'),
  ERR_TDX_QUOTE_TEE_TYPE: bad('the quote TEE type is not 0x81 (TDX)'),
  ERR_TDX_QUOTE_QE_VENDOR: bad('the QE vendor ID is not the Intel QE vendor ID'),
  ERR_TDX_QUOTE_BODY_TYPE: bad('the v5 body type is not 2 or 3, or its size does not match the type'),
  ERR_TDX_QUOTE_CERT_DATA: bad(
    'the certification data type, size or nesting is not QE report (6) → PCK chain (5)',
  ),
  ERR_TDX_QUOTE_QE_AUTH_DATA: bad('the QE authentication data size is out of bounds'),
  ERR_TDX_EVIDENCE_INVALID: bad('TDX evidence is neither quote bytes nor Trustee JSON {quote, cc_eventlog}'),
  // verify: quote and QE (verify.ts; evidence.md §1.5 steps 8, 9, 11)
  ERR_TDX_QUOTE_SIGNATURE_INVALID: denied('the quote signature does not verify with the attestation key'),
  ERR_TDX_QE_REPORT_SIGNATURE_INVALID: denied(
    'the QE report signature does not verify with the PCK leaf key',
  ),
  ERR_TDX_QE_REPORT_DATA_MISMATCH: denied(
    'QE report data is not SHA-256(attestation key ‖ QE auth data) ‖ zeros',
  ),
  // verify: PCK chain, CRLs (evidence.md §1.5 steps 2, 3; §1.6)
  ERR_TDX_PCK_CHAIN_INVALID: denied(
    'the PCK certificate chain is malformed or a signature in it does not verify',
  ),
  ERR_TDX_ROOT_UNTRUSTED: denied(
    'the chain does not end in a trusted (pinned or injected) Intel SGX Root CA',
  ),
  ERR_TDX_CERT_EXPIRED: denied(
    'a certificate of the PCK or TCB signing chain is outside its validity period',
  ),
  ERR_TDX_PCK_EXTENSION_INVALID: denied(
    'the SGX extension (OID 1.2.840.113741.1.13.1) of the PCK leaf is missing or malformed',
  ),
  ERR_TDX_CRL_INVALID: denied('a CRL is malformed, has the wrong issuer, or its signature does not verify'),
  ERR_TDX_CRL_EXPIRED: denied('a CRL is outside its thisUpdate..nextUpdate window'),
  ERR_TDX_CERT_REVOKED: denied('the PCK leaf, the PCK CA or the TCB signing cert is revoked'),
  // collateral (collateral.ts; evidence.md §1.5 steps 4–6, §1.7, §1.8)
  ERR_TDX_COLLATERAL_MISSING: bad(
    'collateral needed for verification (TCB info, QE identity, CRL, chain) is missing',
  ),
  ERR_TDX_COLLATERAL_INVALID: bad('collateral is malformed (JSON shape, hex, id or version)'),
  ERR_TDX_COLLATERAL_FETCH_FAILED: unavailable('collateral could not be fetched from Intel PCS'),
  ERR_TDX_TCB_SIGNING_CHAIN_INVALID: denied('the TCB signing chain does not verify to the trusted root'),
  ERR_TDX_TCB_INFO_SIGNATURE_INVALID: denied(
    'the TCB info signature does not verify over the raw tcbInfo JSON',
  ),
  ERR_TDX_QE_IDENTITY_SIGNATURE_INVALID: denied(
    'the QE identity signature does not verify over the raw enclaveIdentity JSON',
  ),
  ERR_TDX_COLLATERAL_EXPIRED: denied('TCB info or QE identity is outside its issueDate..nextUpdate window'),
  ERR_TDX_FMSPC_MISMATCH: denied('the PCK FMSPC or PCE-ID differs from the TCB info'),
  // TCB (tcb.ts; evidence.md §1.5 steps 7, 10; §1.9)
  ERR_TDX_MODULE_MISMATCH: denied(
    'the TDX module identity (MRSIGNERSEAM, SEAM attributes, TDX_xx entry) does not match',
  ),
  ERR_TDX_QE_IDENTITY_MISMATCH: denied(
    'the QE report does not match the QE identity (MRSIGNER, ISVPRODID, attributes, miscselect)',
  ),
  ERR_TDX_TCB_NOT_SUPPORTED: denied('no TCB level of the TCB info matches the platform (TCB_NOT_SUPPORTED)'),
  ERR_TDX_TCB_REVOKED: denied('the platform, TDX module or QE TCB status is Revoked'),
  // validate (validate.ts; evidence.md §1.5 step 13)
  ERR_TDX_REPORT_DATA_MISMATCH: denied('REPORTDATA differs from the expected report data'),
  ERR_TDX_INIT_DATA_MISMATCH: denied('MRCONFIGID differs from the expected init-data digest'),
  ERR_TDX_DEBUG_TD: denied('the TD is a debug TD (TDATTRIBUTES bit 0) and debug is not allowed'),
  ERR_TDX_MEASUREMENT_MISMATCH: denied('a measurement (MRTD, RTMR, MRSEAM, XFAM, …) is not in its allowlist'),
  ERR_TDX_TCB_SVN_TOO_LOW: denied('TEE_TCB_SVN is below the configured minimum'),
  ERR_TDX_TCB_STATUS_UNACCEPTABLE: denied('the TCB status is not one of the accepted statuses'),
  ERR_TDX_RTMR_REPLAY_MISMATCH: denied('replaying the CC event log does not reproduce the quote RTMRs'),
  // event log (src/attestation/eventlog; evidence.md §1.11)
  ERR_TDX_EVENTLOG_INVALID: bad('the CC event log is malformed'),
} as const satisfies ErrorCodeTable;
