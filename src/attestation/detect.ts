/**
 * Detects which TEE a piece of evidence comes from (`cocoon attest verify --tee auto`), from the
 * shapes of kbs-protocol.md §3.6 and the binary layouts of evidence.md §1.2 / §2.1. It also
 * unwraps a KBS `tee-evidence` object (`{"primary_evidence": …}`) to its primary evidence.
 */
import { CocoonError } from '../common/errors.js';
import type { TeeName } from './verifier.js';

/** Evidence after detection: the TEE and the evidence to hand to its verifier. */
export interface DetectedEvidence {
  readonly tee: TeeName;
  readonly evidence: Uint8Array | Readonly<Record<string, unknown>>;
}

/** Largest JSON evidence file read for detection. */
export const DETECT_MAX_JSON_BYTES = 4 * 1024 * 1024;

function fromObject(o: Record<string, unknown>): DetectedEvidence | undefined {
  const primary = o['primary_evidence'];
  if (primary !== null && typeof primary === 'object' && !Array.isArray(primary)) {
    return fromObject(primary as Record<string, unknown>);
  }
  if ('attestation_report' in o) return { tee: 'snp', evidence: o };
  if ('quote' in o) return { tee: 'tdx', evidence: o };
  if ('svn' in o) return { tee: 'sample', evidence: o };
  return undefined;
}

/** Parses JSON evidence bytes into an object, or undefined when they are not a JSON object. */
export function jsonObjectOf(bytes: Uint8Array): Record<string, unknown> | undefined {
  if (bytes.length === 0 || bytes.length > DETECT_MAX_JSON_BYTES) return undefined;
  let i = 0;
  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)
  )
    i++;
  if (bytes[i] !== 0x7b) return undefined;
  try {
    const v: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Detects the TEE: JSON by its members (attestation_report → snp, quote → tdx, svn → sample);
 * binary by layout (0x4A0 bytes with VERSION 2..5 → snp; a quote header with version 4/5 and
 * TEE type 0x81 → tdx). Throws ERR_ATTEST_TEE_UNDETECTED otherwise.
 */
export function detectTee(bytes: Uint8Array): DetectedEvidence {
  const obj = jsonObjectOf(bytes);
  if (obj !== undefined) {
    const d = fromObject(obj);
    if (d !== undefined) return d;
    throw new CocoonError(
      'ERR_ATTEST_TEE_UNDETECTED',
      'JSON evidence has none of attestation_report, quote, svn',
    );
  }
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length === 0x4a0) {
    const v = b.readUInt32LE(0);
    if (v >= 2 && v <= 5) return { tee: 'snp', evidence: bytes };
  }
  if (b.length >= 48) {
    const v = b.readUInt16LE(0);
    if ((v === 4 || v === 5) && b.readUInt32LE(4) === 0x81) return { tee: 'tdx', evidence: bytes };
  }
  throw new CocoonError(
    'ERR_ATTEST_TEE_UNDETECTED',
    'the evidence is neither an SNP report, a TDX quote nor known JSON',
  );
}
