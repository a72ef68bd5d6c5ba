/**
 * AF_VSOCK through Cocoon's own N-API addon (native/vsock.c; guest.md §6.2–6.4). Node cannot
 * adopt an AF_VSOCK fd (libuv classifies it as UNKNOWN), so the addon does the non-blocking
 * syscalls and watches the fd with a libuv `uv_poll_t` on the main loop; this file turns that
 * into a `stream.Duplex` with backpressure both ways: reading stops while `push()` says the
 * consumer is full, and a write that meets EAGAIN waits for POLLOUT before taking the next chunk.
 */
import { createRequire } from 'node:module';
import { Duplex } from 'node:stream';
import { CocoonError } from '../common/errors.js';
import { packagePath } from '../common/paths.js';

/** The readiness watcher the addon exposes (a `uv_poll_t`). */
export interface NativePoller {
  /** Watches for the given mask (READABLE | WRITABLE); 0 is the same as stop(). */
  start(events: number): void;
  /** Stops watching; the poller may be started again. */
  stop(): void;
  /** Releases the watcher for good. */
  close(): void;
}

/** The addon's surface: thin wrappers over the syscalls, errors thrown with `code` = errno name. */
export interface VsockAddon {
  readonly READABLE: number;
  readonly WRITABLE: number;
  /** socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC). */
  socket(): number;
  /** socketpair(AF_UNIX, SOCK_STREAM) with both ends non-blocking (tests of the stream layer). */
  socketpair(): [number, number];
  bind(fd: number, cid: number, port: number): void;
  listen(fd: number, backlog: number): void;
  /** getsockname() of an AF_VSOCK socket. */
  localAddress(fd: number): { cid: number; port: number };
  /** Starts a non-blocking connect: true when already connected, false when in progress. */
  connect(fd: number, cid: number, port: number): boolean;
  /** getsockopt(SO_ERROR): 0 or an errno number. */
  soError(fd: number): number;
  /** accept4(); -1 when no connection is pending. */
  accept(fd: number): number;
  /** read() into buf: bytes read, 0 at EOF, -1 on EAGAIN. */
  read(fd: number, buf: Buffer): number;
  /** write() from buf: bytes written, -1 on EAGAIN. */
  write(fd: number, buf: Buffer): number;
  /** shutdown(SHUT_WR). */
  shutdown(fd: number): void;
  close(fd: number): void;
  Poller: new (fd: number, onEvent: (status: number, events: number) => void) => NativePoller;
}

/** Where the built addon lives (scripts/build-addon.mjs runs node-gyp in native/). */
export const VSOCK_ADDON_PATH = packagePath('native', 'build', 'Release', 'cocoon_vsock.node');

let cached: VsockAddon | CocoonError | undefined;

/** Loads the addon at `path`; throws ERR_TRANSPORT_VSOCK_UNAVAILABLE when it is missing or broken. */
export function loadVsockAddon(path: string = VSOCK_ADDON_PATH): VsockAddon {
  try {
    return createRequire(import.meta.url)(path) as VsockAddon;
  } catch (e) {
    throw new CocoonError(
      'ERR_TRANSPORT_VSOCK_UNAVAILABLE',
      'AF_VSOCK needs the native addon (npm run build:addon; needs a C compiler and node-gyp)',
      { cause: e, details: { path } },
    );
  }
}

/** The default addon, loaded once; throws ERR_TRANSPORT_VSOCK_UNAVAILABLE when not built. */
export function vsockAddon(): VsockAddon {
  if (cached === undefined) {
    try {
      cached = loadVsockAddon();
    } catch (e) {
      cached = e as CocoonError;
    }
  }
  if (cached instanceof CocoonError) throw cached;
  return cached;
}

