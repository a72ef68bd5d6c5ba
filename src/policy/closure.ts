/**
 * Rule bodies compiled once into closures over slot-indexed environments. A rule qualifies when
 * every literal of every body is one the evaluator's direct path handles: tests and assignments
 * of terms with one value, `some`, and `some … in` over variables. Whether a variable is bound
 * at each literal is then known statically, so a variable is a fixed array slot instead of a Map
 * entry, and terms (refs such as `input.tdx.quote.body.mr_td`, calls, comprehensions) are
 * closures built once per (cached) policy. Anything else (`with`, `every`, iterating refs,
 * patterns, relations) leaves the rule to the interpreter in eval.ts, and so does any evaluation
 * under a `with` override or with full tracing. Results, steps, trace records and built-in
 * errors are the same as the interpreter's; eval.ts decides when a compiled rule may run.
 */
import type { CallTarget, CallTerm, Literal, Loc, Term } from './ast.js';
import { dataEntry, findNode, type CompiledRule, type DataEntry, type RuleNode } from './compile.js';
import { BUILTINS, PREDICATES, RELATIONS, builtinName, memberOf, type BuiltinDef } from './builtins.js';
import { RObject, RSet, equal, type Value } from './value.js';
import { CocoonError } from '../common/errors.js';

/** What compiled code needs from the running evaluation (implemented by Evaluation). */
export interface ClosureHost {
  /** Per body, how far evaluation got ("produced" tracing), or undefined. */
  readonly reached: Map<readonly Literal[], number> | undefined;
  /** Counts one step against the budget (throws ERR_POLICY_LIMIT). */
  tick(): void;
  /** The current input document. */
  inputDoc(): Value | undefined;
  /** Values of input prefixes by prefix id (Slots.prefixId) for the current input document. */
  inputMemo(): (Value | typeof NONE | undefined)[];
  /** The value of a data ref whose segments are all scalars; `entry` is dataEntry(root, path). */
  dataDoc(path: readonly Term[], entry: DataEntry | null): Value | undefined;
  /** An extra built-in replaces `equal` or `neq`. */
  readonly eqReplaced: boolean;
  /** The extra built-in replacing the standard one of that name, if any. */
  extraFor(name: string): ((args: Value[]) => Value | undefined) | undefined;
  /** The output of the user function at a rule-tree node, or undefined. */
  callNode(node: RuleNode, args: Value[]): Value | undefined;
  /** A built-in's output by name, or undefined (errors as the interpreter reports them). */
  builtin(target: CallTarget & { kind: 'builtin' }, t: CallTerm, args: Value[]): Value | undefined;
  /** A standard built-in's output given its definition, or undefined. */
  callBuiltin(
    def: BuiltinDef,
    target: CallTarget & { kind: 'builtin' },
    t: CallTerm,
    args: Value[],
  ): Value | undefined;
}

/** A compiled term: its only value in `env`, or undefined. */
type TermFn = (h: ClosureHost, env: Value[]) => Value | undefined;

const OP_SKIP = 0;
const OP_TEST = 1;
const OP_ASSIGN = 2;
const OP_EQUAL = 3;
const OP_IN = 4;
const OP_TEST_CONST = 5;

/** One compiled body literal. */
interface Op {
  readonly kind: number;
  /** Test term, assigned term, left side of `=`, or the collection of `some … in`. */
  readonly fn: TermFn;
  /** Right side of `=` (OP_EQUAL). */
  readonly fn2: TermFn | undefined;
  readonly negated: boolean;
  /** Assigned slot, or the value variable's slot (OP_IN). */
  readonly slot: number;
  /** OP_IN: the value variable is unbound (bind it) rather than bound (compare). */
  readonly bindValue: boolean;
  /** OP_IN: the key variable's slot, or -1. */
  readonly keySlot: number;
  readonly bindKey: boolean;
  /** OP_TEST_CONST: the constant compared with fn's value, and == (true) or != (false). */
  readonly c: Value;
  readonly eq: boolean;
}

