/**
 * Client ↔ server end to end with simulated TDX and SNP evidence (attestation module's test
 * hierarchies), EC and RSA TEE keys, init-data bound into MRCONFIGID / HOST_DATA; and the same
 * evidence refused by a KBS that does not trust the test roots.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKbs, testRootVerifierOptions, type RunningKbs } from '../../src/kbs/index.js';
import {
  KbsAdminClient,
  KbsClient,
  generateTeeKey,
  simSnpEvidenceProvider,
  simTdxEvidenceProvider,
  type EvidenceProvider,
} from '../../src/kbs-client/index.js';
import { decodeJwt } from '../../src/kbs-protocol/index.js';
import { rejectsCode } from '../helpers/assert-code.js';
import { generateKeyPairSync } from 'node:crypto';

describe('kbs e2e: simulated TDX and SNP', () => {
  let dir: string;
  let kbs: RunningKbs;
  let plain: RunningKbs;
  const adminKeys = generateKeyPairSync('ed25519');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kbs-sim-'));
    kbs = await startKbs({
      listen: '127.0.0.1:0',
      insecureHttp: true,
      resourcesDir: join(dir, 'r1'),
      adminPublicKey: adminKeys.publicKey,
      verifierOptions: testRootVerifierOptions(),
    });
    plain = await startKbs({ listen: '127.0.0.1:0', insecureHttp: true, resourcesDir: join(dir, 'r2') });
    const admin = new KbsAdminClient({ url: kbs.url, insecureHttp: true, adminKey: adminKeys.privateKey });
    await admin.setResource('default/key/sim', Buffer.from('sim-secret'));
  });

  after(async () => {
    await kbs.close();
    await plain.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const providers: [string, () => EvidenceProvider][] = [
    ['tdx', simTdxEvidenceProvider],
    ['snp', simSnpEvidenceProvider],
  ];
  for (const [tee, provider] of providers) {
    for (const alg of ['ECDH-ES+A256KW-P256', 'RSA-OAEP-256'] as const) {
      test(`pass_${tee}_${alg}: default resource policy admits a real-shaped TEE`, async () => {
        const c = new KbsClient({
          url: kbs.url,
          insecureHttp: true,
          evidence: provider(),
          teeKey: generateTeeKey(alg),
        });
        assert.equal((await c.getResource('default/key/sim')).toString(), 'sim-secret');
        assert.equal(c.handshakes, 1);
      });
    }

    test(`pass_${tee}_init_data: digest bound into the evidence`, async () => {
      const body =
        'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"policy.rego" = "package agent_policy"\n';
      const c = new KbsClient({
        url: kbs.url,
        insecureHttp: true,
        evidence: provider(),
        initData: { format: 'toml', body },
      });
      const cpu0 = (
        decodeJwt(await c.attest()).payload['submods'] as Record<string, Record<string, unknown>>
      )['cpu0']!;
      const ae = cpu0['ear.veraison.annotated-evidence'] as Record<string, unknown>;
      assert.ok(tee in ae);
      assert.deepEqual(ae['init_data_claims'], { 'policy.rego': 'package agent_policy' });
    });

    test(`fail_${tee}_init_data_mismatch: evidence bound to other init-data`, async () => {
      const sent = 'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"x" = "1"\n';
      const inner = provider();
      const lying: EvidenceProvider = {
        teeType: () => inner.teeType(),
        primaryEvidence: (d) => inner.primaryEvidence(d, { initDataDigest: new Uint8Array(48).fill(7) }),
      };
      const c = new KbsClient({
        url: kbs.url,
        insecureHttp: true,
        evidence: lying,
        initData: { format: 'toml', body: sent },
      });
      const e = await rejectsCode(c.attest(), 'ERR_KBS_CLIENT_ATTESTATION_FAILED');
      assert.equal(e.details['serverCode'], 'ERR_KBS_EVIDENCE_REJECTED');
    });

    test(`fail_${tee}_untrusted_roots: a KBS without --trust-test-roots refuses sim evidence`, async () => {
      const c = new KbsClient({ url: plain.url, insecureHttp: true, evidence: provider() });
      const e = await rejectsCode(c.attest(), 'ERR_KBS_CLIENT_ATTESTATION_FAILED');
      assert.match(String(e.details['serverCode']), /^ERR_KBS_(EVIDENCE_REJECTED|TEE_NOT_ALLOWED)$/);
    });
  }
});
