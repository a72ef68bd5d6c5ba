/**
 * Assertion helpers in the style of sigstore-js's toThrowWithCode: assert the error class and
 * its stable code, never the message prose.
 */
import assert from 'node:assert/strict';
import { CocoonError } from '../../src/common/errors.js';

/** Asserts that fn throws a CocoonError with `code`; returns it for further checks. */
export function throwsCode(fn: () => unknown, code: string): CocoonError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CocoonError, `expected CocoonError(${code}), got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${code} to be thrown, nothing was thrown`);
}

/** Asserts that the promise rejects with a CocoonError with `code`; returns it. */
export async function rejectsCode(
  p: Promise<unknown> | (() => Promise<unknown>),
  code: string,
): Promise<CocoonError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(e instanceof CocoonError, `expected CocoonError(${code}), got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected rejection with ${code}, the promise resolved`);
}
