/**
 * SEV-SNP claims with Trustee's names (evidence.md §3.2; kbs-protocol.md §7.3): policy bits,
 * REPORTED_TCB parts, platform bits and hex byte fields under `snp`, with `report_data` and
 * `init_data` (= HOST_DATA) lifted to the top level as Trustee's transform_claims does.
 */
import { assembleClaims, hexClaim, type ClaimObject } from '../claims.js';
import type { Claims } from '../verifier.js';
import type { SnpReport } from './abi.js';

/** The `snp` object of the claims (Trustee parse_tee_evidence minus the lifted members). */
export function snpTeeClaims(r: SnpReport): ClaimObject {
  return {
    policy_abi_major: r.policyBits.abiMajor,
    policy_abi_minor: r.policyBits.abiMinor,
    policy_smt_allowed: r.policyBits.smtAllowed,
    policy_migrate_ma: r.policyBits.migrateMaAllowed,
    policy_debug_allowed: r.policyBits.debugAllowed,
    policy_single_socket: r.policyBits.singleSocketRequired,
    reported_tcb_bootloader: r.reportedTcb.bootloader,
    reported_tcb_tee: r.reportedTcb.tee,
    reported_tcb_snp: r.reportedTcb.snp,
    reported_tcb_microcode: r.reportedTcb.microcode,
    platform_tsme_enabled: r.platformInfoBits.tsmeEnabled,
    platform_smt_enabled: r.platformInfoBits.smtEnabled,
    measurement: hexClaim(r.measurement),
    chip_id: hexClaim(r.chipId),
  };
}

/** Full claims of a report: `{snp: {...}, report_data, init_data}`. */
export function snpClaims(r: SnpReport): Claims {
  return assembleClaims('snp', snpTeeClaims(r), hexClaim(r.reportData), hexClaim(r.hostData));
}
