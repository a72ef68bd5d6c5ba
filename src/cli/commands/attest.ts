/**
 * `cocoon attest verify|show`: a thin layer over src/attestation (issue 3 "CLI"). Flags are
 * turned into verifier options once; the verifier does the work; the result is printed as text
 * or one JSON object. Exit status: 0 valid with an acceptable TCB, 3 invalid evidence,
 * 4 unacceptable TCB, 2 usage error (EXIT below).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { fromHex } from '../../common/bytes.js';
import { fixedClock, systemClock, type Clock } from '../../common/clock.js';
import { CocoonError, isCocoonError } from '../../common/errors.js';
import {
  createVerifier,
  detectTee,
  expected,
  jsonObjectOf,
  toDisplayJson,
  type TeeName,
  type VerificationResult,
} from '../../attestation/index.js';
import {
  createKdsClient,
  createOfflineKdsClient,
  describeSnpReport,
  formatDescription,
  httpFetcher,
  parseCert,
  parseSnpEvidence,
  parseReport,
  pemBlocks,
  roleOf,
  type EvidenceCerts,
  type MinimumTcb,
  type SnpRoots,
  type SnpVerifierOptions,
} from '../../attestation/snp/index.js';
import { parseSampleEvidence } from '../../attestation/sample/index.js';
import {
  createPcsCollateralSource,
  loadCollateralBundle,
  parseTdxEvidence,
} from '../../attestation/tdx/index.js';
import type { PcsResponse } from '../../attestation/tdx/collateral.js';
import { ExitCode, usageError, type CliContext } from '../context.js';

/** Exit codes of `cocoon attest verify` (beyond the shared 0/1/2). */
export const ATTEST_EXIT = {
  VALID: 0,
  USAGE: 2,
  INVALID: 3,
  TCB: 4,
} as const;

/** Options of `attest verify`, as commander parses them. */
interface VerifyFlags {
  tee?: string;
  collateral?: string;
  online?: boolean;
  certs?: string;
  roots?: string;
  crl?: string[];
  at?: string;
  expectReportData?: string;
  expectInitData?: string;
  acceptTcb?: string;
  vmpl?: string;
  allowDebug?: boolean;
  minTcb?: string;
  cacheDir?: string;
  json?: boolean;
}

const TEES = ['tdx', 'snp', 'sample', 'auto'] as const;

function readFileBytes(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new CocoonError('ERR_COMMON_IO', `cannot read ${what} ${path}`, { cause: e });
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // a missing path is reported when it is read
  }
}

/** Reads certificates (PEM bundle, DER file, or a folder of them) and sorts them by AMD role. */
function readSnpCerts(path: string | undefined, crlPaths: readonly string[]): EvidenceCerts {
  const files =
    path === undefined
      ? []
      : isDirectory(path)
        ? readdirSync(path)
            .filter((f) => /\.(pem|der|crt|cer)$/i.test(f))
            .sort()
            .map((f) => join(path, f))
        : [path];
  const out: Record<string, Uint8Array> = {};
  for (const f of files) {
    const bytes = readFileBytes(f, 'certificate file');
    const text = Buffer.from(bytes).toString('latin1');
    const ders = text.includes('-----BEGIN CERTIFICATE-----') ? pemBlocks(text) : [bytes];
    for (const der of ders) {
      const role = roleOf(parseCert(der));
      const key = role === 'asvk' ? 'ask' : role;
      if (key !== undefined && out[key] === undefined) out[key] = der;
    }
    const crls = pemBlocks(text, 'X509 CRL');
    if (crls[0] !== undefined) out['crl'] = crls[0];
  }
  for (const c of crlPaths) {
    const bytes = readFileBytes(c, 'CRL file');
    out['crl'] = pemBlocks(Buffer.from(bytes).toString('latin1'), 'X509 CRL')[0] ?? bytes;
  }
  return out;
}

/** True when PATH is a Trustee offline VCEK store (`<dir>/vcek/<hwid>/…`; evidence.md §2.4). */
function isTrusteeStore(path: string | undefined): boolean {
  return path !== undefined && isDirectory(join(path, 'vcek'));
}

