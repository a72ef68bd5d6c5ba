import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../src/common/status.js';
import { TtrpcClient } from '../../../src/ttrpc/index.js';
import { Flags, MessageType, MESSAGE_LENGTH_MAX } from '../../../src/ttrpc/frame.js';
import { decodeResponse, encodeRequest, encodeResponse } from '../../../src/ttrpc/messages.js';
import { rejectsCode } from '../../helpers/assert-code.js';
import { delay, RawPeer, rawServer, startServer, waitFor } from './fixture.js';

const SVC = 'cocoon.test.Echo';
const b = (s: string): Buffer => Buffer.from(s);
const echoReq = (text: string): Uint8Array =>
  encodeRequest({ service: SVC, method: 'Echo', payload: b(text) });

async function statusOn(peer: RawPeer, id: number): Promise<{ code: number; message: string } | undefined> {
  const f = await peer.waitFrame((x) => x.h.type === MessageType.RESPONSE && x.h.streamId === id);
  return decodeResponse(f.p).status;
}

describe('server: bad frames cost only their own stream', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    srv = await startServer((s) => s.register(SVC, 'Echo', async (p) => p));
  });
  after(() => srv.close());

  const cases: { name: string; send: (p: RawPeer) => void; id: number; code: number; message?: RegExp }[] = [
    {
      name: 'fail_even_stream_id',
      send: (p) => p.send(2, MessageType.REQUEST, 0, echoReq('x')),
      id: 2,
      code: Status.INVALID_ARGUMENT,
      message: /must be odd/,
    },
    {
      name: 'fail_garbled_request_payload',
      send: (p) => p.send(1, MessageType.REQUEST, 0, Buffer.from([0x0a, 0x7f, 0x01])),
      id: 1,
      code: Status.INVALID_ARGUMENT,
      message: /^unmarshal request error/,
    },
    {
      name: 'fail_data_for_unknown_stream',
      send: (p) => p.send(41, MessageType.DATA, 0, b('x')),
      id: 41,
      code: Status.INVALID_ARGUMENT,
      message: /no longer active/,
    },
    {
      name: 'fail_reused_stream_id',
      send: (p) => {
        p.send(5, MessageType.REQUEST, 0, echoReq('a'));
        p.send(5, MessageType.REQUEST, 0, echoReq('b'));
      },
      id: 5,
      code: Status.INVALID_ARGUMENT,
      message: /re-used/,
    },
    {
      name: 'fail_oversize_frame_is_resource_exhausted',
      send: (p) => {
        const h = Buffer.alloc(10);
        h.writeUInt32BE(MESSAGE_LENGTH_MAX + 10, 0);
        h.writeUInt32BE(7, 4);
        h[8] = MessageType.REQUEST;
        p.socket.write(h);
        p.socket.write(Buffer.alloc(MESSAGE_LENGTH_MAX + 10, 0xaa));
      },
      id: 7,
      code: Status.RESOURCE_EXHAUSTED,
      message: /exceed maximum message size of 4194304/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const peer = await RawPeer.connect(srv.path);
      c.send(peer);
      const st = await statusOn(peer, c.id);
      assert.equal(st?.code, c.code);
      if (c.message !== undefined) assert.match(st!.message, c.message);
      // The connection survives: a good request on a higher id is answered.
      peer.send(101, MessageType.REQUEST, 0, echoReq('after'));
      const ok = await peer.waitFrame((f) => f.h.streamId === 101);
      assert.equal(Buffer.from(decodeResponse(ok.p).payload).toString(), 'after');
      peer.close();
    });
  }

  test('pass_unknown_message_type_and_response_frames_are_ignored', async () => {
    const peer = await RawPeer.connect(srv.path);
    peer.send(1, 0x09, 0xff, b('future'));
    peer.send(3, MessageType.RESPONSE, 0, encodeResponse(undefined, b('x')));
    peer.send(5, MessageType.REQUEST, 0, echoReq('ok'));
    const f = await peer.waitFrame(() => true);
    assert.equal(f.h.streamId, 5);
    peer.close();
  });

  test('pass_peer_closing_mid_frame_frees_the_connection', async () => {
    const peer = await RawPeer.connect(srv.path);
    assert.ok(await waitFor(() => srv.server.connectionCount >= 1));
    const full = Buffer.concat([Buffer.from([0, 0, 0, 50, 0, 0, 0, 1, 1, 0]), Buffer.alloc(20)]);
    peer.socket.end(full);
    await peer.waitClosed();
    assert.ok(await waitFor(() => srv.server.connectionCount === 0), 'the connection was released');
  });

  test('pass_server_deadline_from_timeout_nano', async () => {
    const srv2 = await startServer((s) =>
      s.register(
        SVC,
        'Hang',
        (_p, ctx) =>
          new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('x')))),
      ),
    );
    const peer = await RawPeer.connect(srv2.path);
    peer.send(
      1,
      MessageType.REQUEST,
      0,
      encodeRequest({ service: SVC, method: 'Hang', timeoutNano: 40_000_000 }),
    );
    const t0 = Date.now();
    const st = await statusOn(peer, 1);
    assert.equal(st?.code, Status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - t0 < 1000);
    // A negative timeout_nano is a deadline already passed (context.WithTimeout in Go).
    peer.send(3, MessageType.REQUEST, 0, encodeRequest({ service: SVC, method: 'Hang', timeoutNano: -1 }));
    assert.equal((await statusOn(peer, 3))?.code, Status.DEADLINE_EXCEEDED);
    await delay(30);
    assert.equal(peer.frames.filter((f) => f.h.streamId === 1).length, 1, 'no late second response');
    peer.close();
    await srv2.close();
  });
});

