/**
 * Validate step of SEV-SNP (evidence.md §2.5 step 6): compares a verified report with expected
 * values and policy knobs, and reports EVERY failed check at once (STYLE.md rule 3). Defaults fail
 * closed: debug refused, VMPL 0 only, no migration agent; anything "not checked" is written as
 * Expected.notProvided.
 */
import { expected as exp, type CheckFailure, type Expected } from '../verifier.js';
import { bytesEqual, failure, fitTo } from '../validate-common.js';
import type { SnpReport, TcbVersion } from './abi.js';

/** Minimum per TCB component; an absent component is not constrained. */
export interface MinimumTcb {
  readonly fmc?: number;
  readonly bootloader?: number;
  readonly tee?: number;
  readonly snp?: number;
  readonly microcode?: number;
}

/** Default VMPLs accepted: 0 only, as Trustee requires (kbs-protocol.md §7.3). */
export const DEFAULT_ALLOWED_VMPLS: readonly number[] = [0];
/** Default report versions accepted: every version the parser reads. */
export const DEFAULT_ALLOWED_VERSIONS: readonly number[] = [2, 3, 4, 5];
/** Report versions Trustee's SNP verifier accepts (evidence.md §2.1). */
export const TRUSTEE_ALLOWED_VERSIONS: readonly number[] = [3, 4, 5];

