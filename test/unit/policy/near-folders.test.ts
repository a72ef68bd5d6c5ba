/**
 * The features behind four OPA conformance folders claimed together: json.marshal_with_options
 * option checking and go-yaml style yaml.unmarshal errors (jsonbuiltins), `not { … }` bodies
 * (negation), refs in call arguments binding variables an earlier argument reads (planner-ir),
 * and general ref heads: conflicts with overlapping rules and set-valued leaves (refheads). Every
 * case runs on the fast paths and, with `trace: 'explain'`, on the reference interpreter.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy } from '../../../src/policy/engine.js';
import { opaCode } from '../../../src/policy/eval.js';
import { CocoonError } from '../../../src/common/errors.js';
import { toJSON } from '../../../src/policy/value.js';

interface Case {
  readonly name: string;
  readonly policy: string;
  readonly query: string;
  readonly input?: unknown;
  /** JSON value of the first row's `x`, 'undefined' for no rows, or an error to expect. */
  readonly want: unknown;
  readonly error?: { readonly code: string; readonly message: string };
}

/** Runs `query` and returns x as JSON, 'undefined', or `{ code, message }` for a (strict) error. */
function run(c: Case, trace: 'explain' | undefined): unknown {
  try {
    const r = compilePolicy(c.policy).query(c.query, {
      input: c.input,
      strict: true,
      ...(trace === undefined ? {} : { trace }),
    });
    const soft = r.evaluation.errors[0];
    if (soft !== undefined) throw soft;
    if (r.rows.length === 0) return 'undefined';
    return toJSON(r.rows[0].get('x')!);
  } catch (e) {
    if (!(e instanceof CocoonError)) throw e;
    return { code: opaCode(e.code), message: e.message };
  }
}

const NOT = 'package t\nimport future.keywords.not\n';

