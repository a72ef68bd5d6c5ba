/**
 * The Rego abstract syntax tree produced by parser.ts and annotated by compile.ts. Shapes follow
 * OPA's ast package loosely (Module, Rule, Body, Expr, Term), simplified for a tree-walking
 * interpreter.
 */

/** A source position (1-based line and column). */
export interface Loc {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** A scalar literal. */
export interface ScalarTerm {
  readonly type: 'scalar';
  readonly value: null | boolean | number | string;
  readonly loc: Loc;
}

/** A variable (`_` is a wildcard, renamed by the compiler to a fresh name). */
export interface VarTerm {
  readonly type: 'var';
  name: string;
  readonly loc: Loc;
}

/** A reference: a head term followed by `.name` / `[term]` segments. */
export interface RefTerm {
  readonly type: 'ref';
  head: Term;
  readonly path: Term[];
  readonly loc: Loc;
}

/** An array literal. */
export interface ArrayTerm {
  readonly type: 'array';
  readonly items: Term[];
  readonly loc: Loc;
}

/** An object literal. */
export interface ObjectTerm {
  readonly type: 'object';
  readonly entries: [Term, Term][];
  readonly loc: Loc;
}

/** A set literal (`set()` is the empty set). */
export interface SetTerm {
  readonly type: 'set';
  readonly items: Term[];
  readonly loc: Loc;
}

/** Where a call goes, filled in by the compiler. */
export type CallTarget =
  | { readonly kind: 'builtin'; readonly name: string }
  | { readonly kind: 'rule'; readonly path: readonly string[] };

/** A function call; infix operators are calls of their built-in (plus, equal, …). */
export interface CallTerm {
  readonly type: 'call';
  /** Dotted name as written (`count`, `array.concat`, `data.lib.f`, `f`). */
  name: string;
  readonly args: Term[];
  readonly loc: Loc;
  target?: CallTarget;
}

/** An array, set or object comprehension. */
export interface ComprehensionTerm {
  readonly type: 'arraycomp' | 'setcomp' | 'objectcomp';
  /** Element term (array/set) or key term (object). */
  readonly head: Term;
  /** Value term (object comprehensions only). */
  readonly value?: Term;
  body: Literal[];
  readonly loc: Loc;
}

/** Any term. */
export type Term =
  ScalarTerm | VarTerm | RefTerm | ArrayTerm | ObjectTerm | SetTerm | CallTerm | ComprehensionTerm;

/** One `with target as value` modifier. */
export interface WithModifier {
  readonly target: Term;
  readonly value: Term;
  readonly loc: Loc;
}

/** The expression part of a literal. */
export type Expr =
  | { readonly type: 'term'; readonly term: Term }
  | { readonly type: 'unify'; readonly left: Term; readonly right: Term }
  | { readonly type: 'assign'; readonly left: Term; readonly right: Term }
  | { readonly type: 'some'; readonly vars: VarTerm[] }
  | { readonly type: 'somein'; readonly key?: Term; readonly value: Term; readonly coll: Term }
  | {
      readonly type: 'every';
      readonly key?: Term;
      readonly value: Term;
      readonly coll: Term;
      body: Literal[];
    };

/** One body literal: an expression, possibly negated, with `with` modifiers. */
export interface Literal {
  readonly expr: Expr;
  readonly negated: boolean;
  readonly withs: WithModifier[];
  readonly loc: Loc;
}

/** An `else` branch of a rule. */
export interface ElseBranch {
  readonly value?: Term;
  body: Literal[];
  readonly loc: Loc;
}

/** Kind of a rule: complete (incl. ref heads with variables), partial set, or function. */
export type RuleKind = 'complete' | 'set' | 'func';

/** A rule as parsed: `ref` holds the head path (first element the rule name, as a string scalar). */
export interface Rule {
  kind: RuleKind;
  readonly isDefault: boolean;
  /** Head reference relative to the package; first term is the name. */
  readonly ref: Term[];
  /** Function arguments. */
  readonly args?: Term[];
  /** Partial-set member term. */
  readonly key?: Term;
  /** Value term (undefined means `true`). */
  readonly value?: Term;
  body: Literal[];
  readonly elses: ElseBranch[];
  readonly loc: Loc;
  /** Source text line range, for `explain`. */
  readonly endLine: number;
  /** Package path (set by the parser). */
  pkg: string[];
  /** Textual head for reports (`allow`, `trust_claims`). */
  readonly headText: string;
}

/** An `import` statement. */
export interface Import {
  /** Path as strings: ["data", "a", "b"], ["input", "x"], ["future", "keywords", "in"], ["rego", "v1"]. */
  readonly path: string[];
  readonly alias?: string;
  readonly loc: Loc;
}

/** A parsed module. */
export interface Module {
  readonly file: string;
  readonly pkg: string[];
  readonly imports: Import[];
  readonly rules: Rule[];
  /** Whether the module opted into v1 keywords (`import rego.v1` or `future.keywords`). */
  readonly v1Imports: boolean;
}
