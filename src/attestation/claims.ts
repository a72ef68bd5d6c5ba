/**
 * Shared claim helpers (evidence.md §3). Trustee nests each verifier's claims under the TEE name
 * and lifts `report_data` / `init_data` to the top level (TRUSTEE attestation-service
 * ear_token/broker.rs transform_claims); TDX claims are flattened into dotted keys. These helpers
 * build that shape the same way for every TEE.
 */
import type { Claims, TeeName } from './verifier.js';

/** JSON value shape of a claim leaf or subtree. */
export type ClaimValue = string | number | boolean | null | readonly ClaimValue[] | ClaimObject;

/** A nested claim object. */
export interface ClaimObject {
  readonly [key: string]: ClaimValue;
}

/** Lower-case hex of raw bytes in wire order (every byte claim of evidence.md §3 uses this). */
export function hexClaim(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/**
 * Flattens nested objects into dotted keys (`{quote:{body:{mr_td}}}` → `quote.body.mr_td`), as
 * Trustee's flatten_claims does; arrays stay values.
 */
export function flattenClaims(obj: ClaimObject, prefix = ''): Record<string, ClaimValue> {
  const out: Record<string, ClaimValue> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix === '' ? k : `${prefix}.${k}`;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      Object.assign(out, flattenClaims(v as ClaimObject, key));
    } else {
      out[key] = v;
    }
  }
  return out;
}

/**
 * Builds the claims object the policy engine sees: `{ <tee>: teeClaims, report_data, init_data }`,
 * where the last two appear only when defined (Trustee transform_claims).
 */
export function assembleClaims(
  tee: TeeName,
  teeClaims: ClaimObject,
  reportData: ClaimValue | undefined,
  initData: ClaimValue | undefined,
): Claims {
  const out: Record<string, ClaimValue> = { [tee]: teeClaims };
  if (reportData !== undefined) out['report_data'] = reportData;
  if (initData !== undefined) out['init_data'] = initData;
  return out;
}

/**
 * A JSON-ready view of any parsed structure for people (`cocoon attest show`): byte arrays as
 * lower-case hex, bigints as 0x-hex, nested objects and arrays kept, functions dropped.
 */
export function toDisplayJson(v: unknown, depth = 0): unknown {
  if (depth > 32) return '…';
  if (v instanceof Uint8Array) return hexClaim(v);
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map((x) => toDisplayJson(x, depth + 1));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'function') out[k] = toDisplayJson(x, depth + 1);
    return out;
  }
  return v;
}
