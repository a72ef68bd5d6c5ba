/**
 * Regenerates the simulated TDX hierarchy in fixtures/tdx-sim/ (TEST keys, certificates, CRLs
 * and signed collateral; see fixtures/tdx-sim/README.md). Standalone:
 *   node --import tsx scripts/gen-tdx-sim.ts [OUT_DIR]
 * and callable from scripts/gen-fixtures.ts as `genTdxSim()`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packagePath } from '../src/common/paths.js';
import { SIM_FIXTURE_DIR, generateSimHierarchyFiles } from '../src/attestation/tdx/sim.js';

/** Writes a fresh sim hierarchy to `outDir` (default fixtures/tdx-sim) and returns the file names. */
export async function genTdxSim(outDir: string = packagePath(SIM_FIXTURE_DIR)): Promise<string[]> {
  const files = await generateSimHierarchyFiles();
  await mkdir(outDir, { recursive: true });
  for (const [name, data] of Object.entries(files)) await writeFile(join(outDir, name), data);
  return Object.keys(files);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const names = await genTdxSim(process.argv[2]);
  console.log(`gen-tdx-sim: wrote ${names.length} files`);
}
