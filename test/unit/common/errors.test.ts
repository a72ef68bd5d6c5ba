import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CocoonError, isCocoonError, messageOf } from '../../../src/common/errors.js';
import {
  ERROR_CODE_TABLES,
  allErrorCodes,
  lookupErrorCode,
  mapError,
} from '../../../src/common/error-registry.js';
import { Status, statusName } from '../../../src/common/status.js';
import { packageRoot } from '../../../src/common/paths.js';

test('error codes are unique across module tables and well formed', () => {
  const seen = new Map<string, string>();
  for (const [mod, table] of Object.entries(ERROR_CODE_TABLES)) {
    for (const [code, info] of Object.entries(table)) {
      assert.match(code, /^ERR_[A-Z0-9]+(_[A-Z0-9]+)+$/, `${code} must be ERR_<MODULE>_<WHAT>`);
      assert.ok(!seen.has(code), `${code} declared by both ${seen.get(code)} and ${mod}`);
      seen.set(code, mod);
      assert.ok(info.http >= 400 && info.http <= 599, `${code}: http ${info.http}`);
      assert.ok(Object.values(Status).includes(info.status), `${code}: status ${info.status}`);
      assert.ok(info.description.length > 0);
    }
  }
  assert.equal(allErrorCodes().length, seen.size);
});

function srcFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? srcFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every ERR_ code used in src/ is registered', () => {
  const missing = new Set<string>();
  for (const f of srcFiles(join(packageRoot(), 'src'))) {
    if (f.endsWith('error-codes.ts')) continue;
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/['"`](ERR_[A-Z0-9_]+)['"`]/g)) {
      if (lookupErrorCode(m[1]!) === undefined) missing.add(`${m[1]} (${f})`);
    }
  }
  assert.deepEqual([...missing], []);
});

test('mapError maps typed errors by the registry and hides unknown throws', () => {
  const e = new CocoonError('ERR_COMMON_INVALID_ARGUMENT', 'bad field x', { details: { field: 'x' } });
  assert.deepEqual(mapError(e), {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    code: 'ERR_COMMON_INVALID_ARGUMENT',
    message: 'bad field x',
  });
  const internal = mapError(new Error('secret path /etc/x'));
  assert.equal(internal.code, 'ERR_COMMON_INTERNAL');
  assert.equal(internal.status, Status.INTERNAL);
  assert.ok(!internal.message.includes('/etc/x'), 'internals must not leak');
  assert.equal(mapError(new CocoonError('ERR_NOT_REGISTERED_X', 'x')).status, Status.UNKNOWN);
  assert.equal(mapError('a string').http, 500);
});

test('CocoonError carries code, cause and details; JSON omits empty details', () => {
  const cause = new Error('root');
  const e = new CocoonError('ERR_COMMON_IO', 'io failed', { cause });
  assert.equal(e.cause, cause);
  assert.deepEqual(e.toJSON(), { code: 'ERR_COMMON_IO', message: 'io failed' });
  assert.ok(isCocoonError(e, 'ERR_COMMON_IO'));
  assert.ok(!isCocoonError(e, 'ERR_COMMON_TIMEOUT'));
  assert.ok(!isCocoonError(new Error('x')));
  assert.equal(messageOf(e), 'io failed');
  assert.equal(messageOf('s'), 's');
  assert.equal(messageOf({ a: 1 }), '{"a":1}');
  const cyc: Record<string, unknown> = {};
  cyc['self'] = cyc;
  assert.equal(messageOf(cyc), '[object Object]');
  assert.equal(statusName(5), 'NOT_FOUND');
  assert.equal(statusName(99), 'CODE_99');
});
