/**
 * The Rego evaluator: top-down evaluation with backtracking in continuation-passing style (each
 * step calls `k` once per solution; `k` returns true to stop early). Semantics follow OPA's
 * topdown package: undefined is not false, complete rules and functions raise
 * eval_conflict_error on several distinct outputs, built-in failures are undefined unless strict
 * mode is on. Evaluation is bounded by a step budget and a wall-clock deadline (ERR_POLICY_LIMIT).
 */
import { CocoonError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import type { CallTerm, CallTarget, Expr, Literal, Term } from './ast.js';
import type { CompiledPolicy, CompiledRule, DataEntry, RuleNode } from './compile.js';
import { dataEntry, findNode } from './compile.js';
import {
  BUILTINS,
  BuiltinError,
  RELATIONS,
  builtinName,
  type BuiltinContext,
  type BuiltinDef,
} from './builtins.js';
import { RObject, RSet, canonical, equal, keyOf, show, type Value } from './value.js';
import {
  NONE,
  RuleSink,
  SINK_COMPLETE,
  SINK_FUNC,
  SINK_SET,
  compiledRule,
  type ClosureHost,
} from './closure.js';

/** Continuation: return true to stop the search. */
type K = () => boolean;
/** Value continuation. */
type VK = (v: Value) => boolean;

/** Default step budget of one evaluation (each literal and iteration step counts one). */
export const DEFAULT_MAX_STEPS = 1_000_000;
/** Default wall-clock budget of one evaluation, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 2_000;

/** Options of one evaluation. */
export interface EvalOptions {
  /** The input document (a Rego value); absent means `input` is undefined. */
  readonly input?: Value;
  /** The base data document (default empty object). */
  readonly data?: RObject;
  /** Strict built-in errors (default false: a failing built-in is undefined). */
  readonly strict?: boolean;
  /** Step budget (default DEFAULT_MAX_STEPS). */
  readonly maxSteps?: number;
  /** Time budget in ms (default DEFAULT_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /** Clock for time.now_ns (default the system clock); read once per evaluation, as OPA does. */
  readonly clock?: Clock;
  /** Extra built-ins (e.g. Trustee's query_reference_value) by name. */
  readonly extraBuiltins?: ReadonlyMap<string, (args: Value[]) => Value | undefined>;
  /**
   * Record, per body, how far evaluation got: true (or "explain") keeps the deepest literal
   * reached, for `explain`; "produced" records only entry and completion (cheaper; enough to
   * list the rules that produced a result).
   */
  readonly trace?: boolean | 'explain' | 'produced';
}

interface Frame {
  readonly input: Value | undefined;
  readonly dataOverrides: readonly { path: string[]; value: Value }[];
  readonly fnOverrides: ReadonlyMap<string, FnReplacement>;
  /** Node values by node id: a value, UNDEFINED, IN_PROGRESS (recursion check) or not yet. */
  readonly cache: NodeCache;
  /** No `with` override of data or functions: terms may be evaluated directly. */
  readonly plain: boolean;
}

type FnReplacement = { kind: 'value'; value: Value } | { kind: 'target'; target: CallTarget };

const UNDEFINED = Symbol('undefined');
const IN_PROGRESS = Symbol('inProgress');
type NodeCache = (Value | typeof UNDEFINED | typeof IN_PROGRESS | undefined)[];
/** Continuation that never stops the search. */
const NEVER: K = () => false;
/** The base data document when none is given (only read). */
const EMPTY_DATA = new RObject();
/** Shared empty override lists of the base frame (frames copy them before adding). */
const NO_OVERRIDES: readonly { path: string[]; value: Value }[] = [];
const NO_FN_OVERRIDES: ReadonlyMap<string, FnReplacement> = new Map();
const NO_EXTRA: ReadonlyMap<string, (args: Value[]) => Value | undefined> = new Map();

/**
 * Static facts about a term, computed once per term of a compiled (cached) policy: whether it
 * has exactly one value (or none) once the variables it reads are bound, so it can be evaluated
 * directly instead of through continuations. Refs with variable segments, relations (`walk`)
 * and unbound variables iterate and keep the continuation path.
 */
interface TermInfo {
  readonly det: boolean;
  /** Variables that must be bound for direct evaluation (ref heads input/data excluded). */
  readonly vars: readonly string[];
}

/** Body literal shapes with a direct path (classified once per literal). */
const LIT_CPS = 0;
const LIT_TEST = 1;
const LIT_ASSIGN = 2;
const LIT_SOME = 3;
const LIT_SOMEIN = 4;

interface LitInfo {
  readonly kind: typeof LIT_CPS | typeof LIT_TEST | typeof LIT_ASSIGN | typeof LIT_SOME | typeof LIT_SOMEIN;
  /** The term evaluated directly (test: the expression; assign: the right-hand side). */
  readonly term?: Term;
  readonly info?: TermInfo;
  /** Assigned variable (assign) or element variable (`some x in coll`; term = coll). */
  readonly name?: string;
}

const TERM_INFO = Symbol('termInfo');
const LIT_INFO = Symbol('litInfo');

function analyze(t: Term, vars: Set<string>): boolean {
  switch (t.type) {
    case 'scalar':
      return true;
    case 'var':
      vars.add(t.name);
      return true;
    case 'ref': {
      const h = t.head;
      if (h.type === 'var') {
        if (h.name !== 'input' && h.name !== 'data') vars.add(h.name);
      } else if (!analyze(h, vars)) return false;
      for (const s of t.path) if (!analyze(s, vars)) return false;
      return true;
    }
    case 'array':
    case 'set':
      return t.items.every((x) => analyze(x, vars));
    case 'object':
      return t.entries.every(([a, b]) => analyze(a, vars) && analyze(b, vars));
    case 'call': {
      const tg = t.target;
      if (tg === undefined || (tg.kind === 'builtin' && RELATIONS.has(tg.name))) return false;
      return t.args.every((a) => analyze(a, vars));
    }
    default:
      // Comprehensions have exactly one value; their bodies run on the continuation path.
      return true;
  }
}

function termInfo(t: Term): TermInfo {
  const cached = (t as unknown as { [TERM_INFO]?: TermInfo })[TERM_INFO];
  if (cached !== undefined) return cached;
  const vars = new Set<string>();
  const det = analyze(t, vars);
  const info: TermInfo = { det, vars: [...vars] };
  Object.defineProperty(t, TERM_INFO, { value: info, enumerable: false });
  return info;
}

function litInfo(lit: Literal): LitInfo {
  const cached = (lit as unknown as { [LIT_INFO]?: LitInfo })[LIT_INFO];
  if (cached !== undefined) return cached;
  let info: LitInfo = { kind: LIT_CPS };
  const e = lit.expr;
  if (lit.withs.length === 0) {
    if (e.type === 'some' && !lit.negated) info = { kind: LIT_SOME };
    else if (e.type === 'somein' && !lit.negated && e.key === undefined && e.value.type === 'var') {
      const ti = termInfo(e.coll);
      if (ti.det) info = { kind: LIT_SOMEIN, term: e.coll, info: ti, name: e.value.name };
    } else if (e.type === 'term') {
      const ti = termInfo(e.term);
      if (ti.det) info = { kind: LIT_TEST, term: e.term, info: ti };
    } else if ((e.type === 'assign' || e.type === 'unify') && !lit.negated) {
      const [v, rhs] =
        e.left.type === 'var'
          ? [e.left, e.right]
          : e.type === 'unify' && e.right.type === 'var'
            ? [e.right, e.left]
            : [];
      if (v !== undefined && rhs !== undefined && v.type === 'var') {
        const ti = termInfo(rhs);
        if (ti.det) info = { kind: LIT_ASSIGN, term: rhs, info: ti, name: v.name };
      }
    }
  }
  Object.defineProperty(lit, LIT_INFO, { value: info, enumerable: false });
  return info;
}

const BODY_INFO = Symbol('bodyInfo');

/** LitInfo of every literal of a body, kept on the body array (one shape for all bodies). */
function bodyInfo(body: readonly Literal[]): readonly LitInfo[] {
  const cached = (body as unknown as { [BODY_INFO]?: readonly LitInfo[] })[BODY_INFO];
  if (cached !== undefined) return cached;
  const infos = body.map(litInfo);
  Object.defineProperty(body, BODY_INFO, { value: infos, enumerable: false });
  return infos;
}

function allBound(vars: readonly string[], env: Env): boolean {
  for (let i = 0; i < vars.length; i++) if (!env.has(vars[i])) return false;
  return true;
}

/** Rule-tree node of a function's path, found once per call target (paths belong to one policy). */
const FUNC_NODES = new WeakMap<readonly string[], RuleNode | null>();

/** Builtins raise these; strict mode turns them into CocoonErrors. */
function builtinCode(kind: BuiltinError['kind']): 'ERR_POLICY_TYPE' | 'ERR_POLICY_BUILTIN' {
  return kind === 'type' ? 'ERR_POLICY_TYPE' : 'ERR_POLICY_BUILTIN';
}

/** OPA's error code text for a CocoonError raised by evaluation. */
export function opaCode(code: string): string {
  switch (code) {
    case 'ERR_POLICY_CONFLICT':
      return 'eval_conflict_error';
    case 'ERR_POLICY_TYPE':
      return 'eval_type_error';
    case 'ERR_POLICY_BUILTIN':
      return 'eval_builtin_error';
    case 'ERR_POLICY_PARSE':
      return 'rego_parse_error';
    case 'ERR_POLICY_COMPILE':
      return 'rego_compile_error';
    default:
      return code;
  }
}

/** The BuiltinContext of one evaluation; its memo is created on first use. */
class BuiltinMemo implements BuiltinContext {
  readonly nowNs: number;
  private memo: Map<string, Value> | undefined = undefined;

  constructor(nowNs: number) {
    this.nowNs = nowNs;
  }

  get cache(): Map<string, Value> {
    return (this.memo ??= new Map());
  }
}

/** Variable bindings of one body, with undo by deletion. */
type Env = Map<string, Value>;

/** Empty variable environment for ground data paths evaluated from compiled rules. */
const NO_ENV: Env = new Map();

/** One evaluation (one query); holds caches, budgets and the frame stack of `with`. */
export class Evaluation implements ClosureHost {
  private readonly policy: CompiledPolicy;
  private readonly data: RObject;
  /** The base data document is empty (rule-tree lookups need no base values). */
  private readonly noData: boolean;
  private frame: Frame;
  private steps = 0;
  private readonly maxSteps: number;
  private readonly deadline: number;
  private readonly strict: boolean;
  private readonly bctx: BuiltinContext;
  private readonly extra: ReadonlyMap<string, (args: Value[]) => Value | undefined>;
  /** The only extra built-in, when there is exactly one (extraFor compares names). */
  private readonly extraName: string | undefined;
  private readonly extraFn: ((args: Value[]) => Value | undefined) | undefined;
  /** An extra built-in replaces `equal` or `neq` (ClosureHost: `==`/`!=` then go through it). */
  readonly eqReplaced: boolean;
  /** Builtin errors seen in non-strict mode (first one kept for reporting). */
  readonly errors: CocoonError[] = [];
  /** Per body, the deepest literal index reached (trace mode). */
  readonly reached: Map<readonly Literal[], number> | undefined;
  private readonly traceAll: boolean;
  /** Rule sinks in use (0..sinkDepth-1) and free for reuse (takeSink). */
  private readonly sinks: RuleSink[] = [];
  private sinkDepth = 0;
  /** Input prefix values of compiled refs (inputMemo), valid for memoInput. */
  private memo: (Value | typeof NONE | undefined)[] | undefined = undefined;
  private memoInput: Value | undefined = undefined;

  constructor(policy: CompiledPolicy, opts: EvalOptions = {}) {
    this.policy = policy;
    this.data = opts.data ?? EMPTY_DATA;
    this.noData = opts.data === undefined || opts.data.size === 0;
    this.frame = {
      input: opts.input,
      dataOverrides: NO_OVERRIDES,
      fnOverrides: NO_FN_OVERRIDES,
      cache: new Array(policy.nodeCount),
      plain: true,
    };
    this.maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
    const started = Date.now();
    this.deadline = started + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.strict = opts.strict ?? false;
    const nowMs = opts.clock === undefined ? started : opts.clock.now().getTime();
    this.bctx = new BuiltinMemo(nowMs * 1e6);
    this.extra = opts.extraBuiltins ?? NO_EXTRA;
    // One extra (what Trustee passes) is found by comparing interned names (builtinName()).
    this.extraName = undefined;
    this.extraFn = undefined;
    if (this.extra.size === 1) {
      for (const [name, fn] of this.extra) {
        this.extraName = builtinName(name);
        this.extraFn = fn;
      }
    }
    this.eqReplaced = this.extra.size > 0 && (this.extra.has('equal') || this.extra.has('neq'));
    this.reached = opts.trace === undefined || opts.trace === false ? undefined : new Map();
    this.traceAll = opts.trace === true || opts.trace === 'explain';
  }

  private step(): void {
    this.steps++;
    if (this.steps > this.maxSteps) {
      throw new CocoonError('ERR_POLICY_LIMIT', `evaluation exceeded ${this.maxSteps} steps`, {
        details: { limit: 'steps', maxSteps: this.maxSteps },
      });
    }
    if ((this.steps & 1023) === 0 && Date.now() > this.deadline) {
      throw new CocoonError('ERR_POLICY_LIMIT', 'evaluation exceeded its time limit', {
        details: { limit: 'time' },
      });
    }
  }

  // ----- ClosureHost: what rules compiled by closure.ts call back into ------------------------

  /** Counts one step (ClosureHost). */
  tick(): void {
    this.step();
  }

  /** The current input document (ClosureHost). */
  inputDoc(): Value | undefined {
    return this.frame.input;
  }

  /** Memoized input prefixes for the current input document (ClosureHost). */
  inputMemo(): (Value | typeof NONE | undefined)[] {
    const input = this.frame.input;
    if (this.memo === undefined || this.memoInput !== input) {
      this.memo = [];
      this.memoInput = input;
    }
    return this.memo;
  }

  /** The value of a data ref with scalar segments, entering the rule tree at `entry` (ClosureHost). */
  dataDoc(path: readonly Term[], entry: DataEntry | null): Value | undefined {
    if (this.noData && entry !== null && entry.at > 0) {
      const v = this.nodeValue(entry.node, undefined);
      return v === undefined ? undefined : this.dvWalk(v, path, entry.at, NO_ENV);
    }
    return this.dvData(path, NO_ENV);
  }

  /** The extra built-in replacing `name`, if any (ClosureHost). */
  extraFor(name: string): ((args: Value[]) => Value | undefined) | undefined {
    if (this.extraFn !== undefined) return name === this.extraName ? this.extraFn : undefined;
    return this.extra.size === 0 ? undefined : this.extra.get(name);
  }

  /** A user function's output, `node` being the function's rule-tree node (ClosureHost). */
  callNode(node: RuleNode, args: Value[]): Value | undefined {
    return this.callFuncNode(node, args);
  }

  /** A built-in's output (ClosureHost). */
  builtin(target: CallTarget & { kind: 'builtin' }, t: CallTerm, args: Value[]): Value | undefined {
    return this.builtinValue(target, t, args);
  }

  /** A standard built-in's output: `def` is BUILTINS.get(target.name) (ClosureHost). */
  callBuiltin(
    def: BuiltinDef,
    target: CallTarget & { kind: 'builtin' },
    t: CallTerm,
    args: Value[],
  ): Value | undefined {
    try {
      return def.fn(args, this.bctx);
    } catch (e) {
      return this.builtinFailed(e, target, t);
    }
  }

  /** Compiled rules may run: no `with` override active and no full trace. */
  private compiledOK(): boolean {
    return this.frame.plain && !this.traceAll;
  }

  /** Runs a compiled query body; calls `onRow` with the environment for every solution. */
  runQuery(body: readonly Literal[], onRow: (env: Env) => boolean | void): void {
    const env: Env = new Map();
    this.guard(() => this.evalBody(body, 0, env, () => onRow(env) === true));
  }

  /** Evaluates a data path (without "data"); undefined when the document is undefined. */
  evalPath(path: readonly string[]): Value | undefined {
    if (this.noData && this.frame.dataOverrides.length === 0) {
      // No base documents: go down the rule tree by name to the node holding rules, as dvData.
      let node = this.policy.root;
      let i = 0;
      while (i < path.length && node.rules.length === 0 && node.defaults.length === 0) {
        const child = node.children.get(path[i]);
        if (child === undefined) break;
        node = child;
        i++;
      }
      if (i > 0 && (i === path.length || node.rules.length > 0 || node.defaults.length > 0)) {
        try {
          let v = this.nodeValue(node, undefined);
          for (; i < path.length && v !== undefined; i++) v = index(v, path[i]);
          return v;
        } catch (e) {
          throw depthError(e);
        }
      }
    }
    let out: Value | undefined;
    this.guard(() =>
      this.evalDataRef(
        path.map((p) => ({ type: 'scalar', value: p, loc: { file: '', line: 0, col: 0 } }) as Term),
        new Map(),
        (v) => {
          out = v;
          return true;
        },
      ),
    );
    return out;
  }

  private guard(f: () => unknown): void {
    try {
      f();
    } catch (e) {
      throw depthError(e);
    }
  }

  // ----- bodies and expressions ---------------------------------------------------------------

  /** True when no `with` override is active, so terms may be evaluated directly. */
  private plain(): boolean {
    return this.frame.plain;
  }

  private evalBody(body: readonly Literal[], i: number, env: Env, k: K): boolean {
    const reached = this.reached;
    // Variables bound by direct assignments in this loop; unbound again on the way out, as bind() does.
    let bound: string[] | undefined;
    let infos: readonly LitInfo[] | undefined;
    try {
      for (;;) {
        if (reached !== undefined && (this.traceAll || i === 0 || i === body.length)) {
          const prev = reached.get(body) ?? -1;
          if (i > prev) reached.set(body, i);
        }
        if (i === body.length) return k();
        this.step();
        const lit = body[i];
        const li = (infos ??= bodyInfo(body))[i];
        if (li.kind !== LIT_CPS && this.plain()) {
          if (li.kind === LIT_SOME) {
            i++;
            continue;
          }
          if (li.kind === LIT_TEST && allBound(li.info!.vars, env)) {
            const v = this.dv(li.term!, env);
            const holds = v !== undefined && v !== false;
            if (holds === lit.negated) return false;
            i++;
            continue;
          }
          if (li.kind === LIT_SOMEIN && !env.has(li.name!) && allBound(li.info!.vars, env)) {
            // `some x in coll`: bind x to each member in place (iterate()'s order and steps).
            const c = this.dv(li.term!, env);
            if (c === undefined) return false;
            const name = li.name!;
            const next = i + 1;
            // (No named closure here: tsx's keepNames would wrap each one in a defineProperty.)
            if (Array.isArray(c)) {
              for (let j = 0; j < c.length; j++) {
                this.step();
                env.set(name, c[j]);
                let stop: boolean;
                try {
                  stop = this.evalBody(body, next, env, k);
                } finally {
                  env.delete(name);
                }
                if (stop) return true;
              }
              return false;
            }
            return this.iterate(c, (_key, val) => {
              env.set(name, val);
              try {
                return this.evalBody(body, next, env, k);
              } finally {
                env.delete(name);
              }
            });
          }
          if (li.kind === LIT_ASSIGN && !env.has(li.name!) && allBound(li.info!.vars, env)) {
            const v = this.dv(li.term!, env);
            if (v === undefined) return false;
            env.set(li.name!, v);
            (bound ??= []).push(li.name!);
            i++;
            continue;
          }
        }
        const next = i + 1;
        if (lit.withs.length > 0) return this.evalWith(lit, env, () => this.evalBody(body, next, env, k));
        return this.evalLiteral(lit, env, () => this.evalBody(body, next, env, k));
      }
    } finally {
      if (bound !== undefined) for (const n of bound) env.delete(n);
    }
  }

  /**
   * Direct evaluation of a term whose TermInfo is det and whose variables are bound (checked by
   * the caller, with no `with` override active): its only value, or undefined. Evaluates in the
   * same order and with the same effects (built-in errors, steps) as the continuation path.
   */
  private dv(t: Term, env: Env): Value | undefined {
    switch (t.type) {
      case 'scalar':
        return t.value;
      case 'var':
        return env.get(t.name);
      case 'ref':
        return this.dvRef(t, env);
      case 'array': {
        const out = new Array<Value>(t.items.length);
        for (let i = 0; i < t.items.length; i++) {
          const v = this.dv(t.items[i], env);
          if (v === undefined) return undefined;
          out[i] = v;
        }
        return out;
      }
      case 'set': {
        const out = new RSet();
        for (const x of t.items) {
          const v = this.dv(x, env);
          if (v === undefined) return undefined;
          out.add(v);
        }
        return out;
      }
      case 'object': {
        const o = new RObject();
        for (const [a, b] of t.entries) {
          const kv = this.dv(a, env);
          if (kv === undefined) return undefined;
          const vv = this.dv(b, env);
          if (vv === undefined) return undefined;
          const prev = o.get(kv);
          if (prev !== undefined && !equal(prev, vv)) {
            throw new CocoonError(
              'ERR_POLICY_CONFLICT',
              `${t.loc.file}:${t.loc.line}: eval_conflict_error: object keys must be unique`,
            );
          }
          o.set(kv, vv);
        }
        return o;
      }
      case 'call': {
        const target = t.target!;
        if (
          target.kind === 'builtin' &&
          (target.name === 'equal' || target.name === 'neq') &&
          t.args.length === 2 &&
          this.extraFor(target.name) === undefined
        ) {
          // `==` and `!=` are most of a policy's tests: no argument array, no built-in lookup.
          const a = this.dv(t.args[0], env);
          if (a === undefined) return undefined;
          const b = this.dv(t.args[1], env);
          if (b === undefined) return undefined;
          return target.name === 'equal' ? equal(a, b) : !equal(a, b);
        }
        const args = new Array<Value>(t.args.length);
        for (let i = 0; i < t.args.length; i++) {
          const v = this.dv(t.args[i], env);
          if (v === undefined) return undefined;
          args[i] = v;
        }
        return target.kind === 'rule'
          ? this.callRuleValue(target.path, args)
          : this.builtinValue(target, t, args);
      }
      default: {
        let out: Value | undefined;
        this.evalTerm(t, env, (v) => ((out = v), true));
        return out;
      }
    }
  }

  private dvRef(t: Term & { type: 'ref' }, env: Env): Value | undefined {
    const h = t.head;
    let v: Value | undefined;
    if (h.type === 'var') {
      v = env.get(h.name);
      if (v === undefined) {
        if (h.name === 'data') return this.dvData(t.path, env);
        if (h.name !== 'input') return undefined;
        v = this.frame.input;
      }
    } else v = this.dv(h, env);
    return v === undefined ? undefined : this.dvWalk(v, t.path, 0, env);
  }

  private dvWalk(v: Value, path: readonly Term[], i: number, env: Env): Value | undefined {
    let cur: Value | undefined = v;
    for (; i < path.length; i++) {
      const seg = path[i];
      const key = seg.type === 'scalar' ? seg.value : this.dv(seg, env);
      if (key === undefined) return undefined;
      cur = index(cur, key);
      if (cur === undefined) return undefined;
    }
    return cur;
  }

  /** descend() for a path whose segments have one value each (no overrides active). */
  private dvData(path: readonly Term[], env: Env): Value | undefined {
    let node = this.policy.root;
    let base: Value | undefined = this.data;
    let i = 0;
    if (this.noData) {
      // No base documents: a ground path to a rule goes straight to its node (found once per ref).
      const e = dataEntry(node, path);
      // The root itself (`data`) is the empty base document merged with the rules: not here.
      if (e !== null && e.at > 0) {
        const v = this.nodeValue(e.node, undefined);
        return v === undefined ? undefined : this.dvWalk(v, path, e.at, env);
      }
    }
    for (; ; i++) {
      if (node.rules.length > 0 || node.defaults.length > 0 || i === path.length) {
        const v = this.nodeValue(node, base);
        return v === undefined ? undefined : this.dvWalk(v, path, i, env);
      }
      const seg = path[i];
      const key = seg.type === 'scalar' ? seg.value : this.dv(seg, env);
      if (key === undefined) return undefined;
      if (typeof key === 'string') {
        const child = node.children.get(key);
        if (child !== undefined) {
          base = base instanceof RObject ? base.get(key) : undefined;
          node = child;
          continue;
        }
      }
      if (node.funcs.length > 0) return undefined;
      let b = base === undefined ? undefined : index(base, key);
      // Base documents come from JSON, whose keys are strings: data[2] finds "2" (OPA).
      if (b === undefined && typeof key === 'number' && base instanceof RObject) b = base.get(String(key));
      return b === undefined ? undefined : this.dvWalk(b, path, i + 1, env);
    }
  }

  private evalLiteral(lit: Literal, env: Env, k: K): boolean {
    if (lit.negated) {
      let found = false;
      this.evalExpr(lit.expr, env, () => {
        found = true;
        return true;
      });
      return found ? false : k();
    }
    return this.evalExpr(lit.expr, env, k);
  }

  private evalExpr(e: Expr, env: Env, k: K): boolean {
    switch (e.type) {
      case 'term':
        return this.evalTerm(e.term, env, (v) => (v === false ? false : k()));
      case 'unify':
      case 'assign':
        return this.unify(e.left, e.right, env, k);
      case 'some':
        return k();
      case 'somein':
        return this.evalTerm(e.coll, env, (c) =>
          this.iterate(c, (key, val) =>
            e.key === undefined
              ? this.unifyValue(e.value, val, env, k)
              : this.unifyValue(e.key, key, env, () => this.unifyValue(e.value, val, env, k)),
          ),
        );
      case 'every':
        return this.evalTerm(e.coll, env, (c) => {
          if (!Array.isArray(c) && !(c instanceof RObject) && !(c instanceof RSet)) return false;
          let ok = true;
          this.iterate(c, (key, val) => {
            const sat = this.everyElement(e, key, val, env);
            if (!sat) ok = false;
            return !ok;
          });
          return ok ? k() : false;
        });
    }
  }

  /** True when the body of `every` holds for one element. */
  private everyElement(e: Expr & { type: 'every' }, key: Value, val: Value, env: Env): boolean {
    let sat = false;
    // Inline continuations (no named closure: tsx's keepNames would rename each one).
    if (e.key === undefined)
      this.unifyValue(e.value, val, env, () => this.evalBody(e.body, 0, env, () => ((sat = true), true)));
    else
      this.unifyValue(e.key, key, env, () =>
        this.unifyValue(e.value, val, env, () => this.evalBody(e.body, 0, env, () => ((sat = true), true))),
      );
    return sat;
  }

  /** Calls f(key, value) for each element of a collection; strings and scalars have none. */
  private iterate(c: Value, f: (key: Value, val: Value) => boolean): boolean {
    if (Array.isArray(c)) {
      for (let i = 0; i < c.length; i++) {
        this.step();
        if (f(i, c[i])) return true;
      }
    } else if (c instanceof RObject) {
      for (const [key, val] of [...c.entries()]) {
        this.step();
        if (f(key, val)) return true;
      }
    } else if (c instanceof RSet) {
      for (const v of [...c.values()]) {
        this.step();
        if (f(v, v)) return true;
      }
    }
    return false;
  }

  private evalWith(lit: Literal, env: Env, k: K): boolean {
    // Evaluate all `with` values first (each may be multi-valued; OPA requires them ground).
    const vals: (Value | FnReplacement)[] = [];
    const collect = (i: number): boolean => {
      if (i === lit.withs.length) return this.withApplied(lit, vals, env, k);
      const w = lit.withs[i];
      if (w.value.type === 'call' && w.value.args.length === 0 && w.value.target !== undefined) {
        const tgt = w.target;
        const isFnTarget = tgt.type === 'call';
        if (isFnTarget) {
          vals[i] = { kind: 'target', target: w.value.target };
          return collect(i + 1);
        }
      }
      return this.evalTerm(w.value, env, (v) => {
        vals[i] = v;
        return collect(i + 1);
      });
    };
    return collect(0);
  }

  private withApplied(lit: Literal, vals: (Value | FnReplacement)[], env: Env, k: K): boolean {
    const prev = this.frame;
    let input = prev.input;
    const dataOverrides = [...prev.dataOverrides];
    const fnOverrides = new Map(prev.fnOverrides);
    for (let i = 0; i < lit.withs.length; i++) {
      const w = lit.withs[i];
      const v = vals[i];
      const t = w.target;
      if (t.type === 'call') {
        const tt = t.target!;
        const key = tt.kind === 'builtin' ? `b:${tt.name}` : `r:${tt.path.join('.')}`;
        fnOverrides.set(key, isReplacement(v) ? v : { kind: 'value', value: v });
        continue;
      }
      const path = staticPath(t);
      if (path === undefined || isReplacement(v)) {
        throw new CocoonError(
          'ERR_POLICY_COMPILE',
          `${w.loc.file}:${w.loc.line}:${w.loc.col}: rego_compile_error: with keyword target must reference existing input, data, or a function`,
        );
      }
      if (path[0] === 'input') input = path.length === 1 ? v : upsert(input, path.slice(1), v);
      else if (path[0] === 'data') dataOverrides.push({ path: path.slice(1), value: v });
      else {
        throw new CocoonError(
          'ERR_POLICY_COMPILE',
          `${w.loc.file}:${w.loc.line}:${w.loc.col}: rego_compile_error: with keyword target must reference existing input, data, or a function`,
        );
      }
    }
    this.frame = {
      input,
      dataOverrides,
      fnOverrides,
      cache: new Array(this.policy.nodeCount),
      plain: fnOverrides.size === 0 && dataOverrides.length === 0,
    };
    let stop: boolean;
    try {
      let found = false;
      if (lit.negated) {
        this.evalExpr(lit.expr, env, () => {
          found = true;
          return true;
        });
      }
      if (lit.negated) {
        this.frame = prev;
        return found ? false : k();
      }
      stop = this.evalExpr(lit.expr, env, () => {
        const inner = this.frame;
        this.frame = prev;
        try {
          return k();
        } finally {
          this.frame = inner;
        }
      });
    } finally {
      this.frame = prev;
    }
    return stop;
  }

  // ----- unification --------------------------------------------------------------------------

  private unify(a: Term, b: Term, env: Env, k: K): boolean {
    if (a.type === 'var' && !env.has(a.name)) {
      if (b.type === 'var' && !env.has(b.name)) return this.unsafe(b);
      return this.evalTerm(b, env, (v) => this.bind(a.name, v, env, k));
    }
    if (b.type === 'var' && !env.has(b.name))
      return this.evalTerm(a, env, (v) => this.bind(b.name, v, env, k));
    if (a.type === 'array' && b.type === 'array') {
      if (a.items.length !== b.items.length) return false;
      return this.unifyPairs(a.items, b.items, 0, env, k);
    }
    if (a.type === 'object' && b.type === 'object' && isPattern(a, env) && isPattern(b, env)) {
      if (a.entries.length !== b.entries.length) return false;
      const pairs: [Term, Term][] = [];
      for (const [ka, va] of a.entries) {
        const m = b.entries.find(
          ([kb]) => ka.type === 'scalar' && kb.type === 'scalar' && equal(ka.value, kb.value),
        );
        if (m === undefined) return false;
        pairs.push([va, m[1]]);
      }
      return this.unifyPairs(
        pairs.map((p) => p[0]),
        pairs.map((p) => p[1]),
        0,
        env,
        k,
      );
    }
    if (isPattern(a, env)) return this.evalTerm(b, env, (v) => this.unifyValue(a, v, env, k));
    return this.evalTerm(a, env, (va) => this.unifyValue(b, va, env, k));
  }

  private unifyPairs(xs: readonly Term[], ys: readonly Term[], i: number, env: Env, k: K): boolean {
    if (i === xs.length) return k();
    return this.unify(xs[i], ys[i], env, () => this.unifyPairs(xs, ys, i + 1, env, k));
  }

  private unifyItems(ts: readonly Term[], vs: readonly Value[], i: number, env: Env, k: K): boolean {
    if (i === ts.length) return k();
    return this.unifyValue(ts[i], vs[i], env, () => this.unifyItems(ts, vs, i + 1, env, k));
  }

  private unifyEntries(t: Term & { type: 'object' }, v: RObject, i: number, env: Env, k: K): boolean {
    if (i === t.entries.length) return k();
    const [kt, vt] = t.entries[i];
    return this.evalTerm(kt, env, (kv) => {
      const val = v.get(kv);
      if (val === undefined) return false;
      return this.unifyValue(vt, val, env, () => this.unifyEntries(t, v, i + 1, env, k));
    });
  }

  private bind(name: string, v: Value, env: Env, k: K): boolean {
    env.set(name, v);
    try {
      return k();
    } finally {
      env.delete(name);
    }
  }

  /** Unifies a term (possibly with unbound variables) with a value. */
  private unifyValue(t: Term, v: Value, env: Env, k: K): boolean {
    switch (t.type) {
      case 'var': {
        const cur = env.get(t.name);
        if (cur === undefined) return this.bind(t.name, v, env, k);
        return equal(cur, v) ? k() : false;
      }
      case 'scalar':
        return equal(t.value, v) ? k() : false;
      case 'array': {
        if (!Array.isArray(v) || v.length !== t.items.length) return false;
        return this.unifyItems(t.items, v, 0, env, k);
      }
      case 'object': {
        if (!(v instanceof RObject) || v.size !== t.entries.length) return false;
        return this.unifyEntries(t, v, 0, env, k);
      }
      default:
        return this.evalTerm(t, env, (tv) => (equal(tv, v) ? k() : false));
    }
  }

  private unsafe(t: Term): never {
    const name = t.type === 'var' ? t.name : '?';
    throw new CocoonError(
      'ERR_POLICY_COMPILE',
      `${t.loc.file}:${t.loc.line}:${t.loc.col}: rego_unsafe_var_error: var ${name} is unsafe`,
      {
        details: { file: t.loc.file, line: t.loc.line, col: t.loc.col },
      },
    );
  }

  // ----- terms ------------------------------------------------------------------------------

  private evalTerm(t: Term, env: Env, k: VK): boolean {
    if (
      t.type === 'ref' ||
      t.type === 'call' ||
      t.type === 'array' ||
      t.type === 'object' ||
      t.type === 'set'
    ) {
      const ti = termInfo(t);
      if (ti.det && this.plain() && allBound(ti.vars, env)) {
        const v = this.dv(t, env);
        return v === undefined ? false : k(v);
      }
    }
    switch (t.type) {
      case 'scalar':
        return k(t.value);
      case 'var': {
        const v = env.get(t.name);
        if (v === undefined) return this.unsafe(t);
        return k(v);
      }
      case 'ref':
        return this.evalRef(t, env, k);
      case 'array':
        return this.evalTerms(t.items, env, (vs) => k(vs));
      case 'set':
        return this.evalTerms(t.items, env, (vs) => k(new RSet(vs)));
      case 'object': {
        const flat: Term[] = [];
        for (const [a, b] of t.entries) flat.push(a, b);
        return this.evalTerms(flat, env, (vs) => {
          const o = new RObject();
          for (let i = 0; i < vs.length; i += 2) {
            const prev = o.get(vs[i]);
            if (prev !== undefined && !equal(prev, vs[i + 1])) {
              throw new CocoonError(
                'ERR_POLICY_CONFLICT',
                `${t.loc.file}:${t.loc.line}: eval_conflict_error: object keys must be unique`,
              );
            }
            o.set(vs[i], vs[i + 1]);
          }
          return k(o);
        });
      }
      case 'call':
        return this.evalTerms(t.args, env, (args) => this.call(t, args, k));
      case 'arraycomp': {
        const out: Value[] = [];
        this.evalBody(t.body, 0, env, () => this.evalTerm(t.head, env, (v) => (out.push(v), false)));
        return k(out);
      }
      case 'setcomp': {
        const out = new RSet();
        this.evalBody(t.body, 0, env, () => this.evalTerm(t.head, env, (v) => (out.add(v), false)));
        return k(out);
      }
      case 'objectcomp': {
        const out = new RObject();
        this.evalBody(t.body, 0, env, () =>
          this.evalTerm(t.head, env, (kv) =>
            this.evalTerm(t.value!, env, (vv) => {
              const prev = out.get(kv);
              if (prev !== undefined && !equal(prev, vv)) {
                throw new CocoonError(
                  'ERR_POLICY_CONFLICT',
                  `${t.loc.file}:${t.loc.line}: eval_conflict_error: object keys must be unique`,
                );
              }
              out.set(kv, vv);
              return false;
            }),
          ),
        );
        return k(out);
      }
    }
  }

  private evalTerms(ts: readonly Term[], env: Env, k: (vs: Value[]) => boolean): boolean {
    return this.evalTermsFrom(ts, 0, new Array<Value>(ts.length), env, k);
  }

  private evalTermsFrom(
    ts: readonly Term[],
    i: number,
    vals: Value[],
    env: Env,
    k: (vs: Value[]) => boolean,
  ): boolean {
    if (i === ts.length) return k(vals.slice());
    const t = ts[i];
    // Fast paths: scalars and bound variables need no continuation.
    if (t.type === 'scalar') {
      vals[i] = t.value;
      return this.evalTermsFrom(ts, i + 1, vals, env, k);
    }
    if (t.type === 'var') {
      const v = env.get(t.name);
      if (v === undefined) return this.unsafe(t);
      vals[i] = v;
      return this.evalTermsFrom(ts, i + 1, vals, env, k);
    }
    return this.evalTerm(t, env, (v) => {
      vals[i] = v;
      return this.evalTermsFrom(ts, i + 1, vals, env, k);
    });
  }

  private evalRef(t: Term & { type: 'ref' }, env: Env, k: VK): boolean {
    const h = t.head;
    if (h.type === 'var') {
      if (h.name === 'data' && !env.has('data')) return this.evalDataRef(t.path, env, k);
      if (h.name === 'input' && !env.has('input')) {
        const input = this.frame.input;
        if (input === undefined) return false;
        return this.walk(input, t.path, 0, env, k);
      }
    }
    return this.evalTerm(h, env, (v) => this.walk(v, t.path, 0, env, k));
  }

  /** Applies ref segments to a value, iterating over unbound variable segments. */
  private walk(v: Value, path: readonly Term[], i: number, env: Env, k: VK): boolean {
    if (i === path.length) return k(v);
    const seg = path[i];
    if (seg.type === 'scalar') {
      const next = index(v, seg.value);
      return next === undefined ? false : this.walk(next, path, i + 1, env, k);
    }
    if (seg.type === 'var' && !env.has(seg.name)) {
      return this.iterate(v, (key, val) =>
        this.bind(seg.name, key, env, () => this.walk(val, path, i + 1, env, k)),
      );
    }
    if (isPattern(seg, env)) {
      return this.iterate(v, (key, val) =>
        this.unifyValue(seg, key, env, () => this.walk(val, path, i + 1, env, k)),
      );
    }
    return this.evalTerm(seg, env, (key) => {
      const next = index(v, key);
      return next === undefined ? false : this.walk(next, path, i + 1, env, k);
    });
  }

  // ----- virtual documents ----------------------------------------------------------------------

  private evalDataRef(path: readonly Term[], env: Env, k: VK): boolean {
    return this.descend(this.policy.root, this.data, path, 0, env, k);
  }

  private overrideAt(path: readonly string[]): Value | undefined | typeof UNDEFINED {
    const ovs = this.frame.dataOverrides;
    for (let j = ovs.length - 1; j >= 0; j--) {
      const o = ovs[j];
      if (o.path.length <= path.length && o.path.every((p, x) => p === path[x])) {
        const sub = o.path.length === path.length ? o.value : indexPath(o.value, path.slice(o.path.length));
        return sub === undefined ? UNDEFINED : sub;
      }
    }
    return undefined;
  }

  private descend(
    node: RuleNode,
    base: Value | undefined,
    path: readonly Term[],
    i: number,
    env: Env,
    k: VK,
  ): boolean {
    if (this.frame.dataOverrides.length > 0) {
      const o = this.overrideAt(node.path);
      if (o === UNDEFINED) return false;
      if (o !== undefined) return this.walk(o, path, i, env, k);
    }
    if (node.rules.length > 0 || node.defaults.length > 0 || i === path.length) {
      const v = this.nodeValue(node, base);
      return v === undefined ? false : this.walk(v, path, i, env, k);
    }
    const seg = path[i];
    if (seg.type === 'scalar') return this.descendKey(node, base, seg.value, path, i, env, k);
    if ((seg.type === 'var' && !env.has(seg.name)) || isPattern(seg, env)) {
      const v = this.nodeValue(node, base);
      return v === undefined ? false : this.walk(v, path, i, env, k);
    }
    return this.evalTerm(seg, env, (key) => this.descendKey(node, base, key, path, i, env, k));
  }

  private descendKey(
    node: RuleNode,
    base: Value | undefined,
    key: Value,
    path: readonly Term[],
    i: number,
    env: Env,
    k: VK,
  ): boolean {
    if (typeof key === 'string') {
      const child = node.children.get(key);
      if (child !== undefined) {
        const b = base instanceof RObject ? base.get(key) : undefined;
        return this.descend(child, b, path, i + 1, env, k);
      }
    }
    if (node.funcs.length > 0) return false;
    let b = base === undefined ? undefined : index(base, key);
    // Base documents come from JSON, whose keys are strings: data[2] finds "2" (OPA).
    if (b === undefined && typeof key === 'number' && base instanceof RObject) b = base.get(String(key));
    if (this.frame.dataOverrides.length > 0) return this.descendBase(b, node.path, key, path, i + 1, env, k);
    if (b === undefined) return false;
    return this.walk(b, path, i + 1, env, k);
  }

  /** Descends into base data below the rule tree when `with data…` overrides are active. */
  private descendBase(
    b: Value | undefined,
    parent: readonly string[],
    key: Value,
    path: readonly Term[],
    i: number,
    env: Env,
    k: VK,
  ): boolean {
    const at = [...parent, typeof key === 'string' ? key : canonical(key)];
    const o = this.overrideAt(at);
    if (o === UNDEFINED) return false;
    if (o !== undefined) return this.walk(o, path, i, env, k);
    const below = this.frame.dataOverrides.some(
      (x) => x.path.length > at.length && at.every((p, j) => p === x.path[j]),
    );
    if (!below) return b === undefined ? false : this.walk(b, path, i, env, k);
    return this.walk(this.applyOverridesBelow(b ?? new RObject(), at), path, i, env, k);
  }

  private applyOverridesBelow(v: Value, at: readonly string[]): Value {
    let out = v;
    for (const o of this.frame.dataOverrides) {
      if (o.path.length > at.length && at.every((p, x) => p === o.path[x])) {
        out = upsert(out, o.path.slice(at.length), o.value);
      }
    }
    return out;
  }

  /** The full value of a rule-tree node: base data, rules and child nodes merged (cached). */
  private nodeValue(node: RuleNode, base: Value | undefined): Value | undefined {
    const cache = this.frame.cache;
    const id = node.id;
    const cached = cache[id];
    if (cached !== undefined) {
      if (cached === UNDEFINED) return undefined;
      if (cached !== IN_PROGRESS) return cached;
      const r = node.rules[0]?.rule ?? node.defaults[0]?.rule;
      const loc = r?.loc;
      throw new CocoonError(
        'ERR_POLICY_COMPILE',
        `${loc?.file ?? ''}:${loc?.line ?? 0}: rego_recursion_error: rule data.${node.path.join('.')} is recursive`,
      );
    }
    cache[id] = IN_PROGRESS;
    let result: Value | undefined;
    try {
      result = this.computeNode(node, base);
    } catch (e) {
      cache[id] = undefined;
      throw e;
    }
    if (result !== undefined && this.frame.dataOverrides.length > 0)
      result = this.applyOverridesBelow(result, node.path);
    cache[id] = result === undefined ? UNDEFINED : result;
    return result;
  }

  private computeNode(node: RuleNode, base: Value | undefined): Value | undefined {
    if (base === undefined && node.children.size === 0 && !node.isSet && !node.hasSuffix) {
      // The common leaf: complete rules (and defaults) only, no base document.
      const v =
        node.rules.length > 0 || node.valueDefault ? this.evalComplete(node.rules, node.defaults) : undefined;
      return v === undefined && node.isPackage ? new RObject() : v;
    }
    let value: Value | undefined = base;
    const leaves: LeafOut[] | undefined = node.hasSuffix && node.children.size > 0 ? [] : undefined;
    if (node.rules.length > 0 || node.valueDefault) {
      const rv = this.evalRules(node, leaves);
      if (rv !== undefined)
        value = value instanceof RObject && rv instanceof RObject ? mergeObjects(value, rv) : rv;
    }
    if (node.children.size > 0) {
      if (value !== undefined && !(value instanceof RObject)) return value;
      let obj: RObject | undefined = value instanceof RObject ? new RObject(value.entries()) : undefined;
      for (const [name, child] of node.children) {
        if (child.funcs.length > 0 && child.rules.length === 0 && child.children.size === 0) continue;
        const b = base instanceof RObject ? base.get(name) : undefined;
        const cv = this.nodeValue(child, b);
        if (cv === undefined) continue;
        obj ??= new RObject();
        const prev = obj.get(name);
        obj.set(name, mergeValues(prev, cv));
      }
      if (leaves !== undefined) for (const l of leaves) this.checkLeafOverlap(node, base, l);
      if (obj === undefined && node.rules.length === 0 && base === undefined) {
        // A package whose rules are all undefined is an empty object (OPA).
        return hasAnyRule(node) || node.isPackage ? new RObject() : undefined;
      }
      return obj;
    }
    if (value === undefined && node.isPackage) return new RObject();
    return value;
  }

  /**
   * OPA's conflict between a general ref head's output and the rules below the same prefix: a rule
   * whose (ground) path is a proper prefix of the leaf path `p[q].r.s` produced, or rules below
   * the leaf path that would change its value (`p.q.r.s.t := 42` under `p[q].r := {…}`).
   */
  private checkLeafOverlap(node: RuleNode, base: Value | undefined, leaf: LeafOut): void {
    let n = node;
    let b = base;
    for (let i = 0; i < leaf.keys.length; i++) {
      const key = leaf.keys[i];
      const child = typeof key === 'string' ? n.children.get(key) : undefined;
      if (child === undefined) return;
      n = child;
      b = b instanceof RObject ? b.get(key) : undefined;
      const last = i === leaf.keys.length - 1;
      if (!last && (n.hasSuffix || n.isSet || (n.rules.length === 0 && !n.valueDefault))) continue;
      const v = this.nodeValue(n, b);
      if (v === undefined) return;
      // Equal values agree; set leaves and set rules below the same path are one set (a union).
      if (last && (equal(v, leaf.value) || (v instanceof RSet && leaf.value instanceof RSet))) return;
      const loc = leaf.rule.rule.loc;
      throw new CocoonError(
        'ERR_POLICY_CONFLICT',
        `${loc.file}:${loc.line}: eval_conflict_error: object keys must be unique`,
      );
    }
  }

  /** Evaluates the (non-function) rules of one node into its value; `leavesOut` gets ref-head outputs. */
  private evalRules(node: RuleNode, leavesOut?: LeafOut[]): Value | undefined {
    const rules = node.rules;
    const { isSet, hasSuffix } = node;
    if (isSet) {
      const out = new RSet();
      const compiledOK = this.compiledOK();
      for (const cr of rules) {
        if (cr.rule.kind !== 'set') continue;
        const c = compiledOK ? compiledRule(cr, this.policy.root) : null;
        if (c !== null) {
          const sink = this.takeSink(SINK_SET, out);
          try {
            sink.run(this, cr, c, sink.env(c.slots));
          } finally {
            this.sinkDepth--;
          }
          continue;
        }
        const env: Env = new Map();
        this.evalBody(cr.rule.body, 0, env, () =>
          this.evalTerm(cr.rule.key!, env, (v) => (out.add(v), false)),
        );
      }
      return out;
    }
    if (hasSuffix) {
      let out: RObject | undefined;
      const leaves = new Map<string, Value>();
      let complete: Value | undefined;
      const setLeaves = new Map<string, LeafOut & { readonly value: RSet }>();
      for (const cr of rules) {
        if (cr.suffix.length === 0) {
          const v = this.evalComplete([cr]);
          if (v !== undefined) complete = v;
          continue;
        }
        const env: Env = new Map();
        if (cr.rule.kind === 'set') {
          this.evalRuleBodies(cr, env, () =>
            this.evalTerms(cr.suffix, env, (keys) =>
              this.evalTerm(cr.rule.key!, env, (member) => {
                const lk = keys.map(canonical).join('\u0001');
                const leaf = setLeaves.get(lk);
                if (leaf === undefined) setLeaves.set(lk, { keys, value: new RSet([member]), rule: cr });
                else leaf.value.add(member);
                return false;
              }),
            ),
          );
          continue;
        }
        this.evalRuleBodies(cr, env, () =>
          this.evalTerms(cr.suffix, env, (keys) =>
            this.evalHeadValue(cr.rule.value, env, (val) => {
              const lk = keys.map(canonical).join('\u0001');
              const prev = leaves.get(lk);
              if (prev !== undefined && !equal(prev, val)) {
                const loc = cr.rule.loc;
                throw new CocoonError(
                  'ERR_POLICY_CONFLICT',
                  `${loc.file}:${loc.line}: eval_conflict_error: object keys must be unique`,
                );
              }
              leaves.set(lk, val);
              leavesOut?.push({ keys, value: val, rule: cr });
              out = upsertValues(out ?? new RObject(), keys, val, cr);
              return false;
            }),
          ),
        );
      }
      for (const leaf of setLeaves.values()) {
        leavesOut?.push(leaf);
        out = upsertValues(out ?? new RObject(), leaf.keys, leaf.value, leaf.rule);
      }
      if (out === undefined) {
        if (complete !== undefined) return complete;
        return node.defaults.length > 0 ? this.evalComplete([], node.defaults) : new RObject();
      }
      return out;
    }
    return this.evalComplete(rules, node.defaults);
  }

  private evalHeadValue(t: Term | undefined, env: Env, k: VK): boolean {
    return t === undefined ? k(true) : this.evalTerm(t, env, k);
  }

  /** Runs a rule body and then its `else` branches until one succeeds; k receives each solution. */
  private evalRuleBodies(cr: CompiledRule, env: Env, k: K, valueK?: VK): boolean {
    const r = cr.rule;
    let any = false;
    const stop = this.evalBody(r.body, 0, env, () => {
      any = true;
      return valueK === undefined ? k() : this.evalHeadValue(r.value, env, valueK);
    });
    if (stop || any) return stop;
    for (const e of r.elses) {
      let hit = false;
      const s = this.evalBody(e.body, 0, env, () => {
        hit = true;
        return valueK === undefined ? k() : this.evalHeadValue(e.value, env, valueK);
      });
      if (s) return true;
      if (hit) return false;
    }
    return false;
  }

  private evalComplete(
    rules: readonly CompiledRule[],
    defaults: readonly CompiledRule[] = [],
  ): Value | undefined {
    let result: Value | undefined;
    if (rules.length > 0) {
      const sink = this.takeSink(SINK_COMPLETE, undefined);
      try {
        const compiledOK = this.compiledOK();
        for (let i = 0; i < rules.length; i++) {
          const cr = rules[i];
          const c = compiledOK ? compiledRule(cr, this.policy.root) : null;
          if (c !== null) sink.run(this, cr, c, sink.env(c.slots));
          else this.evalRuleBodies(cr, new Map(), NEVER, (v) => sink.put(v, cr));
        }
        result = sink.result;
      } finally {
        this.sinkDepth--;
      }
    }
    if (result === undefined) {
      for (const d of defaults) {
        if (d.rule.kind === 'func') continue;
        const t = d.rule.value;
        if (t === undefined) return true;
        if (t.type === 'scalar') return t.value;
        this.evalHeadValue(t, new Map(), (v) => ((result = v), true));
        break;
      }
    }
    return result;
  }

  // ----- calls -----------------------------------------------------------------------------

  private call(t: CallTerm, args: Value[], k: VK): boolean {
    const target = t.target;
    if (target === undefined) throw new CocoonError('ERR_POLICY_COMPILE', `undefined function ${t.name}`);
    if (this.frame.fnOverrides.size === 0) return this.callTarget(target, t, args, k);
    const key = target.kind === 'builtin' ? `b:${target.name}` : `r:${target.path.join('.')}`;
    const ov = this.frame.fnOverrides.get(key);
    if (ov !== undefined) {
      if (ov.kind === 'value') return k(ov.value);
      // Inside the replacement the replaced function is the original again (OPA: a mock
      // that calls the function it replaces reaches the real one).
      const prev = this.frame;
      const fnOverrides = new Map(prev.fnOverrides);
      fnOverrides.delete(key);
      this.frame = {
        ...prev,
        fnOverrides,
        cache: new Array(this.policy.nodeCount),
        plain: fnOverrides.size === 0 && prev.dataOverrides.length === 0,
      };
      try {
        return this.callTarget(ov.target, t, args, (v) => {
          const inner = this.frame;
          this.frame = prev;
          try {
            return k(v);
          } finally {
            this.frame = inner;
          }
        });
      } finally {
        this.frame = prev;
      }
    }
    return this.callTarget(target, t, args, k);
  }

  private callTarget(target: CallTarget, t: CallTerm, args: Value[], k: VK): boolean {
    if (target.kind === 'rule') {
      const v = this.callRuleValue(target.path, args);
      return v === undefined ? false : k(v);
    }
    if (this.extraFor(target.name) === undefined) {
      const rel = RELATIONS.get(target.name);
      if (rel !== undefined) {
        for (const v of rel(args)) if (k(v)) return true;
        return false;
      }
    }
    const v = this.builtinValue(target, t, args);
    return v === undefined ? false : k(v);
  }

  /** Calls a (non-relation) built-in or extra built-in: its value, or undefined on failure. */
  private builtinValue(
    target: CallTarget & { kind: 'builtin' },
    t: CallTerm,
    args: Value[],
  ): Value | undefined {
    const extra = this.extraFor(target.name);
    if (extra !== undefined) return extra(args);
    const b = BUILTINS.get(target.name);
    if (b === undefined) throw new CocoonError('ERR_POLICY_COMPILE', `undefined function ${target.name}`);
    try {
      return b.fn(args, this.bctx);
    } catch (e) {
      return this.builtinFailed(e, target, t);
    }
  }

  /** A built-in threw: raise (strict mode, CocoonErrors) or record the error and be undefined. */
  private builtinFailed(e: unknown, target: CallTarget & { kind: 'builtin' }, t: CallTerm): undefined {
    if (e instanceof BuiltinError) {
      const err = new CocoonError(
        builtinCode(e.kind),
        `${t.loc.file}:${t.loc.line}: ${e.kind === 'type' ? 'eval_type_error' : 'eval_builtin_error'}: ${e.message}`,
        {
          details: { builtin: target.name, line: t.loc.line, col: t.loc.col },
        },
      );
      if (this.strict || e.alwaysRaise) throw err;
      this.errors.push(err);
      return undefined;
    }
    if (e instanceof CocoonError) throw e;
    const err = new CocoonError(
      'ERR_POLICY_BUILTIN',
      `${t.loc.file}:${t.loc.line}: eval_builtin_error: ${target.name}: ${String((e as Error)?.message ?? e)}`,
    );
    if (this.strict) throw err;
    this.errors.push(err);
    return undefined;
  }

  /** Calls a user function: its single output for these arguments, or undefined. */
  private callRuleValue(path: readonly string[], args: Value[]): Value | undefined {
    let node = FUNC_NODES.get(path);
    if (node === undefined) {
      node = findNode(this.policy.root, path) ?? null;
      FUNC_NODES.set(path, node);
    }
    return node === null ? undefined : this.callFuncNode(node, args);
  }

  /** Calls the user function at a rule-tree node. */
  private callFuncNode(node: RuleNode, args: Value[]): Value | undefined {
    // The sink keeps the output: every body's output must agree with it (OPA conflict).
    const sink = this.takeSink(SINK_FUNC, undefined);
    let result: Value | undefined;
    try {
      this.callFuncs(node, args, sink);
      result = sink.result;
    } finally {
      this.sinkDepth--;
    }
    if (result === undefined) {
      const d = node.defaults.find((x) => x.rule.kind === 'func');
      if (d !== undefined) this.evalHeadValue(d.rule.value, new Map(), (v) => ((result = v), true));
    }
    return result;
  }

  /** Runs the function bodies of a node for these arguments into `sink`. */
  private callFuncs(node: RuleNode, args: Value[], sink: RuleSink): void {
    const funcs = node.funcs;
    const compiledOK = this.compiledOK();
    for (let f = 0; f < funcs.length; f++) {
      const cr = funcs[f];
      const ps = cr.rule.args ?? [];
      if (ps.length !== args.length) continue;
      const c = compiledOK ? compiledRule(cr, this.policy.root) : null;
      if (c !== null) {
        this.step();
        // Parameters are distinct plain variables: slots 0..n-1.
        const env = sink.env(c.slots);
        for (let j = 0; j < args.length; j++) env[j] = args[j];
        sink.run(this, cr, c, env);
        continue;
      }
      const env: Env = new Map();
      this.step();
      // Parameters that are distinct plain variables bind directly (the common case).
      let j = 0;
      while (j < ps.length) {
        const p = ps[j];
        if (p.type !== 'var' || env.has(p.name)) break;
        env.set(p.name, args[j]);
        j++;
      }
      if (j === ps.length) this.evalRuleBodies(cr, env, NEVER, (v) => sink.put(v, cr));
      else
        this.unifyItems(ps, args, j, env, () => this.evalRuleBodies(cr, env, NEVER, (v) => sink.put(v, cr)));
    }
  }

  /** A rule sink from the evaluation's stack (release with `this.sinkDepth--`, in a finally). */
  private takeSink(mode: number, members: RSet | undefined): RuleSink {
    const sinks = this.sinks;
    let s = sinks[this.sinkDepth];
    if (s === undefined) {
      s = new RuleSink();
      sinks.push(s);
    }
    this.sinkDepth++;
    return s.reset(mode, members);
  }
}

/** A stack overflow becomes ERR_POLICY_LIMIT (limit "depth"); other errors are returned as they are. */
function depthError(e: unknown): unknown {
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return new CocoonError('ERR_POLICY_LIMIT', 'evaluation exceeded its recursion depth', {
      details: { limit: 'depth' },
    });
  }
  return e;
}