/** Reads a roots file: PEM with one ARK (and optional ASK/ASVK) per product. */
function readSnpRoots(path: string): SnpRoots {
  const ders = pemBlocks(Buffer.from(readFileBytes(path, 'roots file')).toString('latin1'));
  const out: Record<string, { ark?: Uint8Array; ask?: Uint8Array; asvk?: Uint8Array }> = {};
  for (const der of ders) {
    const c = parseCert(der);
    const role = roleOf(c);
    const cn = c.subject['CN'] ?? '';
    const product = cn.replace(/^(ARK-|SEV-VLEK-|SEV-)/, '');
    if (role === 'ark' || role === 'ask' || role === 'asvk') (out[product] ??= {})[role] = der;
  }
  const roots: Record<string, { ark: Uint8Array; ask?: Uint8Array; asvk?: Uint8Array }> = {};
  for (const [p, r] of Object.entries(out)) if (r.ark !== undefined) roots[p] = { ...r, ark: r.ark };
  if (Object.keys(roots).length === 0) throw usageError(`--roots ${path}: no ARK certificate found`);
  return roots as SnpRoots;
}

/** Parses `--min-tcb bootloader=10,tee=0,snp=23,microcode=25[,fmc=0]`. */
function parseMinTcb(v: string): MinimumTcb {
  const out: Record<string, number> = {};
  for (const part of v.split(',')) {
    const m = /^(fmc|bootloader|tee|snp|microcode)=(\d{1,3})$/.exec(part.trim());
    if (m === null || Number(m[2]) > 255) {
      throw usageError(`--min-tcb ${v}: use fmc|bootloader|tee|snp|microcode=N, comma-separated`);
    }
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

function parseClock(at: string | undefined): Clock {
  if (at === undefined) return systemClock;
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(at) || Number.isNaN(Date.parse(at))) {
    throw usageError(`--at ${at}: not an RFC 3339 time (e.g. 2025-07-19T10:00:34Z)`);
  }
  return fixedClock(at);
}

function hexFlag(v: string | undefined, flag: string): Uint8Array | undefined {
  if (v === undefined) return undefined;
  try {
    return fromHex(v.replace(/^0x/, ''), flag);
  } catch {
    throw usageError(`${flag}: not valid hex`);
  }
}

/** Builds the verifier options of one TEE from the flags. */
function verifierOptions(tee: TeeName, f: VerifyFlags, clock: Clock): Record<string, unknown> {
  if (f.collateral !== undefined && f.online === true) {
    throw usageError('--collateral and --online are mutually exclusive');
  }
  const cacheDir =
    f.cacheDir ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'cocoon', tee);
  if (tee === 'snp') {
    const vmpls =
      f.vmpl === undefined
        ? undefined
        : f.vmpl.split(',').map((s) => {
            const n = Number(s);
            if (!Number.isInteger(n) || n < 0 || n > 3) throw usageError(`--vmpl ${f.vmpl}: VMPLs are 0..3`);
            return n;
          });
    const o: SnpVerifierOptions = {
      clock,
      ...(f.roots === undefined ? {} : { roots: readSnpRoots(f.roots) }),
      ...(f.certs === undefined && (f.crl ?? []).length === 0
        ? {}
        : { certs: readSnpCerts(f.certs, f.crl ?? []) }),
      ...(f.online === true
        ? { kds: createKdsClient({ fetcher: httpFetcher(), cacheDir, clock }) }
        : isTrusteeStore(f.certs)
          ? { kds: createOfflineKdsClient(f.certs!) }
          : {}),
      ...(vmpls === undefined ? {} : { allowedVmpls: vmpls }),
      ...(f.allowDebug === true ? { allowDebug: true } : {}),
      ...(f.minTcb === undefined ? {} : { minimumTcb: parseMinTcb(f.minTcb) }),
    };
    return o as Record<string, unknown>;
  }
  if (tee === 'tdx') {
    // No --collateral/--online: quote, QE and PCK chain only; TCB NotEvaluated (exit 4).
    const collateral =
      f.collateral !== undefined
        ? loadCollateralBundle(f.collateral)
        : f.online === true
          ? Promise.resolve(createPcsCollateralSource({ fetch: pcsFetcher, cacheDir, clock }))
          : Promise.resolve('none' as const);
    return {
      clock,
      collateralPromise: collateral,
      expectations: {
        ...(f.allowDebug === true ? { allowDebug: true } : {}),
        ...(f.acceptTcb === undefined ? {} : { acceptedTcbStatuses: acceptList(f.acceptTcb) }),
      },
    };
  }
  return { clock };
}

