/**
 * OPA's topdown conformance cases (../shared/opa-cases/v1, schema in its MANIFEST.md), loaded and
 * prepared the way OPA's own harness runs them: every YAML file of every folder in name order,
 * integers kept exact while parsing, the case's modules compiled together, `input_term` evaluated
 * as a Rego term. Shared by the conformance table, the differential test and the fuzz corpus.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { sharedPath } from '../../helpers/shared.js';
import type { Clock } from '../../../src/common/clock.js';
import { compilePolicy, type Policy } from '../../../src/policy/engine.js';

/** One case, as the YAML spells it. */
export interface OpaCase {
  note: string;
  query: string;
  modules?: string[];
  data?: unknown;
  input?: unknown;
  input_term?: string;
  want_result?: Record<string, unknown>[];
  want_error_code?: string;
  want_error?: string;
  strict_error?: boolean;
  sort_bindings?: boolean;
}

/** The cases of one YAML file. */
export interface OpaCaseFile {
  readonly folder: string;
  readonly file: string;
  readonly cases: readonly OpaCase[];
}

/** Every case file, folders and files in name order. */
export function opaCaseFiles(): OpaCaseFile[] {
  const root = sharedPath('opa-cases', 'v1');
  const out: OpaCaseFile[] = [];
  for (const folder of readdirSync(root).sort()) {
    for (const file of readdirSync(join(root, folder)).sort()) {
      const doc = parseYaml(readFileSync(join(root, folder, file), 'utf8'), { intAsBigInt: true }) as {
        cases: OpaCase[];
      };
      out.push({ folder, file, cases: doc.cases });
    }
  }
  return out;
}

/** The case's modules compiled together (an empty package when it has none). Throws typed errors. */
export function compileCase(c: OpaCase): Policy {
  const sources = (c.modules ?? []).map((text, i) => ({ file: `test-${i}.rego`, text }));
  return compilePolicy(sources.length > 0 ? sources : [{ file: 'empty.rego', text: 'package __empty' }]);
}

/** The case's input: `input` as JSON, or `input_term` evaluated as a Rego value. */
export function caseInput(c: OpaCase, clock?: Clock): { input: unknown; inputIsValue: boolean } {
  if (c.input_term === undefined) return { input: c.input, inputIsValue: false };
  const r = compilePolicy([{ file: 'input.rego', text: 'package __input' }]).query(
    `__in := ${c.input_term}`,
    clock === undefined ? {} : { clock },
  );
  return { input: r.rows[0]?.get('__in'), inputIsValue: true };
}
