/**
 * Parser and evaluator tables: language features in OPA 1.0 and in the older syntax Trustee's
 * policies use, undefined vs false, conflicts, strict built-in errors, parse/compile errors with
 * line:column, and the step/time limits.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy } from '../../../src/policy/engine.js';
import { parseModule } from '../../../src/policy/parser.js';
import { toJSON } from '../../../src/policy/value.js';
import { fixedClock } from '../../../src/common/clock.js';
import { throwsCode } from '../../helpers/assert-code.js';
import { CocoonError } from '../../../src/common/errors.js';
import { DEFAULT_ATTESTATION_POLICY, DEFAULT_RESOURCE_POLICY } from '../../../src/policy/default-policies.js';

interface EvalCase {
  readonly name: string;
  readonly policy: string;
  readonly query: string;
  readonly input?: unknown;
  readonly data?: unknown;
  /** Expected JSON value of the first row's `x`, or 'undefined' for no rows. */
  readonly want: unknown;
}

/** Evaluates `query` (which binds x) and returns x as JSON, or 'undefined'. */
function evalX(policy: string, query: string, input?: unknown, data?: unknown): unknown {
  const p = compilePolicy(policy);
  const r = p.query(query, { input, data, clock: fixedClock('2025-01-02T03:04:05Z') });
  if (r.rows.length === 0) return 'undefined';
  return toJSON(r.rows[0].get('x')!);
}

const V1 = 'package t\nimport rego.v1\n';
const V0 = 'package t\n';

