/** Resource store: path validation (traversal impossible), atomic writes, crash safety under kill -9. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  mkdirSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../../src/common/paths.js';
import { parseResourcePath, parseResourcePathText, ResourceStore } from '../../../src/kbs/resource-store.js';
import { createFileExclusive } from '../../../src/kbs/atomic-file.js';
import { rejectsCode, throwsCode } from '../../helpers/assert-code.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'kbs-store-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('parseResourcePath', () => {
  const good: string[][] = [
    ['default', 'key', 'one'],
    ['a', 'b', 'c.d'],
    ['my-repo_1', 'type.v2', 'tag-.x'],
  ];
  for (const g of good)
    test(`pass_${g.join('/')}`, () => assert.deepEqual(Object.values(parseResourcePath(g)), g));
  const bad: [string, string[]][] = [
    ['fail_dotdot', ['..', 'key', 'one']],
    ['fail_dot', ['default', '.', 'one']],
    ['fail_hidden', ['.state', 'key', 'one']],
    ['fail_empty', ['default', '', 'one']],
    ['fail_two_segments', ['default', 'key']],
    ['fail_four_segments', ['default', 'key', 'one', 'two']],
    ['fail_percent', ['%2e%2e', 'key', 'one']],
    ['fail_backslash', ['a\\b', 'key', 'one']],
    ['fail_nul', ['a\0', 'key', 'one']],
    ['fail_space', ['a b', 'key', 'one']],
    ['fail_unicode', ['ké', 'key', 'one']],
    ['fail_too_long', ['a'.repeat(256), 'key', 'one']],
  ];
  for (const [name, segs] of bad)
    test(name, () => void throwsCode(() => parseResourcePath(segs), 'ERR_KBS_RESOURCE_PATH_INVALID'));
  test('fail_text_traversal', () =>
    void throwsCode(() => parseResourcePathText('default/../../etc'), 'ERR_KBS_RESOURCE_PATH_INVALID'));
});

describe('ResourceStore', () => {
  test('pass_set_get_overwrite_delete', async () => {
    const s = new ResourceStore(tmp());
    const p = parseResourcePath(['r', 't', 'x']);
    await s.set(p, Buffer.from('1'));
    await s.set(p, Buffer.from('22'));
    assert.equal((await s.get(p)).toString(), '22');
    await s.delete(p);
    await rejectsCode(s.get(p), 'ERR_KBS_RESOURCE_NOT_FOUND');
    await rejectsCode(s.delete(p), 'ERR_KBS_RESOURCE_NOT_FOUND');
  });

  test('pass_no_temp_files_left', async () => {
    const d = tmp();
    const s = new ResourceStore(d);
    const p = parseResourcePath(['r', 't', 'x']);
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.set(p, Buffer.from(String(i)))));
    assert.deepEqual(readdirSync(join(d, 'r', 't')), ['x']);
  });

  test('fail_oversize', async () => {
    const s = new ResourceStore(tmp(), 10);
    await rejectsCode(s.set(parseResourcePath(['r', 't', 'x']), Buffer.alloc(11)), 'ERR_KBS_BODY_TOO_LARGE');
  });

  test('fail_symlink_out_of_store', async () => {
    const d = tmp();
    const outside = join(tmp(), 'secret');
    writeFileSync(outside, 'host secret');
    mkdirSync(join(d, 'r', 't'), { recursive: true });
    symlinkSync(outside, join(d, 'r', 't', 'x'));
    await rejectsCode(
      new ResourceStore(d).get(parseResourcePath(['r', 't', 'x'])),
      'ERR_KBS_RESOURCE_NOT_FOUND',
    );
  });

  // The in-memory cache must never serve a stale or redirected secret (resource-store.ts). A clock
  // a minute ahead makes every file "settled", so these reads really go through the cache.
  const later = { now: () => new Date(Date.now() + 60_000) };
  test('pass_fresh_same_size_edit_not_served_stale', async () => {
    const d = tmp();
    const s = new ResourceStore(d);
    const p = parseResourcePath(['r', 't', 'x']);
    await s.set(p, Buffer.from('one'));
    assert.equal((await s.get(p)).toString(), 'one');
    writeFileSync(join(d, 'r', 't', 'x'), 'two');
    assert.equal((await s.get(p)).toString(), 'two');
  });

  test('pass_cache_sees_external_in_place_edit', async () => {
    const d = tmp();
    mkdirSync(join(d, 'r', 't'), { recursive: true });
    const f = join(d, 'r', 't', 'x');
    writeFileSync(f, 'one');
    const s = new ResourceStore(d, undefined, later);
    const p = parseResourcePath(['r', 't', 'x']);
    assert.equal((await s.get(p)).toString(), 'one');
    writeFileSync(f, 'two!');
    assert.equal((await s.get(p)).toString(), 'two!');
  });

  test('pass_cache_sees_external_atomic_replace', async () => {
    const d = tmp();
    mkdirSync(join(d, 'r', 't'), { recursive: true });
    const f = join(d, 'r', 't', 'x');
    writeFileSync(f, 'one');
    const s = new ResourceStore(d, undefined, later);
    const p = parseResourcePath(['r', 't', 'x']);
    assert.equal((await s.get(p)).toString(), 'one');
    writeFileSync(`${f}.new`, 'two');
    renameSync(`${f}.new`, f);
    assert.equal((await s.get(p)).toString(), 'two');
  });

  test('pass_cache_returns_a_copy', async () => {
    const d = tmp();
    const s = new ResourceStore(d, undefined, later);
    const p = parseResourcePath(['r', 't', 'x']);
    await s.set(p, Buffer.from('abc'));
    (await s.get(p)).fill(0);
    assert.equal((await s.get(p)).toString(), 'abc');
  });

  test('fail_cache_external_delete', async () => {
    const d = tmp();
    const s = new ResourceStore(d, undefined, later);
    const p = parseResourcePath(['r', 't', 'x']);
    await s.set(p, Buffer.from('abc'));
    assert.equal((await s.get(p)).toString(), 'abc');
    unlinkSync(join(d, 'r', 't', 'x'));
    await rejectsCode(s.get(p), 'ERR_KBS_RESOURCE_NOT_FOUND');
  });

  test('fail_cache_symlink_swapped_in', async () => {
    const d = tmp();
    const outside = join(tmp(), 'secret');
    writeFileSync(outside, 'host secret');
    const s = new ResourceStore(d, undefined, later);
    const p = parseResourcePath(['r', 't', 'x']);
    await s.set(p, Buffer.from('abc'));
    assert.equal((await s.get(p)).toString(), 'abc');
    unlinkSync(join(d, 'r', 't', 'x'));
    symlinkSync(outside, join(d, 'r', 't', 'x'));
    await rejectsCode(s.get(p), 'ERR_KBS_RESOURCE_NOT_FOUND');
  });

  test('fail_cache_store_delete', async () => {
    const d = tmp();
    const s = new ResourceStore(d, undefined, later);
    const p = parseResourcePath(['r', 't', 'x']);
    await s.set(p, Buffer.from('abc'));
    await s.get(p);
    await s.delete(p);
    await rejectsCode(s.get(p), 'ERR_KBS_RESOURCE_NOT_FOUND');
  });

  test('fail_directory_as_resource', async () => {
    const d = tmp();
    mkdirSync(join(d, 'r', 't', 'x'), { recursive: true });
    await rejectsCode(
      new ResourceStore(d).get(parseResourcePath(['r', 't', 'x'])),
      'ERR_KBS_RESOURCE_NOT_FOUND',
    );
  });

  test('pass_create_exclusive_keeps_the_first', async () => {
    const f = join(tmp(), 'k');
    assert.equal(await createFileExclusive(f, Buffer.from('first')), true);
    assert.equal(await createFileExclusive(f, Buffer.from('second')), false);
    assert.equal(readFileSync(f, 'utf8'), 'first');
  });

  test('pass_survives_kill_9_mid_write (bounded loop)', async () => {
    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      const d = tmp();
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(packageRoot(), 'test/unit/kbs/writer-child.ts'), d],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
          cwd: packageRoot(),
        },
      );
      // Kill after a few completed writes plus a random delay, so the kill lands mid-write at varying points.
      await new Promise<void>((resolve, reject) => {
        let lines = 0;
        const timer = setTimeout(
          () => reject(new Error('writer child produced no writes within 20 s')),
          20_000,
        );
        child.stdout!.on('data', (c: Buffer) => {
          lines += c.toString().split('\n').length - 1;
          if (lines >= 2 + round) {
            clearTimeout(timer);
            setTimeout(resolve, Math.floor(Math.random() * 15));
          }
        });
      });
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid!, 'SIGKILL');
      await exited;
      const data = readFileSync(join(d, 'default', 'key', 'crash'));
      assert.equal(data.length, 1024 * 1024, 'a complete version survives');
      assert.ok(
        data.every((b) => b === data[0]) && (data[0] === 0x61 || data[0] === 0x62),
        'never a torn mix',
      );
      // Leftover temp files are invisible: their names can never be a valid segment.
      for (const f of readdirSync(join(d, 'default', 'key')))
        assert.ok(f === 'crash' || f.startsWith('.tmp-'));
    }
  });
});