function ioError(e: unknown, op: string): CocoonError {
  const code = (e as { code?: string }).code;
  return new CocoonError(
    'ERR_TRANSPORT_VSOCK_IO',
    `vsock ${op} failed${code === undefined ? '' : `: ${code}`}`,
    {
      cause: e,
      details: { op, errno: code },
    },
  );
}

/** Read size per read() call. */
const READ_CHUNK = 64 * 1024;

/** A connected fd (AF_VSOCK, or any stream socket) as a Duplex, driven by the addon's poller. */
export class NativeSocketStream extends Duplex {
  private readonly addon: VsockAddon;
  private fd: number;
  private readonly poller: NativePoller;
  private wantRead = false;
  private pending: { chunk: Buffer; callback: (e?: Error | null) => void } | undefined;
  private watching = -1;

  /** Takes ownership of `fd`, which must be non-blocking and connected. */
  constructor(addon: VsockAddon, fd: number) {
    super({ allowHalfOpen: false });
    this.addon = addon;
    this.fd = fd;
    this.poller = new addon.Poller(fd, (status, events) => this.onEvent(status, events));
  }

  private watch(): void {
    if (this.fd < 0) return;
    const mask =
      (this.wantRead ? this.addon.READABLE : 0) | (this.pending !== undefined ? this.addon.WRITABLE : 0);
    if (mask === this.watching) return;
    this.watching = mask;
    if (mask === 0) this.poller.stop();
    else this.poller.start(mask);
  }

  private onEvent(status: number, events: number): void {
    if (this.fd < 0) return;
    if (status < 0) {
      this.destroy(ioError({ code: `UV_${-status}` }, 'poll'));
      return;
    }
    if ((events & this.addon.READABLE) !== 0 && this.wantRead) this.readLoop();
    if ((events & this.addon.WRITABLE) !== 0 && this.pending !== undefined) {
      const p = this.pending;
      this.pending = undefined;
      this.writeLoop(p.chunk, p.callback);
    }
    this.watch();
  }

  private readLoop(): void {
    while (this.wantRead && this.fd >= 0) {
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      let n: number;
      try {
        n = this.addon.read(this.fd, buf);
      } catch (e) {
        this.destroy(ioError(e, 'read'));
        return;
      }
      if (n < 0) return; // EAGAIN: keep watching POLLIN.
      if (n === 0) {
        this.wantRead = false;
        this.push(null);
        return;
      }
      // Backpressure: stop reading until the consumer calls _read() again.
      if (!this.push(Buffer.from(buf.subarray(0, n)))) this.wantRead = false;
    }
  }

  private writeLoop(chunk: Buffer, callback: (e?: Error | null) => void): void {
    let off = 0;
    while (off < chunk.length) {
      let n: number;
      try {
        n = this.addon.write(this.fd, off === 0 ? chunk : chunk.subarray(off));
      } catch (e) {
        callback(ioError(e, 'write'));
        return;
      }
      if (n < 0) {
        this.pending = { chunk: chunk.subarray(off), callback };
        this.watch();
        return;
      }
      off += n;
    }
    callback();
  }

  override _read(): void {
    this.wantRead = true;
    this.readLoop();
    this.watch();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (e?: Error | null) => void): void {
    if (this.fd < 0) {
      callback(ioError({ code: 'EBADF' }, 'write'));
      return;
    }
    this.writeLoop(chunk, callback);
  }

  override _final(callback: (e?: Error | null) => void): void {
    try {
      if (this.fd >= 0) this.addon.shutdown(this.fd);
      callback();
    } catch (e) {
      callback(ioError(e, 'shutdown'));
    }
  }

  override _destroy(err: Error | null, callback: (e?: Error | null) => void): void {
    if (this.fd >= 0) {
      this.poller.close();
      const fd = this.fd;
      this.fd = -1;
      try {
        this.addon.close(fd);
      } catch {
        // close() of a socket can only fail with EBADF/EINTR; the fd is gone either way.
      }
    }
    const p = this.pending;
    this.pending = undefined;
    p?.callback(
      err ??
        new CocoonError('ERR_TRANSPORT_VSOCK_IO', 'vsock socket destroyed', { details: { op: 'write' } }),
    );
    callback(err);
  }
}

