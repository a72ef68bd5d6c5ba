import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CocoonError } from '../../../src/common/errors.js';
import { Status } from '../../../src/common/status.js';
import { TtrpcClient, ttrpcStatusOf } from '../../../src/ttrpc/index.js';
import { Flags, MessageType } from '../../../src/ttrpc/frame.js';
import { decodeResponse, encodeRequest, encodeResponse } from '../../../src/ttrpc/messages.js';
import { rejectsCode } from '../../helpers/assert-code.js';
import { delay, RawPeer, rawServer, startServer, waitFor } from './fixture.js';

const SVC = 'cocoon.test.Streams';
const b = (s: string): Buffer => Buffer.from(s);
const str = (u: Uint8Array): string => Buffer.from(u).toString();

async function drain(it: AsyncIterable<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const m of it) out.push(str(m));
  return out;
}

describe('streaming calls (ttrpc 1.2)', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  let client: TtrpcClient;
  let cancelledStreams = 0;

  before(async () => {
    srv = await startServer((s) => {
      // Server streaming: the Request payload is the count.
      s.registerStream(
        SVC,
        'Count',
        async (stream) => {
          let n = 0;
          for await (const m of stream) n = Number(str(m));
          for (let i = 0; i < n; i++) await stream.send(b(`n${i}`));
          return undefined;
        },
        { streamingClient: false, streamingServer: true },
      );
      s.registerStream(
        SVC,
        'CountThenFail',
        async (stream) => {
          await stream.send(b('one'));
          throw new CocoonError('ERR_COMMON_INVALID_ARGUMENT', 'bad after one');
        },
        { streamingClient: false, streamingServer: true },
      );
      s.registerStream(
        SVC,
        'Endless',
        async (stream, ctx) => {
          ctx.signal.addEventListener('abort', () => cancelledStreams++);
          while (!ctx.signal.aborted) {
            await stream.send(b('tick'));
            await delay(5);
          }
          return undefined;
        },
        { streamingClient: false, streamingServer: true },
      );
      s.registerStream(
        SVC,
        'LastWithData',
        async (stream) => {
          await stream.send(b('a'));
          return b('z');
        },
        { streamingClient: false, streamingServer: true },
      );
      // Client streaming: concatenates what it receives.
      s.registerStream(
        SVC,
        'Join',
        async (stream) => {
          const parts: string[] = [];
          for await (const m of stream) parts.push(str(m));
          return b(parts.join('+'));
        },
        { streamingClient: true, streamingServer: false },
      );
      s.registerStream(
        SVC,
        'JoinSend',
        async (stream) => {
          await stream.send(b('x'));
          return b('');
        },
        { streamingClient: true, streamingServer: false },
      );
      // Bidi: echoes each message upper-cased.
      s.registerStream(
        SVC,
        'Upper',
        async (stream) => {
          for await (const m of stream) await stream.send(b(str(m).toUpperCase()));
          return undefined;
        },
        { streamingClient: true, streamingServer: true },
      );
    });
    client = await TtrpcClient.connect(srv.address);
  });
  after(async () => {
    await client.close();
    await srv.close();
  });

  test('pass_server_stream', async () => {
    assert.deepEqual(await drain(client.serverStream(SVC, 'Count', b('3'))), ['n0', 'n1', 'n2']);
    assert.deepEqual(await drain(client.serverStream(SVC, 'Count', b('0'))), []);
  });

  test('pass_server_stream_final_data_message', async () => {
    assert.deepEqual(await drain(client.serverStream(SVC, 'LastWithData', b(''))), ['a', 'z']);
  });

  test('fail_server_stream_error_after_messages', async () => {
    const got: string[] = [];
    const e = await rejectsCode(async () => {
      for await (const m of client.serverStream(SVC, 'CountThenFail', b(''))) got.push(str(m));
    }, 'ERR_TTRPC_STATUS');
    assert.deepEqual(got, ['one']);
    assert.deepEqual(ttrpcStatusOf(e), { code: Status.INVALID_ARGUMENT, message: 'bad after one' });
  });

  test('pass_server_stream_early_break_then_deadline_aborts_server', async () => {
    let seen = 0;
    for await (const m of client.serverStream(SVC, 'Endless', b(''), { timeoutMs: 150 })) {
      assert.equal(str(m), 'tick');
      if (++seen === 3) break;
    }
    assert.ok(await waitFor(() => cancelledStreams === 1), 'timeout_nano stopped the server handler');
    assert.equal(client.activeStreams, 0);
  });

  test('fail_server_stream_unknown_method', async () => {
    const e = await rejectsCode(drain(client.serverStream(SVC, 'Nope', b(''))), 'ERR_TTRPC_STATUS');
    assert.equal(ttrpcStatusOf(e)?.code, Status.UNIMPLEMENTED);
  });

  test('pass_client_stream', async () => {
    const call = client.clientStream(SVC, 'Join');
    await call.send(b('a'));
    await call.send(b('b'));
    await call.send(b(''));
    assert.equal(str(await call.closeAndRecv()), 'a+b+');
    const empty = client.clientStream(SVC, 'Join');
    assert.equal(str(await empty.closeAndRecv()), '');
  });

  test('fail_client_stream_send_after_close', async () => {
    const call = client.clientStream(SVC, 'Join');
    assert.equal(str(await call.closeAndRecv()), '');
    await rejectsCode(call.send(b('late')), 'ERR_TTRPC_STREAM_CLOSED');
    assert.equal(str(await call.closeAndRecv()), '', 'closeAndRecv is idempotent');
  });

  test('fail_client_stream_unknown_method', async () => {
    const call = client.clientStream(SVC, 'Nope');
    await rejectsCode(call.closeAndRecv(), 'ERR_TTRPC_STATUS');
    await rejectsCode(call.send(b('x')), 'ERR_TTRPC_STATUS');
  });

  test('fail_server_send_on_client_stream_method', async () => {
    const call = client.clientStream(SVC, 'JoinSend');
    const e = await rejectsCode(call.closeAndRecv(), 'ERR_TTRPC_STATUS');
    assert.equal(ttrpcStatusOf(e)?.code, Status.INTERNAL);
  });

  test('pass_bidi', async () => {
    const call = client.bidi(SVC, 'Upper');
    const received = drain(call);
    await call.send(b('x'));
    await call.send(b('yz'));
    await call.closeSend();
    await call.closeSend();
    assert.deepEqual(await received, ['X', 'YZ']);
    await rejectsCode(call.send(b('late')), 'ERR_TTRPC_STREAM_CLOSED');
  });

  test('pass_interleaved_streams_and_unary_on_one_connection', async () => {
    const a = client.bidi(SVC, 'Upper');
    const ra = drain(a);
    const counts = drain(client.serverStream(SVC, 'Count', b('5')));
    const join = client.clientStream(SVC, 'Join');
    await a.send(b('p'));
    await join.send(b('q'));
    await a.closeSend();
    assert.deepEqual(await ra, ['P']);
    assert.equal(str(await join.closeAndRecv()), 'q');
    assert.equal((await counts).length, 5);
  });

  test('fail_stream_calls_on_closed_client', async () => {
    const c2 = await TtrpcClient.connect(srv.address);
    await c2.close();
    await rejectsCode(drain(c2.serverStream(SVC, 'Count', b('1'))), 'ERR_TTRPC_CONNECTION_CLOSED');
    await rejectsCode(c2.clientStream(SVC, 'Join').closeAndRecv(), 'ERR_TTRPC_CONNECTION_CLOSED');
    const bd = c2.bidi(SVC, 'Upper');
    await rejectsCode(bd.send(b('x')), 'ERR_TTRPC_CONNECTION_CLOSED');
    await rejectsCode(drain(bd), 'ERR_TTRPC_CONNECTION_CLOSED');
  });
});

