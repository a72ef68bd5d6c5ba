/** Shared test fixture for the ttrpc tests: temp sockets, servers, and a raw frame peer. */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameDecoder, encodeFrame, type FrameHeader } from '../../../src/ttrpc/frame.js';
import { TtrpcServer } from '../../../src/ttrpc/server.js';
import type { Listener } from '../../../src/transport/index.js';

/** A temp directory removed by cleanup(). */
export function tempDir(prefix = 'cocoon-ttrpc-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A TtrpcServer listening on a fresh Unix socket. */
export async function startServer(
  setup: (s: TtrpcServer) => void,
): Promise<{ server: TtrpcServer; address: string; path: string; close: () => Promise<void> }> {
  const t = tempDir();
  const server = new TtrpcServer();
  setup(server);
  const path = join(t.dir, 's.sock');
  const l: Listener = await server.listen(`unix://${path}`);
  return {
    server,
    address: l.address,
    path,
    close: async () => {
      await server.close();
      t.cleanup();
    },
  };
}

/** One frame as seen by a raw peer. */
export interface RawFrame {
  readonly h: FrameHeader;
  readonly p: Buffer;
}

/** A raw peer speaking frames by hand, to send what a well-behaved peer never would. */
export class RawPeer {
  readonly socket: Socket;
  readonly frames: RawFrame[] = [];
  private waiters: (() => void)[] = [];
  ended = false;

  constructor(socket: Socket) {
    this.socket = socket;
    const d = new FrameDecoder({
      frame: (h, p) => {
        this.frames.push({ h, p: Buffer.from(p) });
        this.wake();
      },
      oversize: (h) => {
        this.frames.push({ h, p: Buffer.alloc(0) });
        this.wake();
      },
    });
    socket.on('data', (c: Buffer) => d.push(c));
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(path: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = connect({ path }, () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(streamId: number, type: number, flags: number, payload: Uint8Array): void {
    this.socket.write(encodeFrame(streamId, type, flags, payload));
  }

  /** Waits (bounded) until a frame matching `pred` arrived; returns it. */
  async waitFrame(pred: (f: RawFrame) => boolean, timeoutMs = 3000): Promise<RawFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.find(pred);
      if (f !== undefined) return f;
      if (this.ended) throw new Error('raw peer: connection closed while waiting');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('raw peer: timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits until the connection closes (bounded). */
  async waitClosed(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('raw peer: still open');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A raw Unix server: every accepted connection becomes a RawPeer handed to `onPeer`. */
export async function rawServer(
  onPeer: (p: RawPeer) => void,
): Promise<{ address: string; close: () => Promise<void> }> {
  const t = tempDir();
  const path = join(t.dir, 'raw.sock');
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    onPeer(new RawPeer(s));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    address: `unix://${path}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      t.cleanup();
    },
  };
}

/** Resolves after ms. */
export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `pred` every 10 ms until it holds or `ms` passes; returns its last value. */
export async function waitFor(pred: () => boolean, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) return false;
    await delay(10);
  }
  return true;
}
