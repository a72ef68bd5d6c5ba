import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader, fromHex, isZero, requireLength, toHex } from '../../../src/common/bytes.js';
import { fixedClock, systemClock } from '../../../src/common/clock.js';
import { throwsCode } from '../../helpers/assert-code.js';

test('ByteReader reads little and big endian fields and copies its input', () => {
  const src = Buffer.from('0102030405060708090a0b0c0d0e0f101112131415', 'hex');
  const r = new ByteReader(src);
  assert.equal(r.u8('a'), 1);
  assert.equal(r.u16le('b'), 0x0302);
  assert.equal(r.u32le('c'), 0x07060504);
  assert.equal(r.u32be('d'), 0x08090a0b);
  assert.equal(r.u64le('e'), 0x131211100f0e0d0cn);
  const b = r.bytes(1, 'f');
  src[20] = 0xff;
  assert.equal(b[0], 0x14, 'bytes() must copy');
  assert.equal(r.offset, 20);
  assert.equal(r.remaining, 1);
  r.skip(1, 'g');
  assert.equal(r.remaining, 0);
});

test('ByteReader refuses to read past the end with ERR_COMMON_BYTES_SHORT', () => {
  const r = new ByteReader(new Uint8Array(3));
  const e = throwsCode(() => r.u32le('field_x'), 'ERR_COMMON_BYTES_SHORT');
  assert.equal(e.details['what'], 'field_x');
  throwsCode(() => r.bytes(-1, 'neg'), 'ERR_COMMON_BYTES_SHORT');
  throwsCode(() => r.skip(4, 's'), 'ERR_COMMON_BYTES_SHORT');
  throwsCode(() => r.u64le('q'), 'ERR_COMMON_BYTES_SHORT');
  throwsCode(() => r.u32be('q'), 'ERR_COMMON_BYTES_SHORT');
  throwsCode(() => new ByteReader(new Uint8Array(1)).u16le('q'), 'ERR_COMMON_BYTES_SHORT');
  r.skip(3, 'all');
  throwsCode(() => r.u8('q'), 'ERR_COMMON_BYTES_SHORT');
  throwsCode(() => requireLength(new Uint8Array(2), 3, 'x'), 'ERR_COMMON_BYTES_SHORT');
  requireLength(new Uint8Array(3), 3, 'x');
});

test('hex helpers are strict', () => {
  assert.equal(toHex(new Uint8Array([0, 255, 16])), '00ff10');
  assert.deepEqual([...fromHex('00FF10')], [0, 255, 16]);
  throwsCode(() => fromHex('abc'), 'ERR_COMMON_INVALID_ARGUMENT');
  throwsCode(() => fromHex('zz'), 'ERR_COMMON_INVALID_ARGUMENT');
  assert.ok(isZero(new Uint8Array(4)));
  assert.ok(!isZero(new Uint8Array([0, 1])));
  assert.ok(isZero(new Uint8Array([1, 0, 0]), 1));
});

test('clocks', () => {
  assert.equal(fixedClock('2025-07-19T10:00:34Z').now().toISOString(), '2025-07-19T10:00:34.000Z');
  assert.throws(() => fixedClock('not a date'), TypeError);
  assert.ok(Math.abs(systemClock.now().getTime() - Date.now()) < 1000);
});
