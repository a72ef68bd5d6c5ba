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
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { sharedPath } from '../../helpers/shared.js';
import { compilePolicy } from '../../../src/policy/engine.js';
import { CocoonError } from '../../../src/common/errors.js';
import { canonical, fromJSON, toJSON } from '../../../src/policy/value.js';
import type { Clock } from '../../../src/common/clock.js';

interface Case {
  note: string;
  query: string;
  modules?: string[];
  data?: unknown;
  input?: unknown;
  input_term?: string;
  strict_error?: boolean;
}

const FIXED: Clock = { now: () => new Date('2026-01-02T03:04:05.678Z') };
const RANDOM = /rand\.intn|uuid\.rfc4122/;

/** The outcome of one case as a comparable string. */
function outcome(c: Case, trace: 'explain' | undefined): string {
  try {
    const sources = (c.modules ?? []).map((text, i) => ({ file: `test-${i}.rego`, text }));
    const policy = compilePolicy(
      sources.length > 0 ? sources : [{ file: 'empty.rego', text: 'package __empty' }],
    );
    let input: unknown = c.input;
    let inputIsValue = false;
    if (c.input_term !== undefined) {
      input = compilePolicy([{ file: 'input.rego', text: 'package __input' }])
        .query(`__in := ${c.input_term}`, { clock: FIXED })
        .rows[0]?.get('__in');
      inputIsValue = true;
    }
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
  const root = sharedPath('opa-cases', 'v1');
  const differences: string[] = [];
  let total = 0;
  for (const folder of readdirSync(root).sort()) {
    for (const f of readdirSync(join(root, folder)).sort()) {
      const doc = parseYaml(readFileSync(join(root, folder, f), 'utf8'), { intAsBigInt: true }) as {
        cases: Case[];
      };
      for (const c of doc.cases) {
        total++;
        const fast = outcome(c, undefined);
        const reference = outcome(c, 'explain');
        if (fast !== reference)
          differences.push(
            `${folder}/${f}: ${c.note}\n  fast:      ${fast.slice(0, 300)}\n  reference: ${reference.slice(0, 300)}`,
          );
      }
    }
  }
  assert.ok(total > 2000, `only ${total} cases found`);
  assert.deepEqual(
    differences,
    [],
    `${differences.length} of ${total} cases differ:\n${differences.slice(0, 20).join('\n')}`,
  );
});
