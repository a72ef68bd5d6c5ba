import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { dial, listen } from '../../../src/transport/index.js';
import { rejectsCode } from '../../helpers/assert-code.js';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-dial-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function echo(s: Duplex): void {
  s.on('data', (c: Buffer) => s.write(c));
  s.on('error', () => undefined);
}

function roundTrip(s: Duplex, text: string): Promise<string> {
  return new Promise((resolve) => {
    s.once('data', (c: Buffer) => resolve(c.toString()));
    s.write(text);
  });
}

describe('dial and listen', () => {
  test('pass_unix_round_trip', async () => {
    const l = await listen(`unix://${join(dir, 'a.sock')}`, echo);
    const s = await dial(l.address);
    assert.equal(await roundTrip(s, 'ping'), 'ping');
    s.destroy();
    await l.close();
    assert.equal(existsSync(join(dir, 'a.sock')), false, 'close removes the socket file');
  });

  test('pass_tcp_port_0_reports_real_port', async () => {
    const l = await listen('tcp://127.0.0.1:0', echo);
    assert.match(l.address, /^tcp:\/\/127\.0\.0\.1:[1-9][0-9]*$/);
    const s = await dial(l.address);
    assert.equal(await roundTrip(s, 'tcp'), 'tcp');
    s.destroy();
    await l.close();
  });

  test('pass_retry_until_the_listener_appears', async () => {
    const path = join(dir, 'late.sock');
    let l: Awaited<ReturnType<typeof listen>> | undefined;
    const t = setTimeout(() => void listen(`unix://${path}`, echo).then((x) => (l = x)), 150);
    const t0 = Date.now();
    const s = await dial(`unix://${path}`, {
      retry: { attempts: 10, initialDelayMs: 20, maxDelayMs: 80 },
      timeoutMs: 5000,
    });
    assert.ok(Date.now() - t0 >= 140);
    assert.equal(await roundTrip(s, 'late'), 'late');
    s.destroy();
    clearTimeout(t);
    await l?.close();
  });

  test('fail_attempts_exhausted', async () => {
    const t0 = Date.now();
    const e = await rejectsCode(
      dial(`unix://${join(dir, 'none.sock')}`, {
        retry: { attempts: 3, initialDelayMs: 30, maxDelayMs: 1000 },
      }),
      'ERR_TRANSPORT_CONNECT_FAILED',
    );
    // Backoff 30 + 60 ms between the three attempts.
    assert.ok(Date.now() - t0 >= 85, `took ${Date.now() - t0} ms`);
    assert.equal(e.details['attempts'], 3);
    assert.equal(e.details['errno'], 'ENOENT');
  });

  test('fail_overall_timeout', async () => {
    const e = await rejectsCode(
      dial(`unix://${join(dir, 'none.sock')}`, {
        timeoutMs: 120,
        retry: { attempts: 100, initialDelayMs: 50 },
      }),
      'ERR_TRANSPORT_TIMEOUT',
    );
    assert.equal(e.details['timeoutMs'], 120);
  });

  test('fail_abort_during_backoff_and_before_start', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await rejectsCode(
      dial(`unix://${join(dir, 'none.sock')}`, {
        signal: ac.signal,
        retry: { attempts: 10, initialDelayMs: 1000 },
      }),
      'ERR_TRANSPORT_CANCELLED',
    );
    await rejectsCode(
      dial(`unix://${join(dir, 'none.sock')}`, { signal: AbortSignal.abort() }),
      'ERR_TRANSPORT_CANCELLED',
    );
  });

  test('fail_invalid_address_is_not_retried', async () => {
    await rejectsCode(dial('unix://relative'), 'ERR_TRANSPORT_ADDRESS_INVALID');
    await rejectsCode(listen('nope://x', echo), 'ERR_TRANSPORT_ADDRESS_INVALID');
  });

  test('pass_stale_unix_socket_is_replaced', async () => {
    const path = join(dir, 'stale.sock');
    // A process that exits without cleaning up leaves its socket file behind.
    execFileSync(process.execPath, [
      '-e',
      `const s=require('net').createServer().listen(${JSON.stringify(path)},()=>process.exit(0))`,
    ]);
    assert.equal(existsSync(path), true);
    const l = await listen(`unix://${path}`, echo);
    const s = await dial(l.address);
    assert.equal(await roundTrip(s, 'fresh'), 'fresh');
    s.destroy();
    await l.close();
  });

  test('fail_live_unix_socket_is_not_stolen', async () => {
    const path = join(dir, 'live.sock');
    const l = await listen(`unix://${path}`, echo);
    await rejectsCode(listen(`unix://${path}`, echo), 'ERR_TRANSPORT_LISTEN_FAILED');
    await l.close();
  });

  test('fail_listen_in_missing_directory_and_busy_tcp_port', async () => {
    await rejectsCode(
      listen(`unix://${join(dir, 'no', 'such', 'x.sock')}`, echo),
      'ERR_TRANSPORT_LISTEN_FAILED',
    );
    const l = await listen('tcp://127.0.0.1:0', echo);
    await rejectsCode(listen(l.address, echo), 'ERR_TRANSPORT_LISTEN_FAILED');
    await l.close();
  });
});
