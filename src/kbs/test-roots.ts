/**
 * `--trust-test-roots`: verifier options that make the simulated TDX and SNP evidence of
 * src/attestation verifiable (their TEST roots and the sim TDX collateral). Off by default — the
 * real verifiers pin Intel's and AMD's roots, and only this explicit switch replaces them.
 */
import { simSnpRoots } from '../attestation/snp/index.js';
import { loadSimHierarchy } from '../attestation/tdx/sim.js';

/** Verifier options per TEE that trust the simulator's test hierarchies. */
export function testRootVerifierOptions(): Record<string, Record<string, unknown>> {
  const tdx = loadSimHierarchy();
  return {
    snp: { roots: simSnpRoots() },
    tdx: { trustRoots: [tdx.rootPem], collateral: tdx.collateral },
  };
}
