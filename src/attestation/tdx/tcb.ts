/**
 * TCB evaluation of Intel's QVL (evidence.md §1.5 steps 7 and 10, §1.9): TDX module identity,
 * QE identity policy and status, the platform TCB level match (SGX part, then TDX part), module
 * status, TD relaunch advice for TDX 1.5 bodies, convergence with the QE status, advisory IDs.
 * Pure functions over parsed data; identity mismatches throw typed errors (stage "tcb").
 */
import { CocoonError } from '../../common/errors.js';
import type { SgxReportBody, TdQuoteBody } from './abi.js';
import type { IsvTcbLevel, QeIdentity, TcbInfo, TdxModuleIdentity, TdxTcbLevel } from './collateral.js';
import type { PckExtensions } from './pck.js';

/** TCB status values of TCB info levels plus the derived ones of §1.9. */
export type TdxTcbStatus =
  | 'UpToDate'
  | 'SWHardeningNeeded'
  | 'ConfigurationNeeded'
  | 'ConfigurationAndSWHardeningNeeded'
  | 'OutOfDate'
  | 'OutOfDateConfigurationNeeded'
  | 'TDRelaunchAdvised'
  | 'TDRelaunchAdvisedConfigurationNeeded'
  | 'Revoked'
  | 'TCBLevelNotSupported';

const KNOWN: ReadonlySet<string> = new Set([
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
]);

function tcbError(
  code: 'ERR_TDX_MODULE_MISMATCH' | 'ERR_TDX_QE_IDENTITY_MISMATCH',
  message: string,
): CocoonError {
  return new CocoonError(code, message, { details: { stage: 'tcb' } });
}

function asStatus(s: string): TdxTcbStatus {
  // An unknown status string in signed collateral is treated as the worst non-terminal case.
  return KNOWN.has(s) ? (s as TdxTcbStatus) : 'OutOfDate';
}

const eq = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** "TDX_%02X" of a module major version (§1.5 step 7). */
export function moduleIdentityId(major: number): string {
  return `TDX_${major.toString(16).toUpperCase().padStart(2, '0')}`;
}

function findModuleIdentity(info: TcbInfo, major: number): TdxModuleIdentity | undefined {
  const id = moduleIdentityId(major);
  return info.tdxModuleIdentities.find((m) => m.id.toUpperCase() === id);
}

/**
 * Checks MRSIGNERSEAM and SEAMATTRIBUTES against the TDX module identity (§1.5 step 7):
 * tcbInfo.tdxModule when TEE_TCB_SVN[1] is 0, else the TDX_xx entry. Returns the identity used.
 */
export function checkTdxModuleIdentity(body: TdQuoteBody, info: TcbInfo): TdxModuleIdentity {
  const major = body.teeTcbSvn[1]!;
  const ident = major > 0 ? findModuleIdentity(info, major) : info.tdxModule;
  if (ident === undefined) {
    throw tcbError(
      'ERR_TDX_MODULE_MISMATCH',
      major > 0
        ? `TCB info has no TDX module identity ${moduleIdentityId(major)}`
        : 'TCB info has no tdxModule',
    );
  }
  if (!eq(body.mrSignerSeam, ident.mrSigner)) {
    throw tcbError('ERR_TDX_MODULE_MISMATCH', `MRSIGNERSEAM differs from ${ident.id} mrsigner`);
  }
  for (let i = 0; i < 8; i++) {
    if ((body.seamAttributes[i]! & ident.attributesMask[i]!) !== ident.attributes[i]) {
      throw tcbError(
        'ERR_TDX_MODULE_MISMATCH',
        `SEAMATTRIBUTES do not match ${ident.id} attributes under its mask`,
      );
    }
  }
  return ident;
}

