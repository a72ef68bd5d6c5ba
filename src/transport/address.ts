/**
 * Transport addresses shared by kata, attestation and kbs-client (docs/transports.md):
 * `unix:///path`, `vsock://CID:PORT`, `hvsock:///path/to/socket:PORT`, `tcp://HOST:PORT`.
 */
import { CocoonError } from '../common/errors.js';

/** VMADDR_CID_ANY: `vsock://-1:PORT` binds every local CID (spec guest.md §6.4). */
export const VMADDR_CID_ANY = 0xffffffff;
/** Largest u32, the range of vsock CIDs and ports (sockaddr_vm, guest.md §6.4). */
const U32_MAX = 0xffffffff;

/** A parsed transport address; `kind` selects the transport. */
export type Address =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'vsock'; readonly cid: number; readonly port: number }
  | { readonly kind: 'hvsock'; readonly path: string; readonly port: number }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

function invalid(s: string, why: string): CocoonError {
  return new CocoonError(
    'ERR_TRANSPORT_ADDRESS_INVALID',
    `invalid transport address ${JSON.stringify(s)}: ${why}`,
    {
      details: { address: s, reason: why },
    },
  );
}

function parseUint(text: string, max: number, s: string, what: string): number {
  if (!/^[0-9]{1,10}$/.test(text)) throw invalid(s, `${what} must be a decimal number`);
  const n = Number(text);
  if (n > max) throw invalid(s, `${what} must be at most ${max}`);
  return n;
}

function parsePath(path: string, s: string): string {
  if (!path.startsWith('/')) throw invalid(s, 'the socket path must be absolute');
  if (path.includes('\0')) throw invalid(s, 'the socket path contains a NUL byte');
  return path;
}

/** Parses a transport address; any other syntax throws ERR_TRANSPORT_ADDRESS_INVALID. */
export function parseAddress(s: string): Address {
  if (typeof s !== 'string') throw invalid(String(s), 'not a string');
  const m = /^([a-z]+):\/\/(.*)$/s.exec(s);
  if (m === null) throw invalid(s, 'expected SCHEME://…');
  const scheme = m[1]!;
  const rest = m[2]!;
  switch (scheme) {
    case 'unix':
      return { kind: 'unix', path: parsePath(rest, s) };
    case 'vsock': {
      const v = /^(-1|[0-9]+):([0-9]+)$/.exec(rest);
      if (v === null) throw invalid(s, 'expected vsock://CID:PORT');
      const cid = v[1] === '-1' ? VMADDR_CID_ANY : parseUint(v[1]!, U32_MAX, s, 'CID');
      return { kind: 'vsock', cid, port: parseUint(v[2]!, U32_MAX, s, 'port') };
    }
    case 'hvsock': {
      const i = rest.lastIndexOf(':');
      if (i < 0) throw invalid(s, 'expected hvsock:///path:PORT');
      return {
        kind: 'hvsock',
        path: parsePath(rest.slice(0, i), s),
        port: parseUint(rest.slice(i + 1), U32_MAX, s, 'port'),
      };
    }
    case 'tcp': {
      const t = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]+)$/.exec(rest);
      if (t === null) throw invalid(s, 'expected tcp://HOST:PORT');
      const host = t[1]!.startsWith('[') ? t[1]!.slice(1, -1) : t[1]!;
      return { kind: 'tcp', host, port: parseUint(t[2]!, 65535, s, 'port') };
    }
    default:
      throw invalid(s, `unknown scheme ${scheme}`);
  }
}

/** Formats an address back into its string form (parseAddress's inverse). */
export function formatAddress(a: Address): string {
  switch (a.kind) {
    case 'unix':
      return `unix://${a.path}`;
    case 'vsock':
      return `vsock://${a.cid === VMADDR_CID_ANY ? '-1' : a.cid}:${a.port}`;
    case 'hvsock':
      return `hvsock://${a.path}:${a.port}`;
    case 'tcp':
      return `tcp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
  }
}

/** Accepts either form and returns the parsed address. */
export function toAddress(address: string | Address): Address {
  return typeof address === 'string' ? parseAddress(address) : address;
}