describe('client: a misbehaving server', () => {
  /** A scripted server: `reply(peer, requestStreamId, n)` answers the n-th request. */
  async function scripted(
    reply: (p: RawPeer, id: number, n: number, flags: number) => void,
  ): Promise<{ client: TtrpcClient; close: () => Promise<void> }> {
    let n = 0;
    const raw = await rawServer((peer) => {
      peer.socket.on('data', () => {
        for (const f of peer.frames.splice(0))
          if (f.h.type === MessageType.REQUEST) reply(peer, f.h.streamId, n++, f.h.flags);
      });
    });
    const client = await TtrpcClient.connect(raw.address);
    return {
      client,
      close: async () => {
        await client.close();
        await raw.close();
      },
    };
  }

  test('fail_garbled_response_fails_only_that_call', async () => {
    const s = await scripted((p, id, n) =>
      p.send(
        id,
        MessageType.RESPONSE,
        0,
        n === 0 ? Buffer.from([0x0a, 0x50]) : encodeResponse(undefined, b('good')),
      ),
    );
    await rejectsCode(s.client.unary('s', 'm', b('')), 'ERR_TTRPC_MESSAGE_INVALID');
    assert.equal(Buffer.from(await s.client.unary('s', 'm', b(''))).toString(), 'good');
    await s.close();
  });

  test('fail_data_frame_on_unary_is_protocol_error', async () => {
    const s = await scripted((p, id) => p.send(id, MessageType.DATA, 0, b('x')));
    await rejectsCode(s.client.unary('s', 'm', b('')), 'ERR_TTRPC_PROTOCOL');
    await s.close();
  });

  test('pass_frames_for_unknown_and_even_streams_are_ignored', async () => {
    const s = await scripted((p, id) => {
      p.send(999, MessageType.RESPONSE, 0, encodeResponse(undefined, b('stray')));
      p.send(2, MessageType.DATA, 0, b('server-initiated'));
      p.send(id, MessageType.RESPONSE, 0, encodeResponse(undefined, b('mine')));
    });
    assert.equal(Buffer.from(await s.client.unary('s', 'm', b(''))).toString(), 'mine');
    assert.equal(s.client.ignoredFrames, 2);
    await s.close();
  });

  test('fail_oversize_response_then_connection_survives', async () => {
    const s = await scripted((p, id, n) => {
      if (n === 0) {
        const h = Buffer.alloc(10);
        h.writeUInt32BE(MESSAGE_LENGTH_MAX + 1, 0);
        h.writeUInt32BE(id, 4);
        h[8] = MessageType.RESPONSE;
        p.socket.write(Buffer.concat([h, Buffer.alloc(MESSAGE_LENGTH_MAX + 1)]));
      } else p.send(id, MessageType.RESPONSE, 0, encodeResponse(undefined, b('next')));
    });
    const e = await rejectsCode(s.client.unary('s', 'm', b('')), 'ERR_TTRPC_FRAME_TOO_LARGE');
    assert.equal(e.details['length'], MESSAGE_LENGTH_MAX + 1);
    assert.equal(Buffer.from(await s.client.unary('s', 'm', b(''))).toString(), 'next');
    await s.close();
  });

  test('fail_oversize_on_a_stream', async () => {
    const s = await scripted((p, id) => {
      const h = Buffer.alloc(10);
      h.writeUInt32BE(0xffffffff, 0);
      h.writeUInt32BE(id, 4);
      h[8] = MessageType.DATA;
      p.socket.write(h);
    });
    await rejectsCode(async () => {
      for await (const _ of s.client.serverStream('s', 'm', b(''))) assert.fail('no message expected');
    }, 'ERR_TTRPC_FRAME_TOO_LARGE');
    await s.close();
  });

  test('fail_server_closing_mid_frame', async () => {
    const s = await scripted((p, id) => {
      const f = Buffer.concat([
        Buffer.from([0, 0, 0, 40]),
        Buffer.alloc(4),
        Buffer.from([MessageType.RESPONSE, 0]),
        Buffer.alloc(5),
      ]);
      f.writeUInt32BE(id, 4);
      p.socket.end(f);
    });
    const e = await rejectsCode(s.client.unary('s', 'm', b('')), 'ERR_TTRPC_CONNECTION_CLOSED');
    assert.equal(e.details['midFrame'], true);
    await s.close();
  });

  test('fail_unexpected_type_on_stream', async () => {
    const s = await scripted((p, id) => p.send(id, 0x07, 0, b('')));
    await rejectsCode(async () => {
      for await (const _ of s.client.serverStream('s', 'm', b(''))) assert.fail('no message expected');
    }, 'ERR_TTRPC_PROTOCOL');
    await s.close();
  });

  test('fail_garbled_response_on_stream_and_client_stream', async () => {
    const s = await scripted((p, id) => p.send(id, MessageType.RESPONSE, 0, Buffer.from([0xff])));
    await rejectsCode(async () => {
      for await (const _ of s.client.serverStream('s', 'm', b(''))) assert.fail('no message expected');
    }, 'ERR_TTRPC_MESSAGE_INVALID');
    await rejectsCode(s.client.clientStream('s', 'm').closeAndRecv(), 'ERR_TTRPC_MESSAGE_INVALID');
    await s.close();
  });

  test('fail_client_stream_error_status_and_oversize', async () => {
    const s = await scripted((p, id, n) => {
      if (n === 0)
        p.send(id, MessageType.RESPONSE, 0, encodeResponse({ code: Status.NOT_FOUND, message: 'gone' }));
      else {
        const h = Buffer.alloc(10);
        h.writeUInt32BE(MESSAGE_LENGTH_MAX + 1, 0);
        h.writeUInt32BE(id, 4);
        h[8] = MessageType.RESPONSE;
        p.socket.write(h);
      }
    });
    const c1 = s.client.clientStream('s', 'm');
    await rejectsCode(c1.closeAndRecv(), 'ERR_TTRPC_STATUS');
    const c2 = s.client.clientStream('s', 'm', { timeoutMs: 2000 });
    await rejectsCode(c2.closeAndRecv(), 'ERR_TTRPC_FRAME_TOO_LARGE');
    await s.close();
  });

  test('fail_deadline_on_streams', async () => {
    const s = await scripted(() => undefined);
    await rejectsCode(async () => {
      for await (const _ of s.client.serverStream('s', 'm', b(''), { timeoutMs: 30 }))
        assert.fail('no message expected');
    }, 'ERR_TTRPC_DEADLINE_EXCEEDED');
    const bidi = s.client.bidi('s', 'm', { timeoutMs: 30 });
    await rejectsCode(async () => {
      for await (const _ of bidi) assert.fail('no message expected');
    }, 'ERR_TTRPC_DEADLINE_EXCEEDED');
    await rejectsCode(bidi.send(b('x')), 'ERR_TTRPC_STREAM_CLOSED');
    await rejectsCode(bidi.closeSend(), 'ERR_TTRPC_STREAM_CLOSED');
    await s.close();
  });

  test('pass_request_flags_for_each_kind', async () => {
    const seen: number[] = [];
    const s = await scripted((p, id, _n, flags) => {
      seen.push(flags);
      p.send(id, MessageType.RESPONSE, 0, encodeResponse({ code: 1, message: 'stop' }));
    });
    await rejectsCode(s.client.unary('s', 'm', b('')), 'ERR_TTRPC_STATUS');
    await rejectsCode(async () => {
      for await (const _ of s.client.serverStream('s', 'm', b(''))) assert.fail();
    }, 'ERR_TTRPC_STATUS');
    await rejectsCode(s.client.clientStream('s', 'm').closeAndRecv(), 'ERR_TTRPC_STATUS');
    const bd = s.client.bidi('s', 'm');
    await rejectsCode(async () => {
      for await (const _ of bd) assert.fail();
    }, 'ERR_TTRPC_STATUS');
    assert.deepEqual(seen, [0, Flags.REMOTE_CLOSED, Flags.REMOTE_OPEN, Flags.REMOTE_OPEN]);
    await s.close();
  });
});
