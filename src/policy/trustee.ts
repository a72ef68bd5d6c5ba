/**
 * Trustee integration: the attestation-service policy contract (kbs-protocol.md §6.2-§6.3,
 * §7.1) and the KBS resource policy contract (§4.1, §4.2, §7.2), on top of the Rego engine.
 * The KBS calls these two functions; policies are compiled once and cached by text hash.
 */
import { CocoonError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import type { Claims } from '../attestation/verifier.js';
import { compilePolicy, type Policy } from './engine.js';
import type { Literal } from './ast.js';
import type { Evaluation } from './eval.js';
import { RObject, checkJSON, fromCheckedJSON, fromJSON, toJSON, type Value } from './value.js';

/** The default policies, re-exported where the KBS looks for the Trustee integration. */
export { DEFAULT_ATTESTATION_POLICY, DEFAULT_RESOURCE_POLICY } from './default-policies.js';

/** EAR status tiers, worst last (AR4SI / rust-ear, kbs-protocol.md §6.3). */
export type EarStatus = 'none' | 'affirming' | 'warning' | 'contraindicated';

/** The eight AR4SI trust-vector claims (snake_case here; hyphenated in the EAR JSON). */
export interface TrustVector {
  instance_identity: number;
  configuration: number;
  executables: number;
  file_system: number;
  hardware: number;
  runtime_opaque: number;
  storage_opaque: number;
  sourced_data: number;
}

/** Trust-vector claim names as the policy and the EAR token spell them (§6.3). */
export const TRUST_CLAIM_NAMES: Readonly<Record<keyof TrustVector, string>> = {
  instance_identity: 'instance-identity',
  configuration: 'configuration',
  executables: 'executables',
  file_system: 'file-system',
  hardware: 'hardware',
  runtime_opaque: 'runtime-opaque',
  storage_opaque: 'storage-opaque',
  sourced_data: 'sourced-data',
};

/** The trust-vector keys, in TrustVector order. */
const TRUST_KEYS = Object.keys(TRUST_CLAIM_NAMES) as readonly (keyof TrustVector)[];

/** Top-level members the AS lifts out of the TEE claims (§7.1 transform_claims). */
const LIFTED = ['report_data', 'runtime_data_claims', 'init_data', 'init_data_claims'] as const;
const LIFTED_SET: ReadonlySet<string> = new Set(LIFTED);

/** Arguments of evaluateAttestationPolicy. */
export interface AttestationPolicyRequest {
  /** Rego text (package `policy`). */
  readonly policy: string;
  /** TEE wire name (`tdx`, `snp`, `sample`, `az-snp-vtpm`, …). */
  readonly tee: string;
  /**
   * Verifier claims. Either the verifier's flat claim object (then report_data, init_data,
   * runtime_data_claims and init_data_claims are lifted to the top and the rest nested under
   * `tee`, as Trustee's transform_claims does) or an already-shaped input with a `tee` member.
   */
  readonly claims: Claims | Readonly<Record<string, unknown>>;
  /** Reference values by id, served by `query_reference_value(id)` (absent → null, §7.1). */
  readonly referenceValues: Readonly<Record<string, unknown>>;
  /** Clock for time.now_ns (default: the system clock). */
  readonly clock?: Clock;
  /** Step and time limits (defaults: eval.ts DEFAULT_MAX_STEPS / DEFAULT_TIMEOUT_MS). */
  readonly maxSteps?: number;
  readonly timeoutMs?: number;
  /**
   * Record which rules produced the result (default true, for `cocoon policy` and policy
   * authors). false skips tracing and leaves `rules` empty: the KBS does not read it.
   */
  readonly trace?: boolean;
}

/** The appraisal: EAR status, trust vector, and which rules produced it. */
export interface AttestationAppraisal {
  readonly status: EarStatus;
  readonly trustVector: TrustVector;
  /** Rules whose bodies succeeded, as `name (file:line)`; [] when evaluated with `trace: false`. */
  readonly rules: string[];
  /** `data.policy.extensions` as JSON (list of {name, key, value}); [] when undefined. */
  readonly extensions: unknown[];
}

/** Tier of one trust claim (§6.3): -1..1 none, |v| < 32 affirming, |v| < 96 warning, else contraindicated. */
export function tierOf(v: number): EarStatus {
  if (v >= -1 && v <= 1) return 'none';
  const a = Math.abs(v);
  if (a < 32) return 'affirming';
  if (a < 96) return 'warning';
  return 'contraindicated';
}

const RANK: Readonly<Record<EarStatus, number>> = { none: 0, affirming: 1, warning: 2, contraindicated: 3 };

/** EAR status of a trust vector: the worst tier over all claims, starting at none (§6.3). */
export function statusOf(tv: TrustVector): EarStatus {
  let worst: EarStatus = 'none';
  for (const v of Object.values(tv)) {
    const t = tierOf(v);
    if (RANK[t] > RANK[worst]) worst = t;
  }
  return worst;
}

/** Builds the AS policy input from verifier claims (§7.1). */
export function attestationInput(
  tee: string,
  claims: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  if (
    Object.prototype.hasOwnProperty.call(claims, tee) &&
    claims[tee] !== null &&
    typeof claims[tee] === 'object'
  ) {
    // A key-by-key copy rather than a spread: this runs once per attestation.
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(claims)) {
      if (k === '__proto__')
        Object.defineProperty(out, k, {
          value: claims[k],
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else out[k] = claims[k];
    }
    out[tee] = unflatten(claims[tee] as Record<string, unknown>);
    return out;
  }
  const inner: Record<string, unknown> = {};
  const out: Record<string, unknown> = {};
  // Flat claims without dotted (or __proto__) keys need no unflatten pass: inner is the copy.
  let plain = true;
  for (const k of Object.keys(claims)) {
    const v = claims[k];
    if (LIFTED_SET.has(k)) out[k] = v;
    else {
      inner[k] = v;
      if (plain && (k.indexOf('.') >= 0 || k === '__proto__')) plain = false;
    }
  }
  out[tee] = plain ? inner : unflatten(inner);
  return out;
}

/**
 * Nests dotted claim keys (`quote.body.mr_td`) so policies read `input.tdx.quote.body.mr_td`
 * whether a verifier emits flattened or nested TEE claims (evidence.md §3).
 */
function unflatten(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (k.indexOf('.') < 0) {
      // Already nested (what src/attestation returns): plain copy unless a dotted key merged here.
      const prev = out[k];
      if (prev === undefined || prev === null || typeof prev !== 'object' || Array.isArray(prev)) {
        out[k] = v;
        continue;
      }
    }
    const parts = k.split('.');
    let cur = out;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = cur[parts[i]];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[parts[i]] = {};
      cur = cur[parts[i]] as Record<string, unknown>;
    }
    const last = parts[parts.length - 1];
    const prev = cur[last];
    if (
      prev !== null &&
      typeof prev === 'object' &&
      !Array.isArray(prev) &&
      v !== null &&
      typeof v === 'object' &&
      !Array.isArray(v)
    ) {
      cur[last] = { ...(prev as Record<string, unknown>), ...(v as Record<string, unknown>) };
    } else cur[last] = v;
  }
  return out;
}

