/**
 * Rego lexer and parser. Accepts OPA 1.0 syntax (`if`, `contains`, `every`, `in`, `:=`) and the
 * older syntax Trustee's shipped policies still use (`default allow = false`, `p = x { … }`,
 * `p[x] { … }` partial sets, keywords without `import rego.v1`). Errors are ERR_POLICY_PARSE
 * with `file:line:col` in the message and `{ file, line, col }` in details, like OPA's
 * rego_parse_error. Grammar reference: OPA's ast/parser.go precedence (in < relational < `|` <
 * `&` < `+ -` < `* / %`).
 */
import { CocoonError } from '../common/errors.js';
import type {
  ElseBranch,
  Expr,
  Import,
  Literal,
  Loc,
  Module,
  Rule,
  Term,
  VarTerm,
  WithModifier,
} from './ast.js';

type TokKind = 'ident' | 'string' | 'number' | 'punct' | 'eof';

interface Token {
  readonly kind: TokKind;
  readonly text: string;
  /** Decoded string value for strings. */
  readonly str?: string;
  readonly line: number;
  readonly col: number;
  /** A newline separates this token from the previous one. */
  readonly nl: boolean;
  readonly pos: number;
}

const PUNCTS = [
  ':=',
  '==',
  '!=',
  '<=',
  '>=',
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  '.',
  ',',
  ';',
  ':',
  '=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '|',
  '&',
];

/** Throws a parse error at a position. */
function parseError(file: string, line: number, col: number, msg: string): never {
  throw new CocoonError('ERR_POLICY_PARSE', `${file}:${line}:${col}: rego_parse_error: ${msg}`, {
    details: { file, line, col },
  });
}

/** Splits Rego text into tokens (comments dropped, newlines recorded on the next token). */
function lex(src: string, file: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  let nl = false;
  const n = src.length;
  while (i < n) {
    const c = src[i];
    if (c === '\n') {
      i++;
      line++;
      lineStart = i;
      nl = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    const col = i - lineStart + 1;
    const start = i;
    if (/[A-Za-z_]/.test(c)) {
      while (i < n && /[A-Za-z0-9_]/.test(src[i])) i++;
      toks.push({ kind: 'ident', text: src.slice(start, i), line, col, nl, pos: start });
    } else if (/[0-9]/.test(c)) {
      while (i < n && /[0-9]/.test(src[i])) i++;
      if (src[i] === '.' && /[0-9]/.test(src[i + 1] ?? '')) {
        i++;
        while (i < n && /[0-9]/.test(src[i])) i++;
      }
      if (src[i] === 'e' || src[i] === 'E') {
        let j = i + 1;
        if (src[j] === '+' || src[j] === '-') j++;
        if (/[0-9]/.test(src[j] ?? '')) {
          i = j;
          while (i < n && /[0-9]/.test(src[i])) i++;
        }
      }
      toks.push({ kind: 'number', text: src.slice(start, i), line, col, nl, pos: start });
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < n) {
        if (src[i] === '\\') {
          i += 2;
          continue;
        }
        if (src[i] === '\n') break;
        if (src[i] === '"') {
          closed = true;
          i++;
          break;
        }
        i++;
      }
      if (!closed) parseError(file, line, col, 'non-terminated string');
      const text = src.slice(start, i);
      let str: string;
      try {
        str = JSON.parse(text) as string;
      } catch {
        parseError(file, line, col, `illegal string literal: ${text}`);
      }
      toks.push({ kind: 'string', text, str, line, col, nl, pos: start });
    } else if (c === '`') {
      i++;
      while (i < n && src[i] !== '`') {
        if (src[i] === '\n') {
          line++;
          lineStart = i + 1;
        }
        i++;
      }
      if (i >= n) parseError(file, line, col, 'non-terminated raw string');
      i++;
      toks.push({
        kind: 'string',
        text: src.slice(start, i),
        str: src.slice(start + 1, i - 1),
        line,
        col,
        nl,
        pos: start,
      });
    } else {
      const p = PUNCTS.find((q) => src.startsWith(q, i));
      if (p === undefined) parseError(file, line, col, `illegal token '${c}'`);
      i += p.length;
      toks.push({ kind: 'punct', text: p, line, col, nl, pos: start });
    }
    nl = false;
  }
  toks.push({ kind: 'eof', text: '<eof>', line, col: i - lineStart + 1, nl: true, pos: n });
  return toks;
}