/** True when rules (functions included: `foo["bar"](x)` makes foo `{}`, as OPA) are at or below `n`. */
function hasAnyRule(n: RuleNode): boolean {
  if (n.rules.length > 0 || n.defaults.length > 0 || n.funcs.length > 0) return true;
  for (const c of n.children.values()) if (hasAnyRule(c)) return true;
  return false;
}

function isReplacement(v: Value | FnReplacement): v is FnReplacement {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof RObject) &&
    !(v instanceof RSet) &&
    'kind' in v
  );
}

/** True when a term has unbound variables in pattern positions (var, array/object elements). */
function isPattern(t: Term, env: Env): boolean {
  switch (t.type) {
    case 'var':
      return !env.has(t.name);
    case 'array':
      return t.items.some((x) => isPattern(x, env));
    case 'object':
      return t.entries.some(([, v]) => isPattern(v, env));
    default:
      return false;
  }
}

function staticPath(t: Term): string[] | undefined {
  if (t.type === 'var') return [t.name];
  if (t.type !== 'ref' || t.head.type !== 'var') return undefined;
  const out = [t.head.name];
  for (const p of t.path) {
    if (p.type !== 'scalar' || typeof p.value !== 'string') return undefined;
    out.push(p.value);
  }
  return out;
}

/** Looks a key up in a collection (arrays by integer index, sets by membership). */
export function index(v: Value, key: Value): Value | undefined {
  if (Array.isArray(v)) {
    if (typeof key !== 'number' || !Number.isInteger(key) || key < 0 || key >= v.length) return undefined;
    return v[key];
  }
  if (v instanceof RObject) return v.get(key);
  if (v instanceof RSet) return v.has(key) ? key : undefined;
  return undefined;
}

