import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CocoonError } from '../../../src/common/errors.js';
import { Status } from '../../../src/common/status.js';
import { TtrpcClient, TtrpcServer, ttrpcStatusOf, type CallContext } from '../../../src/ttrpc/index.js';
import { MessageType, MESSAGE_LENGTH_MAX } from '../../../src/ttrpc/frame.js';
import { decodeRequest, encodeResponse } from '../../../src/ttrpc/messages.js';
import { rejectsCode } from '../../helpers/assert-code.js';
import { delay, rawServer, startServer, waitFor } from './fixture.js';

const SVC = 'cocoon.test.Echo';
const b = (s: string): Buffer => Buffer.from(s);

describe('unary over a Unix socket', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  let client: TtrpcClient;
  const seen: CallContext[] = [];
  const aborted: string[] = [];

  before(async () => {
    srv = await startServer((s) => {
      s.register(SVC, 'Echo', async (p, ctx) => {
        seen.push(ctx);
        return p;
      });
      s.register(SVC, 'Slow', async (p) => {
        await delay(Number(Buffer.from(p).toString()));
        return p;
      });
      s.register(SVC, 'Hang', (_p, ctx) => {
        return new Promise((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => {
            aborted.push(ctx.method);
            reject(ctx.signal.reason);
          }),
        );
      });
      s.register(SVC, 'Fail', async (p) => {
        const what = Buffer.from(p).toString();
        if (what === 'typed') throw new CocoonError('ERR_COMMON_INVALID_ARGUMENT', 'field x is bad');
        if (what === 'remote') {
          throw new CocoonError('ERR_TTRPC_STATUS', 'upstream', {
            details: { status: 5, statusMessage: 'nope' },
          });
        }
        if (what === 'sync') return (undefined as unknown as { x: () => Uint8Array }).x();
        throw new Error('secret internal detail /etc/shadow');
      });
      s.register(SVC, 'Huge', async () => new Uint8Array(MESSAGE_LENGTH_MAX + 1));
      s.register(SVC, 'NoMessage', async () => 'not bytes' as unknown as Uint8Array);
    });
    client = await TtrpcClient.connect(srv.address, { metadata: { 'Containerd-Namespace-Ttrpc': 'k8s.io' } });
  });
  after(async () => {
    await client.close();
    await srv.close();
  });

  test('pass_echo_with_metadata_and_deadline', async () => {
    const before = Date.now();
    const out = await client.unary(SVC, 'Echo', b('hello'), {
      timeoutMs: 5000,
      metadata: { Trace: ['a', 'b'], one: '1' },
    });
    assert.equal(Buffer.from(out).toString(), 'hello');
    const ctx = seen.at(-1)!;
    assert.deepEqual(ctx.metadata, {
      'containerd-namespace-ttrpc': ['k8s.io'],
      trace: ['a', 'b'],
      one: ['1'],
    });
    assert.ok(ctx.deadline !== undefined);
    // The server's deadline is its receive time + timeout_nano: between before+5000 and now+5000.
    const left = ctx.deadline.getTime() - before;
    assert.ok(left >= 5000 && left <= 5000 + (Date.now() - before), `deadline ${left} ms ahead`);
    assert.equal(ctx.service, SVC);
  });

  test('pass_empty_payload_and_no_deadline', async () => {
    assert.equal((await client.unary(SVC, 'Echo', new Uint8Array(0))).length, 0);
    assert.equal(seen.at(-1)!.deadline, undefined);
  });

  test('pass_many_concurrent_calls_answered_out_of_order', async () => {
    const n = 64;
    const outs = await Promise.all(
      Array.from({ length: n }, (_, i) => client.unary(SVC, 'Slow', b(String((i * 7) % 20)))),
    );
    outs.forEach((o, i) => assert.equal(Buffer.from(o).toString(), String((i * 7) % 20)));
    assert.equal(client.activeStreams, 0);
  });

  test('fail_unknown_service_is_unimplemented', async () => {
    const e = await rejectsCode(client.unary('no.Such', 'M', b('')), 'ERR_TTRPC_STATUS');
    assert.deepEqual(ttrpcStatusOf(e), { code: Status.UNIMPLEMENTED, message: 'service no.Such' });
  });

  test('fail_unknown_method_is_unimplemented', async () => {
    const e = await rejectsCode(client.unary(SVC, 'Nope', b('')), 'ERR_TTRPC_STATUS');
    assert.deepEqual(ttrpcStatusOf(e), { code: Status.UNIMPLEMENTED, message: 'method Nope' });
    assert.equal(e.details['status'], 12);
    assert.equal(e.details['statusMessage'], 'method Nope');
  });

  const failCases = [
    {
      name: 'fail_typed_error_maps_by_registry',
      input: 'typed',
      code: Status.INVALID_ARGUMENT,
      message: 'field x is bad',
    },
    { name: 'fail_remote_status_is_forwarded', input: 'remote', code: Status.NOT_FOUND, message: 'nope' },
    {
      name: 'fail_untyped_error_is_internal_without_leak',
      input: 'plain',
      code: Status.INTERNAL,
      message: 'internal error',
    },
    { name: 'fail_sync_throw_is_internal', input: 'sync', code: Status.INTERNAL, message: 'internal error' },
  ];
  for (const c of failCases) {
    test(c.name, async () => {
      const e = await rejectsCode(client.unary(SVC, 'Fail', b(c.input)), 'ERR_TTRPC_STATUS');
      assert.deepEqual(ttrpcStatusOf(e), { code: c.code, message: c.message });
    });
  }

  test('fail_oversize_response_is_resource_exhausted', async () => {
    const e = await rejectsCode(client.unary(SVC, 'Huge', b('')), 'ERR_TTRPC_STATUS');
    assert.equal(ttrpcStatusOf(e)?.code, Status.RESOURCE_EXHAUSTED);
    assert.equal(Buffer.from(await client.unary(SVC, 'Echo', b('still up'))).toString(), 'still up');
  });

  test('fail_handler_returning_no_bytes_is_internal', async () => {
    const e = await rejectsCode(client.unary(SVC, 'NoMessage', b('')), 'ERR_TTRPC_STATUS');
    assert.equal(ttrpcStatusOf(e)?.code, Status.INTERNAL);
  });

  test('fail_oversize_request_is_rejected_locally', async () => {
    await rejectsCode(
      client.unary(SVC, 'Echo', new Uint8Array(MESSAGE_LENGTH_MAX)),
      'ERR_TTRPC_FRAME_TOO_LARGE',
    );
    assert.equal(client.activeStreams, 0);
  });

  test('fail_client_deadline_and_server_abort', async () => {
    const e = await rejectsCode(
      client.unary(SVC, 'Hang', b(''), { timeoutMs: 80 }),
      'ERR_TTRPC_DEADLINE_EXCEEDED',
    );
    assert.equal(e.details['timeoutMs'], 80);
    assert.ok(
      await waitFor(() => aborted.includes('Hang')),
      'the server aborted the handler at timeout_nano',
    );
  });

  test('fail_deadline_zero_or_negative', async () => {
    await rejectsCode(client.unary(SVC, 'Echo', b(''), { timeoutMs: 0 }), 'ERR_TTRPC_DEADLINE_EXCEEDED');
  });

  test('fail_cancel_by_signal', async () => {
    const ac = new AbortController();
    const p = client.unary(SVC, 'Slow', b('300'), { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await rejectsCode(p, 'ERR_TTRPC_CANCELLED');
    await rejectsCode(
      client.unary(SVC, 'Echo', b(''), { signal: AbortSignal.abort() }),
      'ERR_TTRPC_CANCELLED',
    );
    assert.equal(Buffer.from(await client.unary(SVC, 'Echo', b('ok'))).toString(), 'ok');
  });

  test('pass_late_response_after_cancel_is_ignored', async () => {
    const ignoredBefore = client.ignoredFrames;
    const ac = new AbortController();
    const p = client.unary(SVC, 'Slow', b('50'), { signal: ac.signal });
    ac.abort();
    await rejectsCode(p, 'ERR_TTRPC_CANCELLED');
    // The server still answers after 50 ms; that Response must be dropped, not delivered.
    for (let i = 0; i < 300 && client.ignoredFrames === ignoredBefore; i++) await delay(10);
    assert.equal(client.ignoredFrames, ignoredBefore + 1);
  });

  test('fail_duplicate_registration', () => {
    assert.throws(() => srv.server.register(SVC, 'Echo', async (p) => p), {
      code: 'ERR_TTRPC_ALREADY_REGISTERED',
    });
  });
});

describe('connection loss', () => {
  test('fail_pending_calls_reject_when_server_goes_away', async () => {
    const srv = await startServer((s) =>
      s.register(SVC, 'Hang', () => new Promise<Uint8Array>(() => undefined)),
    );
    const client = await TtrpcClient.connect(srv.address);
    // Settle handlers attached now: the rejections arrive while the test awaits srv.close().
    const pending = [1, 2, 3].map(() =>
      client.unary(SVC, 'Hang', b('')).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    await delay(30);
    await srv.close();
    for (const p of pending) {
      const e = await rejectsCode(
        p.then((x) => Promise.reject(x)),
        'ERR_TTRPC_CONNECTION_CLOSED',
      );
      assert.equal(e.details['midFrame'], false);
    }
    assert.equal(client.isClosed, true);
    await rejectsCode(client.unary(SVC, 'Hang', b('')), 'ERR_TTRPC_CONNECTION_CLOSED');
    await client.close();
  });

  test('fail_client_close_rejects_pending', async () => {
    const srv = await startServer((s) =>
      s.register(SVC, 'Hang', () => new Promise<Uint8Array>(() => undefined)),
    );
    const client = await TtrpcClient.connect(srv.address);
    const p = client.unary(SVC, 'Hang', b('')).then(
      () => undefined,
      (e: unknown) => e,
    );
    await client.close();
    await rejectsCode(
      p.then((x) => Promise.reject(x)),
      'ERR_TTRPC_CONNECTION_CLOSED',
    );
    await srv.close();
  });

  test('fail_connect_to_missing_socket', async () => {
    await rejectsCode(
      TtrpcClient.connect('unix:///nonexistent/cocoon/none.sock', {
        dial: { retry: { attempts: 2, initialDelayMs: 1 } },
      }),
      'ERR_TRANSPORT_CONNECT_FAILED',
    );
  });
});

describe('client wire behaviour', () => {
  test('pass_stream_ids_are_odd_and_increasing_and_timeout_nano_is_sent', async () => {
    const ids: number[] = [];
    const timeouts: number[] = [];
    const raw = await rawServer((peer) => {
      peer.socket.on('data', () => {
        for (const f of peer.frames.splice(0)) {
          ids.push(f.h.streamId);
          assert.equal(f.h.type, MessageType.REQUEST);
          assert.equal(f.h.flags, 0);
          timeouts.push(decodeRequest(f.p).timeoutNano);
          peer.send(f.h.streamId, MessageType.RESPONSE, 0, encodeResponse(undefined, b('r')));
        }
      });
    });
    const client = await TtrpcClient.connect(raw.address);
    await client.unary('s', 'm', b(''));
    await client.unary('s', 'm', b(''), { timeoutMs: 1500 });
    await Promise.all([client.unary('s', 'm', b('')), client.unary('s', 'm', b(''))]);
    assert.deepEqual(ids, [1, 3, 5, 7]);
    assert.deepEqual(timeouts, [0, 1_500_000_000, 0, 0]);
    await client.close();
    await raw.close();
  });
});

describe('TtrpcServer lifecycle', () => {
  test('fail_client_on_an_already_closed_stream', async () => {
    const { Duplex } = await import('node:stream');
    const d = new Duplex({
      read() {},
      write(_c, _e, cb) {
        cb();
      },
    });
    d.destroy();
    const client = new TtrpcClient(d);
    assert.equal(client.isClosed, true);
    await rejectsCode(client.unary('s', 'm', b('')), 'ERR_TTRPC_CONNECTION_CLOSED');
    await client.close();
  });

  test('pass_close_refuses_new_connections', async () => {
    const server = new TtrpcServer();
    await server.close();
    const { Duplex } = await import('node:stream');
    const d = new Duplex({
      read() {},
      write(_c, _e, cb) {
        cb();
      },
    });
    server.serveConnection(d);
    assert.equal(d.destroyed, true);
    assert.equal(server.connectionCount, 0);
  });
});