/** A compiled body; `src` is the literal array, the key of trace records. */
interface CBody {
  readonly ops: readonly Op[];
  readonly src: readonly Literal[];
}

/** A rule body (main or `else`) and its head value (undefined: `true`). */
interface CBranch {
  readonly body: CBody;
  readonly value: TermFn | undefined;
}

/** A compiled rule: its environment size, branches, and (partial set rules) member term. */
export interface CRule {
  /** Environment slots; function parameters take slots 0..n-1. */
  readonly slots: number;
  readonly branches: readonly CBranch[];
  readonly key: TermFn | undefined;
}

/** Marks a memoized input prefix that is undefined. */
export const NONE: unique symbol = Symbol('none');

/** Input prefixes memoized per evaluation: id by prefix text, per policy (rule-tree root). */
const PREFIX_IDS = new WeakMap<RuleNode, Map<string, number>>();

/** Per-rule compile state: the policy's rule tree, and variable name → slot. */
class Slots {
  readonly byName = new Map<string, number>();
  readonly root: RuleNode;

  constructor(root: RuleNode) {
    this.root = root;
  }

  /** The memo index of an input prefix (same prefix, same index, within one policy). */
  prefixId(prefix: readonly Value[]): number {
    let ids = PREFIX_IDS.get(this.root);
    if (ids === undefined) {
      ids = new Map();
      PREFIX_IDS.set(this.root, ids);
    }
    const key = JSON.stringify(prefix);
    let id = ids.get(key);
    if (id === undefined) {
      id = ids.size;
      ids.set(key, id);
    }
    return id;
  }

  of(name: string): number {
    let s = this.byName.get(name);
    if (s === undefined) {
      s = this.byName.size;
      this.byName.set(name, s);
    }
    return s;
  }
}

/**
 * The compiled form of a complete rule (no head suffix), partial set rule or function with
 * plain-variable parameters; null when some part of it is left to the interpreter. `root` is the
 * rule tree of the policy the rule belongs to. Compiled on first use and kept on the rule.
 */
export function compiledRule(cr: CompiledRule, root: RuleNode): CRule | null {
  let c = cr.compiled;
  if (c === undefined) {
    c = compileRule(cr, root);
    cr.compiled = c;
  }
  return c;
}

function compileRule(cr: CompiledRule, root: RuleNode): CRule | null {
  const r = cr.rule;
  if (r.isDefault || cr.suffix.length > 0) return null;
  const slots = new Slots(root);
  const start = new Set<string>();
  if (r.kind === 'func') {
    for (const p of r.args ?? []) {
      if (p.type !== 'var' || start.has(p.name)) return null;
      start.add(p.name);
      slots.of(p.name);
    }
  }
  const branches: CBranch[] = [];
  const bodies = [{ body: r.body, value: r.value }, ...r.elses];
  if (r.kind === 'set' && r.elses.length > 0) return null;
  let key: TermFn | undefined;
  for (const b of bodies) {
    const bound = new Set(start);
    const body = compileBody(b.body, bound, slots);
    if (body === null) return null;
    let value: TermFn | undefined;
    if (r.kind === 'set') {
      if (r.key === undefined) return null;
      const k = compileTerm(r.key, bound, slots);
      if (k === null) return null;
      key = k;
    } else if (b.value !== undefined) {
      const v = compileTerm(b.value, bound, slots);
      if (v === null) return null;
      value = v;
    }
    branches.push({ body, value });
  }
  return { slots: slots.byName.size, branches, key };
}

/** Compiles a body; `bound` (the variables bound on entry) gains the ones it binds. */
function compileBody(body: readonly Literal[], bound: Set<string>, slots: Slots): CBody | null {
  const ops: Op[] = [];
  for (const lit of body) {
    if (lit.withs.length > 0) return null;
    const op = compileLiteral(lit, bound, slots);
    if (op === null) return null;
    ops.push(op);
  }
  return { ops, src: body };
}

