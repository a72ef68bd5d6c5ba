/**
 * The evaluator's direct path (terms with one value evaluated without continuations, body
 * literals in a loop) must give exactly what the continuation path gives. Each case runs twice:
 * plainly (direct path) and under a `with` on an unrelated data path, which turns the direct
 * path off for the whole query; both must match the expected value. Also: step limits still
 * count the literals of the direct loop, and strict/non-strict built-in errors are unchanged.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy } from '../../../src/policy/engine.js';
import { toJSON } from '../../../src/policy/value.js';
import { throwsCode } from '../../helpers/assert-code.js';

interface Case {
  readonly name: string;
  readonly policy: string;
  readonly input?: unknown;
  readonly data?: unknown;
  /** Expected JSON of data.t.p, 'undefined', or { code } for an error. */
  readonly want: unknown;
}

const V1 = 'package t\nimport rego.v1\n';

const CASES: readonly Case[] = [
  {
    name: 'fail_undefined_ref_in_test',
    policy: `${V1}p if input.missing.x == 1`,
    input: {},
    want: 'undefined',
  },
  { name: 'pass_not_undefined', policy: `${V1}p if not input.missing`, input: {}, want: true },
  { name: 'pass_not_false', policy: `${V1}p if not input.f`, input: { f: false }, want: true },
  { name: 'fail_not_true', policy: `${V1}p if not input.f`, input: { f: 1 }, want: 'undefined' },
  {
    name: 'pass_assignments_chain',
    policy: `${V1}p := y if {\n  x := input.a + 1\n  y := x * 2\n}`,
    input: { a: 2 },
    want: 6,
  },
  {
    name: 'pass_unify_var_on_right',
    policy: `${V1}p := y if {\n  input.a = y\n}`,
    input: { a: 'v' },
    want: 'v',
  },
  {
    name: 'pass_bound_var_unify_is_equality',
    policy: `${V1}p if {\n  x := 1\n  x = input.a\n}`,
    input: { a: 2 },
    want: 'undefined',
  },
  {
    name: 'pass_comprehension_inside_call',
    policy: `${V1}p := count([v | some v in input.xs; v > 1])`,
    input: { xs: [1, 2, 3] },
    want: 2,
  },
  {
    name: 'fail_builtin_error_is_undefined',
    policy: `${V1}p if {\n  x := to_number("abc")\n  x == x\n}`,
    input: {},
    want: 'undefined',
  },
  {
    name: 'fail_object_literal_conflict',
    policy: `${V1}p := {input.k1: 1, input.k2: 2}`,
    input: { k1: 'a', k2: 'a' },
    want: { code: 'ERR_POLICY_CONFLICT' },
  },
  {
    name: 'pass_function_var_and_pattern_params',
    policy: `${V1}f(x, [a, b]) := x + a + b\np := f(1, [2, 3])`,
    want: 6,
  },
  {
    name: 'fail_function_pattern_mismatch',
    policy: `${V1}f(x, [a, b]) := x + a + b\np := f(1, [2])`,
    want: 'undefined',
  },
  {
    name: 'fail_function_conflict',
    policy: `${V1}f(x) := 1 if x > 0\nf(x) := 2 if x > 0\np := f(1)`,
    want: { code: 'ERR_POLICY_CONFLICT' },
  },
  {
    name: 'pass_data_ref_bound_var_segment',
    policy: `${V1}p := data.m[input.k]`,
    input: { k: 'a' },
    data: { m: { a: 5 } },
    want: 5,
  },
  {
    name: 'pass_data_numeric_key_finds_string',
    policy: `${V1}p := data[2]`,
    data: { '2': 'two' },
    want: 'two',
  },
  {
    name: 'pass_ref_with_unbound_var_iterates',
    policy: `${V1}p contains k if input.o[k] == 1`,
    input: { o: { a: 1, b: 2, c: 1 } },
    want: ['a', 'c'],
  },
  {
    name: 'pass_composite_equality',
    policy: `${V1}p if [1, {"a": input.a}, {input.a}] == [1, {"a": 2}, {2}]`,
    input: { a: 2 },
    want: true,
  },
  { name: 'pass_neq', policy: `${V1}p if input.a != "x"`, input: { a: 'y' }, want: true },
  { name: 'fail_neq', policy: `${V1}p if input.a != "x"`, input: { a: 'x' }, want: 'undefined' },
  {
    name: 'pass_else_branch',
    policy: `${V1}p := 1 if input.x > 5\nelse := 2`,
    input: { x: 1 },
    want: 2,
  },
  {
    name: 'pass_rule_reference_and_default',
    policy: `${V1}default q := 7\nq := 1 if input.no\np := q + 1`,
    input: {},
    want: 8,
  },
  {
    name: 'pass_walk_relation_keeps_iterating',
    policy: `${V1}p := count([x | walk(input, [_, x]); is_number(x)])`,
    input: { a: 1, b: [2, 3] },
    want: 3,
  },
  {
    name: 'pass_some_in_array_object_set',
    policy: `${V1}p := [[v | some v in input.a], [v | some v in input.o], [v | some v in {3, 4}]]`,
    input: { a: [1, 2], o: { x: 5, y: 6 } },
    want: [
      [1, 2],
      [5, 6],
      [3, 4],
    ],
  },
  {
    name: 'fail_some_in_undefined_collection',
    policy: `${V1}p if {\n  some v in input.missing\n  v == 1\n}`,
    input: {},
    want: 'undefined',
  },
  {
    name: 'pass_some_in_string_has_no_members',
    policy: `${V1}p := count([v | some v in "abc"])`,
    want: 0,
  },
  {
    name: 'pass_some_in_bound_var_is_membership',
    policy: `${V1}p if {\n  v := 2\n  some v in input.a\n}`,
    input: { a: [1, 2] },
    want: true,
  },
  {
    name: 'pass_set_and_array_terms',
    policy: `${V1}p := [count({input.a, input.a, 1}), [input.a, 1]]`,
    input: { a: 2 },
    want: [2, [2, 1]],
  },
  // Rules compiled to closures (closure.ts) against the same rules interpreted.
  {
    name: 'pass_some_key_value_in_object_and_array',
    policy: `${V1}p := [[[k, v] | some k, v in input.o], [[i, v] | some i, v in input.a]]`,
    input: { o: { x: 1, y: 2 }, a: ['a', 'b'] },
    want: [
      [
        ['x', 1],
        ['y', 2],
      ],
      [
        [0, 'a'],
        [1, 'b'],
      ],
    ],
  },
  {
    name: 'pass_some_key_value_bound_key_is_lookup',
    policy: `${V1}p := [v | k := "y"; some k, v in input.o]`,
    input: { o: { x: 1, y: 2 } },
    want: [2],
  },
  {
    name: 'pass_comprehension_sees_outer_binding',
    policy: `${V1}p := xs if {
  x := 2
  xs := [x | some x in input.a]
}`,
    input: { a: [1, 2, 3] },
    want: [2],
  },
  {
    name: 'pass_partial_set_rule',
    policy: `${V1}p contains x if {
  some x in input.a
  x > 1
}`,
    input: { a: [1, 2, 3, 2] },
    want: [2, 3],
  },
  {
    name: 'pass_function_else_chain',
    policy: `${V1}f(x) := 1 if x > 5
else := 2 if x > 0
else := 3
p := [f(9), f(1), f(-1)]`,
    want: [1, 2, 3],
  },
  {
    name: 'pass_function_bodies_agreeing',
    policy: `${V1}f(x) := 1 if x > 0
f(x) := 1 if x > 1
p := f(5)`,
    want: 1,
  },
  {
    name: 'fail_complete_rule_conflict',
    policy: `${V1}p := 1 if input.a
p := 2 if input.a`,
    input: { a: true },
    want: { code: 'ERR_POLICY_CONFLICT' },
  },
  {
    name: 'pass_input_prefix_under_with_input',
    policy: `${V1}q := input.a.b\nr := input.a.b\ns := y if {\n  y := r with input as {"a": {"b": 9}}\n}\np := [q, s, input.a.c]`,
    input: { a: { b: 1, c: 'c' } },
    want: [1, 9, 'c'],
  },
  {
    name: 'fail_input_prefix_undefined',
    policy: `${V1}p if input.a.b.c == 1`,
    input: { a: 5 },
    want: 'undefined',
  },
  {
    name: 'pass_object_literal_constant_keys',
    policy: `${V1}p := {"a": input.x, "b": [input.x]}`,
    input: { x: 1 },
    want: { a: 1, b: [1] },
  },
  {
    name: 'fail_object_literal_undefined_value',
    policy: `${V1}p := {"a": input.x, "b": input.missing}`,
    input: { x: 1 },
    want: 'undefined',
  },
  {
    name: 'pass_equality_with_constants_either_side',
    policy: `${V1}p := [x | some x in input.a; "b" == x] if {
  input.n != 0
  1 == input.n
  not input.n == 2
}`,
    input: { a: ['a', 'b'], n: 1 },
    want: ['b'],
  },
  {
    name: 'pass_numbers_equal_across_zero_sign',
    policy: `${V1}p if input.z == 0`,
    input: { z: -0 },
    want: true,
  },
  {
    name: 'pass_object_comprehension',
    policy: `${V1}p := {k: count(v) | some k, v in input.o}`,
    input: { o: { a: [1], b: [1, 2] } },
    want: { a: 1, b: 2 },
  },
  {
    name: 'fail_object_comprehension_conflict',
    policy: `${V1}p := {"k": v | some v in input.a}`,
    input: { a: [1, 2] },
    want: { code: 'ERR_POLICY_CONFLICT' },
  },
];

