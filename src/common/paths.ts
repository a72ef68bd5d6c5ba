/** Locations inside the Cocoon package, valid both from src/ (tsx) and dist/src (built). */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** Absolute path of the package root (the folder holding package.json). */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return (root = dir);
    dir = dirname(dir);
  }
  throw new Error('cocoon: cannot locate the package root');
}

/** Absolute path of a file shipped in the package (proto/, fixtures/, native/...). */
export function packagePath(...parts: string[]): string {
  return resolve(packageRoot(), ...parts);
}

/**
 * The shared evidence/specs folder (`../shared` beside the clone), overridable with
 * COCOON_SHARED_DIR. Tests read upstream samples from here; nothing is copied into the repo.
 */
export function sharedDir(): string {
  return process.env['COCOON_SHARED_DIR'] ?? resolve(packageRoot(), '..', 'shared');
}