function op(kind: number, fn: TermFn, extra: Partial<Op> = {}): Op {
  return {
    kind,
    fn,
    fn2: extra.fn2,
    negated: extra.negated ?? false,
    slot: extra.slot ?? -1,
    bindValue: extra.bindValue ?? false,
    keySlot: extra.keySlot ?? -1,
    bindKey: extra.bindKey ?? false,
    c: extra.c ?? null,
    eq: extra.eq ?? false,
  };
}

const NOTHING: TermFn = () => undefined;

function compileLiteral(lit: Literal, bound: Set<string>, slots: Slots): Op | null {
  const e = lit.expr;
  switch (e.type) {
    case 'some':
      return lit.negated ? null : op(OP_SKIP, NOTHING);
    case 'term': {
      const fn = compileTerm(e.term, bound, slots);
      if (fn === null) return null;
      const t = e.term;
      if (
        t.type === 'call' &&
        t.target?.kind === 'builtin' &&
        (t.target.name === 'equal' || t.target.name === 'neq') &&
        t.args.length === 2 &&
        (t.args[0].type === 'scalar' || t.args[1].type === 'scalar')
      ) {
        // `x == "const"`: the operand and the constant kept on the op (fn2: the whole test).
        const [a, b] = t.args;
        const operand = compileTerm(b.type === 'scalar' ? a : b, bound, slots);
        if (operand !== null) {
          const c = b.type === 'scalar' ? b.value : (a as Term & { type: 'scalar' }).value;
          return op(OP_TEST_CONST, operand, {
            fn2: fn,
            negated: lit.negated,
            c,
            eq: t.target.name === 'equal',
          });
        }
      }
      return op(OP_TEST, fn, { negated: lit.negated });
    }
    case 'assign':
    case 'unify': {
      if (lit.negated) return null;
      const { left, right } = e;
      const free = (t: Term): t is Term & { type: 'var' } => t.type === 'var' && !bound.has(t.name);
      if (free(left) || (e.type === 'unify' && free(right))) {
        const [v, rhs] = free(left) ? [left, right] : [right as Term & { type: 'var' }, left];
        if (free(rhs)) return null;
        const fn = compileTerm(rhs, bound, slots);
        if (fn === null) return null;
        bound.add(v.name);
        return op(OP_ASSIGN, fn, { slot: slots.of(v.name) });
      }
      // Both sides bound: unification is equality (array and object patterns stay interpreted).
      if (
        left.type === 'array' ||
        left.type === 'object' ||
        right.type === 'array' ||
        right.type === 'object'
      )
        return null;
      const a = compileTerm(left, bound, slots);
      const b = compileTerm(right, bound, slots);
      return a === null || b === null ? null : op(OP_EQUAL, a, { fn2: b });
    }
    case 'somein': {
      if (lit.negated || e.value.type !== 'var') return null;
      if (e.key !== undefined && (e.key.type !== 'var' || e.key.name === e.value.name)) return null;
      const coll = compileTerm(e.coll, bound, slots);
      if (coll === null) return null;
      let keySlot = -1;
      let bindKey = false;
      if (e.key !== undefined && e.key.type === 'var') {
        bindKey = !bound.has(e.key.name);
        keySlot = slots.of(e.key.name);
      }
      const bindValue = !bound.has(e.value.name);
      const slot = slots.of(e.value.name);
      if (e.key !== undefined && e.key.type === 'var') bound.add(e.key.name);
      bound.add(e.value.name);
      return op(OP_IN, coll, { slot, bindValue, keySlot, bindKey });
    }
    default:
      return null;
  }
}