const EVAL_CASES: readonly EvalCase[] = [
  {
    name: 'pass_complete_rule_true',
    policy: `${V1}allow if input.a == 1`,
    query: 'x := data.t.allow',
    input: { a: 1 },
    want: true,
  },
  {
    name: 'pass_undefined_is_not_false',
    policy: `${V1}allow if input.a == 1`,
    query: 'x := data.t.allow',
    input: { a: 2 },
    want: 'undefined',
  },
  {
    name: 'pass_default_gives_false',
    policy: `${V1}default allow := false\nallow if input.a == 1`,
    query: 'x := data.t.allow',
    input: { a: 2 },
    want: false,
  },
  {
    name: 'pass_old_syntax_default_eq',
    policy: `${V0}default allow = false\nallow { input.a == 1 }`,
    query: 'x := data.t.allow',
    input: { a: 1 },
    want: true,
  },
  {
    name: 'pass_old_syntax_value_eq',
    policy: `${V0}p = x { x := input.a + 1 }`,
    query: 'x := data.t.p',
    input: { a: 1 },
    want: 2,
  },
  {
    name: 'pass_old_syntax_partial_set',
    policy: `${V0}p[x] { x := input.xs[_]; x > 1 }`,
    query: 'x := data.t.p',
    input: { xs: [1, 2, 3] },
    want: [2, 3],
  },
  {
    name: 'pass_if_without_import',
    policy: `${V0}allow if { input.a == 1 }`,
    query: 'x := data.t.allow',
    input: { a: 1 },
    want: true,
  },
  {
    name: 'pass_contains',
    policy: `${V1}s contains y if some y in input.xs`,
    query: 'x := data.t.s',
    input: { xs: ['b', 'a', 'b'] },
    want: ['a', 'b'],
  },
  {
    name: 'pass_partial_object',
    policy: `${V1}o[k] := v if some k, v in input.m`,
    query: 'x := data.t.o',
    input: { m: { a: 1 } },
    want: { a: 1 },
  },
  {
    name: 'pass_ref_head',
    policy: `${V1}a.b[k].c := 1 if some k in ["p", "q"]`,
    query: 'x := data.t.a',
    want: { b: { p: { c: 1 }, q: { c: 1 } } },
  },
  { name: 'pass_function', policy: `${V1}f(a, b) := a * b\ng := f(3, 4)`, query: 'x := data.t.g', want: 12 },
  {
    name: 'pass_function_multi_body',
    policy: `${V1}f(a) := "neg" if a < 0\nf(a) := "pos" if a >= 0\ng := [f(-1), f(1)]`,
    query: 'x := data.t.g',
    want: ['neg', 'pos'],
  },
  {
    name: 'pass_else_chain',
    policy: `${V1}p := 1 if input.a == 1\nelse := 2 if input.a == 2\nelse := 3`,
    query: 'x := data.t.p',
    input: { a: 2 },
    want: 2,
  },
  {
    name: 'pass_every_true',
    policy: `${V1}p if every v in input.xs { v > 0 }`,
    query: 'x := data.t.p',
    input: { xs: [1, 2] },
    want: true,
  },
  {
    name: 'pass_every_false',
    policy: `${V1}p if every v in input.xs { v > 1 }`,
    query: 'x := data.t.p',
    input: { xs: [1, 2] },
    want: 'undefined',
  },
  {
    name: 'pass_every_empty',
    policy: `${V1}p if every v in [] { v > 1 }`,
    query: 'x := data.t.p',
    want: true,
  },
  {
    name: 'pass_some_in_key_value',
    policy: `${V1}p contains k if { some k, v in input.m; v == 2 }`,
    query: 'x := data.t.p',
    input: { m: { a: 1, b: 2 } },
    want: ['b'],
  },
  {
    name: 'pass_negation',
    policy: `${V1}p if not input.deny`,
    query: 'x := data.t.p',
    input: {},
    want: true,
  },
  {
    name: 'pass_negation_fails',
    policy: `${V1}p if not input.deny`,
    query: 'x := data.t.p',
    input: { deny: true },
    want: 'undefined',
  },
  {
    name: 'pass_negation_false_value',
    policy: `${V1}p if not input.deny`,
    query: 'x := data.t.p',
    input: { deny: false },
    want: true,
  },
  {
    name: 'pass_array_comprehension',
    policy: `${V1}p := [y * 2 | some y in input.xs]`,
    query: 'x := data.t.p',
    input: { xs: [1, 2] },
    want: [2, 4],
  },
  {
    name: 'pass_set_comprehension',
    policy: `${V1}p := {y | some y in input.xs}`,
    query: 'x := data.t.p',
    input: { xs: [2, 1, 2] },
    want: [1, 2],
  },
  {
    name: 'pass_object_comprehension',
    policy: `${V1}p := {k: count(k) | some k in input.xs}`,
    query: 'x := data.t.p',
    input: { xs: ['ab'] },
    want: { ab: 2 },
  },
  {
    name: 'pass_with_input',
    policy: `${V1}p := input.a\nq := y if { y := p with input.a as 7 }`,
    query: 'x := data.t.q',
    input: { a: 1 },
    want: 7,
  },
  {
    name: 'pass_with_data',
    policy: `${V1}p := data.cfg.v\nq := y if { y := p with data.cfg.v as "w" }`,
    query: 'x := data.t.q',
    data: { cfg: { v: 'v' } },
    want: 'w',
  },
  {
    name: 'pass_with_builtin_mock',
    policy: `${V1}p := y if { y := count([1, 2]) with count as 9 }`,
    query: 'x := data.t.p',
    want: 9,
  },
  {
    name: 'pass_with_function_mock',
    policy: `${V1}f(a) := a\ng(a) := 0\np := y if { y := f(5) with f as g }`,
    query: 'x := data.t.p',
    want: 0,
  },
  {
    name: 'pass_unification_destructure',
    policy: `${V1}p := b if [_, b] := input.pair`,
    query: 'x := data.t.p',
    input: { pair: [1, 2] },
    want: 2,
  },
  {
    name: 'pass_ref_iteration',
    policy: `${V1}p contains n if { input.servers[i].ports[_] == 80; n := input.servers[i].name }`,
    query: 'x := data.t.p',
    input: {
      servers: [
        { name: 'a', ports: [80] },
        { name: 'b', ports: [22] },
      ],
    },
    want: ['a'],
  },
  {
    name: 'pass_safety_reorder',
    policy: `${V1}p if { y > 1; y := input.v }`,
    query: 'x := data.t.p',
    input: { v: 2 },
    want: true,
  },
  {
    name: 'pass_import_alias',
    policy: `${V1}import input.req as r\np := r.user`,
    query: 'x := data.t.p',
    input: { req: { user: 'u' } },
    want: 'u',
  },
  {
    name: 'pass_import_data',
    policy: `${V1}import data.lib\np := lib.v`,
    query: 'x := data.t.p',
    data: { lib: { v: 3 } },
    want: 3,
  },
  {
    name: 'pass_sets_ops',
    policy: `${V1}p := [({1, 2} | {3}), ({1, 2} & {2}), ({1, 2} - {1})]`,
    query: 'x := data.t.p',
    want: [[1, 2, 3], [2], [2]],
  },
  {
    name: 'pass_membership_key_value',
    policy: `${V1}p if "k", 1 in {"k": 1}`,
    query: 'x := data.t.p',
    want: true,
  },
  {
    name: 'pass_time_now_injected',
    policy: `${V1}p := time.now_ns()`,
    query: 'x := data.t.p',
    want: 1735787045000000000,
  },
  {
    name: 'pass_query_reference_value_default_null',
    policy: `${V1}p := query_reference_value("x")`,
    query: 'x := data.t.p',
    want: null,
  },
  {
    name: 'pass_package_document',
    policy: `${V1}a := 1\nb := 2`,
    query: 'x := data.t',
    want: { a: 1, b: 2 },
  },
  {
    name: 'pass_base_and_virtual',
    policy: `${V1}v := 1`,
    query: 'x := data',
    data: { base: 2 },
    want: { base: 2, t: { v: 1 } },
  },
  {
    name: 'pass_builtin_error_is_undefined',
    policy: `${V1}p := to_number("x")`,
    query: 'x := data.t.p',
    want: 'undefined',
  },
  {
    name: 'pass_strings_builtins',
    policy: `${V1}p := [concat("-", ["a", "b"]), upper("a"), sprintf("%s=%d", ["k", 3]), trim_prefix("abc", "a"), format_int(255, 16)]`,
    query: 'x := data.t.p',
    want: ['a-b', 'A', 'k=3', 'bc', 'ff'],
  },
  {
    name: 'pass_semver',
    policy: `${V1}p := [semver.compare("1.2.3", "1.10.0"), semver.is_valid("v1")]`,
    query: 'x := data.t.p',
    want: [-1, false],
  },
  {
    name: 'pass_encodings',
    policy: `${V1}p := [base64.encode("hi"), hex.encode("hi"), json.marshal({"b": 1, "a": [1]}), yaml.unmarshal("a: 1")]`,
    query: 'x := data.t.p',
    want: ['aGk=', '6869', '{"a":[1],"b":1}', { a: 1 }],
  },
  {
    name: 'pass_crypto',
    policy: `${V1}p := crypto.sha256("abc")`,
    query: 'x := data.t.p',
    want: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  },
  {
    name: 'pass_regex',
    policy: `${V1}p := [regex.match("^a+$", "aaa"), regex.replace("a1b2", "[0-9]", "#")]`,
    query: 'x := data.t.p',
    want: [true, 'a#b#'],
  },
  {
    name: 'pass_object_builtins',
    policy: `${V1}p := [object.get({"a": {"b": 1}}, ["a", "b"], 0), object.keys({"a": 1}), object.union({"a": 1}, {"b": 2})]`,
    query: 'x := data.t.p',
    want: [1, ['a'], { a: 1, b: 2 }],
  },
  {
    name: 'pass_time_parse',
    policy: `${V1}p := time.date(time.parse_rfc3339_ns("2024-02-29T10:00:00Z"))`,
    query: 'x := data.t.p',
    want: [2024, 2, 29],
  },
];

