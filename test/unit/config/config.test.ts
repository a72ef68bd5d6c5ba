import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseSetFlags, section } from '../../../src/config/config.js';
import { logSection } from '../../../src/config/sections/log.js';
import { throwsCode } from '../../helpers/assert-code.js';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-config-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

test('defaults apply with no file', () => {
  const { config, file: f } = loadConfig({ env: {} });
  assert.equal(f, undefined);
  assert.equal(section(config, logSection).level, 'info');
  assert.ok(Object.isFrozen(config));
});

test('precedence: file, then environment, then flags', () => {
  const f = file('a.toml', '[log]\nlevel = "warn"\n');
  assert.equal(section(loadConfig({ file: f, env: {} }).config, logSection).level, 'warn');
  assert.equal(
    section(loadConfig({ file: f, env: { COCOON_LOG_LEVEL: 'debug' } }).config, logSection).level,
    'debug',
  );
  const withFlag = loadConfig({
    file: f,
    env: { COCOON_LOG_LEVEL: 'debug' },
    overrides: { 'log.level': 'error' },
  });
  assert.equal(section(withFlag.config, logSection).level, 'error');
  assert.equal(loadConfig({ env: { COCOON_CONFIG: f } }).file, f);
});

test('table: bad configuration gets typed errors', () => {
  const cases: [string, () => unknown, string][] = [
    [
      'fail_missing_file',
      () => loadConfig({ file: join(dir, 'nope.toml'), env: {} }),
      'ERR_CONFIG_NOT_FOUND',
    ],
    [
      'fail_bad_toml',
      () => loadConfig({ file: file('b.toml', '[log\nlevel='), env: {} }),
      'ERR_CONFIG_INVALID',
    ],
    [
      'fail_unknown_section',
      () => loadConfig({ file: file('c.toml', '[nope]\nx=1\n'), env: {} }),
      'ERR_CONFIG_INVALID',
    ],
    [
      'fail_bad_level',
      () => loadConfig({ file: file('d.toml', '[log]\nlevel="loud"\n'), env: {} }),
      'ERR_CONFIG_INVALID',
    ],
    [
      'fail_wrong_type',
      () => loadConfig({ file: file('e.toml', '[log]\nlevel=3\n'), env: {} }),
      'ERR_CONFIG_INVALID',
    ],
    [
      'fail_section_not_table',
      () => loadConfig({ file: file('f.toml', 'log = 3\n'), env: {} }),
      'ERR_CONFIG_INVALID',
    ],
    [
      'fail_unknown_override',
      () => loadConfig({ env: {}, overrides: { 'nope.x': 1 } }),
      'ERR_CONFIG_INVALID',
    ],
    ['fail_override_no_key', () => loadConfig({ env: {}, overrides: { log: 1 } }), 'ERR_CONFIG_INVALID'],
    ['fail_set_syntax', () => parseSetFlags(['novalue']), 'ERR_CONFIG_INVALID'],
  ];
  for (const [name, fn, code] of cases) {
    throwsCode(fn, code);
    assert.ok(name.startsWith('fail_'));
  }
});

test('--set parses JSON values and nested keys', () => {
  assert.deepEqual(parseSetFlags(['a.b=1', 'a.c=true', 'a.d=text', 'a.e=[1,2]']), {
    'a.b': 1,
    'a.c': true,
    'a.d': 'text',
    'a.e': [1, 2],
  });
});