/** QE identity policy and QE TCB status (§1.5 step 10). */
export function evaluateQeIdentity(
  qe: SgxReportBody,
  id: QeIdentity,
): { status: TdxTcbStatus; level?: IsvTcbLevel } {
  if ((qe.miscSelect & id.miscselectMask) >>> 0 !== id.miscselect >>> 0) {
    throw tcbError('ERR_TDX_QE_IDENTITY_MISMATCH', 'QE MISCSELECT does not match the QE identity');
  }
  for (let i = 0; i < 16; i++) {
    if ((qe.attributes[i]! & id.attributesMask[i]!) !== id.attributes[i]) {
      throw tcbError('ERR_TDX_QE_IDENTITY_MISMATCH', 'QE ATTRIBUTES do not match the QE identity');
    }
  }
  if (!eq(qe.mrSigner, id.mrSigner)) throw tcbError('ERR_TDX_QE_IDENTITY_MISMATCH', 'QE MRSIGNER differs');
  if (qe.isvProdId !== id.isvProdId) {
    throw tcbError('ERR_TDX_QE_IDENTITY_MISMATCH', `QE ISVPRODID ${qe.isvProdId} ≠ ${id.isvProdId}`);
  }
  const level = id.tcbLevels.find((l) => qe.isvSvn >= l.isvSvn);
  if (level === undefined) return { status: 'TCBLevelNotSupported' };
  const s = asStatus(level.tcbStatus);
  // QVL treats any QE status other than UpToDate / Revoked as OutOfDate (§1.5 step 10).
  return { status: s === 'UpToDate' || s === 'Revoked' ? s : 'OutOfDate', level };
}

/** Everything the platform TCB evaluation found (§1.9). */
export interface TcbEvaluation {
  readonly status: TdxTcbStatus;
  /** Status of the matched TDX level before module / QE convergence. */
  readonly platformStatus?: TdxTcbStatus;
  readonly moduleStatus?: TdxTcbStatus;
  readonly qeStatus: TdxTcbStatus;
  readonly tcbLevel?: TdxTcbLevel;
  readonly tcbDate?: string;
  readonly advisoryIds: readonly string[];
}

function sgxMatches(pck: PckExtensions, l: TdxTcbLevel): boolean {
  for (let i = 0; i < 16; i++) if (pck.tcbComponents[i]! < l.sgxTcbComponents[i]!.svn) return false;
  return pck.pceSvn >= l.pceSvn;
}

function tdxMatches(svn: Uint8Array, l: TdxTcbLevel): boolean {
  // With a module major version, bytes 0 and 1 are judged by the module identity (§1.9 step 2).
  const from = svn[1]! > 0 ? 2 : 0;
  for (let i = from; i < 16; i++) if (svn[i]! < l.tdxTcbComponents[i]!.svn) return false;
  return true;
}

function convergeOutOfDate(s: TdxTcbStatus, other: TdxTcbStatus): TdxTcbStatus {
  if (other === 'OutOfDate') {
    if (s === 'UpToDate' || s === 'SWHardeningNeeded') return 'OutOfDate';
    if (s === 'ConfigurationNeeded' || s === 'ConfigurationAndSWHardeningNeeded')
      return 'OutOfDateConfigurationNeeded';
    return s;
  }
  if (other === 'Revoked') return 'Revoked';
  return s;
}

