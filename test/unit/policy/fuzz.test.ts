/**
 * Fuzz of the Rego front end and evaluator (seeded, bounded): textual mutations of the shipped
 * default policies and of OPA's own test modules go through compilePolicy and, when they compile,
 * through evaluation with small step and time budgets. Only typed errors may come out (registered
 * ERR_POLICY_* codes); parse and compile errors carry a file:line:col location; nothing hangs.
 * COCOON_FUZZ_SEED replays a run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { opaCaseFiles } from './opa-cases.js';
import { CocoonError } from '../../../src/common/errors.js';
import { allErrorCodes } from '../../../src/common/error-registry.js';
import { compilePolicy } from '../../../src/policy/engine.js';
import {
  DEFAULT_ATTESTATION_POLICY,
  DEFAULT_GPU_ATTESTATION_POLICY,
  DEFAULT_RESOURCE_POLICY,
} from '../../../src/policy/default-policies.js';
import { prng } from '../../helpers/prng.js';

const SEED = Number(process.env['COCOON_FUZZ_SEED'] ?? 0x7e60);

const TOKENS = [
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  ':=',
  '=',
  '==',
  '!=',
  ',',
  ';',
  '|',
  '.',
  '\n',
  ' if ',
  ' else ',
  ' not ',
  ' some ',
  ' every ',
  ' in ',
  ' with ',
  ' as ',
  ' default ',
  ' contains ',
  'input',
  'data',
  '"',
  '`',
  '#',
  '0',
  '-1',
  '1e400',
  'x',
  '_',
  'count(',
  'walk(',
  'true',
  'null',
  '\\',
  '\u0000',
];

function mutate(text: string, rnd: () => number): string {
  let t = text;
  for (let k = 0, n = 1 + Math.floor(rnd() * 3); k < n; k++) {
    const i = Math.floor(rnd() * (t.length + 1));
    const r = rnd();
    if (r < 0.35) t = t.slice(0, i) + TOKENS[Math.floor(rnd() * TOKENS.length)]! + t.slice(i);
    else if (r < 0.6) t = t.slice(0, i) + t.slice(i + 1 + Math.floor(rnd() * 12));
    else if (r < 0.8) {
      const j = Math.floor(rnd() * t.length);
      t = t.slice(0, i) + t.slice(j, j + 1 + Math.floor(rnd() * 40)) + t.slice(i);
    } else t = t.slice(0, i);
  }
  return t;
}

/** Modules of OPA's conformance cases (a deterministic sample). */
function opaModules(): string[] {
  const out: string[] = [];
  for (const { cases } of opaCaseFiles())
    for (const c of cases) for (const m of c.modules ?? []) if (m.length < 4000) out.push(m);
  return out;
}

test(
  `rego fuzz (seed ${SEED}): typed errors with locations, bounded evaluation`,
  { timeout: 150_000 },
  () => {
    const registered = new Set<string>(allErrorCodes());
    const corpus = [
      DEFAULT_ATTESTATION_POLICY,
      DEFAULT_GPU_ATTESTATION_POLICY,
      DEFAULT_RESOURCE_POLICY,
      ...opaModules(),
    ];
    assert.ok(corpus.length > 500, `corpus has ${corpus.length} modules`);
    const rnd = prng(SEED);
    const outcome = { compiled: 0, parseErrors: 0, otherErrors: 0, evaluated: 0 };
    const t0 = Date.now();
    let n = 0;
    for (; n < 10_000 && Date.now() - t0 < 90_000; n++) {
      // Defaults every fourth case, OPA modules otherwise.
      const base = n % 4 === 0 ? corpus[n % 3]! : corpus[3 + Math.floor(rnd() * (corpus.length - 3))]!;
      const text = mutate(base, rnd);
      let policy;
      try {
        policy = compilePolicy([{ file: 'fuzz.rego', text }]);
        outcome.compiled++;
      } catch (e) {
        assert.ok(e instanceof CocoonError, `case ${n}: untyped ${String(e)}\n${text.slice(0, 400)}`);
        assert.ok(registered.has(e.code), `case ${n}: unregistered ${e.code}`);
        if (e.code === 'ERR_POLICY_PARSE' || e.code === 'ERR_POLICY_COMPILE') {
          outcome.parseErrors++;
          assert.match(e.message, /fuzz\.rego:\d+:\d+/, `case ${n}: no location in "${e.message}"`);
        } else outcome.otherErrors++;
        continue;
      }
      const pkg = /^\s*package\s+([\w.]+)/m.exec(text)?.[1];
      if (pkg === undefined) continue;
      const started = Date.now();
      try {
        policy.query(`x := data.${pkg}`, {
          input: { tdx: { quote: { body: {} } }, a: [1, 2, 3], s: 'x' },
          data: { reference: {} },
          maxSteps: 20_000,
          timeoutMs: 500,
        });
        outcome.evaluated++;
      } catch (e) {
        assert.ok(e instanceof CocoonError, `case ${n}: evaluation threw untyped ${String(e)}`);
        assert.ok(registered.has(e.code), `case ${n}: unregistered ${e.code}`);
      }
      assert.ok(Date.now() - started < 3000, `case ${n}: evaluation took ${Date.now() - started} ms`);
    }
    assert.ok(n >= 1000, `only ${n} cases in the time budget`);
    assert.ok(outcome.compiled > 100 && outcome.parseErrors > 100, JSON.stringify(outcome));
  },
);