/** Compiles a term with exactly one value (or none) given `bound`; null when it may iterate. */
function compileTerm(t: Term, bound: ReadonlySet<string>, slots: Slots): TermFn | null {
  switch (t.type) {
    case 'scalar': {
      const v = t.value;
      return () => v;
    }
    case 'var': {
      if (!bound.has(t.name)) return null;
      const s = slots.of(t.name);
      return (_h, env) => env[s];
    }
    case 'ref':
      return compileRef(t, bound, slots);
    case 'array': {
      const items = compileTerms(t.items, bound, slots);
      if (items === null) return null;
      return (h, env) => {
        const out = new Array<Value>(items.length);
        for (let i = 0; i < items.length; i++) {
          const v = items[i](h, env);
          if (v === undefined) return undefined;
          out[i] = v;
        }
        return out;
      };
    }
    case 'set': {
      const items = compileTerms(t.items, bound, slots);
      if (items === null) return null;
      return (h, env) => {
        const out = new RSet();
        for (let i = 0; i < items.length; i++) {
          const v = items[i](h, env);
          if (v === undefined) return undefined;
          out.add(v);
        }
        return out;
      };
    }
    case 'object': {
      const keys = compileTerms(
        t.entries.map((x) => x[0]),
        bound,
        slots,
      );
      const vals = compileTerms(
        t.entries.map((x) => x[1]),
        bound,
        slots,
      );
      if (keys === null || vals === null) return null;
      const loc = t.loc;
      const names = t.entries.map((x) => (x[0].type === 'scalar' ? x[0].value : undefined));
      if (names.every((k) => typeof k === 'string') && new Set(names).size === names.length) {
        // Distinct constant string keys (`{"hardware": hardware, …}`): no conflict is possible.
        const ks = names as string[];
        return (h, env) => {
          const o = new RObject();
          for (let i = 0; i < ks.length; i++) {
            const vv = vals[i](h, env);
            if (vv === undefined) return undefined;
            o.set(ks[i], vv);
          }
          return o;
        };
      }
      return (h, env) => {
        const o = new RObject();
        for (let i = 0; i < keys.length; i++) {
          const kv = keys[i](h, env);
          if (kv === undefined) return undefined;
          const vv = vals[i](h, env);
          if (vv === undefined) return undefined;
          const prev = o.get(kv);
          if (prev !== undefined && !equal(prev, vv)) {
            throw new CocoonError(
              'ERR_POLICY_CONFLICT',
              `${loc.file}:${loc.line}: eval_conflict_error: object keys must be unique`,
            );
          }
          o.set(kv, vv);
        }
        return o;
      };
    }
    case 'call':
      return compileCall(t, bound, slots);
    default:
      return compileComprehension(t, bound, slots);
  }
}

function compileTerms(ts: readonly Term[], bound: ReadonlySet<string>, slots: Slots): TermFn[] | null {
  const out: TermFn[] = [];
  for (const t of ts) {
    const fn = compileTerm(t, bound, slots);
    if (fn === null) return null;
    out.push(fn);
  }
  return out;
}

/** Looks a key up in a collection (arrays by integer index, sets by membership). */
function at(v: Value, key: Value): Value | undefined {
  if (v instanceof RObject) return v.get(key);
  if (Array.isArray(v)) {
    if (typeof key !== 'number' || !Number.isInteger(key) || key < 0 || key >= v.length) return undefined;
    return v[key];
  }
  if (v instanceof RSet) return v.has(key) ? key : undefined;
  return undefined;
}

