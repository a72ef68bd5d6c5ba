/**
 * Error codes of the SEV-SNP verifier (src/attestation/snp). Parse codes come from abi.ts,
 * verify codes from verify.ts / kds.ts, validate codes from validate.ts (evidence.md §2.5).
 */
import type { ErrorCodeTable } from '../../common/errors.js';
import { Status } from '../../common/status.js';

const bad = (description: string) => ({ status: Status.INVALID_ARGUMENT, http: 401, description }) as const;
const denied = (description: string) =>
  ({ status: Status.PERMISSION_DENIED, http: 401, description }) as const;

/** Every ERR_SNP_* code with its canonical status and HTTP status. */
export const SNP_ERROR_CODES = {
  // parse (abi.ts)
  ERR_SNP_REPORT_SIZE: bad('the SNP report is not exactly 0x4A0 bytes'),
  ERR_SNP_REPORT_VERSION: bad('the SNP report version is not one the parser reads (2..5)'),
  ERR_SNP_REPORT_SIG_ALGO: bad('the SNP report SIGNATURE_ALGO is not 1 (ECDSA P-384 with SHA-384)'),
  ERR_SNP_REPORT_RESERVED: bad('a must-be-zero (or must-be-one) range or bit of the SNP report is wrong'),
  ERR_SNP_REPORT_SIGNING_KEY: bad('KEY_INFO.SIGNING_KEY is not VCEK (0) or VLEK (1)'),
  ERR_SNP_EVIDENCE_INVALID: bad('SNP evidence is neither a 0x4A0-byte report nor Trustee JSON'),
  // verify (verify.ts, kds.ts)
  ERR_SNP_PRODUCT_UNKNOWN: bad('the processor generation (Milan, Genoa, Turin) cannot be determined'),
  ERR_SNP_CERT_INVALID: bad('a certificate of the AMD chain cannot be parsed or has the wrong shape'),
  ERR_SNP_CERT_MISSING: bad('the VCEK/VLEK or CA chain is missing and cannot be fetched'),
  ERR_SNP_ROOT_UNTRUSTED: denied('the ARK does not match the pinned AMD root for the product'),
  ERR_SNP_CHAIN_INVALID: denied('a certificate signature of VEK → ASK/ASVK → ARK does not verify'),
  ERR_SNP_CERT_EXPIRED: denied('a certificate of the AMD chain is outside its validity period'),
  ERR_SNP_CERT_REVOKED: denied('the ASK/ASVK or VEK is listed in the AMD CRL'),
  ERR_SNP_CRL_INVALID: denied('the AMD CRL cannot be parsed, is not signed by the ARK, or is stale'),
  ERR_SNP_VEK_TCB_MISMATCH: denied('the VCEK/VLEK TCB extensions differ from REPORTED_TCB'),
  ERR_SNP_VEK_HWID_MISMATCH: denied('the VCEK hwID extension differs from CHIP_ID'),
  ERR_SNP_VEK_KIND_MISMATCH: denied('the signing key kind (VCEK/VLEK) differs from KEY_INFO.SIGNING_KEY'),
  ERR_SNP_SIGNATURE_INVALID: denied('the report signature does not verify with the VCEK/VLEK'),
  ERR_SNP_KDS_FETCH: {
    status: Status.UNAVAILABLE,
    http: 503,
    description: 'fetching a certificate or CRL from AMD KDS failed',
  },
  // validate (validate.ts)
  ERR_SNP_REPORT_DATA_MISMATCH: denied('REPORT_DATA differs from the expected report data'),
  ERR_SNP_HOST_DATA_MISMATCH: denied('HOST_DATA differs from the expected init-data digest'),
  ERR_SNP_MEASUREMENT_NOT_ALLOWED: denied('MEASUREMENT is not in the allowlist'),
  ERR_SNP_DEBUG_ALLOWED: denied('the guest policy allows debugging'),
  ERR_SNP_POLICY_NOT_ALLOWED: denied('a guest policy bit (SMT, migration agent, ABI) is not allowed'),
  ERR_SNP_TCB_TOO_LOW: denied('a TCB component is below the required minimum'),
  ERR_SNP_GUEST_SVN_TOO_LOW: denied('GUEST_SVN is below the required minimum'),
  ERR_SNP_VMPL_NOT_ALLOWED: denied('the report was requested at a VMPL that is not allowed'),
  ERR_SNP_VERSION_NOT_ALLOWED: denied('the report version is not allowed by the validation options'),
} as const satisfies ErrorCodeTable;
