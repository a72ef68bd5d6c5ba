/**
 * The Rego compiler: builds the rule tree (package path + ground head prefix), resolves names
 * (rules of the same package, imports, `input`, `data`, built-ins), rewrites `f(x, out)` calls
 * into unification, and reorders body literals for safety (OPA ast/compile.go "reorderBodyForSafety":
 * a literal runs only once the variables it reads are bound). Errors are ERR_POLICY_COMPILE with
 * `file:line:col`.
 */
import { CocoonError } from '../common/errors.js';
import type { CallTerm, Expr, Literal, Loc, Module, Rule, Term, VarTerm } from './ast.js';
import { BUILTINS } from './builtins.js';
import type { CRule } from './closure.js';

/** A rule placed in the tree: its data path prefix and the dynamic rest of its head. */
export interface CompiledRule {
  readonly rule: Rule;
  /** Ground data path (package + constant head segments), without the leading "data". */
  readonly prefix: readonly string[];
  /** Remaining head segments (variables or computed keys). */
  readonly suffix: readonly Term[];
  /** The rule compiled to closures (closure.ts), null when interpreted; undefined until first use. */
  compiled: CRule | null | undefined;
}

/** A node of the rule tree. */
export interface RuleNode {
  readonly children: Map<string, RuleNode>;
  /** Complete and partial rules whose ground prefix ends here. */
  readonly rules: CompiledRule[];
  /** Function rules whose name ends here. */
  readonly funcs: CompiledRule[];
  /** Default value rules (complete or function). */
  readonly defaults: CompiledRule[];
  /** Path of this node (without "data"). */
  readonly path: readonly string[];
  /** A module declares this package (an empty package is an empty object). */
  isPackage: boolean;
  /** Index of the node in its policy (0..nodeCount-1): evaluations cache node values by it. */
  id: number;
  /** Some rule is a partial set rule. */
  isSet: boolean;
  /** Some rule has a non-ground head suffix (partial object / ref head). */
  hasSuffix: boolean;
  /** A default rule that is not a function default. */
  valueDefault: boolean;
}

/** A compiled set of modules. */
export interface CompiledPolicy {
  readonly root: RuleNode;
  readonly modules: readonly Module[];
  /** All rules in source order (for explain and test discovery). */
  readonly allRules: readonly CompiledRule[];
  /** Number of rule-tree nodes (their ids are 0..nodeCount-1). */
  readonly nodeCount: number;
}

function compileError(loc: Loc, msg: string): never {
  throw new CocoonError(
    'ERR_POLICY_COMPILE',
    `${loc.file}:${loc.line}:${loc.col}: rego_compile_error: ${msg}`,
    {
      details: { file: loc.file, line: loc.line, col: loc.col },
    },
  );
}

function newNode(path: readonly string[]): RuleNode {
  return {
    children: new Map(),
    rules: [],
    funcs: [],
    defaults: [],
    path,
    isPackage: false,
    id: -1,
    isSet: false,
    hasSuffix: false,
    valueDefault: false,
  };
}

function nodeAt(root: RuleNode, path: readonly string[], create: boolean): RuleNode | undefined {
  let n = root;
  for (let i = 0; i < path.length; i++) {
    let c = n.children.get(path[i]);
    if (c === undefined) {
      if (!create) return undefined;
      c = newNode(path.slice(0, i + 1));
      n.children.set(path[i], c);
    }
    n = c;
  }
  return n;
}

/** Finds the node of a data path (without "data"); undefined when no rule lives there. */
export function findNode(root: RuleNode, path: readonly string[]): RuleNode | undefined {
  return nodeAt(root, path, false);
}

/** Where a ground data path enters the rule tree: the node holding rules and the segment index. */
export interface DataEntry {
  readonly node: RuleNode;
  readonly at: number;
}

/** DataEntry per ref path array (refs belong to one compiled policy); null when not ground. */
const DATA_ENTRIES = new WeakMap<readonly Term[], DataEntry | null>();