/** Per compiled rule: its dotted data path and its bodies (main body, then `else` bodies). */
interface RuleKeys {
  readonly key: string;
  readonly label: string;
  readonly defaultLabel: string;
  readonly isDefault: boolean;
  readonly bodies: readonly (readonly Literal[])[];
}

const RULE_KEYS = new WeakMap<Policy, readonly RuleKeys[]>();

function ruleKeys(policy: Policy): readonly RuleKeys[] {
  let out = RULE_KEYS.get(policy);
  if (out === undefined) {
    out = policy.compiled.allRules.map((cr) => {
      const r = cr.rule;
      const key = cr.prefix.join('.');
      return {
        key,
        label: `${key} (${r.loc.file}:${r.loc.line})`,
        defaultLabel: `${key} (default, ${r.loc.file}:${r.loc.line})`,
        isDefault: r.isDefault,
        bodies: [r.body, ...r.elses.map((e) => e.body)],
      };
    });
    RULE_KEYS.set(policy, out);
  }
  return out;
}

/** Rules (by body) that succeeded in an evaluation made with trace on. */
export function producedRules(policy: Policy, ev: Evaluation): string[] {
  const out: string[] = [];
  const reached = ev.reached;
  if (reached === undefined) return out;
  const rules = ruleKeys(policy);
  const entered = new Set<string>();
  const succeeded = new Set<string>();
  for (const r of rules) {
    let any = false;
    let done = false;
    for (const b of r.bodies) {
      const at = reached.get(b);
      if (at !== undefined) {
        any = true;
        if (at === b.length) done = true;
      }
    }
    if (any) entered.add(r.key);
    if (done) {
      succeeded.add(r.key);
      out.push(r.label);
    }
  }
  // A default rule produced the value when its siblings were evaluated and none succeeded.
  for (const r of rules) {
    if (r.isDefault && entered.has(r.key) && !succeeded.has(r.key)) out.push(r.defaultLabel);
  }
  return out;
}

function int8(name: string, v: Value | undefined): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -128 || v > 127) {
    throw new CocoonError(
      'ERR_POLICY_RESULT',
      `trust claim ${name} must be an integer in -128..127, got ${JSON.stringify(toJSON(v))}`,
    );
  }
  return v;
}