describe('evaluation table', () => {
  for (const c of EVAL_CASES) {
    test(c.name, () => {
      assert.deepEqual(evalX(c.policy, c.query, c.input, c.data), c.want);
    });
  }
});

interface ErrorCase {
  readonly name: string;
  readonly policy: string;
  readonly query?: string;
  readonly code: string;
  readonly strict?: boolean;
  /** Expected line:column of the error, when it has a location. */
  readonly at?: [number, number];
  readonly maxSteps?: number;
  readonly timeoutMs?: number;
}

const ERROR_CASES: readonly ErrorCase[] = [
  {
    name: 'fail_parse_missing_brace',
    policy: 'package t\n\np if {\n  input.a == 1\n',
    code: 'ERR_POLICY_PARSE',
    at: [5, 1],
  },
  { name: 'fail_parse_no_package', policy: 'p := 1', code: 'ERR_POLICY_PARSE', at: [1, 1] },
  { name: 'fail_parse_bad_token', policy: 'package t\np := 1 ^ 2', code: 'ERR_POLICY_PARSE', at: [2, 8] },
  {
    name: 'fail_parse_unterminated_string',
    policy: 'package t\np := "abc',
    code: 'ERR_POLICY_PARSE',
    at: [2, 6],
  },
  {
    name: 'fail_parse_bad_import',
    policy: 'package t\nimport foo.bar',
    code: 'ERR_POLICY_PARSE',
    at: [2, 1],
  },
  {
    name: 'fail_compile_unknown_function',
    policy: 'package t\np := nope(1)',
    code: 'ERR_POLICY_COMPILE',
    at: [2, 6],
  },
  {
    name: 'fail_compile_unsafe_var',
    policy: 'package t\np if {\n  x > 1\n}',
    code: 'ERR_POLICY_COMPILE',
    at: [3, 3],
  },
  {
    name: 'fail_conflict_complete',
    policy: 'package t\np := 1\np := 2',
    query: 'x := data.t.p',
    code: 'ERR_POLICY_CONFLICT',
  },
  {
    name: 'fail_conflict_function',
    policy: 'package t\nf(_) := 1\nf(_) := 2\np := f(0)',
    query: 'x := data.t.p',
    code: 'ERR_POLICY_CONFLICT',
  },
  {
    name: 'fail_conflict_object_key',
    policy: 'package t\no[k] := v if { some v in [1, 2]; k := "a" }',
    query: 'x := data.t.o',
    code: 'ERR_POLICY_CONFLICT',
  },
  {
    name: 'fail_strict_type_error',
    policy: 'package t\np := count(1)',
    query: 'x := data.t.p',
    code: 'ERR_POLICY_TYPE',
    strict: true,
  },
  {
    name: 'fail_strict_builtin_error',
    policy: 'package t\np := 1 / 0',
    query: 'x := data.t.p',
    code: 'ERR_POLICY_BUILTIN',
    strict: true,
  },
  {
    name: 'fail_step_limit',
    policy: 'package t\np := count([x | some x in numbers.range(1, 100000)])',
    query: 'x := data.t.p',
    code: 'ERR_POLICY_LIMIT',
    maxSteps: 1000,
  },
  {
    name: 'fail_time_limit',
    policy: 'package t\np := count([1 | some a in numbers.range(1, 3000); some b in numbers.range(1, 3000)])',
    query: 'x := data.t.p',
    code: 'ERR_POLICY_LIMIT',
    maxSteps: 1e12,
    timeoutMs: 50,
  },
  {
    name: 'fail_recursion',
    policy: 'package t\np := q\nq := p',
    query: 'x := data.t.p',
    code: 'ERR_POLICY_COMPILE',
  },
];