/** Runs Intel's TCB status computation (§1.9 steps 1–7). */
export function evaluateTcb(args: {
  readonly pck: PckExtensions;
  readonly body: TdQuoteBody;
  readonly tcbInfo: TcbInfo;
  readonly qeStatus: TdxTcbStatus;
  /** 3 for TDX 1.5 bodies (relaunch advice applies). */
  readonly bodyType: number;
}): TcbEvaluation {
  const { pck, body, tcbInfo, qeStatus } = args;
  const svn = body.teeTcbSvn;
  const levels = tcbInfo.tcbLevels;
  let i = levels.findIndex((l) => sgxMatches(pck, l));
  const sgxLevel = i < 0 ? undefined : levels[i];
  let tdxLevel: TdxTcbLevel | undefined;
  for (; i >= 0 && i < levels.length; i++) {
    const l = levels[i]!;
    if (sgxMatches(pck, l) && tdxMatches(svn, l)) {
      tdxLevel = l;
      break;
    }
  }
  if (sgxLevel === undefined || tdxLevel === undefined) {
    return { status: 'TCBLevelNotSupported', qeStatus, advisoryIds: [] };
  }
  const platformStatus = asStatus(tdxLevel.tcbStatus);
  let moduleStatus: TdxTcbStatus | undefined;
  let moduleLevel: IsvTcbLevel | undefined;
  if (svn[1]! > 0) {
    const ident = findModuleIdentity(tcbInfo, svn[1]!);
    if (ident === undefined)
      throw tcbError('ERR_TDX_MODULE_MISMATCH', `no TDX module identity ${moduleIdentityId(svn[1]!)}`);
    moduleLevel = ident.tcbLevels.find((l) => svn[0]! >= l.isvSvn);
    if (moduleLevel === undefined) {
      return {
        status: 'TCBLevelNotSupported',
        platformStatus,
        qeStatus,
        tcbLevel: tdxLevel,
        advisoryIds: [],
      };
    }
    moduleStatus = asStatus(moduleLevel.tcbStatus);
  }
  let status = moduleStatus === undefined ? platformStatus : convergeOutOfDate(platformStatus, moduleStatus);
  // TD relaunch advice for TDX 1.5 bodies (§1.9 step 5).
  const svn2 = body.teeTcbSvn2;
  const sgxStatus = asStatus(sgxLevel.tcbStatus);
  if (
    args.bodyType === 3 &&
    svn2 !== undefined &&
    qeStatus !== 'OutOfDate' &&
    qeStatus !== 'Revoked' &&
    qeStatus !== 'TCBLevelNotSupported' &&
    (sgxStatus === 'UpToDate' ||
      sgxStatus === 'SWHardeningNeeded' ||
      sgxStatus === 'ConfigurationNeeded' ||
      sgxStatus === 'ConfigurationAndSWHardeningNeeded') &&
    (status === 'OutOfDate' || status === 'OutOfDateConfigurationNeeded') &&
    moduleStatus === 'OutOfDate'
  ) {
    const newest = levels[0]!;
    let advised = false;
    if (svn2[1] === 0) {
      advised = svn2[0]! >= newest.tdxTcbComponents[0]!.svn && svn2[2]! >= newest.tdxTcbComponents[2]!.svn;
    } else {
      const id2 = findModuleIdentity(tcbInfo, svn2[1]!);
      if (id2 === undefined)
        throw tcbError('ERR_TDX_MODULE_MISMATCH', `no TDX module identity ${moduleIdentityId(svn2[1]!)}`);
      const first = id2.tcbLevels[0];
      advised =
        first !== undefined && svn2[0]! >= first.isvSvn && svn2[2]! >= newest.tdxTcbComponents[2]!.svn;
    }
    if (advised) {
      status =
        sgxStatus.includes('Configuration') || platformStatus.includes('Configuration')
          ? 'TDRelaunchAdvisedConfigurationNeeded'
          : 'TDRelaunchAdvised';
    }
  }
  // Converge with the QE status (§1.9 step 6).
  if (qeStatus === 'TCBLevelNotSupported') status = 'TCBLevelNotSupported';
  else status = convergeOutOfDate(status, qeStatus);
  const advisoryIds = [...new Set([...tdxLevel.advisoryIds, ...(moduleLevel?.advisoryIds ?? [])])];
  return {
    status,
    platformStatus,
    ...(moduleStatus === undefined ? {} : { moduleStatus }),
    qeStatus,
    tcbLevel: tdxLevel,
    tcbDate: tdxLevel.tcbDate,
    advisoryIds,
  };
}
