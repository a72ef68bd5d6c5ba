/**
 * Enforces the import direction of docs/architecture.md over every file in src/.
 * A violation names the file, the import and the rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { packageRoot } from '../../src/common/paths.js';

/** module → modules it may import (itself and `common` are always allowed). */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  common: [],
  config: ['*config-types*'],
  transport: [],
  ttrpc: ['transport'],
  oci: [],
  attestation: [],
  policy: ['attestation:types'],
  'kbs-protocol': [],
  'kbs-client': ['kbs-protocol', 'ttrpc', 'transport', 'attestation'],
  kbs: ['kbs-protocol', 'attestation', 'policy', 'config'],
  kata: ['ttrpc', 'transport', 'oci', 'attestation', 'kbs-client', 'kbs-protocol', 'config'],
  cri: ['ttrpc', 'transport', 'kata', 'oci', 'config'],
  up: ['*'],
  cli: ['*'],
};

const root = packageRoot();
const src = join(root, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT_RE =
  /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;

test('every src module imports only what docs/architecture.md allows', () => {
  const violations: string[] = [];
  for (const f of files(src)) {
    const rel = relative(src, f);
    const mod = rel.split('/')[0]!;
    const allowed = ALLOWED[mod];
    if (allowed === undefined) {
      violations.push(`${rel}: module "${mod}" is not listed in the architecture table`);
      continue;
    }
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[3] ?? m[4]!;
      const typeOnly = m[2] !== undefined;
      if (!spec.startsWith('.')) continue;
      const target = relative(src, resolve(dirname(f), spec));
      const tmod = target.split('/')[0]!;
      if (tmod === mod || tmod === 'common' || allowed.includes('*') || allowed.includes(tmod)) continue;
      // The registry may read every module's error-code table (pure data).
      if (rel === 'common/error-registry.ts' && target.endsWith('/error-codes.js')) continue;
      // Config sections may import a module's config types and validators.
      if (mod === 'config' && /\/config(-types)?\.js$/.test(target)) continue;
      // policy sees only the claim types of attestation.
      if (allowed.includes(`${tmod}:types`) && typeOnly) continue;
      violations.push(`${rel}: imports ${spec} (module "${tmod}"), not allowed for "${mod}"`);
    }
  }
  assert.deepEqual(violations, []);
});
