/** Streaming digest verification for downloaded content (image-spec descriptor.md §Digests). */
import { createHash, type Hash } from 'node:crypto';
import { CocoonError } from '../common/errors.js';
import { parseDigest } from './ref.js';

/** sha256 digest string (`sha256:<hex>`) of some bytes. */
export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Verifies bytes against an expected digest; throws ERR_OCI_DIGEST_MISMATCH. */
export function verifyBytes(data: Uint8Array, expected: string, what: string): void {
  const v = new DigestVerifier(expected, what);
  v.update(data);
  v.finish();
}

/**
 * Incremental verifier: feed chunks, then `finish()`. An optional expected size is enforced
 * as chunks arrive, so an over-long body is cut off early instead of being read to the end.
 */
export class DigestVerifier {
  private readonly hash: Hash;
  private readonly expectedHex: string;
  private readonly expected: string;
  private readonly what: string;
  private readonly expectedSize: number | undefined;
  private bytes = 0;

  constructor(expected: string, what: string, expectedSize?: number) {
    const d = parseDigest(expected);
    this.hash = createHash(d.algorithm);
    this.expectedHex = d.hex;
    this.expected = expected;
    this.what = what;
    this.expectedSize = expectedSize;
  }

  /** Number of bytes seen so far. */
  get size(): number {
    return this.bytes;
  }

  /** Adds a chunk; throws ERR_OCI_DIGEST_MISMATCH as soon as the declared size is exceeded. */
  update(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    if (this.expectedSize !== undefined && this.bytes > this.expectedSize) {
      throw new CocoonError(
        'ERR_OCI_DIGEST_MISMATCH',
        `${this.what}: more than the declared ${this.expectedSize} bytes`,
        { details: { digest: this.expected, expectedSize: this.expectedSize } },
      );
    }
    this.hash.update(chunk);
  }

  /** Checks size and digest; throws ERR_OCI_DIGEST_MISMATCH. */
  finish(): void {
    if (this.expectedSize !== undefined && this.bytes !== this.expectedSize) {
      throw new CocoonError(
        'ERR_OCI_DIGEST_MISMATCH',
        `${this.what}: got ${this.bytes} bytes, descriptor says ${this.expectedSize}`,
        { details: { digest: this.expected, expectedSize: this.expectedSize, size: this.bytes } },
      );
    }
    const got = this.hash.digest('hex');
    if (got !== this.expectedHex) {
      throw new CocoonError(
        'ERR_OCI_DIGEST_MISMATCH',
        `${this.what}: content digest does not match ${this.expected}`,
        {
          details: { expected: this.expected, size: this.bytes },
        },
      );
    }
  }
}
