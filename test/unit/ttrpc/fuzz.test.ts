/**
 * Fuzz-style robustness: thousands of random and garbled frames against the server and the
 * client, in bounded time. Only typed errors may come out; the server keeps serving. The PRNG is
 * seeded (randomness injected), so a failure replays exactly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CocoonError } from '../../../src/common/errors.js';
import { TtrpcClient } from '../../../src/ttrpc/index.js';
import { encodeFrame, HEADER_SIZE, MessageType } from '../../../src/ttrpc/frame.js';
import { decodeResponse, encodeRequest, encodeResponse } from '../../../src/ttrpc/messages.js';
import { RawPeer, rawServer, startServer, waitFor } from './fixture.js';
import { prng } from '../../helpers/prng.js';

const SEED = Number(process.env['COCOON_FUZZ_SEED'] ?? 0x5eed);
const SVC = 'cocoon.test.Echo';

function randomBytes(rnd: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => {
  unhandled.push(e);
};

describe(`fuzz (seed ${SEED})`, () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    srv = await startServer((s) => {
      s.register(SVC, 'Echo', async (p) => p);
      s.registerStream(
        SVC,
        'Bidi',
        async (st) => {
          for await (const m of st) await st.send(m);
          return undefined;
        },
        { streamingClient: true, streamingServer: true },
      );
    });
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await srv.close();
  });

  test('pass_server_survives_5000_garbled_frames_on_one_connection', async () => {
    const rnd = prng(SEED);
    const peer = await RawPeer.connect(srv.path);
    const valid = encodeRequest({
      service: SVC,
      method: 'Echo',
      payload: Buffer.from('fuzz'),
      timeoutNano: 1e9,
    });
    const chunks: Buffer[] = [];
    let id = 1;
    for (let i = 0; i < 5000; i++) {
      const kind = rnd();
      let payload: Buffer;
      if (kind < 0.4) {
        // A valid Request with a few bytes flipped.
        payload = Buffer.from(valid);
        const flips = 1 + Math.floor(rnd() * 3);
        for (let k = 0; k < flips; k++) payload[Math.floor(rnd() * payload.length)] = Math.floor(rnd() * 256);
      } else if (kind < 0.5) {
        payload = Buffer.from(valid);
      } else {
        payload = randomBytes(rnd, Math.floor(rnd() * 256));
      }
      const type = rnd() < 0.9 ? 1 + Math.floor(rnd() * 3) : Math.floor(rnd() * 256);
      const flags = Math.floor(rnd() * 256);
      const sid = rnd() < 0.8 ? (id += 2) : Math.floor(rnd() * 0xffff);
      chunks.push(encodeFrame(sid, type, flags, payload));
    }
    const all = Buffer.concat(chunks);
    // Random chunking exercises the decoder's reassembly.
    for (let off = 0; off < all.length;) {
      const n = 1 + Math.floor(rnd() * 4096);
      peer.socket.write(all.subarray(off, off + n));
      off += n;
    }
    const probeId = 0xfffffff1;
    peer.send(
      probeId,
      MessageType.REQUEST,
      0,
      encodeRequest({ service: SVC, method: 'Echo', payload: Buffer.from('alive') }),
    );
    const f = await peer.waitFrame(
      (x) => x.h.streamId === probeId && x.h.type === MessageType.RESPONSE,
      15_000,
    );
    assert.equal(Buffer.from(decodeResponse(f.p).payload).toString(), 'alive');
    assert.equal(peer.ended, false, 'the server kept the connection');
    for (const r of peer.frames) {
      assert.ok(
        r.h.type === MessageType.RESPONSE || r.h.type === MessageType.DATA,
        `server sent type ${r.h.type}`,
      );
      if (r.h.type === MessageType.RESPONSE) decodeResponse(r.p); // every Response the server sends decodes
    }
    peer.close();
    assert.deepEqual(unhandled, []);
  });

  test('pass_server_survives_random_byte_streams', async () => {
    const rnd = prng(SEED + 1);
    for (let c = 0; c < 40; c++) {
      const peer = await RawPeer.connect(srv.path);
      const bytes = randomBytes(rnd, 64 + Math.floor(rnd() * 8192));
      if (rnd() < 0.5) bytes[0] = 0; // plausible lengths half of the time
      peer.socket.end(bytes);
      await peer.waitClosed(5000).catch(() => peer.close());
    }
    assert.ok(await waitFor(() => srv.server.connectionCount === 0), 'every garbled connection was released');
    const client = await TtrpcClient.connect(srv.address);
    assert.equal(Buffer.from(await client.unary(SVC, 'Echo', Buffer.from('ok'))).toString(), 'ok');
    await client.close();
    assert.deepEqual(unhandled, []);
  });

  test('pass_client_gets_only_typed_errors_from_a_random_server', async () => {
    const rnd = prng(SEED + 2);
    const raw = await rawServer((peer) => {
      peer.socket.on('data', () => {
        for (const f of peer.frames.splice(0)) {
          if (f.h.type !== MessageType.REQUEST) continue;
          const r = rnd();
          const id = rnd() < 0.9 ? f.h.streamId : Math.floor(rnd() * 0xffff);
          let payload: Buffer;
          if (r < 0.3) payload = Buffer.from(encodeResponse(undefined, randomBytes(rnd, 16)));
          else if (r < 0.5)
            payload = Buffer.from(encodeResponse({ code: Math.floor(rnd() * 17), message: 'x' }));
          else payload = randomBytes(rnd, Math.floor(rnd() * 64));
          const type = rnd() < 0.8 ? 1 + Math.floor(rnd() * 3) : Math.floor(rnd() * 256);
          const frame = encodeFrame(id, type, Math.floor(rnd() * 256), payload);
          if (rnd() < 0.1) peer.socket.write(frame.subarray(0, HEADER_SIZE + Math.floor(payload.length / 2)));
          else peer.socket.write(frame);
        }
      });
    });
    const allowed = new Set([
      'ERR_TTRPC_STATUS',
      'ERR_TTRPC_MESSAGE_INVALID',
      'ERR_TTRPC_PROTOCOL',
      'ERR_TTRPC_DEADLINE_EXCEEDED',
      'ERR_TTRPC_CONNECTION_CLOSED',
    ]);
    let calls = 0;
    let ok = 0;
    for (let round = 0; round < 20; round++) {
      const client = await TtrpcClient.connect(raw.address);
      const results = await Promise.allSettled(
        Array.from({ length: 100 }, (_, i) => {
          calls++;
          if (i % 10 === 0) {
            return (async () => {
              for await (const _ of client.serverStream('s', 'm', Buffer.alloc(0), { timeoutMs: 150 }))
                void _;
            })();
          }
          return client.unary('s', 'm', Buffer.from('x'), { timeoutMs: 150 });
        }),
      );
      for (const r of results) {
        if (r.status === 'fulfilled') ok++;
        else {
          assert.ok(r.reason instanceof CocoonError, `untyped rejection: ${String(r.reason)}`);
          assert.ok(allowed.has(r.reason.code), `unexpected code ${r.reason.code}`);
        }
      }
      await client.close();
    }
    assert.equal(calls, 2000);
    assert.ok(ok > 0, 'some calls got a well-formed answer');
    await raw.close();
    assert.deepEqual(unhandled, []);
  });
});
