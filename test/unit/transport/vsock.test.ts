/**
 * AF_VSOCK through the native addon. On these machines only socket/bind/listen/close are
 * exercised (no vsock loopback; never connect). The stream layer is tested over an AF_UNIX
 * socketpair driven by the same addon code (read/write/poll), as guest.md §6.4 suggests.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  listen,
  listenVsock,
  loadVsockAddon,
  NativeSocketStream,
  VSOCK_ADDON_PATH,
  vsockAddon,
  type VsockAddon,
} from '../../../src/transport/index.js';
import { TtrpcClient, TtrpcServer } from '../../../src/ttrpc/index.js';
import { rejectsCode, throwsCode } from '../../helpers/assert-code.js';

function addon(): VsockAddon {
  assert.ok(
    existsSync(VSOCK_ADDON_PATH),
    `vsock addon missing at ${VSOCK_ADDON_PATH}: run npm run build:addon`,
  );
  return vsockAddon();
}

const VMADDR_PORT_ANY = 0xffffffff;

describe('AF_VSOCK socket/bind/listen/close', () => {
  test('pass_listen_on_any_port_reports_the_bound_port', async () => {
    addon();
    const l = await listen(`vsock://-1:${VMADDR_PORT_ANY}`, () => undefined);
    const m = /^vsock:\/\/-1:([0-9]+)$/.exec(l.address);
    assert.ok(m !== null, l.address);
    assert.notEqual(Number(m[1]), VMADDR_PORT_ANY);
    await l.close();
  });

  test('fail_port_in_use', () => {
    addon();
    const a = listenVsock(0xffffffff, VMADDR_PORT_ANY, () => undefined);
    const e = throwsCode(
      () => listenVsock(0xffffffff, a.port, () => undefined),
      'ERR_TRANSPORT_LISTEN_FAILED',
    );
    assert.equal(e.details['errno'], 'EADDRINUSE');
    a.close();
    a.close();
  });

  test('fail_addon_argument_errors_are_typed_by_errno', () => {
    const x = addon();
    assert.throws(() => x.bind(-1, 1, 1), { code: 'EBADF' });
    assert.throws(() => x.close(-1), { code: 'EBADF' });
    assert.throws(() => x.bind('x' as unknown as number, 1, 1), TypeError);
  });

  test('fail_missing_addon_is_vsock_unavailable', () => {
    const e = throwsCode(
      () => loadVsockAddon('/nonexistent/cocoon_vsock.node'),
      'ERR_TRANSPORT_VSOCK_UNAVAILABLE',
    );
    assert.equal(e.details['path'], '/nonexistent/cocoon_vsock.node');
  });
});

describe('NativeSocketStream over a socketpair', () => {
  function pair(): [NativeSocketStream, NativeSocketStream] {
    const x = addon();
    const [a, b] = x.socketpair();
    return [new NativeSocketStream(x, a), new NativeSocketStream(x, b)];
  }

  test('pass_bulk_transfer_with_backpressure_and_half_close', async () => {
    const [a, b] = pair();
    const size = 16 << 20;
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) data[i] = (i / 4096) & 0xff;
    let writes = 0;
    let full = 0;
    const writer = (async () => {
      for (let off = 0; off < size; off += 1 << 20) {
        writes++;
        if (!a.write(data.subarray(off, off + (1 << 20)))) {
          full++;
          await new Promise((r) => a.once('drain', r));
        }
      }
      a.end();
    })();
    // A slow reader: pause after the first chunk so the kernel buffer fills up.
    const chunks: Buffer[] = [];
    b.pause();
    await new Promise((r) => setTimeout(r, 50));
    const ended = new Promise((r) => b.once('end', r));
    b.on('data', (c: Buffer) => chunks.push(c));
    b.resume();
    await ended;
    await writer;
    assert.equal(writes, 16);
    assert.ok(full > 0, 'the writer saw backpressure');
    assert.ok(Buffer.concat(chunks).equals(data));
    a.destroy();
    b.destroy();
  });

  test('pass_ttrpc_over_the_native_stream', async () => {
    const [a, b] = pair();
    const server = new TtrpcServer();
    server.register('s', 'Echo', async (p) => p);
    server.serveConnection(a);
    const client = new TtrpcClient(b);
    const outs = await Promise.all([1, 2, 3].map((i) => client.unary('s', 'Echo', Buffer.alloc(100_000, i))));
    outs.forEach((o, i) => assert.equal(o[99_999], i + 1));
    await client.close();
    await server.close();
  });

  test('pass_peer_destroyed_gives_eof', async () => {
    const [a, b] = pair();
    const ended = new Promise((r) => b.once('end', r));
    b.resume();
    a.destroy();
    await ended;
    b.destroy();
  });

  test('pass_destroy_from_inside_a_data_callback', async () => {
    // Closes the poller while the addon is calling back through it.
    const [a, b] = pair();
    const closed = new Promise((r) => b.once('close', r));
    b.on('data', () => b.destroy());
    a.write(Buffer.from('x'));
    await closed;
    a.destroy();
  });

  test('fail_write_to_a_closed_peer_is_typed', async () => {
    const [a, b] = pair();
    b.destroy();
    await new Promise((r) => setTimeout(r, 10));
    // `a` never read, so it has not seen EOF: the write meets EPIPE in the addon.
    const err = await new Promise<Error>((resolve) => {
      a.on('error', resolve);
      a.write(Buffer.alloc(10));
    });
    assert.equal((err as { code?: string }).code, 'ERR_TRANSPORT_VSOCK_IO');
    assert.equal((err as { details?: { errno?: string } }).details?.errno, 'EPIPE');
    a.destroy();
  });

  test('fail_dial_vsock_is_never_attempted_here', async () => {
    // Only the address check runs: an invalid vsock address fails before any socket exists.
    await rejectsCode(
      listen('vsock://x:1', () => undefined),
      'ERR_TRANSPORT_ADDRESS_INVALID',
    );
  });
});