function indexPath(v: Value, path: readonly string[]): Value | undefined {
  let cur: Value | undefined = v;
  for (const p of path) {
    if (cur === undefined) return undefined;
    cur = index(cur, p);
  }
  return cur;
}

/** Returns a copy of `v` with `value` set at `path` (objects created as needed). */
function upsert(v: Value | undefined, path: readonly string[], value: Value): Value {
  if (path.length === 0) return value;
  const o = v instanceof RObject ? new RObject(v.entries()) : new RObject();
  o.set(path[0], upsert(o.get(path[0]), path.slice(1), value));
  return o;
}

/** One output of a rule with a general ref head: its path below the rule's node, and value. */
interface LeafOut {
  readonly keys: readonly Value[];
  readonly value: Value;
  readonly rule: CompiledRule;
}

function upsertValues(o: RObject, keys: readonly Value[], value: Value, cr: CompiledRule): RObject {
  if (keys.length === 1) {
    const prev = o.get(keys[0]);
    if (prev instanceof RObject && value instanceof RObject) o.set(keys[0], mergeObjects(prev, value));
    else {
      if (prev !== undefined && !equal(prev, value)) {
        const loc = cr.rule.loc;
        throw new CocoonError(
          'ERR_POLICY_CONFLICT',
          `${loc.file}:${loc.line}: eval_conflict_error: object keys must be unique`,
        );
      }
      o.set(keys[0], value);
    }
    return o;
  }
  const cur = o.get(keys[0]);
  const child = cur instanceof RObject ? cur : new RObject();
  if (cur !== undefined && !(cur instanceof RObject)) {
    const loc = cr.rule.loc;
    throw new CocoonError(
      'ERR_POLICY_CONFLICT',
      `${loc.file}:${loc.line}: eval_conflict_error: object keys must be unique`,
    );
  }
  o.set(keys[0], upsertValues(child, keys.slice(1), value, cr));
  return o;
}

function mergeObjects(a: RObject, b: RObject): RObject {
  const out = new RObject(a.entries());
  for (const [k, v] of b.entries()) out.set(k, mergeValues(out.get(k), v));
  return out;
}

/** `b` over `a`: objects merge key by key, sets (partial set rules at one path) unite, else `b`. */
function mergeValues(a: Value | undefined, b: Value): Value {
  if (a instanceof RObject && b instanceof RObject) return mergeObjects(a, b);
  if (a instanceof RSet && b instanceof RSet) return new RSet([...a.values(), ...b.values()]);
  return b;
}

/** Re-exported for messages. */
export { show, keyOf };