function compileRef(t: Term & { type: 'ref' }, bound: ReadonlySet<string>, slots: Slots): TermFn | null {
  const h = t.head;
  let head: TermFn;
  if (h.type === 'var' && !bound.has(h.name)) {
    if (h.name === 'data') {
      // Ground data paths only (the rule tree is entered once per path, as the direct path does).
      if (!t.path.every((s) => s.type === 'scalar')) return null;
      const path = t.path;
      const entry = dataEntry(slots.root, path);
      return (host) => host.dataDoc(path, entry);
    }
    if (h.name !== 'input') return null;
    const ref = compileInputRef(t, slots);
    if (ref !== undefined) return ref;
    head = (host) => host.inputDoc();
  } else if (h.type === 'var' && t.path.every((x) => x.type === 'scalar')) {
    // A bound variable with constant segments (`event.details.device_paths`).
    const slot = slots.of(h.name);
    const keys = t.path.map((x) => (x as Term & { type: 'scalar' }).value);
    const n = keys.length;
    if (n === 1) {
      const k0 = keys[0];
      return (_host, env) => at(env[slot], k0);
    }
    return (_host, env) => {
      let cur: Value | undefined = env[slot];
      for (let i = 0; i < n && cur !== undefined; i++) cur = at(cur, keys[i]);
      return cur;
    };
  } else {
    const fn = compileTerm(h, bound, slots);
    if (fn === null) return null;
    head = fn;
  }
  const n = t.path.length;
  if (n === 0) return head;
  // Constant segments are looked up directly; others are evaluated in order, lazily.
  const consts: (Value | undefined)[] = [];
  const fns: (TermFn | undefined)[] = [];
  for (const s of t.path) {
    if (s.type === 'scalar') {
      consts.push(s.value);
      fns.push(undefined);
    } else {
      const fn = compileTerm(s, bound, slots);
      if (fn === null) return null;
      consts.push(undefined);
      fns.push(fn);
    }
  }
  if (fns.every((f) => f === undefined)) {
    const keys = consts as Value[];
    if (n === 1) {
      const k0 = keys[0];
      return (host, env) => {
        const v = head(host, env);
        return v === undefined ? undefined : at(v, k0);
      };
    }
    return (host, env) => {
      let cur = head(host, env);
      for (let i = 0; i < n && cur !== undefined; i++) cur = at(cur, keys[i]);
      return cur;
    };
  }
  return (host, env) => {
    let cur = head(host, env);
    for (let i = 0; i < n && cur !== undefined; i++) {
      const f = fns[i];
      const key = f === undefined ? consts[i] : f(host, env);
      if (key === undefined) return undefined;
      cur = at(cur, key);
    }
    return cur;
  };
}

/**
 * `input.a.b.c` with constant segments: the value of the prefix `input.a.b` is kept for the
 * evaluation (ClosureHost.inputMemo), since policies read many members of the same objects.
 * undefined when the ref is not of that shape.
 */
function compileInputRef(t: Term & { type: 'ref' }, slots: Slots): TermFn | undefined {
  if (!t.path.every((x) => x.type === 'scalar')) return undefined;
  const keys = t.path.map((x) => (x as Term & { type: 'scalar' }).value);
  const n = keys.length;
  if (n === 0) return (host) => host.inputDoc();
  if (n === 1) {
    const k0 = keys[0];
    return (host) => {
      const v = host.inputDoc();
      return v === undefined ? undefined : at(v, k0);
    };
  }
  const prefix = keys.slice(0, -1);
  const last = keys[n - 1];
  const id = slots.prefixId(prefix);
  const m = prefix.length;
  return (host) => {
    const memo = host.inputMemo();
    let base = memo[id];
    if (base === undefined) {
      let cur = host.inputDoc();
      for (let i = 0; i < m && cur !== undefined; i++) cur = at(cur, prefix[i]);
      base = cur === undefined ? NONE : cur;
      memo[id] = base;
    }
    return base === NONE ? undefined : at(base, last);
  };
}