/** Validation options; every field documents its default. */
export interface SnpValidateOptions {
  /** Expected REPORT_DATA, zero-padded/truncated to 64 bytes as Trustee does. Default notProvided. */
  readonly reportData?: Expected<Uint8Array>;
  /** Expected HOST_DATA (init-data digest), fitted to 32 bytes. Default notProvided. */
  readonly hostData?: Expected<Uint8Array>;
  /** MEASUREMENT allowlist (48-byte values). Default notProvided (any measurement). */
  readonly measurements?: Expected<readonly Uint8Array[]>;
  /** Accept POLICY.DEBUG = 1. Default false. */
  readonly allowDebug?: boolean;
  /** Accept POLICY.MIGRATE_MA = 1. Default false. */
  readonly allowMigrationAgent?: boolean;
  /** Accept POLICY.SMT = 1. Default true (SMT is on in every sample; Trustee does not refuse it). */
  readonly allowSmt?: boolean;
  /** Minimum guest policy ABI major.minor, e.g. { major: 0, minor: 31 }. Default none. */
  readonly minimumAbi?: { readonly major: number; readonly minor: number };
  /** VMPLs accepted. Default DEFAULT_ALLOWED_VMPLS ([0]). */
  readonly allowedVmpls?: readonly number[];
  /** Report versions accepted. Default DEFAULT_ALLOWED_VERSIONS (2..5). */
  readonly allowedVersions?: readonly number[];
  /** Minimum TCB, checked component-wise on CURRENT, REPORTED and COMMITTED TCB. Default none. */
  readonly minimumTcb?: MinimumTcb;
  /** Minimum LAUNCH_TCB (component-wise). Default none. */
  readonly minimumLaunchTcb?: MinimumTcb;
  /** Minimum GUEST_SVN. Default none. */
  readonly minimumGuestSvn?: number;
  /**
   * Accept provisional firmware: COMMITTED_MAJOR/MINOR/BUILD ≠ CURRENT_* (go-sev-guest
   * PermitProvisionalFirmware). Default false. TCB_VERSIONs are not compared: a hot-loaded
   * microcode update legitimately raises CURRENT_TCB above COMMITTED_TCB (three real samples).
   */
  readonly allowProvisionalFirmware?: boolean;
  /** Accept a report whose CHIP_ID is one of these (chip pinning). Default notProvided. */
  readonly chipIds?: Expected<readonly Uint8Array[]>;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function tcbBelow(t: TcbVersion, min: MinimumTcb): string[] {
  const out: string[] = [];
  const check = (name: string, got: number | undefined, want: number | undefined): void => {
    if (want !== undefined && (got ?? 0) < want) out.push(`${name} ${got ?? 0} < ${want}`);
  };
  check('fmc', t.fmc, t.layout === 'turin' ? min.fmc : undefined);
  check('bootloader', t.bootloader, min.bootloader);
  check('tee', t.tee, min.tee);
  check('snp', t.snp, min.snp);
  check('microcode', t.microcode, min.microcode);
  return out;
}

/** Validates a verified report; returns every failure (empty when all checks pass). */
export function validateSnpReport(r: SnpReport, opts: SnpValidateOptions = {}): CheckFailure[] {
  const out: CheckFailure[] = [];
  const reportData = opts.reportData ?? exp.notProvided();
  if (reportData.kind === 'value' && !bytesEqual(r.reportData, fitTo(reportData.value, 64))) {
    out.push(
      failure(
        'ERR_SNP_REPORT_DATA_MISMATCH',
        `REPORT_DATA is ${hex(r.reportData)}, expected ${hex(fitTo(reportData.value, 64))}`,
        'validate',
      ),
    );
  }
  const hostData = opts.hostData ?? exp.notProvided();
  if (hostData.kind === 'value' && !bytesEqual(r.hostData, fitTo(hostData.value, 32))) {
    out.push(
      failure(
        'ERR_SNP_HOST_DATA_MISMATCH',
        `HOST_DATA is ${hex(r.hostData)}, expected ${hex(fitTo(hostData.value, 32))}`,
        'validate',
      ),
    );
  }
  const ms = opts.measurements ?? exp.notProvided();
  if (ms.kind === 'value' && !ms.value.some((m) => bytesEqual(m, r.measurement))) {
    out.push(
      failure(
        'ERR_SNP_MEASUREMENT_NOT_ALLOWED',
        `MEASUREMENT ${hex(r.measurement)} is not in the allowlist`,
        'validate',
      ),
    );
  }
  const chips = opts.chipIds ?? exp.notProvided();
  if (chips.kind === 'value' && !chips.value.some((c) => bytesEqual(c, r.chipId))) {
    out.push(failure('ERR_SNP_POLICY_NOT_ALLOWED', 'CHIP_ID is not one of the pinned chips', 'validate'));
  }
  const p = r.policyBits;
  if (p.debugAllowed && opts.allowDebug !== true) {
    out.push(
      failure(
        'ERR_SNP_DEBUG_ALLOWED',
        'POLICY.DEBUG is set: the hypervisor can read and change guest memory',
        'validate',
      ),
    );
  }
  if (p.migrateMaAllowed && opts.allowMigrationAgent !== true) {
    out.push(
      failure(
        'ERR_SNP_POLICY_NOT_ALLOWED',
        'POLICY.MIGRATE_MA is set and a migration agent is not allowed',
        'validate',
      ),
    );
  }
  if (p.smtAllowed && opts.allowSmt === false) {
    out.push(failure('ERR_SNP_POLICY_NOT_ALLOWED', 'POLICY.SMT is set and SMT is not allowed', 'validate'));
  }
  if (opts.minimumAbi !== undefined) {
    const { major, minor } = opts.minimumAbi;
    if (p.abiMajor < major || (p.abiMajor === major && p.abiMinor < minor)) {
      out.push(
        failure(
          'ERR_SNP_POLICY_NOT_ALLOWED',
          `POLICY ABI ${p.abiMajor}.${p.abiMinor} is below ${major}.${minor}`,
          'validate',
        ),
      );
    }
  }
  const vmpls = opts.allowedVmpls ?? DEFAULT_ALLOWED_VMPLS;
  if (!vmpls.includes(r.vmpl)) {
    out.push(
      failure(
        'ERR_SNP_VMPL_NOT_ALLOWED',
        `the report was requested at VMPL ${r.vmpl}; allowed: ${vmpls.join(', ')}`,
        'validate',
      ),
    );
  }
  const versions = opts.allowedVersions ?? DEFAULT_ALLOWED_VERSIONS;
  if (!versions.includes(r.version)) {
    out.push(
      failure(
        'ERR_SNP_VERSION_NOT_ALLOWED',
        `report version ${r.version} is not allowed (${versions.join(', ')})`,
        'validate',
      ),
    );
  }
  if (opts.minimumGuestSvn !== undefined && r.guestSvn < opts.minimumGuestSvn) {
    out.push(
      failure('ERR_SNP_GUEST_SVN_TOO_LOW', `GUEST_SVN ${r.guestSvn} < ${opts.minimumGuestSvn}`, 'tcb'),
    );
  }
  if (opts.minimumTcb !== undefined) {
    for (const [name, t] of [
      ['CURRENT_TCB', r.currentTcb],
      ['REPORTED_TCB', r.reportedTcb],
      ['COMMITTED_TCB', r.committedTcb],
    ] as const) {
      const low = tcbBelow(t, opts.minimumTcb);
      if (low.length > 0) out.push(failure('ERR_SNP_TCB_TOO_LOW', `${name}: ${low.join(', ')}`, 'tcb'));
    }
  }
  if (opts.minimumLaunchTcb !== undefined) {
    const low = tcbBelow(r.launchTcb, opts.minimumLaunchTcb);
    if (low.length > 0) out.push(failure('ERR_SNP_TCB_TOO_LOW', `LAUNCH_TCB: ${low.join(', ')}`, 'tcb'));
  }
  if (opts.allowProvisionalFirmware !== true) {
    const same =
      r.committedMajor === r.currentMajor &&
      r.committedMinor === r.currentMinor &&
      r.committedBuild === r.currentBuild;
    if (!same) {
      out.push(
        failure(
          'ERR_SNP_TCB_TOO_LOW',
          `the firmware is provisional: committed ${r.committedMajor}.${r.committedMinor}.${r.committedBuild}, current ${r.currentMajor}.${r.currentMinor}.${r.currentBuild}`,
          'tcb',
        ),
      );
    }
  }
  return out;
}