const CASES: readonly Case[] = [
  // strings.split_n keeps whole parts (first n, or last |n|), unlike Go's SplitN
  {
    name: 'pass_split_n_first_and_last_parts',
    policy:
      'package t\np := [strings.split_n("a.b.c.d", ".", 2), strings.split_n("a.b.c.d", ".", -2), strings.split_n("abc", "", 2), strings.split_n("a.b", ".", 0), strings.split_n("a.b", ".", 9)]',
    query: 'x := data.t.p',
    want: [['a', 'b'], ['c', 'd'], ['a', 'b'], [], ['a', 'b']],
  },
  {
    name: 'fail_format_int_base_outside_the_enum_is_a_type_error',
    policy: 'package t\np := format_int(10, 3)',
    query: 'x := data.t.p',
    want: undefined,
    error: { code: 'eval_type_error', message: 'operand 2 must be one of {2, 8, 10, 16}' },
  },
  {
    name: 'fail_units_parse_malformed_amount_and_huge_exponent',
    policy: 'package t\np := units.parse("0.0.0")',
    query: 'x := data.t.p',
    want: undefined,
    error: { code: 'eval_builtin_error', message: 'units.parse: could not parse amount to a number' },
  },
  {
    name: 'fail_units_parse_bytes_huge_exponent',
    policy: 'package t\np := units.parse_bytes("10e10000000Ei")',
    query: 'x := data.t.p',
    want: undefined,
    error: { code: 'eval_builtin_error', message: 'units.parse_bytes: exponent too large' },
  },
  {
    name: 'pass_if_followed_by_an_object_comprehension_term',
    policy: 'package t\nimport rego.v1\nf(x) := 1 if {x: i | x := ["a", "b"][i]}\np := f(0)',
    query: 'x := data.t.p',
    want: 1,
  },
  {
    name: 'fail_if_block_error_reported_when_neither_block_nor_term_parses',
    policy: 'package t\nimport rego.v1\np if {x: }',
    query: 'x := data.t.p',
    want: undefined,
    error: { code: 'rego_parse_error', message: 'policy.rego:3' },
  },
  // jsonbuiltins
  {
    name: 'fail_marshal_with_options_unknown_key',
    policy: 'package t\np := json.marshal_with_options([], {"indent": " ", "colour": true})',
    query: 'x := data.t.p',
    want: undefined,
    error: { code: 'eval_type_error', message: 'object contained unknown key "colour"' },
  },
  {
    name: 'pass_marshal_with_options_known_keys',
    policy:
      'package t\np := json.marshal_with_options({"a": 1}, {"indent": " ", "prefix": "", "pretty": true})',
    query: 'x := data.t.p',
    want: '{\n "a": 1\n}',
  },
  {
    name: 'fail_yaml_unmarshal_unclosed_flow_sequence_reads_like_go_yaml',
    policy: 'package t\np if yaml.unmarshal("[1,2,3", _)',
    query: 'x := data.t.p',
    want: undefined,
    error: { code: 'eval_builtin_error', message: "yaml: line 1: did not find expected ',' or ']'" },
  },
  {
    name: 'fail_yaml_unmarshal_unclosed_flow_mapping',
    policy: 'package t\np if yaml.unmarshal("{a: 1", _)',
    query: 'x := data.t.p',
    want: undefined,
    error: { code: 'eval_builtin_error', message: "did not find expected ',' or '}'" },
  },
  // negation
  {
    name: 'pass_not_block_with_failing_body',
    policy: `${NOT}p if not {\n  false\n}`,
    query: 'x := data.t.p',
    want: true,
  },
  {
    name: 'fail_not_block_with_succeeding_body',
    policy: `${NOT}p if not {\n  input.a == 1\n  input.b == 2\n}`,
    query: 'x := data.t.p',
    input: { a: 1, b: 2 },
    want: 'undefined',
  },
  {
    name: 'pass_not_block_sees_outer_bindings',
    policy: `${NOT}p if {\n  a := input.a\n  not {\n    a == 2\n  }\n}`,
    query: 'x := data.t.p',
    input: { a: 1 },
    want: true,
  },
  {
    name: 'pass_not_block_declarations_are_local',
    policy: `${NOT}p := a if {\n  a = 2\n  not {\n    a := 1\n    a == 3\n  }\n}`,
    query: 'x := data.t.p',
    want: 2,
  },
  {
    name: 'pass_not_block_nested',
    policy: `${NOT}p if {\n  not {\n    not {\n      true\n    }\n  }\n}`,
    query: 'x := data.t.p',
    want: true,
  },
  {
    name: 'pass_not_block_iteration_finds_a_match',
    policy: `${NOT}p if {\n  not {\n    some v in input.xs\n    v == "b"\n  }\n}`,
    query: 'x := data.t.p',
    input: { xs: ['a', 'b'] },
    want: 'undefined',
  },
  {
    name: 'pass_without_the_import_braces_stay_a_set_literal',
    policy: 'package t\np if {\n  not {false}\n}',
    query: 'x := data.t.p',
    want: 'undefined',
  },
  // planner-ir
  {
    name: 'pass_ref_argument_binds_var_read_by_earlier_argument',
    policy: 'package t\np := foo if {\n  some foo\n  foo == input.foos[foo]\n}',
    query: 'x := data.t.p',
    input: { foos: [2, 1, 0] },
    want: 1,
  },
  {
    name: 'pass_ref_argument_binds_var_read_by_nested_call',
    policy: 'package t\np contains i if {\n  abs(i) == input.xs[i]\n}',
    query: 'x := data.t.p',
    input: { xs: [0, 5, 2] },
    want: [0, 2],
  },
  {
    name: 'pass_ref_argument_no_fixpoint_is_undefined',
    policy: 'package t\np if {\n  some foo\n  foo == input.foos[foo]\n}',
    query: 'x := data.t.p',
    input: { foos: ['foo'] },
    want: 'undefined',
  },
  // refheads
  {
    name: 'fail_general_ref_leaf_below_a_complete_rule',
    policy: 'package t\np[q].r.s := i if q := ["a", "b"][i]\np.a.r := 42',
    query: 'x := data.t.p',
    want: undefined,
    error: { code: 'eval_conflict_error', message: 'object keys must be unique' },
  },
  {
    name: 'fail_rule_below_a_general_ref_leaf_value',
    policy: 'package t\np[q].r := {"s": {"t": 1}} if q := "q"\np.q.r.s.u := 42',
    query: 'x := data.t.p',
    want: undefined,
    error: { code: 'eval_conflict_error', message: 'object keys must be unique' },
  },
  {
    name: 'fail_general_ref_key_collides_with_constant_key',
    policy: 'package t\np.q.r := 1\np.q[s] := 2 if s := "r"',
    query: 'x := data.t.p.q',
    want: undefined,
    error: { code: 'eval_conflict_error', message: 'object keys must be unique' },
  },
  {
    name: 'pass_general_ref_and_equal_constant_rule_agree',
    policy: 'package t\np.q.r := 1\np.q[s] := 1 if s := "r"',
    query: 'x := data.t.p',
    want: { q: { r: 1 } },
  },
  {
    name: 'pass_general_ref_disjoint_depths',
    policy: 'package t\np[q].r := 1 if q := "a"\np.d.r := 3\np.e := 4',
    query: 'x := data.t.p',
    want: { a: { r: 1 }, d: { r: 3 }, e: 4 },
  },
  {
    name: 'pass_set_leaf_unites_with_set_rule_below',
    policy:
      'package t\np[q].r contains s if {\n  q := ["a", "b"][_]\n  s := ["a", "b"][_]\n  q != s\n}\np.b.r contains "foo"',
    query: 'x := data.t.p',
    want: { a: { r: ['b'] }, b: { r: ['a', 'foo'] } },
  },
  {
    name: 'pass_set_leaf_deep_query',
    policy: 'package t\np[q] contains s if {\n  q := "k"\n  s := ["x", "y"][_]\n}',
    query: 'x := data.t.p.k.y',
    want: 'y',
  },
  {
    name: 'pass_function_below_an_intermediate_node_gives_empty_object',
    policy: 'package t\nfoo["bar"](x) := x + 1\nx := foo.bar(2)',
    query: 'x := data.t',
    want: { foo: {}, x: 3 },
  },
];

describe('near-conformance folders', () => {
  for (const c of CASES) {
    test(c.name, () => {
      for (const trace of [undefined, 'explain'] as const) {
        const got = run(c, trace);
        if (c.error !== undefined) {
          assert.ok(typeof got === 'object' && got !== null && 'code' in got, `${String(trace)}: no error`);
          const e = got as { code: string; message: string };
          assert.equal(e.code, c.error.code, `${String(trace)}: ${e.message}`);
          assert.ok(e.message.includes(c.error.message), `${String(trace)}: ${e.message}`);
        } else {
          assert.deepEqual(got, c.want, `trace ${String(trace)}`);
        }
      }
    });
  }
});
