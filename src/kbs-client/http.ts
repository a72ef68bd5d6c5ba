/**
 * Minimal HTTP(S) client for the KBS protocol: explicit TLS trust (a given CA, else the system
 * roots), plain HTTP only when explicitly enabled, a per-request timeout (guest-components uses
 * 60 s, kbs-protocol.md §9.1) and a bounded response body.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CocoonError } from '../common/errors.js';

/** Default per-request timeout (guest-components: 60 s). */
export const DEFAULT_HTTP_TIMEOUT_MS = 60_000;
/** Largest response body read (bytes). */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** Transport options shared by the RCAR and admin clients. */
export interface HttpOptions {
  /** KBS base URL; https:// unless insecureHttp. Trailing "/" trimmed. */
  readonly url: string;
  /** Extra trust anchor(s) for HTTPS (PEM). Absent: the system roots. */
  readonly ca?: string | Buffer;
  /** Allow http:// URLs (explicit opt-in). Default false. */
  readonly insecureHttp?: boolean;
  /** Per-request timeout in ms; default DEFAULT_HTTP_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** Largest response body read in bytes; default MAX_RESPONSE_BYTES. */
  readonly maxResponseBytes?: number;
}

/** A response. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Validates and normalizes the base URL. */
export function baseUrl(opts: HttpOptions): URL {
  let u: URL;
  try {
    u = new URL(opts.url.replace(/\/+$/, ''));
  } catch (e) {
    throw new CocoonError('ERR_KBS_CLIENT_INSECURE_URL', `not a URL: ${opts.url}`, { cause: e });
  }
  if (u.protocol === 'http:' && opts.insecureHttp !== true) {
    throw new CocoonError(
      'ERR_KBS_CLIENT_INSECURE_URL',
      `${u.origin} is plain HTTP; pass --insecure-http to allow it`,
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new CocoonError('ERR_KBS_CLIENT_INSECURE_URL', `unsupported scheme ${u.protocol}`);
  }
  return u;
}

/** Sends one request. */
export function httpCall(
  opts: HttpOptions,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Uint8Array,
): Promise<HttpResponse> {
  const base = baseUrl(opts);
  const url = new URL(base.pathname.replace(/\/$/, '') + path, base.origin);
  const timeout = opts.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const maxBytes = opts.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  const h: Record<string, string | number> = { ...headers, 'user-agent': 'cocoon-kbs-client' };
  if (body !== undefined) h['content-length'] = body.length;
  return new Promise((resolve, reject) => {
    const common = { method, headers: h, timeout };
    const req =
      url.protocol === 'https:'
        ? httpsRequest(url, { ...common, ...(opts.ca === undefined ? {} : { ca: opts.ca }) })
        : httpRequest(url, common);
    const timer = setTimeout(() => {
      req.destroy(
        new CocoonError('ERR_KBS_CLIENT_TIMEOUT', `${method} ${url.pathname} timed out after ${timeout} ms`),
      );
    }, timeout);
    req.on('timeout', () =>
      req.destroy(
        new CocoonError('ERR_KBS_CLIENT_TIMEOUT', `${method} ${url.pathname} timed out after ${timeout} ms`),
      ),
    );
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(
        e instanceof CocoonError
          ? e
          : new CocoonError('ERR_KBS_CLIENT_HTTP_FAILED', `${method} ${url.pathname}: ${e.message}`, {
              cause: e,
            }),
      );
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          req.destroy(
            new CocoonError('ERR_KBS_CLIENT_RESPONSE_INVALID', `response exceeds ${maxBytes} bytes`),
          );
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(new CocoonError('ERR_KBS_CLIENT_HTTP_FAILED', `reading response: ${e.message}`, { cause: e }));
      });
    });
    req.end(body === undefined ? undefined : Buffer.from(body));
  });
}
