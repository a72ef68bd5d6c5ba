/**
 * Differential test of the evaluator's fast paths. Full tracing (`trace: 'explain'`) turns off
 * both the direct path and the rules compiled to closures (closure.ts), leaving the reference
 * interpreter; every OPA conformance case (../shared/opa-cases, all folders, claimed or not) is
 * evaluated both ways with the same fixed clock, and the outcomes must be identical: the same
 * rows, or the same error code. A case OPA itself would answer nondeterministically (rand.intn,
 * uuid.rfc4122) is compared on its row count and error only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { caseInput, compileCase, opaCaseFiles, type OpaCase } from './opa-cases.js';
import { tdxPolicyFixture } from '../../helpers/tdx-policy-fixture.js';
import { compilePolicy } from '../../../src/policy/engine.js';
import { CocoonError } from '../../../src/common/errors.js';
import { canonical, fromJSON, toJSON, type Value } from '../../../src/policy/value.js';
import { DEFAULT_ATTESTATION_POLICY } from '../../../src/policy/default-policies.js';
import type { Clock } from '../../../src/common/clock.js';
import { prng } from '../../helpers/prng.js';
import { mutateMember } from '../../helpers/mutate-json.js';

const FIXED: Clock = { now: () => new Date('2026-01-02T03:04:05.678Z') };
const RANDOM = /rand\.intn|uuid\.rfc4122/;

/** The outcome of one case as a comparable string. */
function outcome(c: OpaCase, trace: 'explain' | undefined): string {
  try {
    const policy = compileCase(c);
    const { input, inputIsValue } = caseInput(c, FIXED);
    const res = policy.query(c.query, {
      input,
      inputIsValue,
      data: c.data ?? undefined,
      strict: c.strict_error === true,
      timeoutMs: 5000,
      clock: FIXED,
      ...(trace === undefined ? {} : { trace }),
    });
    const soft = res.evaluation.errors[0];
    const rows = res.rows.map((row) =>
      JSON.stringify([...row].map(([k, v]) => [k, canonical(fromJSON(toJSON(v)))]).sort()),
    );
    const random = RANDOM.test(c.query) || (c.modules ?? []).some((m) => RANDOM.test(m));
    const softText = soft === undefined ? '' : ` soft:${soft instanceof CocoonError ? soft.code : 'untyped'}`;
    return random ? `rows:${rows.length}${softText}` : `rows:${JSON.stringify(rows.sort())}${softText}`;
  } catch (e) {
    return `error:${e instanceof CocoonError ? e.code : `untyped ${String(e)}`}`;
  }
}

test('fast paths and the reference interpreter agree on every OPA case', { timeout: 170_000 }, () => {
  const differences: string[] = [];
  let total = 0;
  for (const { folder, file, cases } of opaCaseFiles()) {
    for (const c of cases) {
      total++;
      const fast = outcome(c, undefined);
      const reference = outcome(c, 'explain');
      if (fast !== reference)
        differences.push(
          `${folder}/${file}: ${c.note}\n  fast:      ${fast.slice(0, 300)}\n  reference: ${reference.slice(0, 300)}`,
        );
    }
  }
  assert.ok(total > 2000, `only ${total} cases found`);
  assert.deepEqual(
    differences,
    [],
    `${differences.length} of ${total} cases differ:\n${differences.slice(0, 20).join('\n')}`,
  );
});

/** Claim and reference-value edits: any JSON type, often the values the policy compares against. */
const CLAIM_EDITS = {
  maxDepth: 6,
  descend: 0.6,
  choices: [undefined, null, 'x', 0, 1, true, false, [], {}, '81000000', 'UpToDate'],
};

test('default attestation policy: fast paths and reference interpreter agree on mutated TDX claims', () => {
  // Real claims with the CCEL event log and reference values reaching 3/2/2 (helpers/tdx-policy-fixture).
  const { claims, rvs: baseRvs } = tdxPolicyFixture();
  const policy = compilePolicy([{ file: 'attestation-policy.rego', text: DEFAULT_ATTESTATION_POLICY }]);
  const run = (input: unknown, rvs: Record<string, unknown>, trace: 'explain' | undefined): string => {
    try {
      const r = policy.query('x := data.policy', {
        input: { tdx: input },
        clock: FIXED,
        ...(trace === undefined ? {} : { trace }),
        extraBuiltins: new Map([
          [
            'query_reference_value',
            (a: Value[]) => fromJSON(typeof a[0] === 'string' ? (rvs[a[0]] ?? null) : null),
          ],
        ]),
      });
      return canonical(fromJSON(toJSON(r.rows[0]?.get('x') ?? null)));
    } catch (e) {
      return `error:${e instanceof CocoonError ? e.code : String(e)}`;
    }
  };
  const healthy = run(claims, baseRvs, undefined);
  assert.match(healthy, /"executables":3.*"hardware":2/, `the unmutated claims must reach 3/2: ${healthy}`);
  let differences = 0;
  const shown: string[] = [];
  const kinds = new Set<string>();
  for (let seed = 1; seed <= 400; seed++) {
    const rnd = prng(seed);
    const input = JSON.parse(JSON.stringify({ ...claims, tcb_status: 'UpToDate' })) as Record<
      string,
      unknown
    >;
    const rvs = JSON.parse(JSON.stringify(baseRvs)) as Record<string, unknown>;
    for (let i = 0, n = 1 + Math.floor(rnd() * 3); i < n; i++)
      mutateMember(rnd() < 0.8 ? input : rvs, rnd, CLAIM_EDITS);
    const fast = run(input, rvs, undefined);
    const reference = run(input, rvs, 'explain');
    kinds.add(fast);
    if (fast !== reference) {
      differences++;
      if (shown.length < 5) shown.push(`seed ${seed}: fast ${fast} reference ${reference}`);
    }
  }
  assert.equal(differences, 0, shown.join('\n'));
  assert.ok(kinds.size >= 3, `mutations reached only ${kinds.size} distinct outcomes`);
});
