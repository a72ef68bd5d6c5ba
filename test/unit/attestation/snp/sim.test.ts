import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { packagePath } from '../../../../src/common/paths.js';
import { fixedClock } from '../../../../src/common/clock.js';
import { expected } from '../../../../src/attestation/verifier.js';
import { parseReport, REPORT_SIZE, SNP_PRODUCTS } from '../../../../src/attestation/snp/abi.js';
import { parseSnpEvidence } from '../../../../src/attestation/snp/trustee-json.js';
import { createSnpVerifier } from '../../../../src/attestation/snp/verifier.js';
import { generateSimSnpReport, simSnpRoots } from '../../../../src/attestation/snp/sim.js';

const at = fixedClock('2026-01-01T00:00:00Z');
const none = expected.notProvided<Uint8Array>();

describe('simulated SNP (test AMD hierarchy)', () => {
  for (const product of SNP_PRODUCTS) {
    for (const version of [2, 3, 5]) {
      test(`pass_${product}_v${version}_real_layout_accepted_only_with_the_test_roots`, async () => {
        const rd = new Uint8Array(64).fill(version);
        const host = new Uint8Array(32).fill(0xab);
        const meas = new Uint8Array(48).fill(0xcd);
        const sim = generateSimSnpReport({
          reportData: rd,
          hostData: host,
          measurement: meas,
          product,
          version,
        });
        assert.equal(sim.report.length, REPORT_SIZE);
        const r = parseReport(sim.report, { product });
        assert.deepEqual([r.version, r.product], [version, product]);
        assert.deepEqual(Buffer.from(r.hostData), Buffer.from(host));
        assert.deepEqual(Buffer.from(r.measurement), Buffer.from(meas));
        assert.equal(r.reportedTcb.layout, product === 'Turin' ? 'turin' : 'legacy');
        const ok = await createSnpVerifier({ roots: simSnpRoots(), clock: at }).verify({
          evidence: sim.evidence,
          reportData: expected.value(rd),
          initDataHash: expected.value(host),
        });
        assert.equal(ok.verdict, 'valid', JSON.stringify(ok.failures));
        assert.equal(ok.verified?.product, product);
        const dflt = await createSnpVerifier({ clock: at }).verify({
          evidence: sim.evidence,
          reportData: none,
          initDataHash: none,
        });
        assert.equal(dflt.failures[0]!.code, 'ERR_SNP_CHAIN_INVALID');
        // With the test ARK in cert_chain but default roots: refused as an unpinned root.
        const withArk = {
          ...sim.evidence,
          cert_chain: [
            { cert_type: 'VCEK', data: Array.from(sim.certChain.vcek) },
            { cert_type: 'ARK', data: Array.from(sim.certChain.ark) },
          ],
        };
        const rooted = await createSnpVerifier({ clock: at }).verify({
          evidence: withArk,
          reportData: none,
          initDataHash: none,
        });
        assert.equal(rooted.failures[0]!.code, 'ERR_SNP_ROOT_UNTRUSTED');
      });
    }
  }

  test('pass_debug_flag_sets_policy_bit_19', () => {
    const r = parseReport(generateSimSnpReport({ reportData: new Uint8Array(64), debug: true }).report);
    assert.equal(r.policyBits.debugAllowed, true);
  });

  test('pass_committed_example_matches_committed_test_keys', async () => {
    const dir = packagePath('fixtures', 'snp-sim');
    const ev = JSON.parse(readFileSync(`${dir}/example-evidence.json`, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(
      Buffer.from(parseSnpEvidence(ev).reportBytes),
      readFileSync(`${dir}/example-report.bin`),
    );
    const r = await createSnpVerifier({ roots: simSnpRoots(), clock: at }).verify({
      evidence: ev,
      reportData: none,
      initDataHash: none,
    });
    assert.equal(r.verdict, 'valid', JSON.stringify(r.failures));
    for (const k of ['ark', 'ask', 'vcek']) {
      assert.match(readFileSync(`${dir}/test-${k}.key.pem`, 'utf8'), /^# TEST KEY/);
    }
  });

  test('fail_bad_generator_arguments_are_type_errors', () => {
    assert.throws(() => generateSimSnpReport({ reportData: new Uint8Array(48) }), TypeError);
    assert.throws(
      () => generateSimSnpReport({ reportData: new Uint8Array(64), hostData: new Uint8Array(3) }),
      TypeError,
    );
  });
});