/**
 * Where the data ref path `path` (without "data") enters the rule tree of `root`: the first
 * node holding rules or defaults (or the end of the path), or null when a segment on the way is
 * not a string constant or names no node. Computed once per path.
 */
export function dataEntry(root: RuleNode, path: readonly Term[]): DataEntry | null {
  let e = DATA_ENTRIES.get(path);
  if (e !== undefined) return e;
  e = null;
  let node = root;
  for (let i = 0; ; i++) {
    if (node.rules.length > 0 || node.defaults.length > 0 || i === path.length) {
      e = { node, at: i };
      break;
    }
    const seg = path[i];
    if (seg.type !== 'scalar' || typeof seg.value !== 'string') break;
    const child = node.children.get(seg.value);
    if (child === undefined) break;
    node = child;
  }
  DATA_ENTRIES.set(path, e);
  return e;
}

/** Scope information for one module while resolving names. */
interface ModuleScope {
  readonly pkg: readonly string[];
  readonly imports: ReadonlyMap<string, readonly string[]>;
  readonly root: RuleNode;
}

function varsOf(t: Term, out: Set<string>): void {
  switch (t.type) {
    case 'var':
      if (!ROOTS.has(t.name)) out.add(t.name);
      return;
    case 'ref':
      varsOf(t.head, out);
      for (const p of t.path) varsOf(p, out);
      return;
    case 'array':
    case 'set':
      for (const x of t.items) varsOf(x, out);
      return;
    case 'object':
      for (const [k, v] of t.entries) {
        varsOf(k, out);
        varsOf(v, out);
      }
      return;
    case 'call':
      for (const a of t.args) varsOf(a, out);
      return;
    case 'arraycomp':
    case 'setcomp':
    case 'objectcomp': {
      const inner = new Set<string>();
      varsOf(t.head, inner);
      if (t.value !== undefined) varsOf(t.value, inner);
      for (const l of t.body) litVars(l, inner);
      const local = declaredIn(t.body);
      for (const v of inner) if (!local.has(v)) out.add(v);
      return;
    }
    default:
      return;
  }
}

function exprVars(e: Expr, out: Set<string>): void {
  switch (e.type) {
    case 'term':
      varsOf(e.term, out);
      return;
    case 'unify':
    case 'assign':
      varsOf(e.left, out);
      varsOf(e.right, out);
      return;
    case 'some':
      return;
    case 'somein':
      if (e.key !== undefined) varsOf(e.key, out);
      varsOf(e.value, out);
      varsOf(e.coll, out);
      return;
    case 'every': {
      varsOf(e.coll, out);
      const inner = new Set<string>();
      for (const l of e.body) litVars(l, inner);
      const local = declaredIn(e.body);
      if (e.key !== undefined) varsOf(e.key, local);
      varsOf(e.value, local);
      for (const v of inner) if (!local.has(v)) out.add(v);
      return;
    }
  }
}

/** Variables a literal uses outside comprehensions, `every` and negation. */
function directVars(l: Literal, out: Set<string>): void {
  if (l.negated) return;
  const walk = (t: Term): void => {
    switch (t.type) {
      case 'var':
        if (!ROOTS.has(t.name)) out.add(t.name);
        return;
      case 'ref':
        walk(t.head);
        t.path.forEach(walk);
        return;
      case 'array':
      case 'set':
        t.items.forEach(walk);
        return;
      case 'object':
        for (const [k, v] of t.entries) {
          walk(k);
          walk(v);
        }
        return;
      case 'call':
        t.args.forEach(walk);
        return;
      default:
        return;
    }
  };
  const e = l.expr;
  if (e.type === 'term') walk(e.term);
  else if (e.type === 'unify' || e.type === 'assign') {
    walk(e.left);
    walk(e.right);
  } else if (e.type === 'somein') {
    if (e.key !== undefined) walk(e.key);
    walk(e.value);
    walk(e.coll);
  } else if (e.type === 'every') walk(e.coll);
}

function litVars(l: Literal, out: Set<string>): void {
  exprVars(l.expr, out);
  for (const w of l.withs) varsOf(w.value, out);
}

