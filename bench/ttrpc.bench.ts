/**
 * ttrpc unary round trips over a Unix socket (1 KiB payload, 1 and 16 concurrent calls on one
 * connection) next to a raw Unix-socket echo of the same payload with a 4-byte length prefix,
 * in the same run. Goal (issue #2): ttrpc costs at most 2x the raw echo. Each side's best of
 * three alternating rounds is reported, so a burst of load from other processes on this shared
 * machine does not land on one side only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measure, report, type Series } from './harness.js';
import { TtrpcClient, TtrpcServer } from '../src/ttrpc/index.js';

const PAYLOAD = Buffer.alloc(1024, 0x5a);
/** Per round; the machine is shared, so baseline and subject alternate over ROUNDS rounds. */
const OPTS = { maxOps: 30_000, maxMs: 1500, warmup: 300 };
const ROUNDS = 3;

/** The best round (highest throughput) of each side, measured alternately. */
async function alternate(
  rounds: number,
  a: () => Promise<Series>,
  b: () => Promise<Series>,
): Promise<[Series, Series]> {
  let bestA: Series | undefined;
  let bestB: Series | undefined;
  for (let i = 0; i < rounds; i++) {
    const sa = await a();
    const sb = await b();
    if (bestA === undefined || sa.opsPerSec > bestA.opsPerSec) bestA = sa;
    if (bestB === undefined || sb.opsPerSec > bestB.opsPerSec) bestB = sb;
  }
  return [bestA!, bestB!];
}

/** A length-prefixed echo client; replies come back in order, so waiters form a FIFO. */
class RawEcho {
  private readonly waiters: ((b: Buffer) => void)[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private readonly s: Socket;
  constructor(s: Socket) {
    this.s = s;
    s.on('data', (c: Buffer) => {
      this.buf = this.buf.length === 0 ? c : Buffer.concat([this.buf, c]);
      while (this.buf.length >= 4) {
        const n = this.buf.readUInt32BE(0);
        if (this.buf.length < 4 + n) break;
        const msg = this.buf.subarray(4, 4 + n);
        this.buf = this.buf.subarray(4 + n);
        this.waiters.shift()!(msg);
      }
    });
  }
  call(p: Buffer): Promise<Buffer> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      const f = Buffer.allocUnsafe(4 + p.length);
      f.writeUInt32BE(p.length, 0);
      p.copy(f, 4);
      this.s.write(f);
    });
  }
}

function rawEchoServer(path: string): Promise<() => Promise<void>> {
  const socks = new Set<Socket>();
  const srv = createServer((s) => {
    socks.add(s);
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (c: Buffer) => {
      buf = buf.length === 0 ? c : Buffer.concat([buf, c]);
      while (buf.length >= 4) {
        const n = buf.readUInt32BE(0);
        if (buf.length < 4 + n) break;
        s.write(buf.subarray(0, 4 + n));
        buf = buf.subarray(4 + n);
      }
    });
  });
  return new Promise((resolve) =>
    srv.listen(path, () =>
      resolve(async () => {
        for (const s of socks) s.destroy();
        await new Promise<void>((r) => srv.close(() => r()));
      }),
    ),
  );
}

export default async function (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-bench-ttrpc-'));
  try {
    const closeRaw = await rawEchoServer(join(dir, 'raw.sock'));
    const rawSock = await new Promise<Socket>((resolve) => {
      const s = connect({ path: join(dir, 'raw.sock') }, () => resolve(s));
    });
    const raw = new RawEcho(rawSock);

    const server = new TtrpcServer();
    server.register('bench.Echo', 'Echo', async (p) => p);
    const l = await server.listen(`unix://${join(dir, 'ttrpc.sock')}`);
    const client = await TtrpcClient.connect(l.address);

    for (const concurrency of [1, 16]) {
      const [base, subject] = await alternate(
        ROUNDS,
        () =>
          measure(`raw unix echo 1 KiB, ${concurrency} in flight`, () => raw.call(PAYLOAD), {
            ...OPTS,
            concurrency,
          }),
        () =>
          measure(
            `ttrpc unary 1 KiB, ${concurrency} in flight`,
            () => client.unary('bench.Echo', 'Echo', PAYLOAD),
            {
              ...OPTS,
              concurrency,
            },
          ),
      );
      report(`ttrpc unary vs raw echo, concurrency ${concurrency}`, subject, base, 2);
    }
    await client.close();
    await server.close();
    rawSock.destroy();
    await closeRaw();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
