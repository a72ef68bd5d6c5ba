/**
 * Client ↔ server end to end on 127.0.0.1:0 with the sample TEE: EC and RSA TEE keys, token
 * cache, re-attestation after expiry, policy deny without retries, passport (Bearer) mode,
 * admin calls, init-data, HTTPS with a given CA.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKbs, type RunningKbs } from '../../src/kbs/index.js';
import { pino } from 'pino';
import {
  KbsAdminClient,
  KbsClient,
  generateTeeKey,
  mintAdminToken,
  sampleEvidenceProvider,
  type TokenProvider,
} from '../../src/kbs-client/index.js';
import { decodeJwt } from '../../src/kbs-protocol/index.js';
import { rejectsCode } from '../helpers/assert-code.js';

describe('kbs e2e: sample TEE', () => {
  let dir: string;
  let kbs: RunningKbs;
  let admin: KbsAdminClient;
  const adminKeys = generateKeyPairSync('ed25519');
  let now = Date.parse('2026-11-24T08:00:00Z');
  const clock = { now: () => new Date(now) };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kbs-e2e-'));
    kbs = await startKbs({
      listen: '127.0.0.1:0',
      insecureHttp: true,
      resourcesDir: join(dir, 'resources'),
      adminPublicKey: adminKeys.publicKey,
      allowSample: true,
      clock,
    });
    admin = new KbsAdminClient({ url: kbs.url, insecureHttp: true, adminKey: adminKeys.privateKey, clock });
    await admin.setResource('default/key/one', Buffer.from('secret-one'));
    await admin.setResourcePolicy('builtin:allow_all');
  });

  after(async () => {
    await kbs.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('pass_ec_key: RCAR then resource decrypts with the EC TEE key', async () => {
    const c = new KbsClient({ url: kbs.url, insecureHttp: true, evidence: sampleEvidenceProvider(), clock });
    assert.equal(c.key.publicJwk.kty, 'EC');
    assert.equal((await c.getResource('default/key/one')).toString(), 'secret-one');
    assert.equal(c.handshakes, 1);
    // Cached token: a second fetch needs no handshake.
    assert.equal((await c.getResource('default/key/one')).toString(), 'secret-one');
    assert.equal(c.handshakes, 1);
  });

  test('pass_rsa_key: RCAR with an RSA-OAEP-256 TEE key', async () => {
    const c = new KbsClient({
      url: kbs.url,
      insecureHttp: true,
      evidence: sampleEvidenceProvider(),
      teeKey: generateTeeKey('RSA-OAEP-256'),
      clock,
    });
    assert.equal(c.key.publicJwk.kty, 'RSA');
    assert.equal((await c.getResource('default/key/one')).toString(), 'secret-one');
  });

  test('pass_token_claims: EAR token layout of kbs-protocol.md §6.2', async () => {
    const c = new KbsClient({ url: kbs.url, insecureHttp: true, evidence: sampleEvidenceProvider(), clock });
    const d = decodeJwt(await c.attest());
    assert.equal(d.header['alg'], 'ES256');
    assert.equal((d.header['jwk'] as Record<string, unknown>)['crv'], 'P-256');
    const cpu0 = (d.payload['submods'] as Record<string, Record<string, unknown>>)['cpu0']!;
    // Trustee defaults without reference values: executables 33, hardware 97 → contraindicated.
    assert.equal(cpu0['ear.status'], 'contraindicated');
    const ae = cpu0['ear.veraison.annotated-evidence'] as Record<string, Record<string, unknown>>;
    assert.deepEqual(ae['runtime_data_claims']!['tee-pubkey'], c.key.publicJwk);
    assert.equal(ae['sample']!['launch_digest'], 'abcde');
    assert.equal(d.payload['exp'], Number(d.payload['iat']) + 300);
  });

  test('pass_reference_values: sample RVs give an affirming token', async () => {
    await admin.setReferenceValues({
      launch_digest: ['abcde'],
      svn: ['1'],
      major_version: 1,
      minimum_minor_version: 0,
    });
    assert.deepEqual(await admin.getReferenceValue('svn'), ['1']);
    const c = new KbsClient({ url: kbs.url, insecureHttp: true, evidence: sampleEvidenceProvider(), clock });
    const cpu0 = (decodeJwt(await c.attest()).payload['submods'] as Record<string, Record<string, unknown>>)[
      'cpu0'
    ]!;
    assert.equal(cpu0['ear.status'], 'affirming');
  });

  test('pass_expired_token_reattests: one new handshake after exp', async () => {
    const c = new KbsClient({ url: kbs.url, insecureHttp: true, evidence: sampleEvidenceProvider(), clock });
    await c.getResource('default/key/one');
    now += 6 * 60 * 1000;
    try {
      assert.equal((await c.getResource('default/key/one')).toString(), 'secret-one');
      assert.equal(c.handshakes, 2);
    } finally {
      now -= 6 * 60 * 1000;
    }
  });

  test('fail_policy_deny_no_retry: deny_all answers once, no triple handshake', async () => {
    await admin.setResourcePolicy('builtin:deny_all');
    try {
      const c = new KbsClient({
        url: kbs.url,
        insecureHttp: true,
        evidence: sampleEvidenceProvider(),
        clock,
      });
      const e = await rejectsCode(c.getResource('default/key/one'), 'ERR_KBS_CLIENT_POLICY_DENIED');
      assert.equal(e.details['serverCode'], 'ERR_KBS_POLICY_DENY');
      assert.equal(c.handshakes, 1);
    } finally {
      await admin.setResourcePolicy('builtin:allow_all');
    }
  });

  test('fail_default_policy_refuses_sample', async () => {
    await admin.setResourcePolicy('builtin:default');
    try {
      const c = new KbsClient({
        url: kbs.url,
        insecureHttp: true,
        evidence: sampleEvidenceProvider(),
        clock,
      });
      await rejectsCode(c.getResource('default/key/one'), 'ERR_KBS_CLIENT_POLICY_DENIED');
    } finally {
      await admin.setResourcePolicy('builtin:allow_all');
    }
  });

  test('fail_unknown_resource: not found, one handshake', async () => {
    const c = new KbsClient({ url: kbs.url, insecureHttp: true, evidence: sampleEvidenceProvider(), clock });
    await rejectsCode(c.getResource('default/key/missing'), 'ERR_KBS_CLIENT_RESOURCE_NOT_FOUND');
    assert.equal(c.handshakes, 1);
  });

  test('pass_passport_mode: Bearer token from a token provider', async () => {
    const issuer = new KbsClient({
      url: kbs.url,
      insecureHttp: true,
      evidence: sampleEvidenceProvider(),
      clock,
    });
    let calls = 0;
    const provider: TokenProvider = {
      async getToken() {
        calls++;
        return { token: await issuer.attest(), teeKey: issuer.key };
      },
    };
    const c = new KbsClient({ url: kbs.url, insecureHttp: true, tokenProvider: provider, clock });
    assert.equal((await c.getResource('default/key/one')).toString(), 'secret-one');
    assert.equal(calls, 1);
  });

  test('pass_init_data: init-data claims reach the token', async () => {
    const body =
      'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"aa.toml" = \'\'\'\n[token_configs.kbs]\nurl = "http://x"\n\'\'\'\n';
    const c = new KbsClient({
      url: kbs.url,
      insecureHttp: true,
      evidence: sampleEvidenceProvider(),
      initData: { format: 'toml', body },
      clock,
    });
    const cpu0 = (decodeJwt(await c.attest()).payload['submods'] as Record<string, Record<string, unknown>>)[
      'cpu0'
    ]!;
    const ae = cpu0['ear.veraison.annotated-evidence'] as Record<string, unknown>;
    assert.deepEqual(ae['init_data_claims'], { 'aa.toml': { token_configs: { kbs: { url: 'http://x' } } } });
    assert.equal(typeof ae['init_data'], 'string');
  });

  test('fail_plain_http_without_flag', async () => {
    const c = new KbsClient({ url: kbs.url, evidence: sampleEvidenceProvider(), clock });
    await rejectsCode(c.attest(), 'ERR_KBS_CLIENT_INSECURE_URL');
  });

  test('pass_admin_calls_logged_without_secret', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const logged = await startKbs({
      listen: '127.0.0.1:0',
      insecureHttp: true,
      resourcesDir: join(dir, 'logged'),
      adminPublicKey: adminKeys.publicKey,
      logger,
      clock,
    });
    try {
      const token = mintAdminToken(adminKeys.privateKey, clock);
      const a = new KbsAdminClient({ url: logged.url, insecureHttp: true, adminToken: token });
      await a.setResource('default/key/logged', Buffer.from('TOP-SECRET-VALUE'));
      await a.setResourcePolicy('builtin:deny_all');
      const text = lines.join('');
      assert.equal((text.match(/kbs admin call/g) ?? []).length, 2);
      assert.match(text, /"path":"\/resource\/default\/key\/logged"/);
      assert.ok(!text.includes('TOP-SECRET-VALUE'), 'the resource never reaches the log');
      assert.ok(!text.includes(token.split('.')[2]!), 'the admin token never reaches the log');
    } finally {
      await logged.close();
    }
  });

  test('pass_admin_delete_resource', async () => {
    await admin.setResource('default/key/tmp', Buffer.from('x'));
    await admin.deleteResource('default/key/tmp');
    await rejectsCode(admin.deleteResource('default/key/tmp'), 'ERR_KBS_CLIENT_ADMIN_REJECTED');
  });
});