/** Variables a body declares explicitly (`some`, `:=`, `some … in`). */
function declaredIn(body: readonly Literal[]): Set<string> {
  const out = new Set<string>();
  for (const l of body) {
    const e = l.expr;
    if (e.type === 'some') for (const v of e.vars) out.add(v.name);
    else if (e.type === 'assign') varsOf(e.left, out);
    else if (e.type === 'somein') {
      if (e.key !== undefined) varsOf(e.key, out);
      varsOf(e.value, out);
    }
  }
  return out;
}

const ROOTS = new Set(['data', 'input']);

/** Resolves names of one term (returns a new term). `locals` are declared local variables. */
function resolveTerm(t: Term, s: ModuleScope, locals: ReadonlySet<string>): Term {
  switch (t.type) {
    case 'scalar':
      return t;
    case 'var': {
      if (ROOTS.has(t.name) && !locals.has(t.name)) return { type: 'ref', head: t, path: [], loc: t.loc };
      const r = resolveName(t.name, t.loc, s, locals);
      return r ?? t;
    }
    case 'ref': {
      const path = t.path.map((p) => resolveTerm(p, s, locals));
      let head = t.head;
      if (head.type === 'var') {
        const r = resolveName(head.name, head.loc, s, locals);
        if (r !== undefined) {
          if (r.type === 'ref') return { type: 'ref', head: r.head, path: [...r.path, ...path], loc: t.loc };
          head = r;
        }
      } else head = resolveTerm(head, s, locals);
      return { type: 'ref', head, path, loc: t.loc };
    }
    case 'array':
      return { ...t, items: t.items.map((x) => resolveTerm(x, s, locals)) };
    case 'set':
      return { ...t, items: t.items.map((x) => resolveTerm(x, s, locals)) };
    case 'object':
      return {
        ...t,
        entries: t.entries.map(
          ([k, v]) => [resolveTerm(k, s, locals), resolveTerm(v, s, locals)] as [Term, Term],
        ),
      };
    case 'call':
      return resolveCall(t, s, locals);
    case 'arraycomp':
    case 'setcomp':
    case 'objectcomp': {
      const inner = new Set([...locals, ...declaredIn(t.body)]);
      return {
        ...t,
        head: resolveTerm(t.head, s, inner),
        value: t.value === undefined ? undefined : resolveTerm(t.value, s, inner),
        body: resolveBody(t.body, s, inner),
      };
    }
  }
}

function resolveName(name: string, loc: Loc, s: ModuleScope, locals: ReadonlySet<string>): Term | undefined {
  if (ROOTS.has(name) || locals.has(name)) return undefined;
  const imp = s.imports.get(name);
  if (imp !== undefined) {
    return {
      type: 'ref',
      head: { type: 'var', name: imp[0], loc },
      path: imp.slice(1).map((p) => ({ type: 'scalar', value: p, loc }) as Term),
      loc,
    };
  }
  const pkgNode = s.pkg.length === 0 ? undefined : nodeAt(s.root, s.pkg, false);
  if (pkgNode?.children.has(name)) {
    return {
      type: 'ref',
      head: { type: 'var', name: 'data', loc },
      path: [...s.pkg, name].map((p) => ({ type: 'scalar', value: p, loc }) as Term),
      loc,
    };
  }
  return undefined;
}

/** Resolves a function name to a rule path or built-in, or undefined. */
function resolveFunctionName(name: string, s: ModuleScope, locals: ReadonlySet<string>): CallTerm['target'] {
  const parts = name.split('.');
  if (!locals.has(parts[0])) {
    const imp = s.imports.get(parts[0]);
    if (imp !== undefined && imp[0] === 'data') {
      const p = [...imp.slice(1), ...parts.slice(1)];
      if (nodeAt(s.root, p, false)?.funcs.length) return { kind: 'rule', path: p };
    }
    if (parts[0] === 'data') {
      const p = parts.slice(1);
      const n = nodeAt(s.root, p, false);
      if (n !== undefined && (n.funcs.length > 0 || n.defaults.some((d) => d.rule.kind === 'func'))) {
        return { kind: 'rule', path: p };
      }
    } else {
      const p = [...s.pkg, ...parts];
      const n = nodeAt(s.root, p, false);
      if (n !== undefined && (n.funcs.length > 0 || n.defaults.some((d) => d.rule.kind === 'func'))) {
        return { kind: 'rule', path: p };
      }
    }
  }
  if (BUILTINS.has(name)) return { kind: 'builtin', name };
  return undefined;
}