/** HTTPS GET for Intel PCS through the global fetch (only with --online). */
async function pcsFetcher(url: string): Promise<PcsResponse> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new CocoonError('ERR_COMMON_IO', `request failed: ${url}`, { cause: e });
  }
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => (headers[k.toLowerCase()] = v));
  return { status: res.status, headers, body: new Uint8Array(await res.arrayBuffer()) };
}

function acceptList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Decides the exit code of a result (see the module comment). */
export function exitCodeOf(r: VerificationResult, acceptTcb: readonly string[]): number {
  if (r.failures.some((f) => f.stage !== 'tcb')) return ATTEST_EXIT.INVALID;
  if (r.failures.length > 0) return ATTEST_EXIT.TCB;
  if (r.tee === 'sample' && r.tcbStatus === 'NotEvaluated') return ATTEST_EXIT.VALID;
  return acceptTcb.includes(r.tcbStatus) ? ATTEST_EXIT.VALID : ATTEST_EXIT.TCB;
}

function loadEvidence(
  file: string,
  tee: string,
): { tee: TeeName; evidence: Uint8Array | Record<string, unknown> } {
  const bytes = readFileBytes(file, 'evidence file');
  if (tee === 'auto')
    return detectTee(bytes) as { tee: TeeName; evidence: Uint8Array | Record<string, unknown> };
  const obj = jsonObjectOf(bytes);
  const primary = obj?.['primary_evidence'];
  const evidence =
    primary !== null && typeof primary === 'object' && !Array.isArray(primary)
      ? (primary as Record<string, unknown>)
      : (obj ?? bytes);
  return { tee: tee as TeeName, evidence };
}

async function runVerify(file: string, f: VerifyFlags, ctx: CliContext): Promise<number> {
  const teeFlag = f.tee ?? 'auto';
  if (!(TEES as readonly string[]).includes(teeFlag))
    throw usageError(`--tee ${teeFlag}: use ${TEES.join('|')}`);
  const clock = parseClock(f.at);
  const reportData = hexFlag(f.expectReportData, '--expect-report-data');
  const initData = hexFlag(f.expectInitData, '--expect-init-data');
  let loaded: ReturnType<typeof loadEvidence>;
  try {
    loaded = loadEvidence(file, teeFlag);
  } catch (e) {
    if (isCocoonError(e, 'ERR_ATTEST_TEE_UNDETECTED')) {
      return printResult(
        {
          tee: 'auto',
          verdict: 'invalid',
          tcbStatus: 'NotEvaluated',
          failures: [{ code: e.code, message: e.message, stage: 'parse' }],
          claims: {},
        },
        f,
        ctx,
        ATTEST_EXIT.INVALID,
      );
    }
    throw e;
  }
  const opts = verifierOptions(loaded.tee, f, clock);
  // The TDX collateral bundle is read asynchronously; hand the verifier the loaded value.
  const { collateralPromise, ...rest } = opts as { collateralPromise?: Promise<unknown> };
  const verifier = createVerifier(
    loaded.tee,
    collateralPromise === undefined ? rest : { ...rest, collateral: await collateralPromise },
  );
  const result = await verifier.verify({
    evidence: loaded.evidence,
    reportData: reportData === undefined ? expected.notProvided() : expected.value(reportData),
    initDataHash: initData === undefined ? expected.notProvided() : expected.value(initData),
    clock,
  });
  const accept = acceptList(f.acceptTcb ?? 'UpToDate');
  return printResult(result, f, ctx, exitCodeOf(result, accept));
}

interface Printable {
  readonly tee: string;
  readonly verdict: string;
  readonly tcbStatus: string;
  readonly failures: readonly { code: string; message: string; stage: string }[];
  readonly claims: Readonly<Record<string, unknown>>;
  readonly advisoryIds?: readonly string[];
}

