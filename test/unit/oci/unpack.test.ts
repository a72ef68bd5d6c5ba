import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readlink, lstat, rm, mkdir, readdir, writeFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unpackLayer, type UnpackResult } from '../../../src/oci/unpack.js';
import { readTar, writeTar, BLOCK_SIZE, type TarWriteEntry } from '../../../src/oci/tar.js';
import { MediaType } from '../../../src/oci/types.js';
import { rejectsCode } from '../../helpers/assert-code.js';

const TAR = MediaType.OCI_LAYER;
const TGZ = MediaType.OCI_LAYER_GZIP;

let work: string;
let n = 0;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cocoon-unpack-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A fresh root inside a sandbox folder, so escapes are detectable next to it. */
async function freshRoot(): Promise<{ sandbox: string; root: string }> {
  const sandbox = join(work, `case-${n++}`);
  const root = join(sandbox, 'root');
  await mkdir(root, { recursive: true });
  return { sandbox, root };
}

async function apply(
  root: string,
  layers: readonly (readonly TarWriteEntry[])[],
  mediaType: string = TAR,
): Promise<UnpackResult[]> {
  const out: UnpackResult[] = [];
  for (const l of layers) {
    const tar = writeTar(l);
    out.push(await unpackLayer(mediaType === TGZ ? gzipSync(tar) : tar, mediaType, root));
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

const f = (name: string, text: string, mode?: number): TarWriteEntry => ({
  name,
  type: 'file',
  data: Buffer.from(text),
  ...(mode !== undefined ? { mode } : {}),
});
const d = (name: string, mode?: number): TarWriteEntry => ({
  name,
  type: 'dir',
  ...(mode !== undefined ? { mode } : {}),
});
const s = (name: string, linkname: string): TarWriteEntry => ({ name, type: 'symlink', linkname });
const h = (name: string, linkname: string): TarWriteEntry => ({ name, type: 'hardlink', linkname });

describe('unpackLayer: pass cases', () => {
  test('pass_files_dirs_symlinks_hardlinks_modes', async () => {
    const { root } = await freshRoot();
    const [r] = await apply(root, [
      [
        d('etc'),
        f('etc/hosts', 'x', 0o600),
        d('bin'),
        f('bin/tool', '#!', 0o4755),
        s('bin/sh', 'tool'),
        h('bin/tool2', 'bin/tool'),
        f('./rel/implicit-parent', 'p'),
      ],
    ]);
    assert.equal(await readFile(join(root, 'etc/hosts'), 'utf8'), 'x');
    assert.equal((await stat(join(root, 'etc/hosts'))).mode & 0o7777, 0o600);
    assert.equal((await stat(join(root, 'bin/tool'))).mode & 0o7777, 0o4755);
    assert.equal(await readlink(join(root, 'bin/sh')), 'tool');
    assert.equal((await stat(join(root, 'bin/tool2'))).ino, (await stat(join(root, 'bin/tool'))).ino);
    assert.equal(await readFile(join(root, 'rel/implicit-parent'), 'utf8'), 'p');
    assert.deepEqual([r!.files, r!.dirs, r!.symlinks, r!.hardlinks], [3, 2, 1, 1]);
  });

  test('pass_gzip_and_long_names_via_pax', async () => {
    const { root } = await freshRoot();
    const long = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
    const target = `${'t'.repeat(130)}`;
    await apply(root, [[f(long, 'long'), s('lnk', target)]], TGZ);
    assert.equal(await readFile(join(root, long), 'utf8'), 'long');
    assert.equal(await readlink(join(root, 'lnk')), target);
  });

  test('pass_whiteout_removes_lower_file_and_dir', async () => {
    const { root } = await freshRoot();
    await apply(root, [
      [d('a'), f('a/x', '1'), f('a/y', '2'), d('a/sub'), f('a/sub/z', '3')],
      [f('a/.wh.x', ''), f('a/.wh.sub', '')],
    ]);
    assert.deepEqual((await readdir(join(root, 'a'))).sort(), ['y']);
  });

  test('pass_opaque_dir_hides_lower_but_keeps_same_layer', async () => {
    const { root } = await freshRoot();
    await apply(root, [
      [d('o'), f('o/lower1', '1'), d('o/lowerdir'), f('o/lowerdir/deep', '2'), f('keep', 'k')],
      [d('o'), f('o/new-before', 'n'), f('o/.wh..wh..opq', ''), f('o/new-after', 'm')],
    ]);
    assert.deepEqual((await readdir(join(root, 'o'))).sort(), ['new-after', 'new-before']);
    assert.equal(await readFile(join(root, 'keep'), 'utf8'), 'k');
  });

  test('pass_replace_file_by_dir_and_dir_by_symlink', async () => {
    const { root } = await freshRoot();
    await apply(root, [
      [f('p', 'file'), d('q'), f('q/inner', 'i')],
      [d('p'), f('p/child', 'c'), s('q', 'p')],
    ]);
    assert.equal(await readFile(join(root, 'p/child'), 'utf8'), 'c');
    assert.equal(await readlink(join(root, 'q')), 'p');
  });

  test('pass_merged_usr_symlink_parent_is_followed_inside_root', async () => {
    const { root } = await freshRoot();
    await apply(root, [[d('usr'), d('usr/lib'), s('lib', 'usr/lib')], [f('lib/libc.so', 'c')]]);
    assert.equal(await readFile(join(root, 'usr/lib/libc.so'), 'utf8'), 'c');
    assert.ok((await lstat(join(root, 'lib'))).isSymbolicLink(), 'the symlink is kept, not replaced');
  });

  test('pass_device_nodes_and_fifos_skipped', async () => {
    const { root } = await freshRoot();
    const [r] = await apply(root, [
      [
        d('dev'),
        { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3 },
        { name: 'dev/fifo', type: 'fifo' },
        f('dev/ok', 'ok'),
      ],
    ]);
    assert.equal(r!.skipped.length, 2);
    assert.ok(!(await exists(join(root, 'dev/null'))));
    assert.equal(await readFile(join(root, 'dev/ok'), 'utf8'), 'ok');
  });

  test('pass_diffid_verified', async () => {
    const { root } = await freshRoot();
    const tar = writeTar([f('a', 'b')]);
    const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    await unpackLayer(gzipSync(tar), TGZ, root, { expectedDiffId: diffId });
    assert.equal(await readFile(join(root, 'a'), 'utf8'), 'b');
  });

  test('pass_streamed_in_small_chunks', async () => {
    const { root } = await freshRoot();
    const big = Buffer.alloc(100_000, 7);
    const tar = gzipSync(writeTar([{ name: 'big', type: 'file', data: big }, f('small', 's')]));
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < tar.length; i += 333) yield tar.subarray(i, i + 333);
    }
    await unpackLayer(chunks(), TGZ, root);
    assert.deepEqual(await readFile(join(root, 'big')), big);
    assert.equal(await readFile(join(root, 'small'), 'utf8'), 's');
  });
});