function resolveCall(t: CallTerm, s: ModuleScope, locals: ReadonlySet<string>): CallTerm {
  const target = resolveFunctionName(t.name, s, locals);
  if (target === undefined) compileError(t.loc, `undefined function ${t.name}`);
  return { ...t, target, args: t.args.map((a) => resolveTerm(a, s, locals)) };
}

/** Declared arity of a resolved call target. */
function arityOf(target: NonNullable<CallTerm['target']>, root: RuleNode): number | undefined {
  if (target.kind === 'builtin') return BUILTINS.get(target.name)?.arity;
  const n = nodeAt(root, target.path, false);
  const r = n?.funcs[0] ?? n?.defaults.find((d) => d.rule.kind === 'func');
  return r?.rule.args?.length;
}

function resolveExpr(e: Expr, s: ModuleScope, locals: ReadonlySet<string>): Expr {
  const r = (t: Term): Term => resolveTerm(t, s, locals);
  switch (e.type) {
    case 'term': {
      const term = r(e.term);
      // `f(a, out)`: a call with one extra argument binds its result to the last argument.
      if (term.type === 'call' && term.target !== undefined) {
        const arity = arityOf(term.target, s.root);
        if (arity !== undefined && term.args.length === arity + 1) {
          const out = term.args[arity];
          return { type: 'unify', left: out, right: { ...term, args: term.args.slice(0, arity) } };
        }
      }
      return { type: 'term', term };
    }
    case 'unify':
      return { type: 'unify', left: r(e.left), right: r(e.right) };
    case 'assign':
      return { type: 'assign', left: r(e.left), right: r(e.right) };
    case 'some':
      return e;
    case 'somein':
      return {
        type: 'somein',
        key: e.key === undefined ? undefined : r(e.key),
        value: r(e.value),
        coll: r(e.coll),
      };
    case 'every': {
      const inner = new Set([...locals, ...declaredIn(e.body)]);
      if (e.key !== undefined) varsOf(e.key, inner);
      varsOf(e.value, inner);
      return {
        type: 'every',
        key: e.key,
        value: e.value,
        coll: r(e.coll),
        body: resolveBody(e.body, s, inner),
      };
    }
  }
}

function resolveWithTarget(t: Term, s: ModuleScope): Term {
  // `with f as …`/`with count as …`: keep function names as calls with no arguments.
  const name = t.type === 'var' ? t.name : t.type === 'ref' ? refName(t) : undefined;
  if (name !== undefined && !ROOTS.has(name.split('.')[0])) {
    const target = resolveFunctionName(name, s, new Set());
    if (target !== undefined) return { type: 'call', name, args: [], loc: t.loc, target };
  }
  if (name !== undefined && name.startsWith('data.')) {
    const target = resolveFunctionName(name, s, new Set());
    if (target !== undefined) return { type: 'call', name, args: [], loc: t.loc, target };
  }
  return resolveTerm(t, s, new Set());
}

function refName(t: Term): string | undefined {
  if (t.type === 'var') return t.name;
  if (t.type !== 'ref' || t.head.type !== 'var') return undefined;
  const parts = [t.head.name];
  for (const p of t.path) {
    if (p.type !== 'scalar' || typeof p.value !== 'string') return undefined;
    parts.push(p.value);
  }
  return parts.join('.');
}

function resolveWithValue(t: Term, s: ModuleScope, locals: ReadonlySet<string>): Term {
  const name = refName(t);
  if (name !== undefined && !locals.has(name.split('.')[0])) {
    const target = resolveFunctionName(name, s, locals);
    if (target !== undefined) return { type: 'call', name, args: [], loc: t.loc, target };
  }
  return resolveTerm(t, s, locals);
}

