/**
 * RFC 8785 JSON Canonicalization Scheme, as Trustee hashes runtime data with
 * serde_json_canonicalizer (kbs-protocol.md §3.5): object members sorted by UTF-16 code units
 * (RFC 8785 §3.2.3), no whitespace, strings and numbers serialized as ECMAScript does
 * (RFC 8785 §3.2.2.2, §3.2.2.3).
 */
import { CocoonError } from '../common/errors.js';

/** Largest nesting depth accepted; deeper values are hostile input, not runtime data. */
export const JCS_MAX_DEPTH = 64;

function jcsError(message: string): CocoonError {
  return new CocoonError('ERR_KBS_PROTOCOL_JCS_INVALID', message);
}

// RFC 8785 §3.2.2.2: strings must be valid Unicode; a lone surrogate cannot be canonicalized.
function checkString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const n = s.charCodeAt(i + 1);
      if (!(n >= 0xdc00 && n <= 0xdfff)) throw jcsError('string contains a lone high surrogate');
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      throw jcsError('string contains a lone low surrogate');
    }
  }
  // ECMAScript JSON.stringify escapes exactly the characters RFC 8785 §3.2.2.2 requires.
  return JSON.stringify(s);
}

function write(v: unknown, depth: number): string {
  if (depth > JCS_MAX_DEPTH) throw jcsError(`value nests deeper than ${JCS_MAX_DEPTH}`);
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw jcsError('non-finite numbers have no JSON form');
      // RFC 8785 §3.2.2.3: ECMAScript Number.prototype.toString; -0 serializes as 0.
      return Object.is(v, -0) ? '0' : String(v);
    case 'string':
      return checkString(v);
    case 'object': {
      if (Array.isArray(v)) return `[${v.map((x) => write(x, depth + 1)).join(',')}]`;
      const o = v as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is the RFC 8785 §3.2.3 order.
      const keys = Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${checkString(k)}:${write(o[k], depth + 1)}`).join(',')}}`;
    }
    default:
      throw jcsError(`a ${typeof v} has no JSON form`);
  }
}

/** Returns the RFC 8785 canonical JSON text of a JSON value. */
export function canonicalize(value: unknown): string {
  return write(value, 0);
}