describe('error table', () => {
  for (const c of ERROR_CASES) {
    test(c.name, () => {
      const e = throwsCode(() => {
        const p = compilePolicy(c.policy);
        if (c.query !== undefined) {
          p.query(c.query, { strict: c.strict, maxSteps: c.maxSteps, timeoutMs: c.timeoutMs });
        }
      }, c.code);
      if (c.at !== undefined) {
        assert.equal(e.details['line'], c.at[0], e.message);
        assert.equal(e.details['col'], c.at[1], e.message);
        assert.match(e.message, new RegExp(`:${c.at[0]}:${c.at[1]}: `));
      }
    });
  }
});

test('limits are on by default: an unbounded-looking evaluation stops with ERR_POLICY_LIMIT', () => {
  const p = compilePolicy(
    'package t\np := count([1 | some a in numbers.range(1, 2000); some b in numbers.range(1, 2000)])',
  );
  throwsCode(() => p.query('x := data.t.p'), 'ERR_POLICY_LIMIT');
});

test('non-strict mode records built-in errors and keeps going', () => {
  const p = compilePolicy('package t\np := 1 / 0\nq := 2');
  const r = p.query('x := data.t');
  assert.deepEqual(toJSON(r.rows[0].get('x')!), { q: 2 });
  assert.equal(r.evaluation.errors[0]?.code, 'ERR_POLICY_BUILTIN');
});

test('compiled policies are cached by text', () => {
  const text = 'package cache\np := 1';
  assert.equal(compilePolicy(text), compilePolicy(text));
  assert.notEqual(compilePolicy(text), compilePolicy(`${text}\n`));
});

test('parser records rules, imports and keywords of both syntaxes', () => {
  const m = parseModule(
    'package a.b\nimport rego.v1\nimport data.x as y\ndefault p := 1\np := 2 if true\ns contains 1\nf(x) := x',
  );
  assert.deepEqual(m.pkg, ['a', 'b']);
  assert.equal(m.imports.length, 2);
  assert.deepEqual(
    m.rules.map((r) => [r.kind, r.isDefault]),
    [
      ['complete', true],
      ['complete', false],
      ['set', false],
      ['func', false],
    ],
  );
});

test('input that is not JSON is a typed error', () => {
  const p = compilePolicy('package t\np := input');
  throwsCode(() => p.query('x := data.t.p', { input: { f: () => 1 } }), 'ERR_POLICY_INPUT');
});

test('mutated policies never crash: every failure is a CocoonError', () => {
  // Deterministic mutations (delete, insert, truncate) of the default policies.
  let seed = 7;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const sources = [DEFAULT_ATTESTATION_POLICY, DEFAULT_RESOURCE_POLICY];
  const chars = '{}[]()=:.,;|&!"`\n #a1_-+*/<>';
  let typed = 0;
  for (let i = 0; i < 400; i++) {
    let t = sources[i % 2];
    const pos = Math.floor(rnd() * t.length);
    const op = rnd();
    if (op < 0.33) t = t.slice(0, pos) + t.slice(pos + 1 + Math.floor(rnd() * 5));
    else if (op < 0.66) t = t.slice(0, pos) + chars[Math.floor(rnd() * chars.length)] + t.slice(pos);
    else t = t.slice(0, pos);
    try {
      compilePolicy(t).query('x := data.policy', {
        input: { sample: { svn: '1' } },
        data: { plugin: 'resource' },
      });
    } catch (e) {
      assert.ok(e instanceof CocoonError, `untyped error for mutation ${i}: ${String(e)}`);
      typed++;
    }
  }
  assert.ok(typed > 0);
});