function resolveBody(body: readonly Literal[], s: ModuleScope, outer: ReadonlySet<string>): Literal[] {
  const locals = new Set([...outer, ...declaredIn(body)]);
  return body.map((l) => ({
    ...l,
    expr: resolveExpr(l.expr, s, locals),
    withs: l.withs.map((w) => ({
      ...w,
      target: resolveWithTarget(w.target, s),
      value: resolveWithValue(w.value, s, locals),
    })),
  }));
}

// ---------------------------------------------------------------------------------------------
// Safety reordering.

/** Variables a term reads (inputs) and may bind by iteration or pattern (outputs). */
function termIO(t: Term, ins: Set<string>, outs: Set<string>, pattern: boolean, cins?: Set<string>): void {
  switch (t.type) {
    case 'scalar':
      return;
    case 'var':
      if (ROOTS.has(t.name)) return;
      if (pattern) outs.add(t.name);
      else ins.add(t.name);
      return;
    case 'ref':
      if (t.head.type === 'var') {
        if (!ROOTS.has(t.head.name)) ins.add(t.head.name);
      } else termIO(t.head, ins, outs, false, cins);
      for (const p of t.path) {
        if (p.type === 'var') outs.add(p.name);
        else termIO(p, ins, outs, p.type === 'array' || p.type === 'object', cins);
      }
      return;
    case 'array':
      for (const x of t.items) termIO(x, ins, outs, pattern, cins);
      return;
    case 'object':
      for (const [k, v] of t.entries) {
        termIO(k, ins, outs, false, cins);
        termIO(v, ins, outs, pattern, cins);
      }
      return;
    case 'set':
      for (const x of t.items) termIO(x, ins, outs, false, cins);
      return;
    case 'call':
      for (const a of t.args) termIO(a, ins, outs, false, cins);
      return;
    default: {
      const vs = new Set<string>();
      varsOf(t, vs);
      for (const v of vs) (cins ?? ins).add(v);
    }
  }
}

function isSafe(
  l: Literal,
  bound: ReadonlySet<string>,
  elsewhere: ReadonlySet<string>,
  closure: ReadonlySet<string>,
): { ok: boolean; outs: Set<string>; missing: string[] } {
  const ins = new Set<string>();
  const outs = new Set<string>();
  const cins = new Set<string>();
  const e = l.expr;
  const check = (): { ok: boolean; outs: Set<string>; missing: string[] } => {
    // Comprehension variables are inputs only when the enclosing body binds them elsewhere.
    for (const v of cins) if (closure.has(v) || bound.has(v)) ins.add(v);
    for (const w of l.withs) {
      const vs = new Set<string>();
      varsOf(w.value, vs);
      for (const v of vs) ins.add(v);
    }
    const missing = [...ins].filter((v) => !bound.has(v) && !outs.has(v));
    return { ok: missing.length === 0, outs, missing };
  };
  if (l.negated) {
    const vs = new Set<string>();
    exprVars(e, vs);
    for (const v of vs) if (elsewhere.has(v) || bound.has(v)) ins.add(v);
    return check();
  }
  switch (e.type) {
    case 'term':
      termIO(e.term, ins, outs, false, cins);
      for (const o of outs) ins.delete(o);
      return check();
    case 'unify':
    case 'assign': {
      const li = new Set<string>();
      const lo = new Set<string>();
      const ri = new Set<string>();
      const ro = new Set<string>();
      termIO(e.left, li, lo, true, cins);
      termIO(e.right, ri, ro, true, cins);
      for (const v of cins)
        if (closure.has(v) || bound.has(v)) {
          li.add(v);
        }
      cins.clear();
      const leftEval = [...li].every((v) => bound.has(v) || lo.has(v));
      const rightEval = [...ri].every((v) => bound.has(v) || ro.has(v));
      // Pattern variables on one side are outputs once the other side can be evaluated; refs'
      // iteration variables are outputs either way.
      if (rightEval) {
        for (const v of lo) outs.add(v);
        for (const v of ro) outs.add(v);
        for (const v of ri) if (!ro.has(v)) ins.add(v);
        for (const v of li) if (!lo.has(v)) ins.add(v);
        return check();
      }
      if (leftEval) {
        for (const v of lo) outs.add(v);
        for (const v of ro) outs.add(v);
        for (const v of li) if (!lo.has(v)) ins.add(v);
        for (const v of ri) if (!ro.has(v)) ins.add(v);
        return check();
      }
      const missing = [...li, ...ri].filter((v) => !bound.has(v));
      return {
        ok: false,
        outs,
        missing: missing.length > 0 ? missing : [...lo, ...ro].filter((v) => !bound.has(v)),
      };
    }
    case 'some':
      return { ok: true, outs, missing: [] };
    case 'somein':
      termIO(e.coll, ins, outs, false, cins);
      if (e.key !== undefined) termIO(e.key, new Set(), outs, true);
      termIO(e.value, new Set(), outs, true);
      for (const o of outs) ins.delete(o);
      return check();
    case 'every': {
      termIO(e.coll, ins, outs, false);
      for (const o of outs) ins.delete(o);
      const vs = new Set<string>();
      exprVars(e, vs);
      for (const v of vs) if (elsewhere.has(v) || bound.has(v)) ins.add(v);
      outs.clear();
      return check();
    }
  }
}

