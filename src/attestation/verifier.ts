/**
 * The one interface every TEE verifier implements (tdx, snp, sample), and the registry that
 * selects one by TEE name. The KBS, the CLI and the policy input see only this interface.
 *
 * A verifier does three things, in order, each in its own module per TEE:
 *   parse (abi.ts)      bytes → typed structure, structural checks only;
 *   verify (verify.ts)  signatures and chains up to injected trust roots, stops at the first failure;
 *   validate (validate.ts) expected values (report data, init-data digest, allowlists, TCB), reports
 *                       every failure at once.
 * Shapes follow Trustee's Verifier trait (deps/verifier/src/lib.rs): report data and init-data
 * hash are explicit values with a "notProvided" variant, never an empty buffer meaning "skip".
 */
import type { Clock } from '../common/clock.js';
import { CocoonError } from '../common/errors.js';

/** TEE names as they appear in the KBS protocol (`tee` member of Request). */
export type TeeName = 'tdx' | 'snp' | 'sample' | 'sampledevice';

/** An expected value that may deliberately be absent (fail closed: absence is explicit). */
export type Expected<T> = { readonly kind: 'value'; readonly value: T } | { readonly kind: 'notProvided' };

/** Shorthand constructors for Expected. */
export const expected = {
  value<T>(value: T): Expected<T> {
    return { kind: 'value', value };
  },
  notProvided<T>(): Expected<T> {
    return { kind: 'notProvided' };
  },
};

/** One failed check, reported by validate (all at once) or verify (the first one). */
export interface CheckFailure {
  /** Stable error code, ERR_<MODULE>_<WHAT>. */
  readonly code: string;
  /** Actionable message. */
  readonly message: string;
  /** Which stage rejected: parse, verify, collateral, tcb, validate. */
  readonly stage: 'parse' | 'verify' | 'collateral' | 'tcb' | 'validate';
}

/** TCB status names of Intel's algorithm; SNP uses UpToDate or OutOfDate (below minimum). */
export type TcbStatus =
  | 'UpToDate'
  | 'SWHardeningNeeded'
  | 'ConfigurationNeeded'
  | 'ConfigurationAndSWHardeningNeeded'
  | 'OutOfDate'
  | 'OutOfDateConfigurationNeeded'
  | 'TDRelaunchAdvised'
  | 'TDRelaunchAdvisedConfigurationNeeded'
  | 'Revoked'
  | 'TCBLevelNotSupported'
  | 'NotEvaluated';

/**
 * Flattened claims with Trustee's names (evidence.md §3): nested JSON under the TEE name, with
 * byte fields as lower-case hex. Policies written for Trustee read them unchanged.
 */
export type Claims = Readonly<Record<string, unknown>>;

/** What a verifier returns for evidence that verified. */
export interface VerificationResult {
  readonly tee: TeeName;
  /** valid only when verify and validate both passed. */
  readonly verdict: 'valid' | 'invalid';
  readonly tcbStatus: TcbStatus;
  /** Intel advisory IDs (empty for other TEEs). */
  readonly advisoryIds: readonly string[];
  /** Every failure found (verify stops at its first; validate adds all of its own). */
  readonly failures: readonly CheckFailure[];
  /** Claims as the policy engine and the EAR token see them. */
  readonly claims: Claims;
}

/** Inputs common to all verifiers. TEE-specific trust roots and collateral go in `options`. */
export interface VerifyRequest {
  /** The evidence as the KBS receives it in `tee-evidence` (JSON) or raw bytes from a file. */
  readonly evidence: Uint8Array | Readonly<Record<string, unknown>>;
  /** Expected REPORTDATA / REPORT_DATA (the KBS nonce + TEE key binding). */
  readonly reportData: Expected<Uint8Array>;
  /** Expected init-data digest (TDX MRCONFIGID, SNP HOSTDATA). */
  readonly initDataHash: Expected<Uint8Array>;
  /** Verification time; default the verifier's clock. */
  readonly clock?: Clock;
}

/** A TEE verifier. */
export interface Verifier {
  readonly tee: TeeName;
  /**
   * Parses, verifies and validates. Structural and cryptographic failures are reported in
   * `failures` with verdict "invalid" (not thrown), so callers see every reason at once;
   * programmer errors (bad options) throw TypeError.
   */
  verify(req: VerifyRequest): Promise<VerificationResult>;
}

/** Factory for one TEE's verifier from its options. */
export type VerifierFactory = (options: Readonly<Record<string, unknown>>) => Verifier;

const factories = new Map<TeeName, VerifierFactory>();

/** Registers the factory for a TEE (each TEE module registers itself from attestation/index.ts). */
export function registerVerifier(tee: TeeName, factory: VerifierFactory): void {
  factories.set(tee, factory);
}

/** Creates the verifier for `tee`; throws ERR_ATTEST_TEE_UNSUPPORTED for unknown names. */
export function createVerifier(tee: string, options: Readonly<Record<string, unknown>> = {}): Verifier {
  const f = factories.get(tee as TeeName);
  if (f === undefined) {
    throw new CocoonError(
      'ERR_ATTEST_TEE_UNSUPPORTED',
      `unsupported TEE "${tee}" (supported: ${[...factories.keys()].join(', ')})`,
    );
  }
  return f(options);
}