function compileCall(t: CallTerm, bound: ReadonlySet<string>, slots: Slots): TermFn | null {
  const target = t.target;
  if (target === undefined) return null;
  if (target.kind === 'builtin' && RELATIONS.has(target.name)) return null;
  const args = compileTerms(t.args, bound, slots);
  if (args === null) return null;
  const n = args.length;
  if (target.kind === 'rule') {
    const node = findNode(slots.root, target.path);
    if (node === undefined) return null;
    return (h, env) => {
      const vs = new Array<Value>(n);
      for (let i = 0; i < n; i++) {
        const v = args[i](h, env);
        if (v === undefined) return undefined;
        vs[i] = v;
      }
      return h.callNode(node, vs);
    };
  }
  const name = builtinName(target.name);
  const def = BUILTINS.get(name);
  const generic: TermFn = (h, env) => {
    const vs = new Array<Value>(n);
    for (let i = 0; i < n; i++) {
      const v = args[i](h, env);
      if (v === undefined) return undefined;
      vs[i] = v;
    }
    // An extra replacing the built-in (called as Evaluation.builtinValue does), else the
    // standard one, found once.
    const extra = h.extraFor(name);
    if (extra !== undefined) return extra(vs);
    return def === undefined ? h.builtin(target, t, vs) : h.callBuiltin(def, target, t, vs);
  };
  const pred = PREDICATES.get(name);
  if (pred !== undefined && def !== undefined && n === 1) {
    // Type tests and the like: no argument array, no error handling (they cannot fail).
    const f0 = args[0];
    return (h, env) => {
      const a = f0(h, env);
      if (a === undefined) return undefined;
      const extra = h.extraFor(name);
      return extra !== undefined ? extra([a]) : pred(a);
    };
  }
  if (def !== undefined && n === 1) {
    const f0 = args[0];
    return (h, env) => {
      const a = f0(h, env);
      if (a === undefined) return undefined;
      const extra = h.extraFor(name);
      return extra !== undefined ? extra([a]) : h.callBuiltin(def, target, t, [a]);
    };
  }
  if (name === 'internal.member_2' && def !== undefined && n === 2) {
    // `x in coll`: no argument array (membership cannot fail).
    const [fx, fc] = args;
    return (h, env) => {
      const x = fx(h, env);
      if (x === undefined) return undefined;
      const c = fc(h, env);
      if (c === undefined) return undefined;
      const extra = h.extraFor(name);
      return extra !== undefined ? extra([x, c]) : memberOf(x, c);
    };
  }
  if ((name === 'equal' || name === 'neq') && n === 2) {
    // `==` and `!=`: no argument array and no built-in lookup (unless an extra replaces them).
    const [fa, fb] = args;
    const eq = name === 'equal';
    const [ta, tb] = t.args;
    const other = tb.type === 'scalar' ? fa : ta.type === 'scalar' ? fb : undefined;
    if (other !== undefined) {
      // Against a constant scalar, equality is identity (no NaN; 0 and -0 are === too).
      const c = tb.type === 'scalar' ? tb.value : (ta as Term & { type: 'scalar' }).value;
      return (h, env) => {
        if (h.eqReplaced) return generic(h, env);
        const v = other(h, env);
        return v === undefined ? undefined : (v === c) === eq;
      };
    }
    return (h, env) => {
      if (h.eqReplaced) return generic(h, env);
      const a = fa(h, env);
      if (a === undefined) return undefined;
      const b = fb(h, env);
      if (b === undefined) return undefined;
      return equal(a, b) === eq;
    };
  }
  return generic;
}

function compileComprehension(
  t: Term & { type: 'arraycomp' | 'setcomp' | 'objectcomp' },
  outer: ReadonlySet<string>,
  slots: Slots,
): TermFn | null {
  const bound = new Set(outer);
  const body = compileBody(t.body, bound, slots);
  if (body === null) return null;
  const head = compileTerm(t.head, bound, slots);
  if (head === null) return null;
  if (t.type === 'arraycomp') {
    return (h, env) => {
      const sink = new CompSink(COMP_ARRAY, head, undefined, t.loc);
      runBody(h, body, 0, env, sink);
      return sink.array;
    };
  }
  if (t.type === 'setcomp') {
    return (h, env) => {
      const sink = new CompSink(COMP_SET, head, undefined, t.loc);
      runBody(h, body, 0, env, sink);
      return sink.set;
    };
  }
  if (t.value === undefined) return null;
  const value = compileTerm(t.value, bound, slots);
  if (value === null) return null;
  return (h, env) => {
    const sink = new CompSink(COMP_OBJECT, head, value, t.loc);
    runBody(h, body, 0, env, sink);
    return sink.object;
  };
}

/** Receives the solutions of a body (instead of a continuation closure). */
interface Sink {
  /** One solution, with the body's variables in `env`; returns true to stop the search. */
  solve(h: ClosureHost, env: Value[]): boolean;
}

const COMP_ARRAY = 0;
const COMP_SET = 1;
const COMP_OBJECT = 2;

