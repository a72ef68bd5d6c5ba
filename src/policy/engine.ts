/**
 * The public Rego engine: compile modules once (cached by a hash of their text), then evaluate
 * queries or rule paths against input and data. Pure: policies cannot do I/O; time comes from
 * an injected clock; evaluation is bounded (eval.ts DEFAULT_MAX_STEPS / DEFAULT_TIMEOUT_MS).
 */
import { createHash } from 'node:crypto';
import { CocoonError } from '../common/errors.js';
import type { Literal } from './ast.js';
import { compileModules, compileQuery, queryVars, type CompiledPolicy } from './compile.js';
import { Evaluation, type EvalOptions } from './eval.js';
import { parseModule, parseQuery } from './parser.js';
import { RObject, checkJSON, fromCheckedJSON, fromJSON, type Value } from './value.js';

/** One module's source text and its file name (used in error locations). */
export interface ModuleSource {
  readonly file: string;
  readonly text: string;
}

/** One solution of a query: variable name → value. */
export type Row = ReadonlyMap<string, Value>;

/** Options of Policy.query / Policy.evalRule: EvalOptions with JSON input/data. */
export interface QueryOptions extends Omit<EvalOptions, 'input' | 'data'> {
  /** Input document as JSON data (or a Rego value); undefined leaves `input` undefined. */
  readonly input?: unknown;
  /** Base data document as a JSON object. */
  readonly data?: unknown;
  /** Set to true when `input` is already a Rego value (skips conversion). */
  readonly inputIsValue?: boolean;
}

/** The result of a query: rows, the evaluation (for traces), and soft errors seen. */
export interface QueryResult {
  readonly rows: Row[];
  readonly evaluation: Evaluation;
}

function toValue(x: unknown, what: string): Value {
  try {
    return checkJSON(x) ? fromCheckedJSON(x) : fromJSON(x);
  } catch (e) {
    throw new CocoonError('ERR_POLICY_INPUT', `${what} is not a JSON value: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** A compiled set of Rego modules. */
export class Policy {
  /** The compiled rule tree. */
  readonly compiled: CompiledPolicy;
  /** Module sources, for explain output. */
  readonly sources: readonly ModuleSource[];
  private readonly queryCache = new Map<string, Literal[]>();

  constructor(compiled: CompiledPolicy, sources: readonly ModuleSource[]) {
    this.compiled = compiled;
    this.sources = sources;
  }

  /** Creates one evaluation (shares caches across several evalPath calls). */
  createEvaluation(opts: QueryOptions = {}): Evaluation {
    return this.makeEval(opts);
  }

  private makeEval(opts: QueryOptions): Evaluation {
    const input =
      opts.input === undefined
        ? undefined
        : opts.inputIsValue === true
          ? (opts.input as Value)
          : toValue(opts.input, 'input');
    let data: RObject | undefined;
    if (opts.data !== undefined && opts.data !== null) {
      const d = opts.data instanceof RObject ? opts.data : toValue(opts.data, 'data');
      if (!(d instanceof RObject)) throw new CocoonError('ERR_POLICY_INPUT', 'data must be a JSON object');
      data = d;
    }
    // A fixed-shape literal, not a spread of opts: this runs once per KBS attestation.
    return new Evaluation(this.compiled, {
      input,
      data,
      strict: opts.strict,
      maxSteps: opts.maxSteps,
      timeoutMs: opts.timeoutMs,
      clock: opts.clock,
      extraBuiltins: opts.extraBuiltins,
      trace: opts.trace,
    });
  }

  /** Compiles (and caches) a query text against this policy. */
  compileQueryText(query: string): Literal[] {
    let q = this.queryCache.get(query);
    if (q === undefined) {
      q = compileQuery(parseQuery(query), this.compiled);
      if (this.queryCache.size > 100) this.queryCache.clear();
      this.queryCache.set(query, q);
    }
    return q;
  }

  /** Runs a query (`data.policy.allow`, `x := data.a[_]`) and returns every solution. */
  query(query: string, opts: QueryOptions = {}): QueryResult {
    const body = this.compileQueryText(query);
    const vars = queryVars(body);
    const ev = this.makeEval(opts);
    const rows: Row[] = [];
    ev.runQuery(body, (env) => {
      const row = new Map<string, Value>();
      for (const v of vars) {
        const x = env.get(v);
        if (x !== undefined) row.set(v, x);
      }
      rows.push(row);
    });
    return { rows, evaluation: ev };
  }

  /**
   * Evaluates the document at a data path (`["policy", "allow"]`); undefined when the document is
   * undefined. Faster than query() for the fixed rule lookups of Trustee integration.
   */
  evalPath(
    path: readonly string[],
    opts: QueryOptions = {},
  ): { value: Value | undefined; evaluation: Evaluation } {
    const ev = this.makeEval(opts);
    return { value: ev.evalPath(path), evaluation: ev };
  }
}

const cache = new Map<string, Policy>();
const singleCache = new Map<string, Map<string, Policy>>();
/** Maximum number of compiled policies kept in the cache. */
export const POLICY_CACHE_SIZE = 64;

/**
 * Parses and compiles modules (all together, as OPA loads a bundle). A single string is one
 * module named policy.rego. Results are cached by the SHA-256 of the texts and file names.
 */
export function compilePolicy(src: string | readonly ModuleSource[]): Policy {
  const sources: readonly ModuleSource[] =
    typeof src === 'string' ? [{ file: 'policy.rego', text: src }] : src;
  // Fast path for one module: V8 caches a string's hash, so the same text is found without
  // re-hashing it (the KBS evaluates the same policy text on every request).
  if (sources.length === 1) {
    const byText = singleCache.get(sources[0].file);
    const hit = byText?.get(sources[0].text);
    if (hit !== undefined) return hit;
  }
  const h = createHash('sha256');
  for (const s of sources) h.update(s.file).update('\u0000').update(s.text).update('\u0000');
  const key = h.digest('hex');
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const modules = sources.map((s) => parseModule(s.text, { file: s.file }));
  const policy = new Policy(compileModules(modules), sources);
  if (sources.length === 1) {
    let byText = singleCache.get(sources[0].file);
    if (byText === undefined) {
      if (singleCache.size >= POLICY_CACHE_SIZE) singleCache.clear();
      byText = new Map();
      singleCache.set(sources[0].file, byText);
    }
    if (byText.size >= POLICY_CACHE_SIZE) byText.clear();
    byText.set(sources[0].text, policy);
  }
  if (cache.size >= POLICY_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(key, policy);
  return policy;
}