/**
 * Evaluates an attestation policy the way Trustee's AS does: input = transformed claims,
 * `query_reference_value(id)` = referenceValues[id] ?? null, trust vector from
 * `data.policy.trust_claims` (all 0 when undefined), status = worst tier (§6.3).
 */
export function evaluateAttestationPolicy(req: AttestationPolicyRequest): AttestationAppraisal {
  const policy = compilePolicy([{ file: 'attestation-policy.rego', text: req.policy }]);
  let input: Value;
  try {
    const shaped = attestationInput(req.tee, req.claims as Readonly<Record<string, unknown>>);
    input = checkJSON(shaped) ? fromCheckedJSON(shaped) : fromJSON(shaped);
  } catch (e) {
    throw new CocoonError('ERR_POLICY_INPUT', `claims are not JSON: ${(e as Error).message}`, { cause: e });
  }
  const rvs = new Map<string, Value>();
  const ev = policy.createEvaluation({
    input,
    inputIsValue: true,
    clock: req.clock,
    maxSteps: req.maxSteps,
    timeoutMs: req.timeoutMs,
    trace: req.trace === false ? false : 'produced',
    // An inline (anonymous) function: tsx's keepNames would otherwise rename it on every call.
    extraBuiltins: new Map([
      [
        'query_reference_value',
        (args: Value[]): Value => {
          const id = args[0];
          if (typeof id !== 'string') return null;
          let v = rvs.get(id);
          if (v === undefined) {
            const raw = Object.prototype.hasOwnProperty.call(req.referenceValues, id)
              ? req.referenceValues[id]
              : null;
            try {
              v = checkJSON(raw ?? null) ? fromCheckedJSON(raw ?? null) : fromJSON(raw ?? null);
            } catch (e) {
              throw new CocoonError('ERR_POLICY_INPUT', `reference value ${id} is not JSON`, { cause: e });
            }
            rvs.set(id, v);
          }
          return v;
        },
      ],
    ]),
  });
  const claims = ev.evalPath(['policy', 'trust_claims']);
  const tv: TrustVector = {
    instance_identity: 0,
    configuration: 0,
    executables: 0,
    file_system: 0,
    hardware: 0,
    runtime_opaque: 0,
    storage_opaque: 0,
    sourced_data: 0,
  };
  if (claims !== undefined) {
    if (!(claims instanceof RObject))
      throw new CocoonError('ERR_POLICY_RESULT', 'data.policy.trust_claims must be an object');
    for (const key of TRUST_KEYS) {
      const v = claims.get(TRUST_CLAIM_NAMES[key]) ?? claims.get(key);
      tv[key] = int8(TRUST_CLAIM_NAMES[key], v);
    }
  }
  const ext = ev.evalPath(['policy', 'extensions']);
  const extensions = ext === undefined ? [] : toJSON(ext);
  if (!Array.isArray(extensions))
    throw new CocoonError('ERR_POLICY_RESULT', 'data.policy.extensions must be an array');
  const rules = req.trace === false ? [] : producedRules(policy, ev);
  return { status: statusOf(tv), trustVector: tv, rules, extensions };
}

/** Arguments of evaluateResourcePolicy. */
export interface ResourcePolicyRequest {
  /** Rego text (package `policy`, rule `allow`). */
  readonly policy: string;
  /** The verified token's full claim set (EAR JSON, §6.2): the policy input. */
  readonly tokenClaims: Readonly<Record<string, unknown>>;
  /** Resource path `repository/type/tag` (or any plugin path), with or without leading `/`. */
  readonly resourcePath: string;
  /** Plugin name (default "resource"). */
  readonly plugin?: string;
  /** Query parameters of the request (default {}). */
  readonly query?: Readonly<Record<string, string>>;
  /**
   * Record which rules produced the decision in `rules` (default false: the decision alone, as
   * before; true costs a traced evaluation).
   */
  readonly trace?: boolean;
}

/**
 * Evaluates a KBS resource policy: input = token claims, data = {plugin, resource-path (list of
 * segments), query} (§4.1); allowed only when `data.policy.allow` is exactly true (§4.2).
 */
export function evaluateResourcePolicy(req: ResourcePolicyRequest): { allow: boolean; rules: string[] } {
  const policy = compilePolicy([{ file: 'resource-policy.rego', text: req.policy }]);
  const segments = req.resourcePath.split('/').filter((s) => s !== '');
  const data = { plugin: req.plugin ?? 'resource', 'resource-path': segments, query: req.query ?? {} };
  const trace = req.trace === true;
  const { value, evaluation } = policy.evalPath(['policy', 'allow'], {
    input: req.tokenClaims,
    data,
    trace: trace ? 'produced' : false,
  });
  return { allow: value === true, rules: trace ? producedRules(policy, evaluation) : [] };
}