describe('unpackLayer: escapes are impossible', () => {
  test('fail_dotdot_component', async () => {
    const { root } = await freshRoot();
    await rejectsCode(apply(root, [[f('../escape', 'x')]]), 'ERR_OCI_TAR_UNSAFE_PATH');
  });

  test('fail_dotdot_inside_path', async () => {
    const { sandbox, root } = await freshRoot();
    await rejectsCode(apply(root, [[f('a/../../escape', 'x')]]), 'ERR_OCI_TAR_UNSAFE_PATH');
    assert.ok(!(await exists(join(sandbox, 'escape'))));
  });

  test('pass_absolute_path_lands_in_root', async () => {
    const { root } = await freshRoot();
    await apply(root, [[f('/abs/file', 'x')]]);
    assert.equal(await readFile(join(root, 'abs/file'), 'utf8'), 'x');
  });

  test('pass_symlink_to_outside_is_not_followed_out', async () => {
    const { sandbox, root } = await freshRoot();
    await mkdir(join(sandbox, 'outside'));
    // Layer 1 plants a symlink pointing out of the root (relative and absolute); layer 2 writes through it.
    await apply(root, [
      [s('rel', '../../outside'), s('abs', join(sandbox, 'outside'))],
      [f('rel/pwned', 'r'), f('abs/pwned', 'a')],
    ]);
    assert.deepEqual(await readdir(join(sandbox, 'outside')), [], 'nothing was written outside the root');
    assert.equal(
      await readFile(join(root, 'outside/pwned'), 'utf8'),
      'r',
      'relative target clamped at the root',
    );
    assert.equal(
      await readFile(join(root, sandbox.slice(1), 'outside/pwned'), 'utf8'),
      'a',
      'absolute target re-rooted',
    );
  });

  test('pass_symlink_then_file_same_name_replaces_link', async () => {
    const { sandbox, root } = await freshRoot();
    await writeFile(join(sandbox, 'victim'), 'orig');
    await apply(root, [[s('x', join(sandbox, 'victim'))], [f('x', 'new')]]);
    assert.equal(await readFile(join(sandbox, 'victim'), 'utf8'), 'orig');
    assert.equal(await readFile(join(root, 'x'), 'utf8'), 'new');
  });

  test('fail_hardlink_dotdot', async () => {
    const { root } = await freshRoot();
    await rejectsCode(apply(root, [[h('link', '../../etc/passwd')]]), 'ERR_OCI_TAR_UNSAFE_PATH');
  });

  test('fail_hardlink_through_escaping_symlink_finds_nothing', async () => {
    const { root } = await freshRoot();
    await rejectsCode(
      apply(root, [[s('esc', '../../../../etc'), h('stolen', 'esc/passwd')]]),
      'ERR_OCI_TAR_INVALID',
    );
  });

  test('fail_whiteout_dotdot', async () => {
    const { root } = await freshRoot();
    await rejectsCode(apply(root, [[f('../.wh.x', '')]]), 'ERR_OCI_TAR_UNSAFE_PATH');
  });

  test('fail_symlink_loop', async () => {
    const { root } = await freshRoot();
    await rejectsCode(apply(root, [[s('a', 'b'), s('b', 'a')], [f('a/x', '1')]]), 'ERR_OCI_TAR_UNSAFE_PATH');
  });
});