const INFIX: ReadonlyArray<Readonly<Record<string, string>>> = [
  { '==': 'equal', '!=': 'neq', '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' },
  { '|': 'or' },
  { '&': 'and' },
  { '+': 'plus', '-': 'minus' },
  { '*': 'mul', '/': 'div', '%': 'rem' },
];

/** Options of the parser. */
export interface ParseOptions {
  /** File name used in locations (default "policy.rego"). */
  readonly file?: string;
}

class Parser {
  private readonly toks: Token[];
  private i = 0;
  /** Stack: true when newlines end expressions at this nesting level (bodies), false inside brackets. */
  private readonly nlStack: boolean[] = [true];
  private readonly file: string;
  private readonly src: string;
  private wildcard = 0;
  /** `import future.keywords.not` seen: `not { … }` negates a body instead of a set literal. */
  private notBlocks = false;

  constructor(src: string, file: string) {
    this.src = src;
    this.file = file;
    this.toks = lex(src, file);
  }

  private get tok(): Token {
    return this.toks[this.i];
  }

  private kindNow(): TokKind {
    return this.toks[this.i].kind;
  }

  private peek(k = 1): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)];
  }

  private loc(t: Token = this.tok): Loc {
    return { file: this.file, line: t.line, col: t.col };
  }

  private fail(msg: string, t: Token = this.tok): never {
    parseError(this.file, t.line, t.col, msg);
  }

  private isP(text: string, t: Token = this.tok): boolean {
    return t.kind === 'punct' && t.text === text;
  }

  private isKw(text: string, t: Token = this.tok): boolean {
    return t.kind === 'ident' && t.text === text;
  }

  private expectP(text: string): Token {
    if (!this.isP(text)) this.fail(`expected '${text}' but found '${this.tok.text}'`);
    return this.toks[this.i++];
  }

  private nlEnds(): boolean {
    return this.nlStack[this.nlStack.length - 1] && this.tok.nl;
  }

  private nested<T>(nlSignificant: boolean, f: () => T): T {
    this.nlStack.push(nlSignificant);
    try {
      return f();
    } finally {
      this.nlStack.pop();
    }
  }

  parseModule(): Module {
    if (!this.isKw('package')) this.fail('package expected');
    this.i++;
    const pkgRef = this.parseRefPath();
    const pkg = pkgRef;
    const imports: Import[] = [];
    let v1Imports = false;
    while (this.isKw('import')) {
      const at = this.tok;
      this.i++;
      const path = this.parseRefPath();
      let alias: string | undefined;
      if (this.isKw('as')) {
        this.i++;
        if (this.tok.kind !== 'ident') this.fail('alias expected');
        alias = this.tok.text;
        this.i++;
      }
      const root = path[0];
      if (root !== 'data' && root !== 'input' && root !== 'future' && root !== 'rego') {
        this.fail(`invalid import ${path.join('.')}: must begin with input, data, future or rego`, at);
      }
      if (root === 'future' || root === 'rego') v1Imports = true;
      if (path.join('.') === 'future.keywords.not') this.notBlocks = true;
      imports.push({ path, alias, loc: this.loc(at) });
    }
    const rules: Rule[] = [];
    while (this.tok.kind !== 'eof') {
      for (const r of this.parseRule()) {
        r.pkg = pkg;
        rules.push(r);
      }
    }
    return { file: this.file, pkg, imports, rules, v1Imports };
  }

  /** Parses `a.b["c"].d` into strings (package and import paths). */
  private parseRefPath(): string[] {
    if (this.tok.kind !== 'ident') this.fail(`identifier expected but found '${this.tok.text}'`);
    const out = [this.tok.text];
    this.i++;
    for (;;) {
      if (this.isP('.') && !this.tok.nl) {
        this.i++;
        if (this.tok.kind !== 'ident') this.fail('identifier expected after "."');
        out.push(this.tok.text);
        this.i++;
      } else if (this.isP('[') && !this.tok.nl) {
        this.i++;
        if (this.kindNow() !== 'string') this.fail('string expected in path');
        out.push(this.tok.str!);
        this.i++;
        this.expectP(']');
      } else break;
    }
    return out;
  }

  private lineText(startPos: number, endPos: number): string {
    return this.src.slice(startPos, endPos).replace(/\s+/g, ' ').trim();
  }

  private parseRule(): Rule[] {
    const start = this.tok;
    let isDefault = false;
    if (this.isKw('default')) {
      isDefault = true;
      this.i++;
    }
    if (this.tok.kind !== 'ident') this.fail(`unexpected '${this.tok.text}': rule expected`);
    // Head reference.
    const ref: Term[] = [{ type: 'scalar', value: this.tok.text, loc: this.loc() }];
    this.i++;
    let sawBracketNoValue: Term | undefined;
    let args: Term[] | undefined;
    for (;;) {
      if (this.isP('.') && !this.tok.nl) {
        this.i++;
        if (this.tok.kind !== 'ident') this.fail('identifier expected after "."');
        ref.push({ type: 'scalar', value: this.tok.text, loc: this.loc() });
        this.i++;
      } else if (this.isP('[') && !this.tok.nl) {
        this.i++;
        const t = this.nested(false, () => this.parseTermExpr());
        this.expectP(']');
        ref.push(t);
      } else break;
    }
    if (this.isP('(') && !this.tok.nl) {
      this.i++;
      args = this.nested(false, () => this.parseTermList(')'));
      this.expectP(')');
    }
    let kind: Rule['kind'] = args === undefined ? 'complete' : 'func';
    let key: Term | undefined;
    let value: Term | undefined;
    if (this.isKw('contains') && args === undefined) {
      this.i++;
      key = this.nested(false, () => this.parseTermExpr());
      kind = 'set';
    } else if ((this.isP('=') || this.isP(':=')) && !this.tok.nl) {
      this.i++;
      value = this.nested(false, () => this.parseTermExpr());
    } else if (ref.length > 1 && args === undefined) {
      sawBracketNoValue = ref[ref.length - 1];
    }
    const headEnd = this.toks[this.i - 1];
    const headText = this.lineText(start.pos, headEnd.pos + headEnd.text.length);
    let usedIf = false;
    if (this.isKw('if') && !this.tok.nl) {
      this.i++;
      usedIf = true;
    }
    // Old syntax `p[x] { … }`: a partial set; with `if` (OPA 1.0) the head is a ref with value true.
    if (sawBracketNoValue !== undefined && !usedIf && !isDefault && this.wasBracket(start, ref)) {
      ref.pop();
      key = sawBracketNoValue;
      kind = 'set';
    }
    let body: Literal[];
    const bodies: Literal[][] = [];
    if (usedIf) {
      body = this.parseIfBody();
    } else if (this.isP('{') && !isDefault) {
      body = this.parseBraceBody();
      // Old syntax: several bodies after one head are several rules (disjunction).
      while (this.isP('{') && !this.tok.nl) bodies.push(this.parseBraceBody());
    } else {
      if (!isDefault && value === undefined && kind !== 'set') {
        this.fail(`rule ${headText} has no value and no body`);
      }
      body = [];
    }
    const elses: ElseBranch[] = [];
    while (this.isKw('else')) {
      const at = this.tok;
      this.i++;
      let ev: Term | undefined;
      if (this.isP('=') || this.isP(':=')) {
        this.i++;
        ev = this.nested(false, () => this.parseTermExpr());
      }
      let eb: Literal[] = [];
      if (this.isKw('if')) {
        this.i++;
        eb = this.parseIfBody();
      } else if (this.isP('{')) eb = this.parseBraceBody();
      elses.push({ value: ev, body: eb, loc: this.loc(at) });
    }
    const endTok = this.toks[this.i - 1];
    const base = {
      isDefault,
      ref,
      args,
      key,
      value,
      elses,
      loc: this.loc(start),
      endLine: endTok.line,
      pkg: [],
      headText,
    };
    const out: Rule[] = [{ ...base, kind, body }];
    for (const b of bodies) out.push({ ...base, kind, body: b, elses: [] });
    return out;
  }

  /**
   * The body after `if`: a `{ … }` block, or one literal. A `{` that does not open a valid block
   * may start a term — `if {x: i | x := xs[i]}` is an object comprehension as the single literal,
   * as OPA's parser reads it — so the block is tried first and, if it fails, the literal from the
   * same token; when both fail the block's error is the one reported.
   */
  private parseIfBody(): Literal[] {
    if (!this.isP('{')) return this.nested(true, () => [this.parseLiteral()]);
    const at = this.i;
    try {
      return this.parseBraceBody();
    } catch (blockError) {
      if (!(blockError instanceof CocoonError)) throw blockError;
      this.i = at;
      try {
        return this.nested(true, () => [this.parseLiteral()]);
      } catch {
        throw blockError;
      }
    }
  }

  /** True when the last head segment was written with brackets (`p[x]`), not dots. */
  private wasBracket(start: Token, ref: Term[]): boolean {
    // Find the head token span and check the text just before the last segment.
    const last = ref[ref.length - 1];
    const idx = this.toks.findIndex(
      (t) => t.line === last.loc.line && t.col === last.loc.col && t.pos >= start.pos,
    );
    return idx > 0 && this.isP('[', this.toks[idx - 1]);
  }

  private parseBraceBody(): Literal[] {
    this.expectP('{');
    const body = this.nested(true, () => this.parseBody('}'));
    this.expectP('}');
    return body;
  }

  /** Parses literals until `end` (not consumed). */
  private parseBody(end: string): Literal[] {
    const out: Literal[] = [];
    while (!this.isP(end)) {
      if (this.tok.kind === 'eof') this.fail(`expected '${end}'`);
      out.push(this.parseLiteral());
      if (this.isP(';')) {
        this.i++;
        continue;
      }
      if (this.isP(end)) break;
      if (!this.tok.nl) this.fail(`unexpected '${this.tok.text}' token: expected \\n or ; or ${end}`);
    }
    if (out.length === 0) this.fail('found empty body');
    return out;
  }

  private parseLiteral(): Literal {
    const at = this.tok;
    let lit: Literal;
    if (this.isKw('not') && this.notBlocks && this.isP('{', this.peek())) {
      this.i++;
      lit = { expr: this.parseNotBlock(), negated: true, withs: [], loc: this.loc(at) };
    } else if (this.isKw('not')) {
      this.i++;
      const inner = this.parseExpr();
      lit = { expr: inner, negated: true, withs: [], loc: this.loc(at) };
    } else if (this.isKw('some')) {
      this.i++;
      lit = { expr: this.parseSome(), negated: false, withs: [], loc: this.loc(at) };
    } else if (this.isKw('every')) {
      this.i++;
      lit = { expr: this.parseEvery(), negated: false, withs: [], loc: this.loc(at) };
    } else {
      lit = { expr: this.parseExpr(), negated: false, withs: [], loc: this.loc(at) };
    }
    while (this.isKw('with')) {
      const wt = this.tok;
      this.i++;
      const target = this.nested(false, () => this.parseTermOp(0));
      if (!this.isKw('as')) this.fail('expected "as" in with modifier');
      this.i++;
      const value = this.nested(false, () => this.parseTermOp(0));
      lit.withs.push({ target, value, loc: this.loc(wt) } satisfies WithModifier);
    }
    return lit;
  }

  /**
   * The body of `not { … }` (future.keywords.not), as the expression `{true | body}[true]`: it is
   * defined exactly when the body has a solution, and the comprehension gives the body its own
   * scope (outer bindings visible, its own variables and `:=` declarations local), as OPA scopes
   * a negated body. Every evaluation path already handles both shapes.
   */
  private parseNotBlock(): Expr {
    const loc = this.loc();
    const body = this.parseBraceBody();
    const yes: Term = { type: 'scalar', value: true, loc };
    const comp: Term = { type: 'setcomp', head: yes, body, loc };
    return { type: 'term', term: { type: 'ref', head: comp, path: [{ ...yes }], loc } };
  }

  private parseSome(): Expr {
    const first = this.nested(false, () => this.parseTermOp(1));
    if (this.isP(',')) {
      this.i++;
      const second = this.nested(false, () => this.parseTermOp(1));
      if (this.isKw('in')) {
        this.i++;
        const coll = this.nested(false, () => this.parseTermOp(1));
        return { type: 'somein', key: first, value: second, coll };
      }
      const vars = [first, second];
      while (this.isP(',')) {
        this.i++;
        vars.push(this.parseTerm());
      }
      return { type: 'some', vars: vars.map((v) => this.asVar(v)) };
    }
    if (this.isKw('in')) {
      this.i++;
      const coll = this.nested(false, () => this.parseTermOp(1));
      return { type: 'somein', value: first, coll };
    }
    return { type: 'some', vars: [this.asVar(first)] };
  }

  private asVar(t: Term): VarTerm {
    if (t.type !== 'var')
      parseError(this.file, t.loc.line, t.loc.col, 'expected variable in some declaration');
    return t;
  }

  private parseEvery(): Expr {
    const first = this.parseTerm();
    let key: Term | undefined;
    let value = first;
    if (this.isP(',')) {
      this.i++;
      key = first;
      value = this.parseTerm();
    }
    if (!this.isKw('in')) this.fail('expected "in" in every');
    this.i++;
    const coll = this.nested(false, () => this.parseTermOp(1));
    const body = this.parseBraceBody();
    return { type: 'every', key, value, coll, body };
  }

  private parseExpr(): Expr {
    let left = this.parseTermExpr();
    if (this.isP(',') && this.nlStack[this.nlStack.length - 1]) left = this.parseMember3(left) ?? left;
    if (!this.nlEnds()) {
      if (this.isP('=')) {
        this.i++;
        return { type: 'unify', left, right: this.parseTermExpr() };
      }
      if (this.isP(':=')) {
        this.i++;
        return { type: 'assign', left, right: this.parseTermExpr() };
      }
    }
    return { type: 'term', term: left };
  }

  /** A term with infix operators, including `in` and `x, y in z` membership at the lowest level. */
  private parseTermExpr(): Term {
    let left = this.parseTermOp(0);
    while (this.isKw('in') && !this.nlEnds()) {
      const at = this.tok;
      this.i++;
      const coll = this.parseTermOp(0);
      left = { type: 'call', name: 'internal.member_2', args: [left, coll], loc: this.loc(at) };
    }
    return left;
  }

  /** `k, v in coll` at the expression level (OPA internal.member_3). */
  private parseMember3(left: Term): Term | undefined {
    const save = this.i;
    if (!this.isP(',')) return undefined;
    this.i++;
    try {
      const v = this.parseTermOp(0);
      if (!this.isKw('in')) {
        this.i = save;
        return undefined;
      }
      const at = this.tok;
      this.i++;
      let out: Term = {
        type: 'call',
        name: 'internal.member_3',
        args: [left, v, this.parseTermOp(0)],
        loc: this.loc(at),
      };
      while (this.isKw('in') && !this.nlEnds()) {
        const at2 = this.tok;
        this.i++;
        out = {
          type: 'call',
          name: 'internal.member_2',
          args: [out, this.parseTermOp(0)],
          loc: this.loc(at2),
        };
      }
      return out;
    } catch (e) {
      this.i = save;
      void e;
      return undefined;
    }
  }

  private parseTermOp(level: number): Term {
    if (level >= INFIX.length) return this.parseTerm();
    let left = this.parseTermOp(level + 1);
    for (;;) {
      if (this.tok.kind !== 'punct' || this.nlEnds()) return left;
      const op = INFIX[level][this.tok.text];
      if (op === undefined) return left;
      const at = this.tok;
      this.i++;
      const right = this.parseTermOp(level + 1);
      left = { type: 'call', name: op, args: [left, right], loc: this.loc(at) };
    }
  }

  private parseTermList(end: string): Term[] {
    const out: Term[] = [];
    while (!this.isP(end)) {
      out.push(this.parseTermExpr());
      if (this.isP(',')) this.i++;
      else if (!this.isP(end)) this.fail(`expected ',' or '${end}' but found '${this.tok.text}'`);
    }
    return out;
  }

  /** A single term with its reference suffixes and call parentheses. */
  private parseTerm(): Term {
    const t = this.tok;
    let term: Term;
    const loc = this.loc(t);
    if (t.kind === 'number') {
      this.i++;
      term = { type: 'scalar', value: Number(t.text), loc };
    } else if (t.kind === 'string') {
      this.i++;
      term = { type: 'scalar', value: t.str!, loc };
    } else if (this.isP('-') && this.peek().kind === 'number' && this.peek().pos === t.pos + 1) {
      this.i += 2;
      term = { type: 'scalar', value: -Number(this.toks[this.i - 1].text), loc };
    } else if (this.isP('-')) {
      this.i++;
      const operand = this.parseTerm();
      term = { type: 'call', name: 'minus', args: [{ type: 'scalar', value: 0, loc }, operand], loc };
    } else if (t.kind === 'ident') {
      this.i++;
      if (t.text === 'true' || t.text === 'false') term = { type: 'scalar', value: t.text === 'true', loc };
      else if (t.text === 'null') term = { type: 'scalar', value: null, loc };
      else if (t.text === 'set' && this.isP('(') && this.isP(')', this.peek())) {
        this.i += 2;
        term = { type: 'set', items: [], loc };
      } else if (t.text === '_') term = { type: 'var', name: `_$${this.wildcard++}`, loc };
      else term = { type: 'var', name: t.text, loc };
    } else if (this.isP('(')) {
      this.i++;
      term = this.nested(false, () => {
        const inner = this.parseTermExpr();
        return this.isP(',') ? (this.parseMember3(inner) ?? inner) : inner;
      });
      this.expectP(')');
    } else if (this.isP('[')) {
      this.i++;
      term = this.nested(false, () => {
        if (this.isP(']')) return { type: 'array', items: [], loc } as Term;
        const save = this.i;
        const head = this.parseTermOp(2);
        if (this.isP('|')) {
          this.i++;
          const body = this.nested(true, () => this.parseBody(']'));
          return { type: 'arraycomp', head, body, loc } as Term;
        }
        this.i = save;
        const first = this.parseTermExpr();
        const items = [first];
        while (this.isP(',')) {
          this.i++;
          if (this.isP(']')) break;
          items.push(this.parseTermExpr());
        }
        return { type: 'array', items, loc } as Term;
      });
      this.expectP(']');
    } else if (this.isP('{')) {
      this.i++;
      term = this.nested(false, () => this.parseBraceTerm(loc));
      this.expectP('}');
    } else {
      this.fail(`unexpected '${t.text}' token`);
    }
    // Reference suffixes and calls.
    for (;;) {
      if (this.isP('.') && !this.tok.nl) {
        this.i++;
        const nt = this.tok;
        if (nt.kind !== 'ident') this.fail('identifier expected after "."');
        this.i++;
        const seg: Term = { type: 'scalar', value: nt.text, loc: this.loc(nt) };
        term =
          term.type === 'ref'
            ? { ...term, path: [...term.path, seg] }
            : { type: 'ref', head: term, path: [seg], loc };
      } else if (this.isP('[') && !this.tok.nl) {
        this.i++;
        const idx = this.nested(false, () => this.parseTermExpr());
        this.expectP(']');
        term =
          term.type === 'ref'
            ? { ...term, path: [...term.path, idx] }
            : { type: 'ref', head: term, path: [idx], loc };
      } else if (this.isP('(') && !this.tok.nl && (term.type === 'var' || term.type === 'ref')) {
        const name = this.callName(term);
        this.i++;
        const args = this.nested(false, () => this.parseTermList(')'));
        this.expectP(')');
        term = { type: 'call', name, args, loc };
      } else break;
    }
    return term;
  }

  private callName(t: Term): string {
    if (t.type === 'var') return t.name;
    if (t.type === 'ref' && t.head.type === 'var') {
      const parts = [t.head.name];
      for (const p of t.path) {
        if (p.type !== 'scalar' || typeof p.value !== 'string') this.fail('invalid function name');
        parts.push(p.value);
      }
      return parts.join('.');
    }
    this.fail('invalid function name');
  }

  private parseBraceTerm(loc: Loc): Term {
    if (this.isP('}')) return { type: 'object', entries: [], loc };
    const save = this.i;
    const head = this.parseTermOp(2);
    if (this.isP('|')) {
      this.i++;
      const body = this.nested(true, () => this.parseBody('}'));
      return { type: 'setcomp', head, body, loc };
    }
    this.i = save;
    const first = this.parseTermExpr();
    if (this.isP(':')) {
      this.i++;
      const vsave = this.i;
      const cv = this.parseTermOp(2);
      if (this.isP('|')) {
        this.i++;
        const body = this.nested(true, () => this.parseBody('}'));
        return { type: 'objectcomp', head: first, value: cv, body, loc };
      }
      this.i = vsave;
      const v = this.parseTermExpr();
      const entries: [Term, Term][] = [[first, v]];
      while (this.isP(',')) {
        this.i++;
        if (this.isP('}')) break;
        const k = this.parseTermExpr();
        this.expectP(':');
        entries.push([k, this.parseTermExpr()]);
      }
      return { type: 'object', entries, loc };
    }
    const items = [first];
    while (this.isP(',')) {
      this.i++;
      if (this.isP('}')) break;
      items.push(this.parseTermExpr());
    }
    return { type: 'set', items, loc };
  }

  parseQuery(): Literal[] {
    const body = this.nested(true, () => {
      const out: Literal[] = [];
      while (this.tok.kind !== 'eof') {
        out.push(this.parseLiteral());
        if (this.isP(';')) this.i++;
        else if (this.kindNow() !== 'eof' && !this.tok.nl) this.fail(`unexpected '${this.tok.text}' token`);
      }
      return out;
    });
    if (body.length === 0) parseError(this.file, 1, 1, 'empty query');
    return body;
  }

  parseSingleTerm(): Term {
    const t = this.nested(false, () => this.parseTermExpr());
    if (this.tok.kind !== 'eof') this.fail(`unexpected '${this.tok.text}' token after term`);
    return t;
  }
}

/** Parses one Rego module. */
export function parseModule(src: string, opts: ParseOptions = {}): Module {
  return new Parser(src, opts.file ?? 'policy.rego').parseModule();
}

/** Parses a query body (`data.x.allow`, `x := 1; y = x + 1`). */
export function parseQuery(src: string, file = 'query'): Literal[] {
  return new Parser(src, file).parseQuery();
}

/** Parses a single Rego term (used for `input_term` and `--query` shorthands). */
export function parseTerm(src: string, file = 'term'): Term {
  return new Parser(src, file).parseSingleTerm();
}
