/**
 * A person-readable description of a parsed SNP report (for `cocoon attest show`): every field
 * of evidence.md §2.1 with its spec name, bytes as lower-case hex, 64-bit values as 0x-hex, and the
 * POLICY, PLATFORM_INFO, KEY_INFO and TCB_VERSION parts decoded (§2.2, §2.3).
 */
import type { SnpReport, TcbVersion } from './abi.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const hex64 = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

function tcb(t: TcbVersion): Record<string, number | string> {
  return {
    ...(t.layout === 'turin' ? { fmc: t.fmc ?? 0 } : {}),
    bootloader: t.bootloader,
    tee: t.tee,
    snp: t.snp,
    microcode: t.microcode,
    layout:
      t.layout === 'turin'
        ? 'Turin (fmc, bl, tee, snp, ..., ucode)'
        : 'Milan/Genoa (bl, tee, ..., snp, ucode)',
  };
}

/** Every field of the report as a JSON-ready object keyed by the spec's field names. */
export function describeSnpReport(r: SnpReport): Record<string, unknown> {
  return {
    product: r.product ?? 'unknown (v2 report; see the VCEK productName)',
    VERSION: r.version,
    GUEST_SVN: r.guestSvn,
    POLICY: { value: hex64(r.policy), ...r.policyBits },
    FAMILY_ID: hex(r.familyId),
    IMAGE_ID: hex(r.imageId),
    VMPL: r.vmpl,
    SIGNATURE_ALGO: `${r.signatureAlgo} (ECDSA P-384 with SHA-384)`,
    CURRENT_TCB: tcb(r.currentTcb),
    PLATFORM_INFO: { value: hex64(r.platformInfo), ...r.platformInfoBits },
    KEY_INFO: { value: `0x${r.keyInfo.toString(16).padStart(8, '0')}`, ...r.keyInfoBits },
    REPORT_DATA: hex(r.reportData),
    MEASUREMENT: hex(r.measurement),
    HOST_DATA: hex(r.hostData),
    ID_KEY_DIGEST: hex(r.idKeyDigest),
    AUTHOR_KEY_DIGEST: hex(r.authorKeyDigest),
    REPORT_ID: hex(r.reportId),
    REPORT_ID_MA: hex(r.reportIdMa),
    REPORTED_TCB: tcb(r.reportedTcb),
    CPUID_FAM_ID: r.cpuidFamId === undefined ? 'n/a (v2)' : `0x${r.cpuidFamId.toString(16)}`,
    CPUID_MOD_ID: r.cpuidModId === undefined ? 'n/a (v2)' : `0x${r.cpuidModId.toString(16)}`,
    CPUID_STEP: r.cpuidStep === undefined ? 'n/a (v2)' : `0x${r.cpuidStep.toString(16)}`,
    CHIP_ID: hex(r.chipId),
    COMMITTED_TCB: tcb(r.committedTcb),
    CURRENT: `${r.currentMajor}.${r.currentMinor}.${r.currentBuild}`,
    COMMITTED: `${r.committedMajor}.${r.committedMinor}.${r.committedBuild}`,
    LAUNCH_TCB: tcb(r.launchTcb),
    LAUNCH_MIT_VECTOR: r.launchMitVector === undefined ? 'n/a (v5+)' : hex64(r.launchMitVector),
    CURRENT_MIT_VECTOR: r.currentMitVector === undefined ? 'n/a (v5+)' : hex64(r.currentMitVector),
    SIGNATURE: { r: hex(r.signature.r), s: hex(r.signature.s) },
  };
}

/** Renders a description as indented "NAME: value" lines. */
export function formatDescription(obj: Record<string, unknown>, indent = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      out.push(`${indent}${k}:`);
      out.push(...formatDescription(v as Record<string, unknown>, `${indent}  `));
    } else {
      out.push(`${indent}${k}: ${Array.isArray(v) ? JSON.stringify(v) : String(v)}`);
    }
  }
  return out;
}