function printResult(r: Printable, f: VerifyFlags, ctx: CliContext, code: number): number {
  if (f.json === true) {
    ctx.out(
      JSON.stringify({
        tee: r.tee,
        verdict: r.verdict,
        tcbStatus: r.tcbStatus,
        ...(r.advisoryIds !== undefined && r.advisoryIds.length > 0 ? { advisoryIds: r.advisoryIds } : {}),
        failures: r.failures.map((x) => ({ code: x.code, message: x.message, stage: x.stage })),
        claims: r.claims,
      }),
    );
  } else {
    ctx.out(`tee: ${r.tee}`);
    ctx.out(`verdict: ${r.verdict}`);
    ctx.out(`tcbStatus: ${r.tcbStatus}`);
    for (const x of r.failures) ctx.out(`failure [${x.stage}] ${x.code}: ${x.message}`);
    ctx.out('claims:');
    for (const line of formatDescription(r.claims as Record<string, unknown>, '  ')) ctx.out(line);
  }
  return code;
}

async function runShow(file: string, f: { json?: boolean; tee?: string }, ctx: CliContext): Promise<void> {
  const teeFlag = f.tee ?? 'auto';
  if (!(TEES as readonly string[]).includes(teeFlag))
    throw usageError(`--tee ${teeFlag}: use ${TEES.join('|')}`);
  const loaded = loadEvidence(file, teeFlag);
  let desc: Record<string, unknown>;
  if (loaded.tee === 'snp') {
    const ev = parseSnpEvidence(loaded.evidence);
    desc = {
      tee: 'snp',
      format: ev.format,
      certificates: Object.keys(ev.certs),
      report: describeSnpReport(parseReport(ev.reportBytes)),
    };
  } else if (loaded.tee === 'sample') {
    const ev = parseSampleEvidence(loaded.evidence);
    desc = { tee: 'sample', svn: ev.svn, report_data: ev.reportData };
  } else {
    const ev = parseTdxEvidence(loaded.evidence);
    desc = { tee: 'tdx', ...(toDisplayJson(ev) as Record<string, unknown>) };
  }
  if (f.json === true) ctx.out(JSON.stringify(desc));
  else for (const line of formatDescription(desc)) ctx.out(line);
}

/** Registers `cocoon attest`. */
export function register(program: Command, ctx: CliContext): void {
  const attest = program.command('attest').description('verify and show TDX quotes and SEV-SNP reports');
  attest
    .command('verify')
    .description('verify attestation evidence (exit 0 valid, 3 invalid, 4 unacceptable TCB, 2 usage)')
    .argument('<file>', 'evidence: raw SNP report / TDX quote, or Trustee evidence JSON')
    .option('--tee <tee>', 'tdx|snp|sample|auto', 'auto')
    .option('--collateral <path>', 'TDX: offline collateral bundle')
    .option('--online', 'fetch missing certificates/collateral from AMD KDS / Intel PCS')
    .option('--certs <path>', 'SNP: VCEK/VLEK/ASK/ARK certificates (PEM bundle, DER, or a folder)')
    .option('--crl <path...>', 'SNP: AMD CRL files (DER or PEM) to check')
    .option('--roots <path>', 'SNP: trust anchors (PEM ARK[/ASK]) replacing the embedded AMD roots')
    .option('--at <rfc3339>', 'verify as of this time (default now)')
    .option('--expect-report-data <hex>', 'expected REPORT_DATA (zero-padded to 64 bytes for TDX/SNP)')
    .option('--expect-init-data <hex>', 'expected init-data digest (TDX MRCONFIGID, SNP HOSTDATA)')
    .option('--accept-tcb <list>', 'TCB statuses accepted for exit 0, comma-separated (default UpToDate)')
    .option('--vmpl <list>', 'SNP: VMPLs accepted (default 0)')
    .option('--allow-debug', 'SNP: accept a debug-enabled guest policy')
    .option('--min-tcb <list>', 'SNP: minimum TCB, e.g. bootloader=10,tee=0,snp=23,microcode=25')
    .option('--cache-dir <dir>', 'on-disk cache for --online (default $XDG_CACHE_HOME/cocoon/<tee>)')
    .option('--json', 'print one JSON object')
    .action(async (file: string, flags: VerifyFlags) => {
      const code = await runVerify(file, flags, ctx);
      if (code !== 0) throw new ExitCode(code);
    });
  attest
    .command('show')
    .description('print every field of a report or quote')
    .argument('<file>', 'evidence file')
    .option('--tee <tee>', 'tdx|snp|sample|auto', 'auto')
    .option('--json', 'print JSON')
    .action(async (file: string, flags: { json?: boolean; tee?: string }) => {
      await runShow(file, flags, ctx);
    });
}
