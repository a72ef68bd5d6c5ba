import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { dial, listen } from '../../../src/transport/index.js';
import { TtrpcClient, TtrpcServer } from '../../../src/ttrpc/index.js';
import { rejectsCode } from '../../helpers/assert-code.js';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-hvsock-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const sockPath = (): string => join(dir, `vm${n++}.sock`);

/** A fake VMM: `onLine` sees the command line and the socket. */
async function fakeVmm(path: string, onLine: (line: string, s: Socket) => void): Promise<Server> {
  const srv = createServer((s) => {
    let buf = '';
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      const i = buf.indexOf('\n');
      if (i >= 0) onLine(buf.slice(0, i), s);
    });
  });
  await new Promise<void>((r) => srv.listen(path, r));
  return srv;
}

const closeServer = (s: Server): Promise<void> => new Promise((r) => s.close(() => r()));

function firstData(s: Duplex): Promise<string> {
  return new Promise((resolve) => s.once('data', (c: Buffer) => resolve(c.toString())));
}

describe('hybrid vsock client', () => {
  test('pass_handshake_keeps_bytes_after_ok', async () => {
    const path = sockPath();
    const lines: string[] = [];
    const vmm = await fakeVmm(path, (line, s) => {
      lines.push(line);
      // The OK line and the guest's first bytes arrive in one read (guest.md §6.1).
      s.write('OK 1073741825\nHELLO-FROM-GUEST');
    });
    const s = await dial(`hvsock://${path}:1024`);
    assert.equal(await firstData(s), 'HELLO-FROM-GUEST');
    assert.deepEqual(lines, ['CONNECT 1024']);
    s.destroy();
    await closeServer(vmm);
  });

  const refused: { name: string; reply: (s: Socket) => void; code: string }[] = [
    { name: 'fail_vmm_closes_without_ok', reply: (s) => s.end(), code: 'ERR_TRANSPORT_HANDSHAKE_FAILED' },
    { name: 'fail_reply_not_ok', reply: (s) => s.write('NOK\n'), code: 'ERR_TRANSPORT_HANDSHAKE_FAILED' },
    {
      name: 'fail_reply_line_too_long',
      reply: (s) => s.write('O'.repeat(100)),
      code: 'ERR_TRANSPORT_HANDSHAKE_FAILED',
    },
    { name: 'fail_reset', reply: (s) => s.destroy(), code: 'ERR_TRANSPORT_HANDSHAKE_FAILED' },
  ];
  for (const c of refused) {
    test(c.name, async () => {
      const path = sockPath();
      let attempts = 0;
      const vmm = await fakeVmm(path, (_l, s) => {
        attempts++;
        c.reply(s);
      });
      const e = await rejectsCode(
        dial(`hvsock://${path}:1024`, { retry: { attempts: 2, initialDelayMs: 5 }, timeoutMs: 2000 }),
        c.code,
      );
      assert.equal(e.details['attempts'], 2);
      assert.equal(attempts, 2, 'each attempt re-did the handshake');
      await closeServer(vmm);
    });
  }

  test('fail_no_reply_times_out', async () => {
    const path = sockPath();
    const vmm = await fakeVmm(path, () => undefined);
    await rejectsCode(
      dial(`hvsock://${path}:1024`, { timeoutMs: 150, retry: { attempts: 1 } }),
      'ERR_TRANSPORT_TIMEOUT',
    );
    await closeServer(vmm);
  });

  test('fail_abort_during_handshake', async () => {
    const path = sockPath();
    const vmm = await fakeVmm(path, () => undefined);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 40);
    await rejectsCode(dial(`hvsock://${path}:1024`, { signal: ac.signal }), 'ERR_TRANSPORT_CANCELLED');
    await closeServer(vmm);
  });
});

describe('hybrid vsock listener', () => {
  function rawLine(path: string, send: string): Promise<{ reply: string; closed: boolean }> {
    return new Promise((resolve) => {
      const s = connect({ path });
      let reply = '';
      s.on('data', (c: Buffer) => (reply += c.toString()));
      s.on('error', () => undefined);
      s.on('close', () => resolve({ reply, closed: true }));
      s.write(send);
      setTimeout(() => {
        s.destroy();
      }, 300);
    });
  }

  test('pass_listener_answers_registered_ports_only', async () => {
    const path = sockPath();
    const got: string[] = [];
    const a = await listen(`hvsock://${path}:1024`, (s) =>
      s.on('data', (c: Buffer) => got.push(`1024:${c.toString()}`)),
    );
    const b = await listen(`hvsock://${path}:1025`, (s) =>
      s.on('data', (c: Buffer) => got.push(`1025:${c.toString()}`)),
    );
    assert.equal(a.address, `hvsock://${path}:1024`);
    const s1 = await dial(a.address);
    s1.write('one');
    const s2 = await dial(b.address);
    s2.write('two');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got.sort(), ['1024:one', '1025:two']);
    // Lower-case keyword and spaces are accepted (Cloud Hypervisor's muxer).
    assert.match((await rawLine(path, '  connect   1024 \n')).reply, /^OK 1024\n/);
    const wrong = await rawLine(path, 'CONNECT 9\n');
    assert.equal(wrong.reply, '');
    assert.equal(wrong.closed, true);
    assert.equal((await rawLine(path, 'HELLO\n')).reply, '');
    assert.equal((await rawLine(path, 'x'.repeat(80))).reply, '');
    await rejectsCode(
      listen(`hvsock://${path}:1024`, () => undefined),
      'ERR_TRANSPORT_LISTEN_FAILED',
    );
    s1.destroy();
    s2.destroy();
    await a.close();
    await a.close();
    // The path stays served while port 1025 is registered.
    const s3 = await dial(b.address);
    s3.resume();
    const s3closed = new Promise((r) => s3.once('close', r));
    await b.close();
    await s3closed; // closing the port cut its accepted connection
    await rejectsCode(dial(b.address, { retry: { attempts: 1 } }), 'ERR_TRANSPORT_CONNECT_FAILED');
  });

  test('pass_ttrpc_over_hybrid_vsock', async () => {
    const path = sockPath();
    const server = new TtrpcServer();
    server.register('grpc.Health', 'Check', async (p) => p);
    const l = await server.listen(`hvsock://${path}:1024`);
    const client = await TtrpcClient.connect(l.address);
    assert.equal(Buffer.from(await client.unary('grpc.Health', 'Check', Buffer.from('ok'))).toString(), 'ok');
    await client.close();
    await server.close();
  });

  test('fail_listener_on_a_live_unrelated_socket', async () => {
    const path = sockPath();
    const other = createServer();
    await new Promise<void>((r) => other.listen(path, r));
    await rejectsCode(
      listen(`hvsock://${path}:1024`, () => undefined),
      'ERR_TRANSPORT_LISTEN_FAILED',
    );
    await closeServer(other);
  });
});
