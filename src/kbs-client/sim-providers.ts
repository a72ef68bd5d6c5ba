/**
 * Evidence providers over the attestation module's simulators (test keys only): simulated TDX
 * quotes (`{"cc_eventlog": null, "quote": <std b64>}`) and SNP reports in Trustee's JSON shape
 * (kbs-protocol.md §3.6). The runtime digest is zero-padded to 64-byte REPORTDATA / REPORT_DATA
 * (§3.5) and the init-data digest fitted to MRCONFIGID (48 bytes) / HOST_DATA (32 bytes) (§10).
 * A KBS accepts these only with --trust-test-roots.
 */
import { generateSimSnpReport } from '../attestation/snp/index.js';
import { generateSimTdxQuote } from '../attestation/tdx/sim.js';
import { b64std, reportDataFor } from '../kbs-protocol/index.js';
import type { EvidenceProvider } from './evidence-provider.js';

function fit(v: Uint8Array | undefined, size: number): Uint8Array | undefined {
  if (v === undefined) return undefined;
  const out = new Uint8Array(size);
  out.set(v.subarray(0, size));
  return out;
}

/** Simulated TDX evidence. */
export function simTdxEvidenceProvider(): EvidenceProvider {
  return {
    teeType: () => Promise.resolve('tdx'),
    primaryEvidence(digest, ctx) {
      const mrConfigId = fit(ctx.initDataDigest, 48);
      const { quote } = generateSimTdxQuote({
        reportData: reportDataFor('tdx', digest),
        ...(mrConfigId === undefined ? {} : { mrConfigId }),
      });
      return Promise.resolve({ cc_eventlog: null, quote: b64std(quote) });
    },
  };
}

/** Simulated SNP evidence. */
export function simSnpEvidenceProvider(): EvidenceProvider {
  return {
    teeType: () => Promise.resolve('snp'),
    primaryEvidence(digest, ctx) {
      const hostData = fit(ctx.initDataDigest, 32);
      const r = generateSimSnpReport({
        reportData: reportDataFor('snp', digest),
        ...(hostData === undefined ? {} : { hostData }),
      });
      return Promise.resolve(r.evidence);
    },
  };
}