describe('streaming frames on the wire (what a Go peer sends and expects)', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    srv = await startServer((s) => {
      s.registerStream(
        SVC,
        'Count',
        async (stream) => {
          let n = 0;
          for await (const m of stream) n = Number(str(m));
          for (let i = 0; i < n; i++) await stream.send(b(`n${i}`));
          return undefined;
        },
        { streamingClient: false, streamingServer: true },
      );
      s.registerStream(
        SVC,
        'Join',
        async (stream) => {
          const parts: string[] = [];
          for await (const m of stream) parts.push(str(m));
          return b(parts.join('+'));
        },
        { streamingClient: true, streamingServer: false },
      );
    });
  });
  after(() => srv.close());

  test('pass_server_stream_ends_with_data_0x05', async () => {
    const peer = await RawPeer.connect(srv.path);
    peer.send(
      1,
      MessageType.REQUEST,
      Flags.REMOTE_CLOSED,
      encodeRequest({ service: SVC, method: 'Count', payload: b('2') }),
    );
    const end = await peer.waitFrame(
      (f) => f.h.type === MessageType.DATA && (f.h.flags & Flags.REMOTE_CLOSED) !== 0,
    );
    assert.equal(end.h.flags, 0x05);
    assert.equal(end.p.length, 0);
    const data = peer.frames
      .filter((f) => f.h.type === MessageType.DATA && f.h.flags === 0)
      .map((f) => str(f.p));
    assert.deepEqual(data, ['n0', 'n1']);
    peer.close();
  });

  test('pass_client_stream_with_payload_in_request_and_data_frames', async () => {
    const peer = await RawPeer.connect(srv.path);
    peer.send(
      1,
      MessageType.REQUEST,
      Flags.REMOTE_OPEN,
      encodeRequest({ service: SVC, method: 'Join', payload: b('r') }),
    );
    peer.send(1, MessageType.DATA, 0, b('d1'));
    peer.send(1, MessageType.DATA, Flags.NO_DATA, new Uint8Array(0));
    peer.send(1, MessageType.DATA, Flags.REMOTE_CLOSED | Flags.NO_DATA, new Uint8Array(0));
    const resp = await peer.waitFrame((f) => f.h.type === MessageType.RESPONSE);
    assert.equal(str(decodeResponse(resp.p).payload), 'r+d1');
    peer.close();
  });

  test('fail_close_message_with_data', async () => {
    const peer = await RawPeer.connect(srv.path);
    peer.send(1, MessageType.REQUEST, Flags.REMOTE_OPEN, encodeRequest({ service: SVC, method: 'Join' }));
    peer.send(1, MessageType.DATA, Flags.REMOTE_CLOSED, b('oops'));
    const resp = await peer.waitFrame((f) => f.h.type === MessageType.RESPONSE);
    assert.deepEqual(decodeResponse(resp.p).status, {
      code: Status.INVALID_ARGUMENT,
      message: 'data close message cannot include data',
    });
    peer.close();
  });

  test('fail_data_after_client_closed', async () => {
    const peer = await RawPeer.connect(srv.path);
    // A server-streaming call's receive side is closed from the start.
    peer.send(
      1,
      MessageType.REQUEST,
      Flags.REMOTE_CLOSED,
      encodeRequest({ service: SVC, method: 'Count', payload: b('100000') }),
    );
    peer.send(1, MessageType.DATA, 0, b('more'));
    const resp = await peer.waitFrame((f) => f.h.type === MessageType.RESPONSE);
    assert.equal(decodeResponse(resp.p).status?.code, Status.INVALID_ARGUMENT);
    peer.close();
  });

  test('pass_client_reads_go_style_stream_frames', async () => {
    // A scripted server: Data, a no-data Data, then Data 0x05.
    const raw = await rawServer((peer) => {
      peer.socket.on('data', () => {
        const f = peer.frames.shift();
        if (f === undefined) return;
        peer.send(f.h.streamId, MessageType.DATA, 0, b('m1'));
        peer.send(f.h.streamId, MessageType.DATA, Flags.NO_DATA, new Uint8Array(0));
        peer.send(f.h.streamId, MessageType.DATA, Flags.REMOTE_CLOSED | Flags.NO_DATA, new Uint8Array(0));
      });
    });
    const client = await TtrpcClient.connect(raw.address);
    assert.deepEqual(await drain(client.serverStream('s', 'm', b(''))), ['m1']);
    await client.close();
    await raw.close();
  });

  test('pass_client_stream_ok_response_ends_bidi', async () => {
    const raw = await rawServer((peer) => {
      peer.socket.on('data', () => {
        const f = peer.frames.shift();
        if (f === undefined || f.h.type !== MessageType.REQUEST) return;
        peer.send(f.h.streamId, MessageType.RESPONSE, 0, encodeResponse(undefined, b('fin')));
      });
    });
    const client = await TtrpcClient.connect(raw.address);
    assert.deepEqual(await drain(client.bidi('s', 'm')), ['fin']);
    await client.close();
    await raw.close();
  });
});
