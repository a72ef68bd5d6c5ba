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