/** Collects the members of one comprehension evaluation. */
class CompSink implements Sink {
  private readonly kind: number;
  private readonly head: TermFn;
  private readonly value: TermFn | undefined;
  private readonly loc: Loc;
  readonly array: Value[] = [];
  private setOut: RSet | undefined = undefined;
  private objectOut: RObject | undefined = undefined;

  constructor(kind: number, head: TermFn, value: TermFn | undefined, loc: Loc) {
    this.kind = kind;
    this.head = head;
    this.value = value;
    this.loc = loc;
  }

  get set(): RSet {
    return (this.setOut ??= new RSet());
  }

  get object(): RObject {
    return (this.objectOut ??= new RObject());
  }

  solve(h: ClosureHost, env: Value[]): boolean {
    const kv = this.head(h, env);
    if (kv === undefined) return false;
    if (this.kind === COMP_ARRAY) this.array.push(kv);
    else if (this.kind === COMP_SET) this.set.add(kv);
    else {
      const vv = this.value!(h, env);
      if (vv === undefined) return false;
      const out = this.object;
      const prev = out.get(kv);
      if (prev !== undefined && !equal(prev, vv)) {
        throw new CocoonError(
          'ERR_POLICY_CONFLICT',
          `${this.loc.file}:${this.loc.line}: eval_conflict_error: object keys must be unique`,
        );
      }
      out.set(kv, vv);
    }
    return false;
  }
}

/** What a RuleSink does with each value: keep one (complete rule, function) or collect (set). */
export const SINK_COMPLETE = 0;
export const SINK_FUNC = 1;
export const SINK_SET = 2;

/**
 * Receives the head values of compiled rule bodies: for complete rules and functions the first
 * value wins and a different one is a conflict (OPA's eval_conflict_error); partial set rules
 * collect their members. One sink serves all the rules of one node (or one function call).
 */
export class RuleSink implements Sink {
  private mode = SINK_COMPLETE;
  /** The value so far (complete, function), and the rule that produced it. */
  result: Value | undefined = undefined;
  resultRule: CompiledRule | undefined = undefined;
  /** Members (set rules). */
  private members: RSet | undefined = undefined;
  /** The rule and branch head being evaluated (set by run). */
  private rule: CompiledRule | undefined = undefined;
  private head: TermFn | undefined = undefined;
  /** The current branch had a solution. */
  private hit = false;
  /** Environment reused by the rules this sink runs, one after the other (see env()). */
  private slots: Value[] = [];

  /** Makes the sink empty, for a new node or call (sinks are reused: Evaluation keeps a stack). */
  reset(mode: number, members: RSet | undefined): this {
    this.mode = mode;
    this.members = members;
    this.result = undefined;
    this.resultRule = undefined;
    this.rule = undefined;
    this.head = undefined;
    this.hit = false;
    return this;
  }

  solve(h: ClosureHost, env: Value[]): boolean {
    this.hit = true;
    const head = this.head;
    const v = head === undefined ? true : head(h, env);
    return v === undefined ? false : this.put(v, this.rule!);
  }

  /** One head value of rule `cr` (also called for interpreted rules); never stops the search. */
  put(v: Value, cr: CompiledRule): boolean {
    if (this.mode === SINK_SET) {
      this.members!.add(v);
      return false;
    }
    if (this.result === undefined) {
      this.result = v;
      this.resultRule = cr;
    } else if (!equal(this.result, v)) {
      const loc = cr.rule.loc;
      if (this.mode === SINK_FUNC) {
        throw new CocoonError(
          'ERR_POLICY_CONFLICT',
          `${loc.file}:${loc.line}: eval_conflict_error: functions must not produce multiple outputs for same inputs`,
        );
      }
      throw new CocoonError(
        'ERR_POLICY_CONFLICT',
        `${loc.file}:${loc.line}: eval_conflict_error: complete rules must not produce multiple outputs`,
        {
          details: { rule: cr.prefix.join('.'), line: loc.line, other: this.resultRule?.rule.loc.line },
        },
      );
    }
    return false;
  }

