#!/usr/bin/env node
// Runs the test suite on Node's built-in runner (TypeScript through tsx).
//   node scripts/run-tests.mjs [--coverage] [PATH_OR_FILE...]
// With --coverage, c8 measures src/ and the per-folder gates below are enforced.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, resolve, relative } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const coverage = args.includes('--coverage');
const targets = args.filter((a) => !a.startsWith('--'));

/** Folders whose line coverage must stay at or above the gate (issue #2). */
const GATES = { 'src/ttrpc': 90, 'src/common': 90 };

function collect(p, out) {
  const st = statSync(p);
  if (st.isDirectory()) {
    for (const e of readdirSync(p).sort()) {
      if (e === 'node_modules' || e === 'fixtures') continue;
      collect(join(p, e), out);
    }
  } else if (p.endsWith('.test.ts')) out.push(p);
  return out;
}

const files = (targets.length > 0 ? targets : ['test']).flatMap((t) => collect(resolve(root, t), []));
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
const nodeArgs = [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  `--test-concurrency=${process.env.COCOON_TEST_CONCURRENCY ?? '3'}`,
  // Bound every test: no single test may run longer than this.
  `--test-timeout=${process.env.COCOON_TEST_TIMEOUT_MS ?? '180000'}`,
  ...files.map((f) => relative(root, f)),
];
const cmd = coverage
  ? [
      join(root, 'node_modules/.bin/c8'),
      [
        '--reporter=text-summary',
        '--reporter=json-summary',
        '--reports-dir=coverage',
        '--all',
        '--src=src',
        '--include=src/**/*.ts',
        '--exclude=src/**/*.d.ts',
        'node',
        ...nodeArgs,
      ],
    ]
  : ['node', nodeArgs];
const r = spawnSync(cmd[0], cmd[1], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, COCOON_LOG_LEVEL: process.env.COCOON_LOG_LEVEL ?? 'silent' },
});
if (r.status !== 0) process.exit(r.status ?? 1);

if (coverage) {
  const summaryPath = join(root, 'coverage/coverage-summary.json');
  if (!existsSync(summaryPath)) {
    console.error('run-tests: coverage summary missing');
    process.exit(1);
  }
  const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
  let failed = false;
  for (const [folder, gate] of Object.entries(GATES)) {
    let total = 0;
    let covered = 0;
    for (const [file, s] of Object.entries(summary)) {
      if (file === 'total') continue;
      const rel = relative(root, file);
      if (!rel.startsWith(`${folder}/`)) continue;
      total += s.lines.total;
      covered += s.lines.covered;
    }
    const pct = total === 0 ? 100 : (100 * covered) / total;
    const ok = pct >= gate;
    console.log(`coverage gate ${folder}: ${pct.toFixed(1)}% lines (gate ${gate}%) ${ok ? 'ok' : 'FAILED'}`);
    if (!ok) failed = true;
  }
  if (failed) process.exit(1);
}
