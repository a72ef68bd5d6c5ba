/**
 * The negative table of issue 4: each case mutates one thing of a real exchange and asserts the
 * HTTP status, the ErrorInformation type (kbs-protocol.md §4.4) and Cocoon's error code; after
 * all of them the server still answers /healthz.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKbs, type RunningKbs } from '../../src/kbs/index.js';
import { generateTeeKey, mintAdminToken, type TeeKeyPair } from '../../src/kbs-client/index.js';
import { makeSampleEvidence } from '../../src/attestation/index.js';
import {
  b64u,
  ERROR_CODE_HEADER,
  ERROR_TYPE_PREFIX,
  primaryRuntimeDigest,
  signJwt,
  teePubKeyFromKeyObject,
} from '../../src/kbs-protocol/index.js';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

function expectError(r: Raw, status: number, variant: string, code: string): void {
  assert.equal(r.status, status, `status for ${code}: ${r.body}`);
  const info = JSON.parse(r.body) as { type: string; detail: string };
  assert.equal(info.type, `${ERROR_TYPE_PREFIX}${variant}`);
  assert.equal(typeof info.detail, 'string');
  assert.equal(r.headers[ERROR_CODE_HEADER], code);
}

describe('kbs e2e: negative table', () => {
  let dir: string;
  let kbs: RunningKbs;
  let strict: RunningKbs;
  let now = Date.parse('2026-11-24T08:00:00Z');
  const clock = { now: () => new Date(now) };
  const adminKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const otherKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const adminAuth = (key: KeyObject = adminKeys.privateKey): Record<string, string> => ({
    authorization: `Bearer ${mintAdminToken(key, clock)}`,
  });

  async function auth(base = kbs.url): Promise<{ cookie: string; nonce: string }> {
    const r = await raw(
      base,
      'POST',
      '/kbs/v0/auth',
      { 'content-type': 'application/json' },
      JSON.stringify({ version: '0.4.0', tee: 'sample', 'extra-params': '' }),
    );
    assert.equal(r.status, 200, r.body);
    const cookie = (r.headers['set-cookie'] as string[])[0]!.split(';')[0]!;
    return { cookie, nonce: (JSON.parse(r.body) as { nonce: string }).nonce };
  }

  function attestation(nonce: string, key: TeeKeyPair, bindKey: TeeKeyPair = key): Record<string, unknown> {
    const digest = primaryRuntimeDigest(nonce, bindKey.publicJwk, '');
    return {
      'runtime-data': { nonce, 'tee-pubkey': key.publicJwk },
      'tee-evidence': { primary_evidence: makeSampleEvidence(digest), additional_evidence: '' },
    };
  }

  async function attested(): Promise<{ cookie: string; token: string; body: string }> {
    const { cookie, nonce } = await auth();
    const body = JSON.stringify(attestation(nonce, generateTeeKey()));
    const r = await raw(
      kbs.url,
      'POST',
      '/kbs/v0/attest',
      { cookie, 'content-type': 'application/json' },
      body,
    );
    assert.equal(r.status, 200, r.body);
    return { cookie, token: (JSON.parse(r.body) as { token: string }).token, body };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kbs-neg-'));
    kbs = await startKbs({
      listen: '127.0.0.1:0',
      insecureHttp: true,
      resourcesDir: join(dir, 'r1'),
      adminPublicKey: adminKeys.publicKey,
      allowSample: true,
      resourcePolicy: 'builtin:allow_all',
      clock,
    });
    strict = await startKbs({
      listen: '127.0.0.1:0',
      insecureHttp: true,
      resourcesDir: join(dir, 'r2'),
      authRateLimit: { perSecond: 0.0001, burst: 2 },
      clock,
    });
    const r = await raw(kbs.url, 'POST', '/kbs/v0/resource/default/key/one', adminAuth(), 'secret');
    assert.equal(r.status, 200, r.body);
  });

  after(async () => {
    await kbs.close();
    await strict.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('fail_wrong_protocol_version', async () => {
    const r = await raw(
      kbs.url,
      'POST',
      '/kbs/v0/auth',
      {},
      JSON.stringify({ version: '0.3.0', tee: 'sample', 'extra-params': '' }),
    );
    expectError(r, 401, 'AttestationError', 'ERR_KBS_PROTOCOL_VERSION_MISMATCH');
  });

  test('fail_unknown_tee', async () => {
    const r = await raw(
      kbs.url,
      'POST',
      '/kbs/v0/auth',
      {},
      JSON.stringify({ version: '0.4.0', tee: 'sev', 'extra-params': '' }),
    );
    expectError(r, 401, 'AttestationError', 'ERR_KBS_PROTOCOL_TEE_UNKNOWN');
  });

  test('fail_sample_not_allowed', async () => {
    const r = await raw(
      strict.url,
      'POST',
      '/kbs/v0/auth',
      {},
      JSON.stringify({ version: '0.4.0', tee: 'sample', 'extra-params': '' }),
    );
    expectError(r, 401, 'AttestationError', 'ERR_KBS_TEE_NOT_ALLOWED');
  });

  test('fail_missing_cookie', async () => {
    const { nonce } = await auth();
    const r = await raw(
      kbs.url,
      'POST',
      '/kbs/v0/attest',
      {},
      JSON.stringify(attestation(nonce, generateTeeKey())),
    );
    expectError(r, 401, 'AttestationError', 'ERR_KBS_SESSION_MISSING');
  });

  test('fail_foreign_cookie', async () => {
    const { nonce } = await auth();
    const r = await raw(
      kbs.url,
      'POST',
      '/kbs/v0/attest',
      { cookie: 'kbs-session-id=0123456789abcdef0123456789abcdef' },
      JSON.stringify(attestation(nonce, generateTeeKey())),
    );
    expectError(r, 401, 'AttestationError', 'ERR_KBS_SESSION_UNKNOWN');
  });

  test('fail_expired_cookie', async () => {
    const { cookie, nonce } = await auth();
    now += 6 * 60 * 1000;
    try {
      const r = await raw(
        kbs.url,
        'POST',
        '/kbs/v0/attest',
        { cookie },
        JSON.stringify(attestation(nonce, generateTeeKey())),
      );
      expectError(r, 401, 'AttestationError', 'ERR_KBS_SESSION_EXPIRED');
    } finally {
      now -= 6 * 60 * 1000;
    }
  });

  test('fail_nonce_replay_same_session', async () => {
    const a = await attested();
    const r = await raw(kbs.url, 'POST', '/kbs/v0/attest', { cookie: a.cookie }, a.body);
    expectError(r, 401, 'AttestationError', 'ERR_KBS_NONCE_REPLAY');
  });

  test('fail_nonce_replay_other_session', async () => {
    const a = await attested();
    const b = await auth();
    const r = await raw(kbs.url, 'POST', '/kbs/v0/attest', { cookie: b.cookie }, a.body);
    expectError(r, 401, 'AttestationError', 'ERR_KBS_NONCE_MISMATCH');
  });

  test('fail_failed_attempt_consumes_the_challenge', async () => {
    const { cookie, nonce } = await auth();
    const bad = attestation(nonce, generateTeeKey());
    ((bad['tee-evidence'] as Record<string, unknown>)['primary_evidence'] as Record<string, unknown>)[
      'report_data'
    ] = 'AAAA';
    expectError(
      await raw(kbs.url, 'POST', '/kbs/v0/attest', { cookie }, JSON.stringify(bad)),
      401,
      'AttestationError',
      'ERR_KBS_EVIDENCE_REJECTED',
    );
    const good = await raw(
      kbs.url,
      'POST',
      '/kbs/v0/attest',
      { cookie },
      JSON.stringify(attestation(nonce, generateTeeKey())),
    );
    expectError(good, 401, 'AttestationError', 'ERR_KBS_SESSION_UNKNOWN');
  });

  test('fail_tampered_evidence', async () => {
    const { cookie, nonce } = await auth();
    const att = attestation(nonce, generateTeeKey());
    const ev = (att['tee-evidence'] as Record<string, unknown>)['primary_evidence'] as Record<string, string>;
    const bytes = Buffer.from(ev['report_data']!, 'base64');
    bytes[0]! ^= 1;
    ev['report_data'] = bytes.toString('base64');
    const r = await raw(kbs.url, 'POST', '/kbs/v0/attest', { cookie }, JSON.stringify(att));
    expectError(r, 401, 'AttestationError', 'ERR_KBS_EVIDENCE_REJECTED');
  });

  test('fail_extra_jwk_member', async () => {
    const { cookie, nonce } = await auth();
    const k = generateTeeKey();
    const att = attestation(nonce, k);
    (att['runtime-data'] as Record<string, unknown>)['tee-pubkey'] = { ...k.publicJwk, kid: 'x' };
    const r = await raw(kbs.url, 'POST', '/kbs/v0/attest', { cookie }, JSON.stringify(att));
    expectError(r, 401, 'AttestationError', 'ERR_KBS_PROTOCOL_JWK_INVALID');
  });

  test('fail_rsa1_5_key_disabled', async () => {
    const { cookie, nonce } = await auth();
    const k = generateTeeKey('RSA-OAEP-256');
    const att = attestation(nonce, k);
    (att['runtime-data'] as Record<string, unknown>)['tee-pubkey'] = { ...k.publicJwk, alg: 'RSA1_5' };
    const r = await raw(kbs.url, 'POST', '/kbs/v0/attest', { cookie }, JSON.stringify(att));
    expectError(r, 401, 'AttestationError', 'ERR_KBS_PROTOCOL_ALG_UNSUPPORTED');
  });

  test('fail_wrong_tee_key', async () => {
    const { cookie, nonce } = await auth();
    const r = await raw(
      kbs.url,
      'POST',
      '/kbs/v0/attest',
      { cookie },
      JSON.stringify(attestation(nonce, generateTeeKey(), generateTeeKey())),
    );
    expectError(r, 401, 'AttestationError', 'ERR_KBS_EVIDENCE_REJECTED');
  });

  test('fail_no_token', async () => {
    const r = await raw(kbs.url, 'GET', '/kbs/v0/resource/default/key/one');
    expectError(r, 401, 'TokenNotFound', 'ERR_KBS_TOKEN_MISSING');
  });

  test('fail_policy_deny', async () => {
    const a = await attested();
    const set = (p: string): Promise<Raw> =>
      raw(kbs.url, 'POST', '/kbs/v0/resource-policy', adminAuth(), JSON.stringify({ policy: b64u(p) }));
    assert.equal((await set('builtin:deny_all')).status, 200);
    try {
      expectError(
        await raw(kbs.url, 'GET', '/kbs/v0/resource/default/key/one', { cookie: a.cookie }),
        401,
        'PolicyDeny',
        'ERR_KBS_POLICY_DENY',
      );
    } finally {
      assert.equal((await set('builtin:allow_all')).status, 200);
    }
  });

  test('fail_policy_upload_not_rego', async () => {
    const r = await raw(
      kbs.url,
      'POST',
      '/kbs/v0/resource-policy',
      adminAuth(),
      JSON.stringify({ policy: b64u('package policy\nallow if {') }),
    );
    expectError(r, 401, 'ParsePolicyError', 'ERR_KBS_POLICY_INVALID');
    const padded = await raw(
      kbs.url,
      'POST',
      '/kbs/v0/attestation-policy',
      adminAuth(),
      JSON.stringify({ policy_id: 'default_cpu', policy: 'YQ==' }),
    );
    expectError(padded, 401, 'ParsePolicyError', 'ERR_KBS_POLICY_INVALID');
  });

  test('pass_custom_rego_resource_policy', async () => {
    const a = await attested();
    const policy =
      'package policy\nimport rego.v1\ndefault allow := false\nallow if data["resource-path"][2] == "one"\n';
    assert.equal(
      (
        await raw(
          kbs.url,
          'POST',
          '/kbs/v0/resource-policy',
          adminAuth(),
          JSON.stringify({ policy: b64u(policy) }),
        )
      ).status,
      200,
    );
    try {
      assert.equal(
        (await raw(kbs.url, 'GET', '/kbs/v0/resource/default/key/one', { cookie: a.cookie })).status,
        200,
      );
      expectError(
        await raw(kbs.url, 'GET', '/kbs/v0/resource/default/key/two', { cookie: a.cookie }),
        401,
        'PolicyDeny',
        'ERR_KBS_POLICY_DENY',
      );
    } finally {
      await raw(
        kbs.url,
        'POST',
        '/kbs/v0/resource-policy',
        adminAuth(),
        JSON.stringify({ policy: b64u('builtin:allow_all') }),
      );
    }
  });

  test('fail_unknown_resource', async () => {
    const a = await attested();
    const r = await raw(kbs.url, 'GET', '/kbs/v0/resource/default/key/none', { cookie: a.cookie });
    expectError(r, 401, 'PluginInternalError', 'ERR_KBS_RESOURCE_NOT_FOUND');
  });

  for (const [name, path] of [
    ['fail_traversal_dotdot', '/kbs/v0/resource/../../etc'],
    ['fail_traversal_encoded', '/kbs/v0/resource/%2e%2e/key/one'],
    ['fail_traversal_hidden', '/kbs/v0/resource/.state/x/token-signing-key.pem'],
    ['fail_traversal_extra_segment', '/kbs/v0/resource/default/key/one/..'],
  ] as const) {
    test(name, async () => {
      const a = await attested();
      expectError(
        await raw(kbs.url, 'GET', path, { cookie: a.cookie }),
        401,
        'PluginInternalError',
        'ERR_KBS_RESOURCE_PATH_INVALID',
      );
      expectError(
        await raw(kbs.url, 'POST', path, adminAuth(), 'x'),
        401,
        'PluginInternalError',
        'ERR_KBS_RESOURCE_PATH_INVALID',
      );
    });
  }

  test('fail_oversize_body', async () => {
    const r = await raw(kbs.url, 'POST', '/kbs/v0/auth', {}, Buffer.alloc(3 * 1024 * 1024, 0x20));
    expectError(r, 413, 'PayloadTooLarge', 'ERR_KBS_BODY_TOO_LARGE');
  });

  test('fail_admin_unauthenticated', async () => {
    expectError(
      await raw(kbs.url, 'POST', '/kbs/v0/resource/default/key/x', {}, 'v'),
      401,
      'AdminAuthAccess',
      'ERR_KBS_ADMIN_UNAUTHORIZED',
    );
    expectError(
      await raw(strict.url, 'POST', '/kbs/v0/resource/default/key/x', adminAuth(), 'v'),
      401,
      'AdminAuthAccess',
      'ERR_KBS_ADMIN_UNAUTHORIZED',
    );
  });

  test('fail_admin_wrong_key', async () => {
    const r = await raw(
      kbs.url,
      'POST',
      '/kbs/v0/resource/default/key/x',
      adminAuth(otherKeys.privateKey),
      'v',
    );
    expectError(r, 401, 'AdminAuthAccess', 'ERR_KBS_ADMIN_UNAUTHORIZED');
  });

  test('fail_admin_expired', async () => {
    const iat = Math.floor(now / 1000) - 3 * 3600;
    const token = signJwt({ iat, exp: iat + 3600 }, adminKeys.privateKey);
    const r = await raw(
      kbs.url,
      'POST',
      '/kbs/v0/resource/default/key/x',
      { authorization: `Bearer ${token}` },
      'v',
    );
    expectError(r, 401, 'AdminAuthAccess', 'ERR_KBS_ADMIN_UNAUTHORIZED');
  });

  test('fail_expired_token', async () => {
    const a = await attested();
    now += 10 * 60 * 1000;
    try {
      const r = await raw(kbs.url, 'GET', '/kbs/v0/resource/default/key/one', {
        authorization: `Bearer ${a.token}`,
      });
      expectError(r, 401, 'TokenVerifierError', 'ERR_KBS_TOKEN_EXPIRED');
    } finally {
      now -= 10 * 60 * 1000;
    }
  });

  test('fail_forged_token', async () => {
    const a = await attested();
    const [, payload] = a.token.split('.');
    const forged = signJwt(
      JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>,
      otherKeys.privateKey,
      {
        jwk: teePubKeyFromKeyObject(otherKeys.publicKey),
      },
    );
    const r = await raw(kbs.url, 'GET', '/kbs/v0/resource/default/key/one', {
      authorization: `Bearer ${forged}`,
    });
    expectError(r, 401, 'TokenVerifierError', 'ERR_KBS_TOKEN_INVALID');
  });

  test('fail_unknown_plugin', async () => {
    expectError(
      await raw(kbs.url, 'GET', '/kbs/v0/nebula/x'),
      404,
      'PluginNotFound',
      'ERR_KBS_PLUGIN_NOT_FOUND',
    );
    expectError(await raw(kbs.url, 'GET', '/other'), 404, 'PluginNotFound', 'ERR_KBS_PLUGIN_NOT_FOUND');
  });

  test('fail_method_not_allowed', async () => {
    expectError(
      await raw(kbs.url, 'GET', '/kbs/v0/auth'),
      405,
      'PluginNotFound',
      'ERR_KBS_METHOD_NOT_ALLOWED',
    );
    expectError(await raw(kbs.url, 'POST', '/metrics'), 405, 'PluginNotFound', 'ERR_KBS_METHOD_NOT_ALLOWED');
  });

  test('fail_rate_limited_auth', async () => {
    const body = JSON.stringify({ version: '0.4.0', tee: 'tdx', 'extra-params': '' });
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await raw(strict.url, 'POST', '/kbs/v0/auth', {}, body)).status);
    const last = await raw(strict.url, 'POST', '/kbs/v0/auth', {}, body);
    expectError(last, 429, 'TooManyRequests', 'ERR_KBS_RATE_LIMITED');
    assert.ok(codes.includes(429));
  });

  for (const [name, path, variant] of [
    ['fail_malformed_json_auth', '/kbs/v0/auth', 'AttestationError'],
    ['fail_malformed_json_attestation_policy', '/kbs/v0/attestation-policy', 'AttestationError'],
    ['fail_malformed_json_resource_policy', '/kbs/v0/resource-policy', 'AttestationError'],
    ['fail_malformed_json_reference_value', '/kbs/v0/reference-value', 'RvpsError'],
  ] as const) {
    test(name, async () => {
      for (const body of ['{', '[]', 'null', '{"a":', '\u0000', '{"version":1}', '"x"']) {
        const r = await raw(kbs.url, 'POST', path, adminAuth(), body);
        assert.equal(r.status, 401, `${path} ${body}: ${r.body}`);
        const info = JSON.parse(r.body) as { type: string };
        assert.ok(info.type.startsWith(ERROR_TYPE_PREFIX));
        if (path === '/kbs/v0/auth' && body === '{')
          assert.equal(info.type, `${ERROR_TYPE_PREFIX}${variant}`);
      }
    });
  }

  test('fail_malformed_json_attest', async () => {
    for (const body of ['{', '[]', '{"runtime-data":{}}', '{"runtime-data":{"nonce":1},"tee-evidence":{}}']) {
      const { cookie } = await auth();
      const r = await raw(kbs.url, 'POST', '/kbs/v0/attest', { cookie }, body);
      expectError(r, 401, 'AttestationError', r.headers[ERROR_CODE_HEADER] as string);
      assert.match(r.headers[ERROR_CODE_HEADER] as string, /^ERR_KBS_PROTOCOL_/);
    }
  });

  test('pass_server_survives', async () => {
    const r = await raw(kbs.url, 'GET', '/healthz');
    assert.equal(r.status, 200);
    const m = await raw(kbs.url, 'GET', '/metrics');
    assert.match(m.body, /kbs_http_requests_total\{endpoint="auth",status="401"\}/);
  });
});
