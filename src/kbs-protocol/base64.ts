/**
 * Strict base64 codecs. Trustee and guest-components decode with Rust's no-padding URL-safe engine
 * (which rejects "=") and the padded standard engine (kbs-protocol.md §3.4, §4.3), so we accept
 * exactly those canonical forms and nothing lenient.
 */
import { CocoonError } from '../common/errors.js';

const B64URL = /^[A-Za-z0-9_-]*$/;
const B64STD = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Encodes bytes as base64url without padding (RFC 7515 §2). */
export function b64u(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString('base64url');
}

/** Decodes canonical unpadded base64url; throws ERR_KBS_PROTOCOL_BASE64_INVALID otherwise. */
export function fromB64u(s: string, what = 'value'): Buffer {
  if (typeof s !== 'string' || !B64URL.test(s) || s.length % 4 === 1) {
    throw new CocoonError('ERR_KBS_PROTOCOL_BASE64_INVALID', `${what} is not unpadded base64url`);
  }
  const b = Buffer.from(s, 'base64url');
  if (b.toString('base64url') !== s) {
    throw new CocoonError('ERR_KBS_PROTOCOL_BASE64_INVALID', `${what} is not canonical base64url`);
  }
  return b;
}

/** Encodes bytes as standard padded base64 (RFC 4648 §4). */
export function b64std(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** Decodes canonical padded standard base64; throws ERR_KBS_PROTOCOL_BASE64_INVALID otherwise. */
export function fromB64std(s: string, what = 'value'): Buffer {
  if (typeof s !== 'string' || !B64STD.test(s)) {
    throw new CocoonError('ERR_KBS_PROTOCOL_BASE64_INVALID', `${what} is not padded standard base64`);
  }
  const b = Buffer.from(s, 'base64');
  if (b.toString('base64') !== s) {
    throw new CocoonError('ERR_KBS_PROTOCOL_BASE64_INVALID', `${what} is not canonical base64`);
  }
  return b;
}