/** Reorders a body so each literal's inputs are bound before it runs; recurses into nested bodies. */
function reorderBody(body: readonly Literal[], bound: ReadonlySet<string>, loc: Loc): Literal[] {
  const pending = body.map((l) => ({ ...l, expr: reorderExpr(l.expr, bound) }));
  const out: Literal[] = [];
  const b = new Set(bound);
  const perLit = pending.map((l) => {
    const vs = new Set<string>();
    litVars(l, vs);
    return vs;
  });
  const direct = pending.map((l) => {
    const vs = new Set<string>();
    directVars(l, vs);
    return vs;
  });
  const declared = pending.map((l) => declaredIn([l]));
  const remaining = pending.map((_, i) => i);
  while (remaining.length > 0) {
    let picked = -1;
    let pickedOuts: ReadonlySet<string> = new Set();
    let lastMissing: string[] = [];
    for (let j = 0; j < remaining.length; j++) {
      const idx = remaining[j];
      const elsewhere = new Set<string>();
      const closure = new Set<string>();
      for (let m = 0; m < pending.length; m++) {
        if (m === idx) continue;
        for (const v of perLit[m]) elsewhere.add(v);
        // Comprehensions close over variables the enclosing body uses directly, except ones a
        // later literal declares with := / some (OPA rewrites those to fresh names first).
        for (const v of direct[m]) if (!(m > idx && declared[m].has(v))) closure.add(v);
      }
      const r = isSafe(pending[idx], b, elsewhere, closure);
      if (r.ok) {
        picked = j;
        pickedOuts = r.outs;
        break;
      }
      if (lastMissing.length === 0) lastMissing = r.missing;
    }
    if (picked < 0) {
      const lit = pending[remaining[0]];
      compileError(
        lit.loc ?? loc,
        `var ${lastMissing.filter((v) => !v.startsWith('_$'))[0] ?? lastMissing[0] ?? '?'} is unsafe`,
      );
    }
    const idx = remaining.splice(picked, 1)[0];
    const lits = hoistRefArgs(pending[idx], b);
    for (const v of pickedOuts) b.add(v);
    for (const lit of lits) out.push({ ...lit, expr: reorderExprNested(lit.expr, b) });
  }
  return out;
}

let hoisted = 0;

/**
 * OPA evaluates the refs among a call's arguments before the call, so in `foo == input.foos[foo]`
 * the ref binds foo and the comparison then reads it. Our evaluators go left to right; a ref
 * argument whose unbound iteration variables an earlier argument reads becomes its own literal
 * `_$hN = ref` (same `with` modifiers) placed before the call. Other literals are returned as is.
 */
