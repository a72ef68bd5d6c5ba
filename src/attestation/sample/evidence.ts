/**
 * Parse step of Trustee's sample TEE (kbs-protocol.md §3.6, §8; TRUSTEE
 * deps/verifier/src/sample/mod.rs): evidence is `{"svn": "<string>", "report_data": "<std b64>"}`,
 * `report_data` defaulting to "" when absent. There is no signature: this TEE exists only so the
 * protocol can be exercised without hardware, and default policies refuse it.
 */
import { CocoonError } from '../../common/errors.js';

/** Largest sample evidence accepted (bytes of JSON); real evidence is under 200 bytes. */
export const SAMPLE_EVIDENCE_MAX_BYTES = 64 * 1024;

/** The sample TEE evidence, as sent. */
export interface SampleEvidence {
  /** `svn` member, a string (kept as sent; Trustee's policy compares it as a string). */
  readonly svn: string;
  /** `report_data` member: standard base64 of the raw 48-byte runtime-data digest. */
  readonly reportData: string;
}

function invalid(message: string): CocoonError {
  return new CocoonError('ERR_SAMPLE_EVIDENCE_INVALID', message, { details: { stage: 'parse' } });
}

/** Parses sample evidence from JSON bytes or an already-decoded JSON object. */
export function parseSampleEvidence(
  evidence: Uint8Array | Readonly<Record<string, unknown>>,
): SampleEvidence {
  let obj: unknown = evidence;
  if (evidence instanceof Uint8Array) {
    if (evidence.length > SAMPLE_EVIDENCE_MAX_BYTES) {
      throw invalid(`sample evidence is ${evidence.length} bytes, limit ${SAMPLE_EVIDENCE_MAX_BYTES}`);
    }
    try {
      obj = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(evidence));
    } catch (e) {
      throw new CocoonError('ERR_SAMPLE_EVIDENCE_INVALID', 'sample evidence is not UTF-8 JSON', {
        cause: e,
        details: { stage: 'parse' },
      });
    }
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw invalid('sample evidence must be a JSON object');
  }
  // Read each untrusted member exactly once (STYLE.md rule 4).
  const rec = obj as Record<string, unknown>;
  const svn = rec['svn'];
  const reportData = rec['report_data'];
  if (typeof svn !== 'string') throw invalid('sample evidence member "svn" must be a string');
  if (reportData !== undefined && typeof reportData !== 'string') {
    throw invalid('sample evidence member "report_data" must be a string');
  }
  return { svn, reportData: reportData ?? '' };
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict standard base64 (RFC 4648 §4, padded), as Rust's base64 STANDARD engine decodes it:
 * no whitespace, no URL alphabet, canonical trailing bits. Returns undefined when invalid.
 */
export function decodeStdBase64(s: string): Uint8Array | undefined {
  if (!B64.test(s)) return undefined;
  const b = Buffer.from(s, 'base64');
  if (b.toString('base64') !== s) return undefined;
  return new Uint8Array(b);
}

/** Builds sample evidence for `reportData` (the simulator side, kbs-protocol.md §8 step 4). */
export function makeSampleEvidence(reportData: Uint8Array, svn = '1'): { svn: string; report_data: string } {
  return { svn, report_data: Buffer.from(reportData).toString('base64') };
}
