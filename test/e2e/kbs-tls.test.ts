/**
 * HTTPS: the KBS serves TLS with a test certificate; the client trusts it only through the given
 * CA (--cert), and an HTTPS KBS without TLS material refuses to start.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { startKbs, type RunningKbs } from '../../src/kbs/index.js';
import { KbsClient, sampleEvidenceProvider } from '../../src/kbs-client/index.js';
import { rejectsCode } from '../helpers/assert-code.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

async function selfSigned(): Promise<{ cert: string; key: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=cocoon-kbs-test (TEST ONLY)',
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem'), key };
}

describe('kbs e2e: HTTPS with a given CA', () => {
  let dir: string;
  let kbs: RunningKbs;
  let tls: { cert: string; key: string };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kbs-tls-'));
    tls = await selfSigned();
    kbs = await startKbs({ listen: '127.0.0.1:0', tls, resourcesDir: join(dir, 'res'), allowSample: true });
  });

  after(async () => {
    await kbs.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('pass_https_with_ca', async () => {
    assert.match(kbs.url, /^https:/);
    const c = new KbsClient({
      url: kbs.url,
      ca: tls.cert,
      evidence: sampleEvidenceProvider(),
      timeoutMs: 10_000,
    });
    assert.equal(typeof (await c.attest()), 'string');
  });

  test('fail_https_without_ca', async () => {
    const c = new KbsClient({ url: kbs.url, evidence: sampleEvidenceProvider(), timeoutMs: 10_000 });
    await rejectsCode(c.attest(), 'ERR_KBS_CLIENT_HTTP_FAILED');
  });

  test('fail_https_server_without_tls_material', async () => {
    await rejectsCode(
      startKbs({ listen: '127.0.0.1:0', resourcesDir: join(dir, 'r2') }),
      'ERR_KBS_CONFIG_INVALID',
    );
  });
});