function hoistRefArgs(lit: Literal, bound: ReadonlySet<string>): Literal[] {
  const e = lit.expr;
  if (lit.negated || e.type !== 'term' || e.term.type !== 'call') return [lit];
  const call = e.term;
  const seen = new Set<string>();
  const pre: Literal[] = [];
  let args: Term[] | undefined;
  call.args.forEach((a, i) => {
    if (a.type === 'ref' && a.path.some((p) => p.type === 'var' && !bound.has(p.name) && seen.has(p.name))) {
      const v: VarTerm = { type: 'var', name: `_$h${hoisted++}`, loc: a.loc };
      pre.push({
        expr: { type: 'unify', left: v, right: a },
        negated: false,
        withs: lit.withs,
        loc: lit.loc,
      });
      args ??= [...call.args];
      args[i] = { ...v };
    }
    varsOf(a, seen);
  });
  if (args === undefined) return [lit];
  return [...pre, { ...lit, expr: { type: 'term', term: { ...call, args } } }];
}

function reorderExpr(e: Expr, _bound: ReadonlySet<string>): Expr {
  return e;
}

/** After placement, reorders nested bodies (comprehensions, every) with the bound set at that point. */
function reorderExprNested(e: Expr, bound: ReadonlySet<string>): Expr {
  const rt = (t: Term): Term => reorderTerm(t, bound);
  switch (e.type) {
    case 'term':
      return { type: 'term', term: rt(e.term) };
    case 'unify':
    case 'assign':
      return { type: e.type, left: rt(e.left), right: rt(e.right) };
    case 'some':
      return e;
    case 'somein':
      return { ...e, coll: rt(e.coll) };
    case 'every': {
      const inner = new Set(bound);
      if (e.key !== undefined) varsOf(e.key, inner);
      varsOf(e.value, inner);
      return { ...e, coll: rt(e.coll), body: reorderBody(e.body, inner, e.body[0]?.loc) };
    }
  }
}

function reorderTerm(t: Term, bound: ReadonlySet<string>): Term {
  switch (t.type) {
    case 'ref':
      return { ...t, head: reorderTerm(t.head, bound), path: t.path.map((p) => reorderTerm(p, bound)) };
    case 'array':
    case 'set':
      return { ...t, items: t.items.map((x) => reorderTerm(x, bound)) };
    case 'object':
      return {
        ...t,
        entries: t.entries.map(([k, v]) => [reorderTerm(k, bound), reorderTerm(v, bound)] as [Term, Term]),
      };
    case 'call':
      return { ...t, args: t.args.map((a) => reorderTerm(a, bound)) };
    case 'arraycomp':
    case 'setcomp':
    case 'objectcomp': {
      const body = reorderBody(t.body, bound, t.loc);
      return {
        ...t,
        head: reorderTerm(t.head, bound),
        value: t.value === undefined ? undefined : reorderTerm(t.value, bound),
        body,
      };
    }
    default:
      return t;
  }
}

// ---------------------------------------------------------------------------------------------

function headPrefix(rule: Rule, loc: Loc): { prefix: string[]; suffix: Term[] } {
  const prefix = [...rule.pkg];
  let i = 0;
  for (; i < rule.ref.length; i++) {
    const t = rule.ref[i];
    if (t.type === 'scalar' && typeof t.value === 'string') prefix.push(t.value);
    else break;
  }
  if (i === 0) compileError(loc, 'rule name expected');
  return { prefix, suffix: rule.ref.slice(i) };
}

