/**
 * Where the upstream samples live: ../shared beside the clone (CI puts it there), or
 * COCOON_SHARED_DIR. Resolved once; tests read samples from here and never copy them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDir } from '../../src/common/paths.js';

export const SHARED_DIR = sharedDir();

/** Absolute path of a file under shared/. Throws a clear error when shared/ is missing. */
export function sharedPath(...parts: string[]): string {
  const p = join(SHARED_DIR, ...parts);
  if (!existsSync(p)) throw new Error(`shared sample missing: ${p} (set COCOON_SHARED_DIR)`);
  return p;
}

/** Reads a shared sample as bytes. */
export function readShared(...parts: string[]): Buffer {
  return readFileSync(sharedPath(...parts));
}
