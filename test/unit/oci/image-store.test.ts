import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore, parseImageUser } from '../../../src/oci/image-store.js';
import { pullRootfs } from '../../../src/oci/pull-rootfs.js';
import { CocoonError } from '../../../src/common/errors.js';
import { RegistryClient } from '../../../src/oci/registry-client.js';
import { writeTar } from '../../../src/oci/tar.js';
import {
  startRegistry,
  seedBusybox,
  type TestRegistry,
  type PushedImage,
  BUSYBOX_BIN,
} from '../../helpers/registry.js';
import { rejectsCode } from '../../helpers/assert-code.js';

let reg: TestRegistry;
let busybox: PushedImage;
let work: string;
let n = 0;

before(async () => {
  reg = await startRegistry();
  busybox = await seedBusybox(reg);
  work = await mkdtemp(join(tmpdir(), 'cocoon-store-'));
});
after(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

function freshStore(): { store: ImageStore; client: RegistryClient; dir: string } {
  const dir = join(work, `store-${n++}`);
  const client = new RegistryClient();
  return { store: new ImageStore(dir, { client }), client, dir };
}

function layerGets(digest: string): number {
  return reg.requestLog.filter((q) => q.method === 'GET' && q.path.endsWith(digest)).length;
}

describe('ImageStore host pull', () => {
  test('pass_pull_unpacks_busybox', async () => {
    const { store, client } = freshStore();
    const rec = await store.pull(busybox.ref);
    assert.equal(rec.id, busybox.configDigest);
    assert.deepEqual(rec.repoTags, [busybox.ref]);
    assert.deepEqual(rec.repoDigests, [`${reg.host}/library/busybox@${busybox.manifestDigest}`]);
    assert.equal(rec.layersPulled, true);
    assert.equal(rec.user, '0');
    assert.equal(rec.size, busybox.layerSizes[0]);
    assert.equal(rec.annotations['org.opencontainers.image.title'], 'busybox-static (cocoon test image)');
    const root = await store.rootfsPath(rec.id);
    assert.deepEqual(await readFile(join(root, 'bin/busybox')), await readFile(BUSYBOX_BIN));
    assert.equal(await readlink(join(root, 'bin/sh')), 'busybox');
    assert.equal((await stat(join(root, 'tmp'))).mode & 0o7777, 0o1777);
    assert.equal(client.stats().blob, 1);
    const fs = await store.fsInfo();
    assert.ok(fs.usedBytes > (await stat(BUSYBOX_BIN)).size, `used ${fs.usedBytes}`);
    assert.ok(fs.inodesUsed > 250, `inodes ${fs.inodesUsed}`);
  });

  test('pass_get_by_every_name', async () => {
    const { store } = freshStore();
    const rec = await store.pull(busybox.ref);
    const hex = rec.id.slice(7);
    for (const key of [
      rec.id,
      hex,
      hex.slice(0, 12),
      busybox.manifestDigest,
      `${reg.host}/library/busybox@${busybox.manifestDigest}`,
      busybox.ref,
      `${reg.host}/library/busybox`,
    ]) {
      assert.equal((await store.get(key))?.id, rec.id, key);
    }
    assert.equal(await store.get(`${reg.host}/library/busybox:other`), undefined);
    assert.equal(await store.get('sha256:' + 'f'.repeat(64)), undefined);
    await rejectsCode(store.get('Not A Ref!'), 'ERR_OCI_REF_INVALID');
  });

  test('pass_concurrent_pulls_deduplicated', async () => {
    const { store, client } = freshStore();
    const before = layerGets(busybox.layerDigests[0]!);
    const recs = await Promise.all(Array.from({ length: 5 }, () => store.pull(busybox.ref)));
    assert.ok(recs.every((r) => r.id === busybox.configDigest));
    assert.equal(layerGets(busybox.layerDigests[0]!) - before, 1, 'the layer was downloaded once');
    assert.equal(client.stats().manifest, 1);
    assert.equal((await store.list()).length, 1);
  });

  test('pass_tag_moves_and_remove_collects_blobs', async () => {
    const { store, dir } = freshStore();
    const a = await seedBusybox(reg, 'library/busybox', 'moving');
    const recA = await store.pull(a.ref);
    const b = await seedBusybox(reg, 'library/busybox', 'moving', {
      extraLayers: [writeTar([{ name: 'etc/extra', type: 'file', data: Buffer.from('b') }])],
    });
    const recB = await store.pull(b.ref);
    assert.notEqual(recA.id, recB.id);
    assert.deepEqual((await store.get(recA.id))?.repoTags, []);
    assert.deepEqual((await store.get(recB.id))?.repoTags, [b.ref]);
    assert.equal(await readFile(join(await store.rootfsPath(recB.id), 'etc/extra'), 'utf8'), 'b');
    const fsBefore = await store.fsInfo();
    assert.equal(await store.remove(recB.id), true);
    const fsAfter = await store.fsInfo();
    assert.ok(fsAfter.inodesUsed < fsBefore.inodesUsed, 'fsInfo sees the removal');
    const blobs = await readdir(join(dir, 'blobs/sha256'));
    assert.ok(!blobs.includes(b.layerDigests[1]!.slice(7)), 'B-only layer collected');
    assert.ok(blobs.includes(a.layerDigests[0]!.slice(7)), 'shared layer kept for A');
    assert.equal(await store.remove(recB.id), false, 'idempotent');
    assert.equal(await store.remove(`${reg.host}/library/busybox@${a.manifestDigest}`), true);
    assert.deepEqual(await readdir(join(dir, 'blobs/sha256')), []);
    assert.deepEqual(await readdir(join(dir, 'rootfs')), []);
    assert.deepEqual(await store.list(), []);
  });
});

describe('ImageStore failures', () => {
  test('fail_corrupt_layer_leaves_nothing', async () => {
    const { store, dir } = freshStore();
    const img = await seedBusybox(reg, 'library/busybox', 'corrupt', { cmd: ['/bin/true'] });
    reg.fault = (_m, p) => (p.endsWith(img.layerDigests[0]!) ? 'corrupt' : undefined);
    try {
      await rejectsCode(store.pull(img.ref), 'ERR_OCI_DIGEST_MISMATCH');
    } finally {
      reg.fault = () => undefined;
    }
    assert.equal(await store.get(img.ref), undefined);
    assert.ok(!(await readdir(join(dir, 'blobs/sha256'))).includes(img.layerDigests[0]!.slice(7)));
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    assert.deepEqual(await readdir(join(dir, 'rootfs')), []);
    // The same store pulls it fine once the registry behaves.
    assert.equal((await store.pull(img.ref)).layersPulled, true);
  });

  test('pass_copy_rootfs_is_private', async () => {
    const { store } = freshStore();
    const rec = await store.pull(busybox.ref);
    const dest = join(work, `copy-${n++}`);
    await store.copyRootfs(rec.id, dest);
    assert.equal(await readlink(join(dest, 'bin/sh')), 'busybox');
    await writeFile(join(dest, 'etc/passwd'), 'changed');
    assert.notEqual(await readFile(join(await store.rootfsPath(rec.id), 'etc/passwd'), 'utf8'), 'changed');
  });
});

describe('pullRootfs (store-less, as the in-guest pull uses it)', () => {
  test('pass_streams_layers_into_destination', async () => {
    const client = new RegistryClient();
    const dest = join(work, `bundle-${n++}`, 'rootfs');
    await mkdir(join(dest, '..'));
    const resolved = await pullRootfs(client, busybox.ref, dest);
    assert.equal(resolved.configDigest, busybox.configDigest);
    assert.deepEqual(await readFile(join(dest, 'bin/busybox')), await readFile(BUSYBOX_BIN));
    assert.deepEqual(await readdir(join(dest, '..')), ['rootfs'], 'no partial folder left');
    await rejectsCode(pullRootfs(client, busybox.ref, dest), 'ERR_COMMON_INVALID_ARGUMENT');
  });

  test('fail_corrupt_layer_creates_nothing', async () => {
    const client = new RegistryClient();
    const parent = join(work, `bundle-${n++}`);
    await mkdir(parent);
    reg.fault = (_m, p) => (p.endsWith(busybox.layerDigests[0]!) ? 'corrupt' : undefined);
    try {
      // A flipped byte inside the gzip stream is caught by whichever check sees it first:
      // inflate (corrupt archive) or the blob digest at the end of the stream.
      const e = await pullRootfs(client, busybox.ref, join(parent, 'rootfs')).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(e instanceof CocoonError, String(e));
      assert.ok(['ERR_OCI_DIGEST_MISMATCH', 'ERR_OCI_TAR_INVALID'].includes(e.code), e.code);
    } finally {
      reg.fault = () => undefined;
    }
    assert.deepEqual(await readdir(parent), []);
  });
});

describe('ImageStore guest pull (metadata only)', () => {
  test('pass_metadata_only_no_layer_request', async () => {
    const { store, client } = freshStore();
    const img = await seedBusybox(reg, 'library/busybox', 'guest-only', { user: '65534:65534' });
    const before = layerGets(img.layerDigests[0]!);
    const rec = await store.pullMetadata(img.ref);
    assert.equal(rec.layersPulled, false);
    assert.equal(rec.id, img.configDigest);
    assert.equal(rec.size, img.layerSizes[0]);
    assert.deepEqual(parseImageUser(rec.user), { uid: 65534 });
    assert.equal(layerGets(img.layerDigests[0]!), before, 'registry saw no layer request');
    assert.equal(client.stats().blob, 0);
    assert.equal((await store.get(img.ref))?.id, rec.id);
    await rejectsCode(store.rootfsPath(rec.id), 'ERR_OCI_IMAGE_NOT_FOUND');
    // A later host pull of the same image completes it.
    const full = await store.pull(img.ref);
    assert.equal(full.layersPulled, true);
    assert.equal(full.createdAt, rec.createdAt);
    // Recording metadata again keeps the rootfs.
    const again = await store.pullMetadata(img.ref);
    assert.equal(again.layersPulled, true);
  });

  test('pass_parse_image_user', () => {
    assert.deepEqual(parseImageUser(''), {});
    assert.deepEqual(parseImageUser('0'), { uid: 0 });
    assert.deepEqual(parseImageUser('1000:1000'), { uid: 1000 });
    assert.deepEqual(parseImageUser('app'), { username: 'app' });
    assert.deepEqual(parseImageUser('app:staff'), { username: 'app' });
  });
});

describe('ImageStore crash safety', () => {
  test('pass_open_removes_leftovers_and_orphans', async () => {
    const { store, dir } = freshStore();
    const rec = await store.pull(busybox.ref);
    const hex = rec.id.slice(7);
    // Simulate: a half-unpacked temp dir, a rootfs without record, a damaged record.
    await mkdir(join(dir, 'tmp/rootfs-half/bin'), { recursive: true });
    await mkdir(join(dir, `rootfs/${'e'.repeat(64)}`), { recursive: true });
    await writeFile(join(dir, `images/${'d'.repeat(64)}.json`), '{"id": tru');
    const reopened = new ImageStore(dir);
    const list = await reopened.list();
    assert.deepEqual(
      list.map((r) => r.id),
      [rec.id],
    );
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    assert.deepEqual(await readdir(join(dir, 'rootfs')), [hex]);
    assert.equal((await readdir(join(dir, 'corrupt'))).length, 1, 'damaged record kept aside');
    // A record whose rootfs vanished is downgraded, not trusted.
    await rm(join(dir, 'rootfs', hex), { recursive: true });
    const again = new ImageStore(dir);
    assert.equal((await again.get(rec.id))?.layersPulled, false);
  });

  test('pass_sigkill_mid_pull_leaves_consistent_store', async () => {
    const img = await seedBusybox(reg, 'library/busybox', 'crash', { cmd: ['/bin/crash'] });
    reg.fault = (_m, p) => (p.endsWith(img.layerDigests[0]!) ? 'slow' : undefined);
    const dir = join(work, `crash-${n++}`);
    // Kill points chosen by watching the store: mid-download (a temp blob exists) and
    // mid-unpack (a temp rootfs exists). Each wait is bounded; a phase the poll misses is
    // reported, and the test requires both to have been hit.
    const phases: { name: string; hit: (tmp: string[]) => boolean }[] = [
      { name: 'download', hit: (tmp) => tmp.some((t) => t.startsWith('blob-')) },
      { name: 'unpack', hit: (tmp) => tmp.some((t) => t.startsWith('rootfs-')) },
    ];
    const hits: string[] = [];
    try {
      for (const phase of phases) {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', join(import.meta.dirname, 'helpers/pull-child.ts')],
          {
            env: { ...process.env, COCOON_TEST_STORE: dir, COCOON_TEST_REF: img.ref },
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
        let exitedFlag = false;
        const exited = new Promise<void>((r) =>
          child.once('exit', () => {
            exitedFlag = true;
            r();
          }),
        );
        child.stderr.resume();
        const deadline = Date.now() + 30_000;
        while (!exitedFlag && Date.now() < deadline) {
          const tmp = await readdir(join(dir, 'tmp')).catch(() => [] as string[]);
          if (phase.hit(tmp)) {
            hits.push(phase.name);
            break;
          }
          await new Promise((r) => setTimeout(r, 2));
        }
        if (!exitedFlag) process.kill(child.pid!, 'SIGKILL');
        await exited;
        await assertConsistent(dir);
      }
    } finally {
      reg.fault = () => undefined;
    }
    assert.deepEqual(hits, ['download', 'unpack'], 'both kill points were reached');
    // After all the kills, a pull completes and the image is whole.
    const store = new ImageStore(dir);
    const rec = await store.pull(img.ref);
    assert.deepEqual(
      await readFile(join(await store.rootfsPath(rec.id), 'bin/busybox')),
      await readFile(BUSYBOX_BIN),
    );
    await assertConsistent(dir);
  });
});

/** Invariants after open(): no temp files, every blob matches its name, rootfs ⇔ record. */
async function assertConsistent(dir: string): Promise<void> {
  const store = new ImageStore(dir);
  const list = await store.list();
  assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  for (const b of await readdir(join(dir, 'blobs/sha256'))) {
    const got = createHash('sha256')
      .update(await readFile(join(dir, 'blobs/sha256', b)))
      .digest('hex');
    assert.equal(got, b, 'no partial blob under its digest');
  }
  const rootfs = (await readdir(join(dir, 'rootfs'))).sort();
  assert.deepEqual(
    rootfs,
    list
      .filter((r) => r.layersPulled)
      .map((r) => r.id.slice(7))
      .sort(),
  );
  for (const r of list.filter((x) => x.layersPulled)) {
    const st = await stat(join(dir, 'rootfs', r.id.slice(7), 'bin/busybox'));
    assert.equal(st.size, (await stat(BUSYBOX_BIN)).size, 'a listed rootfs is complete');
  }
}