/** Compiles modules (all loaded together, as OPA does) into a rule tree. */
export function compileModules(modules: readonly Module[]): CompiledPolicy {
  const root = newNode([]);
  const placed: { rule: Rule; prefix: string[]; suffix: Term[]; mod: Module }[] = [];
  for (const mod of modules) {
    nodeAt(root, mod.pkg, true)!.isPackage = true;
    for (const rule of mod.rules) {
      const { prefix, suffix } = headPrefix(rule, rule.loc);
      if (rule.kind === 'func' && suffix.length > 0) compileError(rule.loc, 'function heads must be ground');
      const node = nodeAt(root, prefix, true)!;
      const cr: CompiledRule = { rule, prefix, suffix, compiled: undefined };
      if (rule.isDefault) node.defaults.push(cr);
      else if (rule.kind === 'func') node.funcs.push(cr);
      else node.rules.push(cr);
      placed.push({ rule, prefix, suffix, mod });
    }
  }
  const scopes = new Map<Module, ModuleScope>();
  for (const mod of modules) {
    const imports = new Map<string, readonly string[]>();
    for (const imp of mod.imports) {
      if (imp.path[0] === 'future' || imp.path[0] === 'rego') continue;
      imports.set(imp.alias ?? imp.path[imp.path.length - 1], imp.path);
    }
    scopes.set(mod, { pkg: mod.pkg, imports, root });
  }
  const allRules: CompiledRule[] = [];
  for (const p of placed) {
    const s = scopes.get(p.mod)!;
    const r = p.rule;
    const argVars = new Set<string>();
    for (const a of r.args ?? []) varsOf(a, argVars);
    const suffixVars = new Set<string>();
    for (const t of p.suffix) varsOf(t, suffixVars);
    const locals = new Set([...argVars, ...declaredIn(r.body)]);
    for (const v of suffixVars) if (!nodeAt(root, [...p.mod.pkg, v], false)) locals.add(v);
    const resolvedBody = resolveBody(r.body, s, locals);
    r.body = reorderBody(resolvedBody, argVars, r.loc);
    const resolveHead = (t: Term | undefined): Term | undefined =>
      t === undefined ? undefined : resolveTerm(t, s, locals);
    const rebuilt: Rule = {
      ...r,
      args: r.args?.map((a) => resolveTerm(a, s, argVars)),
      key: resolveHead(r.key),
      value: resolveHead(r.value),
      ref: r.ref.map((t, i) => (i === 0 ? t : resolveTerm(t, s, locals))),
      elses: r.elses.map((e) => ({
        ...e,
        value: resolveHead(e.value),
        body: reorderBody(resolveBody(e.body, s, locals), argVars, e.loc),
      })),
    };
    Object.assign(r, rebuilt);
    allRules.push({
      rule: r,
      prefix: p.prefix,
      suffix: p.suffix.map((t) => resolveTerm(t, s, locals)),
      compiled: undefined,
    });
  }
  // Re-point the tree's entries at the resolved suffixes.
  const bySource = new Map(allRules.map((c) => [c.rule, c]));
  let nodeCount = 0;
  const fix = (n: RuleNode): void => {
    n.id = nodeCount++;
    for (const list of [n.rules, n.funcs, n.defaults]) {
      for (let i = 0; i < list.length; i++) list[i] = bySource.get(list[i].rule) ?? list[i];
    }
    // `p[q] contains r` (a set at each ref-head leaf) makes p an object, not a set.
    n.isSet = n.rules.some((r) => r.rule.kind === 'set' && r.suffix.length === 0);
    n.hasSuffix = n.rules.some((r) => r.suffix.length > 0);
    n.valueDefault = n.defaults.some((d) => d.rule.kind !== 'func');
    for (const c of n.children.values()) fix(c);
  };
  fix(root);
  return { root, modules, allRules, nodeCount };
}

/** Compiles an ad-hoc query body against a compiled policy (no package: only data/input roots). */
export function compileQuery(
  body: readonly Literal[],
  policy: CompiledPolicy,
  pkg: readonly string[] = [],
): Literal[] {
  const s: ModuleScope = { pkg, imports: new Map(), root: policy.root };
  const resolved = resolveBody(body, s, new Set());
  return reorderBody(resolved, new Set(), body[0]?.loc ?? { file: 'query', line: 1, col: 1 });
}

/** Variables of a query that become result columns (user-visible, not wildcards). */
export function queryVars(body: readonly Literal[]): string[] {
  const out = new Set<string>();
  for (const l of body) {
    if (l.expr.type === 'some') continue;
    litVars(l, out);
  }
  return [...out].filter((v) => !v.startsWith('_$') && !ROOTS.has(v));
}
