/** The state store: round trip, torn tails cut off, corrupt snapshots refused, compaction, replay idempotence. */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeRecords,
  encodeRecord,
  RECORD_CRC_OFFSET,
  RECORD_HEADER_SIZE,
  StateStore,
} from '../../../src/cri/state/store.js';
import { rejectsCode } from '../../helpers/assert-code.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'cocoon-store-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('record framing', () => {
  test('pass_encode_decode_round_trip', () => {
    const recs = [
      { op: 'put' as const, kind: 'pod', id: 'a', value: { x: 1, s: 'é☃' } },
      { op: 'del' as const, kind: 'pod', id: 'a' },
    ];
    const buf = Buffer.concat(recs.map(encodeRecord));
    const d = decodeRecords(buf);
    assert.deepEqual(d.records, recs);
    assert.equal(d.validBytes, buf.length);
  });
  const good = encodeRecord({ op: 'put', kind: 'k', id: 'i', value: 1 });
  const cases: { name: string; mutate: (b: Buffer) => Buffer; valid: number }[] = [
    { name: 'fail_torn_header', mutate: (b) => b.subarray(0, RECORD_HEADER_SIZE - 1), valid: 0 },
    { name: 'fail_torn_payload', mutate: (b) => b.subarray(0, b.length - 1), valid: 0 },
    {
      name: 'fail_crc_byte_flipped',
      mutate: (b) => {
        const c = Buffer.from(b);
        c[RECORD_CRC_OFFSET] ^= 1;
        return c;
      },
      valid: 0,
    },
    {
      name: 'fail_payload_byte_flipped',
      mutate: (b) => {
        const c = Buffer.from(b);
        c[RECORD_HEADER_SIZE + 2] ^= 0x20;
        return c;
      },
      valid: 0,
    },
    {
      name: 'fail_length_huge',
      mutate: (b) => {
        const c = Buffer.from(b);
        c.writeUInt32BE(0xffffffff, 0);
        return c;
      },
      valid: 0,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const buf = Buffer.concat([good, c.mutate(good)]);
      const d = decodeRecords(buf);
      assert.equal(d.records.length, 1, 'the good record before the damage survives');
      assert.equal(d.validBytes, good.length + c.valid);
    });
  }
});

describe('StateStore', () => {
  test('pass_reopen_sees_every_acknowledged_write', async () => {
    const d = tmp();
    const s = await StateStore.open(d);
    await Promise.all(Array.from({ length: 50 }, (_, i) => s.put('pod', `p${i}`, { i })));
    await s.delete('pod', 'p3');
    await s.close();
    const r = await StateStore.open(d);
    assert.equal(r.all('pod').length, 49);
    assert.equal(r.get('pod', 'p3'), undefined);
    assert.deepEqual(r.get('pod', 'p7'), { i: 7 });
    await r.close();
  });

  test('pass_sequential_writes_without_fsync_never_stall', async () => {
    // With fsync off a batch completes without waiting on the disk: each awaited write must
    // still start a fresh flush (a stale "flushing" marker would hang the second one).
    const d = tmp();
    const s = await StateStore.open(d, { fsync: false });
    for (let i = 0; i < 200; i++) await s.put('pod', `p${i % 7}`, { i });
    await s.delete('pod', 'p0');
    await s.close();
    const r = await StateStore.open(d);
    assert.equal(r.all('pod').length, 6);
    assert.deepEqual(r.get('pod', 'p6'), { i: 195 });
    await r.close();
  });

  test('pass_same_tick_writers_share_one_ordered_batch', async () => {
    // Group commit: writes issued together are appended in issue order (the CRI server deletes
    // a pod's containers and then the pod this way, in one fdatasync).
    const d = tmp();
    const s = await StateStore.open(d);
    await s.put('pod', 'p', { v: 1 });
    await s.put('ctr', 'c', { v: 2 });
    await Promise.all([s.delete('ctr', 'c'), s.delete('pod', 'p'), s.put('pod', 'q', { v: 3 })]);
    await s.close();
    const log = decodeRecords(readFileSync(join(d, 'log')));
    assert.deepEqual(
      log.records.map((r) => `${r.op}:${r.kind}:${r.id}`),
      ['put:pod:p', 'put:ctr:c', 'del:ctr:c', 'del:pod:p', 'put:pod:q'],
    );
  });

  test('fail_write_after_close_is_typed', async () => {
    const d = tmp();
    const s = await StateStore.open(d, { fsync: false });
    await s.close();
    await rejectsCode(s.put('pod', 'late', 1), 'ERR_CRI_STORE_IO');
  });

  test('pass_torn_tail_is_truncated_and_writes_continue', async () => {
    const d = tmp();
    const s = await StateStore.open(d);
    await s.put('pod', 'a', 1);
    await s.close();
    // A write cut short by kill -9: half a record at the end of the log.
    const rec = encodeRecord({ op: 'put', kind: 'pod', id: 'b', value: 2 });
    appendFileSync(join(d, 'log'), rec.subarray(0, 7));
    const r = await StateStore.open(d);
    assert.equal(r.recovery.truncatedBytes, 7);
    assert.deepEqual(r.all('pod'), [1]);
    await r.put('pod', 'c', 3);
    await r.close();
    const again = await StateStore.open(d);
    assert.deepEqual(again.all('pod').sort(), [1, 3]);
    await again.close();
  });

  test('pass_compaction_keeps_state_and_shrinks_log', async () => {
    const d = tmp();
    const s = await StateStore.open(d, { compactSlack: 10 });
    for (let i = 0; i < 100; i++) await s.put('ctr', 'same', { i });
    await s.close();
    assert.ok(existsSync(join(d, 'snapshot')));
    assert.ok(readFileSync(join(d, 'log')).length < 100 * RECORD_HEADER_SIZE, 'log was compacted');
    const r = await StateStore.open(d);
    assert.deepEqual(r.get('ctr', 'same'), { i: 99 });
    await r.close();
  });

  test('pass_replaying_log_over_snapshot_is_idempotent', async () => {
    const d = tmp();
    const s = await StateStore.open(d);
    await s.put('pod', 'x', 1);
    await s.put('pod', 'y', 2);
    await s.delete('pod', 'x');
    await s.compact();
    await s.close();
    // Crash between the snapshot rename and the log reset: the old log is still there.
    writeFileSync(
      join(d, 'log'),
      Buffer.concat([
        encodeRecord({ op: 'put', kind: 'pod', id: 'x', value: 1 }),
        encodeRecord({ op: 'put', kind: 'pod', id: 'y', value: 2 }),
        encodeRecord({ op: 'del', kind: 'pod', id: 'x' }),
      ]),
    );
    const r = await StateStore.open(d);
    assert.deepEqual(r.all('pod'), [2]);
    await r.close();
  });

  test('fail_corrupt_snapshot_is_refused', async () => {
    const d = tmp();
    const s = await StateStore.open(d);
    await s.put('pod', 'x', 1);
    await s.compact();
    await s.close();
    const snap = readFileSync(join(d, 'snapshot'));
    snap[snap.length - 2] ^= 0xff;
    writeFileSync(join(d, 'snapshot'), snap);
    await rejectsCode(StateStore.open(d), 'ERR_CRI_STORE_CORRUPT');
  });
});