function run(c: Case, forceContinuations: boolean): unknown {
  const p = compilePolicy(c.policy);
  const q = forceContinuations ? 'x := data.t.p with data.unrelated_zz as 1' : 'x := data.t.p';
  try {
    const r = p.query(q, { input: c.input, data: c.data });
    if (r.rows.length === 0) return 'undefined';
    return toJSON(r.rows[0].get('x')!);
  } catch (e) {
    return { code: (e as { code?: string }).code ?? String(e) };
  }
}

describe('direct path matches the continuation path', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const direct = run(c, false);
      const cps = run(c, true);
      assert.deepEqual(direct, c.want);
      assert.deepEqual(cps, c.want);
    });
  }
});

describe('limits and strict mode on the direct path', () => {
  test('fail_step_limit_counts_direct_literals', () => {
    const body = Array.from({ length: 50 }, (_, i) => `  input.a == ${i} - ${i} + input.a`).join('\n');
    const p = compilePolicy(`${V1}p if {\n${body}\n}`);
    assert.equal(p.evalPath(['t', 'p'], { input: { a: 1 }, maxSteps: 1000 }).value, true);
    throwsCode(() => p.evalPath(['t', 'p'], { input: { a: 1 }, maxSteps: 20 }), 'ERR_POLICY_LIMIT');
  });

  test('fail_step_limit_in_comprehension_under_direct_call', () => {
    const p = compilePolicy(`${V1}p := count([x | some x in numbers.range(1, 100000); x > 0])`);
    throwsCode(() => p.evalPath(['t', 'p'], { maxSteps: 1000 }), 'ERR_POLICY_LIMIT');
  });

  test('fail_time_limit_on_direct_path', () => {
    const p = compilePolicy(
      `${V1}p := count([x | some x in numbers.range(1, 5000000); y := x * 2; y > 0; x == x])`,
    );
    throwsCode(() => p.evalPath(['t', 'p'], { timeoutMs: 1, maxSteps: 1e9 }), 'ERR_POLICY_LIMIT');
  });

  test('pass_extra_builtins_replace_equal_and_builtins_in_compiled_rules', () => {
    const p = compilePolicy(
      `${V1}p := [input.a == 1, [x | some x in input.xs; x == "b"], is_string(input.a)]`,
    );
    const plain = p.evalPath(['t', 'p'], { input: { a: 2, xs: ['a', 'b'] } }).value;
    assert.deepEqual(toJSON(plain!), [false, ['b'], false]);
    const extraBuiltins = new Map([
      ['equal', (): boolean => true],
      ['is_string', (): boolean => true],
    ]);
    const replaced = p.evalPath(['t', 'p'], { input: { a: 2, xs: ['a', 'b'] }, extraBuiltins }).value;
    assert.deepEqual(toJSON(replaced!), [true, ['a', 'b'], true]);
  });

  test('fail_step_limit_in_compiled_function_calls', () => {
    const calls = Array.from({ length: 40 }, () => '  f(input.a)').join('\n');
    const p = compilePolicy(`${V1}f(x) if x == 1\np if {\n${calls}\n}`);
    assert.equal(p.evalPath(['t', 'p'], { input: { a: 1 }, maxSteps: 1000 }).value, true);
    throwsCode(() => p.evalPath(['t', 'p'], { input: { a: 1 }, maxSteps: 30 }), 'ERR_POLICY_LIMIT');
  });

  test('fail_strict_builtin_error_raised_from_direct_call', () => {
    const p = compilePolicy(`${V1}p if {\n  x := to_number("abc")\n  x == x\n}`);
    throwsCode(() => p.evalPath(['t', 'p'], { strict: true }), 'ERR_POLICY_BUILTIN');
    const ev = p.createEvaluation({});
    assert.equal(ev.evalPath(['t', 'p']), undefined);
    assert.equal(ev.errors.length, 1);
  });
});
