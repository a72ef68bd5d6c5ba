import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeHeader,
  encodeFrame,
  FrameDecoder,
  HEADER_SIZE,
  MESSAGE_LENGTH_MAX,
  MessageType,
  type FrameHeader,
} from '../../../src/ttrpc/frame.js';
import { throwsCode } from '../../helpers/assert-code.js';

function collect(): { frames: [FrameHeader, Buffer][]; oversize: FrameHeader[]; decoder: FrameDecoder } {
  const frames: [FrameHeader, Buffer][] = [];
  const oversize: FrameHeader[] = [];
  const decoder = new FrameDecoder({
    frame: (h, p) => frames.push([h, Buffer.from(p)]),
    oversize: (h) => oversize.push(h),
  });
  return { frames, oversize, decoder };
}

describe('frame header', () => {
  test('pass_layout_matches_protocol_md', () => {
    // length 3, stream 5, Request, flags 0x02: bytes straight from the §4.6 table.
    const f = encodeFrame(5, MessageType.REQUEST, 0x02, Buffer.from('abc'));
    assert.equal(HEADER_SIZE, 10);
    assert.deepEqual([...f], [0, 0, 0, 3, 0, 0, 0, 5, 1, 2, 0x61, 0x62, 0x63]);
    assert.deepEqual(decodeHeader(f), { length: 3, streamId: 5, type: 1, flags: 2 });
  });

  test('pass_high_stream_id_is_unsigned', () => {
    const f = encodeFrame(0xfffffffd, MessageType.DATA, 0x05, new Uint8Array(0));
    assert.equal(decodeHeader(f).streamId, 0xfffffffd);
  });

  test('fail_short_header', () => {
    throwsCode(() => decodeHeader(new Uint8Array(9)), 'ERR_TTRPC_PROTOCOL');
  });

  test('fail_payload_over_4_mib', () => {
    const e = throwsCode(
      () => encodeFrame(1, MessageType.REQUEST, 0, new Uint8Array(MESSAGE_LENGTH_MAX + 1)),
      'ERR_TTRPC_FRAME_TOO_LARGE',
    );
    assert.equal(e.details['max'], 4 << 20);
  });

  test('pass_payload_exactly_4_mib', () => {
    assert.equal(encodeFrame(1, 1, 0, new Uint8Array(MESSAGE_LENGTH_MAX)).length, MESSAGE_LENGTH_MAX + 10);
  });
});

describe('FrameDecoder', () => {
  const frames = [
    encodeFrame(1, 1, 0, Buffer.from('first')),
    encodeFrame(3, 2, 0, Buffer.alloc(0)),
    encodeFrame(5, 3, 0x05, Buffer.alloc(1000, 9)),
  ];
  const all = Buffer.concat(frames);

  for (const split of [1, 3, 10, 11, 64, all.length]) {
    test(`pass_reassembles_chunks_of_${split}`, () => {
      const c = collect();
      for (let i = 0; i < all.length; i += split) c.decoder.push(all.subarray(i, i + split));
      assert.equal(c.frames.length, 3);
      assert.equal(c.frames[0]![1].toString(), 'first');
      assert.equal(c.frames[1]![1].length, 0);
      assert.deepEqual(c.frames[2]![0], { length: 1000, streamId: 5, type: 3, flags: 5 });
      assert.equal(c.decoder.midFrame, false);
    });
  }

  test('pass_mid_frame_is_reported', () => {
    const c = collect();
    c.decoder.push(all.subarray(0, 12));
    assert.equal(c.decoder.midFrame, true);
    assert.ok(c.decoder.pendingBytes >= 0);
  });

  test('pass_oversize_payload_is_skipped_not_buffered', () => {
    const c = collect();
    const header = Buffer.alloc(10);
    header.writeUInt32BE(MESSAGE_LENGTH_MAX + 100, 0);
    header.writeUInt32BE(7, 4);
    header[8] = 1;
    c.decoder.push(header);
    assert.equal(c.oversize.length, 1);
    assert.equal(c.oversize[0]!.streamId, 7);
    // Stream the oversize body in pieces; the decoder must hold nothing back.
    let left = MESSAGE_LENGTH_MAX + 100;
    const piece = Buffer.alloc(256 * 1024);
    while (left > 0) {
      const n = Math.min(left, piece.length);
      c.decoder.push(piece.subarray(0, n));
      assert.equal(c.decoder.pendingBytes, 0);
      left -= n;
    }
    c.decoder.push(frames[0]!);
    assert.equal(c.frames.length, 1, 'the next frame decodes after the skipped one');
    assert.equal(c.frames[0]![1].toString(), 'first');
  });

  test('pass_oversize_then_frame_in_same_chunk', () => {
    const c = collect();
    const header = Buffer.alloc(10);
    header.writeUInt32BE(MESSAGE_LENGTH_MAX + 1, 0);
    header.writeUInt32BE(9, 4);
    const body = Buffer.alloc(MESSAGE_LENGTH_MAX + 1);
    c.decoder.push(Buffer.concat([header, body, frames[1]!]));
    assert.equal(c.oversize.length, 1);
    assert.equal(c.frames.length, 1);
  });

  test('pass_stop_ignores_later_input', () => {
    const c = collect();
    c.decoder.stop();
    c.decoder.push(all);
    assert.equal(c.frames.length, 0);
  });
});