  /**
   * An environment of at least `n` slots for the next rule run with this sink. Rules run one
   * after the other and read a slot only after writing it (bindings are known statically), so
   * one array serves them all; nested rules use deeper sinks.
   */
  env(n: number): Value[] {
    let e = this.slots;
    if (e.length < n) {
      e = new Array<Value>(Math.max(n, 8));
      this.slots = e;
    }
    return e;
  }

  /**
   * Runs one compiled rule's bodies in order until one has a solution (`else` semantics), each
   * head value going to this sink; true when the search was stopped.
   */
  run(h: ClosureHost, cr: CompiledRule, r: CRule, env: Value[]): boolean {
    this.rule = cr;
    const branches = r.branches;
    for (let b = 0; b < branches.length; b++) {
      const br = branches[b];
      this.head = this.mode === SINK_SET ? r.key : br.value;
      this.hit = false;
      if (runBody(h, br.body, 0, env, this)) return true;
      if (this.hit) return false;
    }
    return false;
  }
}

/** Runs a body from literal `i`; `k` is called once per solution and returns true to stop. */
function runBody(h: ClosureHost, b: CBody, i: number, env: Value[], k: Sink): boolean {
  const reached = h.reached;
  if (reached !== undefined && i === 0 && !reached.has(b.src)) reached.set(b.src, 0);
  const ops = b.ops;
  for (; i < ops.length; i++) {
    h.tick();
    const o = ops[i];
    switch (o.kind) {
      case OP_SKIP:
        continue;
      case OP_TEST: {
        const v = o.fn(h, env);
        if ((v !== undefined && v !== false) === o.negated) return false;
        continue;
      }
      case OP_TEST_CONST: {
        // Against a constant scalar, equality is identity (no NaN; 0 and -0 are === too).
        let v: Value | undefined;
        if (h.eqReplaced) v = o.fn2!(h, env);
        else {
          const x = o.fn(h, env);
          v = x === undefined ? undefined : (x === o.c) === o.eq;
        }
        if ((v !== undefined && v !== false) === o.negated) return false;
        continue;
      }
      case OP_ASSIGN: {
        const v = o.fn(h, env);
        if (v === undefined) return false;
        env[o.slot] = v;
        continue;
      }
      case OP_EQUAL: {
        const a = o.fn(h, env);
        if (a === undefined) return false;
        const c = o.fn2!(h, env);
        if (c === undefined || !equal(a, c)) return false;
        continue;
      }
      default:
        return runIn(h, b, i, env, k, o);
    }
  }
  if (reached !== undefined) {
    const prev = reached.get(b.src) ?? -1;
    if (ops.length > prev) reached.set(b.src, ops.length);
  }
  return k.solve(h, env);
}

/** `some [k,] v in coll` at literal i: the rest of the body once per member (one step each). */
function runIn(h: ClosureHost, b: CBody, i: number, env: Value[], k: Sink, o: Op): boolean {
  const c = o.fn(h, env);
  if (c === undefined) return false;
  const next = i + 1;
  if (Array.isArray(c)) {
    for (let j = 0; j < c.length; j++) {
      h.tick();
      if (member(env, o, j, c[j]) && runBody(h, b, next, env, k)) return true;
    }
  } else if (c instanceof RObject) {
    for (const [key, val] of [...c.entries()]) {
      h.tick();
      if (member(env, o, key, val) && runBody(h, b, next, env, k)) return true;
    }
  } else if (c instanceof RSet) {
    for (const v of [...c.values()]) {
      h.tick();
      if (member(env, o, v, v) && runBody(h, b, next, env, k)) return true;
    }
  }
  return false;
}

/** Binds (or compares) the key and value variables of `some … in` to one member. */
function member(env: Value[], o: Op, key: Value, val: Value): boolean {
  if (o.keySlot >= 0) {
    if (o.bindKey) env[o.keySlot] = key;
    else if (!equal(env[o.keySlot], key)) return false;
  }
  if (o.bindValue) env[o.slot] = val;
  else if (!equal(env[o.slot], val)) return false;
  return true;
}