/**
 * Connects to `vsock://cid:port` without blocking: connect() → EINPROGRESS → wait for POLLOUT →
 * SO_ERROR. Never called by the tests on these machines (no vsock loopback; env-notes.md).
 */
export function dialVsock(
  cid: number,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Duplex> {
  const addon = vsockAddon();
  return new Promise<Duplex>((resolve, reject) => {
    let fd: number;
    try {
      fd = addon.socket();
    } catch (e) {
      reject(ioError(e, 'socket'));
      return;
    }
    // Set once the connect is in progress; the callbacks below close it.
    const watch: { poller?: NativePoller; settled?: boolean } = {};
    const fail = (e: CocoonError): void => {
      if (watch.settled === true) return;
      watch.settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      watch.poller?.close();
      try {
        addon.close(fd);
      } catch {
        // The fd is released either way.
      }
      reject(e);
    };
    const ok = (): void => {
      if (watch.settled === true) return;
      watch.settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      watch.poller?.close();
      resolve(new NativeSocketStream(addon, fd));
    };
    const onAbort = (): void => fail(new CocoonError('ERR_TRANSPORT_CANCELLED', 'vsock connect aborted'));
    const timer = setTimeout(
      () =>
        fail(
          new CocoonError('ERR_TRANSPORT_TIMEOUT', `vsock connect did not finish within ${timeoutMs} ms`, {
            details: { cid, port },
          }),
        ),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (addon.connect(fd, cid, port)) {
        ok();
        return;
      }
    } catch (e) {
      fail(ioError(e, 'connect'));
      return;
    }
    const poller = new addon.Poller(fd, (status) => {
      let err: number;
      try {
        err = status < 0 ? -status : addon.soError(fd);
      } catch (e) {
        fail(ioError(e, 'connect'));
        return;
      }
      if (err === 0) ok();
      else fail(ioError({ code: `errno ${err}` }, 'connect'));
    });
    watch.poller = poller;
    poller.start(addon.WRITABLE);
  });
}

/** A listening AF_VSOCK socket. */
export interface VsockListener {
  /** The bound CID and port (the real port when 0xFFFFFFFF "any" was asked for). */
  readonly cid: number;
  readonly port: number;
  /** Stops accepting and closes the socket. */
  close(): void;
}

/** Listens on AF_VSOCK `cid:port` (socket/bind/listen, then accept on POLLIN). */
export function listenVsock(
  cid: number,
  port: number,
  onConnection: (s: Duplex) => void,
  backlog = 128,
): VsockListener {
  const addon = vsockAddon();
  let fd: number;
  try {
    fd = addon.socket();
  } catch (e) {
    throw ioError(e, 'socket');
  }
  try {
    addon.bind(fd, cid, port);
    addon.listen(fd, backlog);
  } catch (e) {
    addon.close(fd);
    throw new CocoonError('ERR_TRANSPORT_LISTEN_FAILED', `cannot listen on vsock ${cid}:${port}`, {
      cause: e,
      details: { cid, port, errno: (e as { code?: string }).code },
    });
  }
  const local = addon.localAddress(fd);
  let closed = false;
  const poller = new addon.Poller(fd, (status) => {
    if (closed || status < 0) return;
    for (;;) {
      let c: number;
      try {
        c = addon.accept(fd);
      } catch {
        return; // ECONNABORTED and the like: the next POLLIN brings the next connection.
      }
      if (c < 0) return;
      onConnection(new NativeSocketStream(addon, c));
    }
  });
  poller.start(addon.READABLE);
  return {
    cid: local.cid,
    port: local.port,
    close() {
      if (closed) return;
      closed = true;
      poller.close();
      addon.close(fd);
    },
  };
}
