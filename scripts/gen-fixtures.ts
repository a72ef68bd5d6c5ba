/**
 * `npm run gen:fixtures`: regenerates every generated fixture (the simulated TDX and SNP test
 * hierarchies). Each recipe also runs on its own; see fixtures/tdx-sim/README.md and
 * fixtures/snp-sim/README.md. Regenerating creates NEW test keys: commit the results together.
 */
import { spawnSync } from 'node:child_process';
import { packagePath } from '../src/common/paths.js';

const loader = `file://${packagePath('node_modules/tsx/dist/loader.mjs')}`;
for (const recipe of ['scripts/gen-tdx-sim.ts', 'scripts/gen-snp-sim.ts']) {
  const r = spawnSync(process.execPath, ['--import', loader, packagePath(recipe)], {
    stdio: 'inherit',
    timeout: 300_000,
  });
  if (r.status !== 0) {
    console.error(`gen-fixtures: ${recipe} failed (${r.status ?? r.signal})`);
    process.exit(1);
  }
}
console.log('gen-fixtures: done');