describe('unpackLayer: corrupt archives', () => {
  const good = (): Buffer => writeTar([f('file', 'hello world'), d('dir')]);
  const cases: { name: string; mutate: (b: Buffer) => Buffer; mediaType?: string; code: string }[] = [
    {
      name: 'fail_checksum',
      mutate: (b) => {
        const c = Buffer.from(b);
        c[0] = 0x5a; // first byte of the first name, checksum now stale
        return c;
      },
      code: 'ERR_OCI_TAR_INVALID',
    },
    {
      name: 'fail_truncated_body',
      mutate: (b) => b.subarray(0, BLOCK_SIZE + 5),
      code: 'ERR_OCI_TAR_INVALID',
    },
    { name: 'fail_truncated_header', mutate: (b) => b.subarray(0, 100), code: 'ERR_OCI_TAR_INVALID' },
    {
      name: 'fail_size_not_octal',
      mutate: (b) => {
        const c = Buffer.from(b);
        c.write('9999', 124, 'latin1');
        fixChecksum(c);
        return c;
      },
      code: 'ERR_OCI_TAR_INVALID',
    },
    {
      name: 'fail_unknown_typeflag',
      mutate: (b) => {
        const c = Buffer.from(b);
        c[156] = 'Z'.charCodeAt(0);
        fixChecksum(c);
        return c;
      },
      code: 'ERR_OCI_TAR_INVALID',
    },
    {
      name: 'fail_gzip_corrupt',
      mutate: (b) => {
        const g = Buffer.from(gzipSync(b));
        g[g.length - 6] = g[g.length - 6]! ^ 0xff; // CRC32 trailer
        return g;
      },
      mediaType: TGZ,
      code: 'ERR_OCI_TAR_INVALID',
    },
    {
      name: 'fail_gzip_truncated',
      mutate: (b) => gzipSync(b).subarray(0, 30),
      mediaType: TGZ,
      code: 'ERR_OCI_TAR_INVALID',
    },
    { name: 'fail_not_gzip', mutate: (b) => b, mediaType: TGZ, code: 'ERR_OCI_TAR_INVALID' },
    {
      name: 'fail_zstd_unsupported',
      mutate: (b) => b,
      mediaType: MediaType.OCI_LAYER_ZSTD,
      code: 'ERR_OCI_MEDIA_TYPE_UNSUPPORTED',
    },
    {
      name: 'fail_encrypted_unsupported',
      mutate: (b) => b,
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted',
      code: 'ERR_OCI_MEDIA_TYPE_UNSUPPORTED',
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { root } = await freshRoot();
      await rejectsCode(unpackLayer(c.mutate(good()), c.mediaType ?? TAR, root), c.code);
    });
  }

  test('fail_diffid_mismatch', async () => {
    const { root } = await freshRoot();
    await rejectsCode(
      unpackLayer(good(), TAR, root, { expectedDiffId: `sha256:${'0'.repeat(64)}` }),
      'ERR_OCI_DIGEST_MISMATCH',
    );
  });

  test('fail_oversized_pax_header', async () => {
    const { root } = await freshRoot();
    const c = Buffer.from(writeTar([f('x'.repeat(200), 'x')]));
    c.write('77777777777', 124, 'latin1'); // the pax header claims 8 GiB
    fixChecksum(c);
    await rejectsCode(unpackLayer(c, TAR, root), 'ERR_OCI_TAR_INVALID');
  });
});

describe('tar writer/reader round trip', () => {
  test('pass_round_trip', async () => {
    const entries: TarWriteEntry[] = [
      d('a', 0o750),
      f('a/b', 'bee', 0o640),
      s('a/c', 'b'),
      h('a/d', 'a/b'),
      { name: 'big-uid', type: 'file', uid: 0o77777777 + 1, data: Buffer.from('') },
    ];
    const seen: { name: string; type: string; mode: number; uid: number; body: string; linkname: string }[] =
      [];
    async function* src(): AsyncGenerator<Uint8Array> {
      yield writeTar(entries);
    }
    for await (const item of readTar(src())) {
      let body = '';
      for await (const c of item.body()) body += c.toString('utf8');
      seen.push({
        name: item.entry.name,
        type: item.entry.type,
        mode: item.entry.mode,
        uid: item.entry.uid,
        body,
        linkname: item.entry.linkname,
      });
    }
    assert.deepEqual(
      seen.map((e) => [e.name, e.type, e.mode, e.body, e.linkname]),
      [
        ['a', 'dir', 0o750, '', ''],
        ['a/b', 'file', 0o640, 'bee', ''],
        ['a/c', 'symlink', 0o777, '', 'b'],
        ['a/d', 'hardlink', 0o644, '', 'a/b'],
        ['big-uid', 'file', 0o644, '', ''],
      ],
    );
    assert.equal(seen[4]!.uid, 0o77777777 + 1, 'base-256 uid round-trips');
  });
});

function fixChecksum(b: Buffer): void {
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0'), 148, 'latin1');
  b[154] = 0;
}
