/**
 * The simulated guest's api-server-rest (guest.md §3): the loopback HTTP front end through which a
 * container reads KBS resources (`GET /cdh/resource/<repo>/<type>/<tag>` → CDH GetResource with
 * `kbs:///<repo>/<type>/<tag>`) and the guest's TEE type (`GET /info`). Only the `resource`
 * feature is served, as Kata enables by default; attestation endpoints answer 404 like upstream
 * does when the feature is off (they would hand the TEE private key to any process in the pod).
 */
import { rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isCocoonError, messageOf } from '../../common/errors.js';

/** What the REST front end needs from the guest. */
export interface GuestResourceSource {
  /** CDH GetResource: resolves a `kbs:///…` URI to the plaintext resource. */
  getResource(uri: string): Promise<Uint8Array>;
  /** AA GetTeeType. */
  teeType(): string;
}

/** A running front end. */
export interface ApiServerRest {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const VERSION = 'v0.1.0';
const SEGMENT = /^[A-Za-z0-9._-]+$/;

function send(res: ServerResponse, status: number, body: string | Uint8Array, type = 'text/plain'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function isLoopback(addr: string | undefined): boolean {
  return addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1';
}

async function handle(
  src: GuestResourceSource,
  req: IncomingMessage,
  res: ServerResponse,
  unix: boolean,
): Promise<void> {
  // Upstream binds loopback and still rejects any non-loopback peer (guest.md §3). The Unix
  // socket is only reachable through the guest's own files, so it counts as loopback.
  if (!unix && !isLoopback(req.socket.remoteAddress)) return send(res, 403, 'FORBIDDEN');
  const url = new URL(req.url ?? '/', 'http://guest');
  if (url.pathname === '/info') {
    if (req.method !== 'GET') return send(res, 405, 'METHOD NOT ALLOWED');
    return send(
      res,
      200,
      JSON.stringify({ version: VERSION, tee: src.teeType(), feature: 'resource' }),
      'application/json',
    );
  }
  if (url.pathname.startsWith('/aa/')) return send(res, 404, 'Attestation Feature Not Enabled');
  if (!url.pathname.startsWith('/cdh/resource/') || req.method !== 'GET')
    return send(res, 404, 'URL NOT FOUND');
  const segs = url.pathname.slice('/cdh/resource/'.length).split('/');
  if (segs.length < 3 || segs.some((s) => !SEGMENT.test(s))) return send(res, 400, 'BAD REQUEST');
  try {
    const body = await src.getResource(`kbs:///${segs.join('/')}`);
    return send(res, 200, body, 'application/octet-stream');
  } catch (e) {
    // Upstream answers 500 with the ttrpc error text; we keep the typed code visible.
    return send(res, 500, isCocoonError(e) ? `${e.code}: ${e.message}` : messageOf(e));
  }
}

function makeServer(src: GuestResourceSource, unix: boolean): Server {
  const server = createServer((req, res) => {
    handle(src, req, res, unix).catch(() => {
      if (!res.headersSent) send(res, 500, 'INTERNAL');
      else res.destroy();
    });
  });
  server.requestTimeout = 60_000;
  return server;
}

function listenOn(server: Server, arg: number | string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (typeof arg === 'number') server.listen(arg, '127.0.0.1', () => resolve());
    else server.listen(arg, () => resolve());
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/**
 * Starts the front end on 127.0.0.1 (port 0 = any free port) and, when `unixPath` is given, also
 * on that Unix socket: a proxy inside the pod's network namespace forwards the pod's
 * 127.0.0.1:8006 there, since a Unix socket is reachable from every network namespace.
 */
export async function startApiServerRest(
  src: GuestResourceSource,
  port = 0,
  unixPath?: string,
): Promise<ApiServerRest> {
  const tcp = makeServer(src, false);
  await listenOn(tcp, port);
  let unix: Server | undefined;
  if (unixPath !== undefined) {
    await rm(unixPath, { force: true });
    unix = makeServer(src, true);
    await listenOn(unix, unixPath);
  }
  const p = (tcp.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}`,
    port: p,
    close: async () => {
      await closeServer(tcp);
      if (unix !== undefined) await closeServer(unix);
    },
  };
}
