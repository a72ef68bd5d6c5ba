import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CocoonError } from '../../../../src/common/errors.js';
import { lookupErrorCode } from '../../../../src/common/error-registry.js';
import { expected } from '../../../../src/attestation/verifier.js';
import { parseReport, REPORT_SIZE } from '../../../../src/attestation/snp/abi.js';
import { parseCert, parseCrl } from '../../../../src/attestation/snp/certs.js';
import { parseSnpEvidence } from '../../../../src/attestation/snp/trustee-json.js';
import { createSnpVerifier } from '../../../../src/attestation/snp/verifier.js';
import { fixedClock } from '../../../../src/common/clock.js';
import { readShared } from '../../../helpers/shared.js';

/** Deterministic PRNG (xorshift32) so a failing case can be replayed from its index. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

function typedOnly(fn: () => unknown, label: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CocoonError, `${label}: untyped ${String(e)}`);
    assert.ok(lookupErrorCode(e.code) !== undefined, `${label}: unregistered ${e.code}`);
  }
}

const report = readShared('evidence', 'snp', 'trustee-genoa-e2e', 'report.bin');
const vcek = readShared('evidence', 'snp', 'trustee-genoa-e2e', 'vcek.der');
const json = readShared('evidence', 'snp', 'trustee-genoa-e2e', 'evidence.json');

function mutate(base: Uint8Array, r: () => number): Uint8Array {
  const kind = Math.floor(r() * 6);
  const b = Buffer.from(base);
  switch (kind) {
    case 0: // truncation
      return b.subarray(0, Math.floor(r() * b.length));
    case 1: // garbage of random length
      return Buffer.from(Array.from({ length: Math.floor(r() * 2048) }, () => Math.floor(r() * 256)));
    case 2: {
      // a few random byte flips
      for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++)
        b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      return b;
    }
    case 3: {
      // hostile DER lengths: 0x84 ffffffff at a random offset
      const o = Math.floor(r() * Math.max(1, b.length - 6));
      b.set([0x30, 0x84, 0xff, 0xff, 0xff, 0xff], o);
      return b;
    }
    case 4: // extension by random bytes
      return Buffer.concat([b, Buffer.from([Math.floor(r() * 256)])]);
    default: {
      // zero a random range
      const s = Math.floor(r() * b.length);
      b.fill(0, s, Math.min(b.length, s + Math.floor(r() * 64)));
      return b;
    }
  }
}

test(
  'fuzz: 10,000+ mutated reports, certificates, CRLs and JSON yield only typed errors',
  { timeout: 60_000 },
  async () => {
    const r = rng(0xc0c00);
    const t0 = Date.now();
    let n = 0;
    for (let i = 0; i < 4000; i++, n++) typedOnly(() => parseReport(mutate(report, r)), `report #${i}`);
    for (let i = 0; i < 3000; i++, n++) typedOnly(() => parseCert(mutate(vcek, r)), `cert #${i}`);
    for (let i = 0; i < 1000; i++, n++) typedOnly(() => parseCrl(mutate(vcek, r)), `crl #${i}`);
    for (let i = 0; i < 1500; i++, n++) typedOnly(() => parseSnpEvidence(mutate(json, r)), `json #${i}`);
    // Whole-verifier cases: never throw, always a result with registered codes.
    const v = createSnpVerifier({ clock: fixedClock('2025-06-01T00:00:00Z') });
    for (let i = 0; i < 600; i++, n++) {
      const res = await v.verify({
        evidence: i % 2 === 0 ? mutate(json, r) : mutate(report, r),
        reportData: expected.notProvided(),
        initDataHash: expected.notProvided(),
      });
      for (const f of res.failures)
        assert.ok(lookupErrorCode(f.code) !== undefined, `verifier #${i}: ${f.code}`);
      assert.ok(
        res.failures.every((f) => f.code !== 'ERR_COMMON_INTERNAL'),
        `verifier #${i}: internal error`,
      );
    }
    assert.ok(n >= 10_000);
    assert.ok(Date.now() - t0 < 60_000);
    assert.equal(REPORT_SIZE, 0x4a0);
  },
);
