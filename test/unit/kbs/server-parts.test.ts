/** Server parts in isolation: sessions, built-in policies, rate limit, error mapping, tokens, admin auth, RVPS, init-data, config. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock } from '../../../src/common/clock.js';
import { CocoonError } from '../../../src/common/errors.js';
import { loadConfig } from '../../../src/config/config.js';
import { kbsSection } from '../../../src/config/sections/kbs.js';
import { authenticateAdmin } from '../../../src/kbs/admin-auth.js';
import { initDataDigest } from '../../../src/kbs/attest.js';
import { toHttpError, ERROR_VARIANTS } from '../../../src/kbs/http-errors.js';
import { KBS_ERROR_CODES } from '../../../src/kbs/error-codes.js';
import {
  BuiltinAttestationPolicy,
  BuiltinResourcePolicy,
  createBuiltinPolicyEngines,
  defaultCpuAppraisal,
  evaluateBuiltinResourcePolicy,
  type ResourcePolicyData,
} from '../../../src/kbs/policy.js';
import { RateLimiter } from '../../../src/kbs/rate-limit.js';
import { ReferenceValueStore } from '../../../src/kbs/reference-values.js';
import { cookieValue, SessionStore } from '../../../src/kbs/session.js';
import { loadOrCreateSigningKey, TokenBroker, SIGNING_KEY_FILE } from '../../../src/kbs/token.js';
import { b64std, ERROR_TYPE_PREFIX, signJwt } from '../../../src/kbs-protocol/index.js';
import { rejectsCode, throwsCode } from '../../helpers/assert-code.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'kbs-parts-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const T0 = Date.parse('2026-11-24T08:00:00Z');
function movable(): { clock: { now: () => Date }; advance: (ms: number) => void } {
  let t = T0;
  return { clock: { now: () => new Date(t) }, advance: (ms) => (t += ms) };
}
const REQ = { version: '0.4.0', tee: 'sample', 'extra-params': '' } as const;

describe('SessionStore', () => {
  test('pass_create_lookup_attest', () => {
    const s = new SessionStore({ clock: fixedClock(T0) });
    const a = s.create(REQ);
    assert.match(a.id, /^[0-9a-f]{32}$/);
    assert.equal(Buffer.from(a.nonce, 'base64').length, 32);
    assert.equal(a.nonce.length, 44);
    assert.equal(s.get(a.id), a);
    s.beginAttest(a);
    throwsCode(() => s.beginAttest(a), 'ERR_KBS_NONCE_REPLAY');
    s.completeAttest(a, 'tok');
    assert.equal(s.attested(a.id)?.token, 'tok');
  });
  test('fail_missing_unknown_expired', () => {
    const m = movable();
    const s = new SessionStore({ clock: m.clock, lifetimeMs: 1000 });
    const a = s.create(REQ);
    throwsCode(() => s.get(undefined), 'ERR_KBS_SESSION_MISSING');
    throwsCode(() => s.get('nope'), 'ERR_KBS_SESSION_UNKNOWN');
    m.advance(1000);
    throwsCode(() => s.get(a.id), 'ERR_KBS_SESSION_EXPIRED');
    throwsCode(() => s.get(a.id), 'ERR_KBS_SESSION_UNKNOWN');
  });
  test('pass_sweep_and_cap', () => {
    const m = movable();
    const s = new SessionStore({ clock: m.clock, lifetimeMs: 1000, maxSessions: 3 });
    for (let i = 0; i < 3; i++) s.create(REQ);
    throwsCode(() => s.create(REQ), 'ERR_KBS_SESSIONS_EXHAUSTED');
    m.advance(2000);
    s.create(REQ);
    assert.equal(s.size, 1);
  });
  test('pass_cookie_value', () => {
    assert.equal(cookieValue('a=1; kbs-session-id=abc ; b=2', 'kbs-session-id'), 'abc');
    assert.equal(cookieValue('a=1', 'kbs-session-id'), undefined);
    assert.equal(cookieValue(undefined, 'kbs-session-id'), undefined);
  });
});

describe('built-in policies (kbs-protocol.md §7)', () => {
  const sampleInput = {
    sample: { svn: '1', launch_digest: 'abcde', platform_version: { major: 1, minor: 4 }, debug: false },
  };
  const rv = (m: Record<string, unknown>) => (id: string) => m[id];
  test('pass_sample_without_rvs_is_contraindicated', () => {
    const a = defaultCpuAppraisal({ tee: 'sample', input: sampleInput }, rv({}));
    assert.deepEqual(
      [a.trustVector.executables, a.trustVector.hardware, a.trustVector.configuration],
      [33, 97, 2],
    );
    assert.equal(a.status, 'contraindicated');
  });
  test('pass_sample_with_rvs_is_affirming', () => {
    const a = defaultCpuAppraisal(
      { tee: 'sample', input: sampleInput },
      rv({ launch_digest: ['abcde'], svn: ['1'], major_version: 1, minimum_minor_version: 4 }),
    );
    assert.equal(a.status, 'affirming');
  });
  test('fail_sample_minor_below_minimum', () => {
    const a = defaultCpuAppraisal(
      { tee: 'sample', input: sampleInput },
      rv({ launch_digest: ['abcde'], svn: ['1'], major_version: 1, minimum_minor_version: 5 }),
    );
    assert.equal(a.trustVector.hardware, 97);
  });
  test('pass_snp_branches', () => {
    const snp = {
      measurement: 'aa',
      reported_tcb_bootloader: 10,
      reported_tcb_microcode: 25,
      reported_tcb_snp: 23,
      reported_tcb_tee: 0,
      policy_debug_allowed: false,
      policy_migrate_ma: false,
      platform_smt_enabled: true,
      platform_tsme_enabled: false,
      policy_abi_major: 0,
      policy_abi_minor: 0,
      policy_single_socket: false,
      policy_smt_allowed: true,
    };
    const none = defaultCpuAppraisal({ tee: 'snp', input: { snp } }, rv({}));
    assert.deepEqual(
      [none.trustVector.executables, none.trustVector.hardware, none.trustVector.configuration],
      [33, 97, 3],
    );
    const full = defaultCpuAppraisal(
      { tee: 'snp', input: { snp } },
      rv({
        snp_launch_measurement: ['aa'],
        snp_bootloader: [10],
        snp_microcode: [25],
        snp_snp_svn: [23],
        snp_tee_svn: [0],
        snp_smt_enabled: true,
        snp_tsme_enabled: false,
        snp_guest_abi_major: 0,
        snp_guest_abi_minor: 0,
        snp_single_socket: false,
        snp_smt_allowed: true,
      }),
    );
    assert.equal(full.status, 'affirming');
    const debug = defaultCpuAppraisal(
      { tee: 'snp', input: { snp: { ...snp, policy_debug_allowed: true } } },
      rv({}),
    );
    assert.equal(debug.trustVector.configuration, 36);
  });
  test('pass_tdx_flattened_claims', () => {
    const tdx = {
      'quote.header.tee_type': '81000000',
      'quote.header.vendor_id': '939a7233f79c4ca9940a0db3957f0607',
      'quote.body.mr_td': 'm',
      'quote.body.rtmr_1': 'r1',
      'quote.body.rtmr_2': 'r2',
      'quote.body.xfam': 'x',
      'td_attributes.debug': false,
      tcb_status: 'UpToDate',
      collateral_expiration_status: '0',
    };
    const a = defaultCpuAppraisal(
      { tee: 'tdx', input: { tdx } },
      rv({ mr_td: ['m'], rtmr_1: ['r1'], rtmr_2: ['r2'], xfam: ['x'] }),
    );
    assert.deepEqual(
      [a.trustVector.executables, a.trustVector.hardware, a.trustVector.configuration],
      [4, 2, 2],
    );
    const stale = defaultCpuAppraisal(
      { tee: 'tdx', input: { tdx: { ...tdx, tcb_status: 'OutOfDate' } } },
      rv({ mr_td: ['m'] }),
    );
    assert.equal(stale.trustVector.hardware, 97);
  });

  const data: ResourcePolicyData = { plugin: 'resource', 'resource-path': ['a', 'b', 'c'], query: {} };
  const token = (tee: string, status: string) => ({
    submods: { cpu0: { 'ear.status': status, 'ear.veraison.annotated-evidence': { [tee]: {} } } },
  });
  const table: [
    string,
    'default' | 'allow_all' | 'deny_all' | 'affirming',
    Record<string, unknown>,
    ResourcePolicyData,
    boolean,
  ][] = [
    ['pass_default_real_tee', 'default', token('tdx', 'warning'), data, true],
    ['fail_default_sample', 'default', token('sample', 'affirming'), data, false],
    [
      'fail_default_other_plugin',
      'default',
      token('tdx', 'affirming'),
      { ...data, plugin: 'nebula-ca' },
      false,
    ],
    ['fail_default_no_submods', 'default', {}, data, false],
    ['pass_allow_all_sample', 'allow_all', token('sample', 'contraindicated'), data, true],
    ['fail_deny_all', 'deny_all', token('tdx', 'affirming'), data, false],
    ['pass_affirming', 'affirming', token('snp', 'affirming'), data, true],
    ['fail_affirming_warning', 'affirming', token('snp', 'warning'), data, false],
    ['fail_affirming_no_submods', 'affirming', { submods: {} }, data, false],
  ];
  for (const [name, policy, claims, d, want] of table) {
    test(name, () => assert.equal(evaluateBuiltinResourcePolicy(policy, claims, d), want));
  }

  test('fail_rego_without_engine_and_unknown_builtin', async () => {
    const r = new BuiltinResourcePolicy();
    await rejectsCode(
      r.setPolicy('package policy\ndefault allow = true'),
      'ERR_KBS_POLICY_ENGINE_UNAVAILABLE',
    );
    await rejectsCode(r.setPolicy('builtin:nope'), 'ERR_KBS_POLICY_INVALID');
    await r.setPolicy(' builtin:deny_all\n');
    assert.equal(r.name, 'deny_all');
    const a = new BuiltinAttestationPolicy();
    await rejectsCode(a.setPolicy('default_cpu', 'package policy'), 'ERR_KBS_POLICY_ENGINE_UNAVAILABLE');
    await rejectsCode(
      createBuiltinPolicyEngines({ resourcePolicy: 'x' }),
      'ERR_KBS_POLICY_ENGINE_UNAVAILABLE',
    );
  });
});

describe('RateLimiter', () => {
  test('pass_burst_then_refill_per_address', () => {
    const m = movable();
    const r = new RateLimiter({ perSecond: 2, burst: 2 }, m.clock);
    assert.deepEqual([r.take('a'), r.take('a'), r.take('a'), r.take('b')], [true, true, false, true]);
    m.advance(500);
    assert.equal(r.take('a'), true);
    assert.equal(r.take('a'), false);
    m.advance(-60_000);
    assert.equal(r.take('b'), true, 'a clock stepping back does not drain buckets');
  });
});

describe('toHttpError', () => {
  test('pass_every_kbs_code_has_a_variant', () => {
    for (const code of Object.keys(KBS_ERROR_CODES)) assert.ok(code in ERROR_VARIANTS, code);
  });
  const cases: [string, unknown, number, string][] = [
    ['pass_policy_deny', new CocoonError('ERR_KBS_POLICY_DENY', 'no'), 401, 'PolicyDeny'],
    ['pass_plugin_not_found', new CocoonError('ERR_KBS_PLUGIN_NOT_FOUND', 'x'), 404, 'PluginNotFound'],
    ['pass_body_too_large', new CocoonError('ERR_KBS_BODY_TOO_LARGE', 'x'), 413, 'PayloadTooLarge'],
    [
      'pass_protocol_code_takes_fallback',
      new CocoonError('ERR_KBS_PROTOCOL_JWK_INVALID', 'x'),
      401,
      'AttestationError',
    ],
    ['pass_unknown_throw_is_500_without_leak', new Error('/etc/secret path'), 500, 'InternalError'],
  ];
  for (const [name, e, status, variant] of cases) {
    test(name, () => {
      const h = toHttpError(e);
      assert.equal(h.status, status);
      assert.equal(h.body.type, `${ERROR_TYPE_PREFIX}${variant}`);
      assert.ok(!h.body.detail.includes('/etc/secret'));
    });
  }
});

describe('TokenBroker and signing key', () => {
  test('pass_key_persists_across_restarts', async () => {
    const d = tmp();
    const k1 = await loadOrCreateSigningKey(d);
    const k2 = await loadOrCreateSigningKey(d);
    assert.equal(k1.export({ format: 'pem', type: 'pkcs8' }), k2.export({ format: 'pem', type: 'pkcs8' }));
    const m = movable();
    const token = new TokenBroker({ signingKey: k1, clock: m.clock }).issue({});
    assert.equal(
      new TokenBroker({ signingKey: k2, clock: m.clock }).verify(token)['iss'],
      'CoCo-Attestation-Service',
    );
  });
  test('pass_concurrent_creation_agrees', async () => {
    const d = tmp();
    const keys = await Promise.all(Array.from({ length: 5 }, () => loadOrCreateSigningKey(d)));
    const pems = new Set(keys.map((k) => k.export({ format: 'pem', type: 'pkcs8' }) as string));
    assert.equal(pems.size, 1);
  });
  test('fail_non_p256_key_file', async () => {
    const d = tmp();
    writeFileSync(
      join(d, SIGNING_KEY_FILE),
      generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }),
    );
    await rejectsCode(loadOrCreateSigningKey(d), 'ERR_KBS_SIGNING_KEY_INVALID');
    writeFileSync(join(d, SIGNING_KEY_FILE), 'garbage');
    await rejectsCode(loadOrCreateSigningKey(d), 'ERR_KBS_SIGNING_KEY_INVALID');
  });
  test('fail_expired_forged_malformed', async () => {
    const m = movable();
    const b = new TokenBroker({
      signingKey: await loadOrCreateSigningKey(tmp()),
      clock: m.clock,
      lifetimeSeconds: 60,
    });
    const t = b.issue({});
    m.advance(61_000);
    throwsCode(() => b.verify(t), 'ERR_KBS_TOKEN_EXPIRED');
    throwsCode(() => b.verify('x.y.z'), 'ERR_KBS_TOKEN_INVALID');
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    throwsCode(() => b.verify(signJwt({ exp: 1e12 }, other.privateKey)), 'ERR_KBS_TOKEN_INVALID');
    const trusting = new TokenBroker({
      signingKey: await loadOrCreateSigningKey(tmp()),
      clock: m.clock,
      trustedKeys: [other.publicKey],
    });
    assert.equal(trusting.verify(signJwt({ exp: 1e12 }, other.privateKey))['exp'], 1e12);
  });
  test('pass_fail_async_issue_and_verify_match_the_sync_ones', async () => {
    const m = movable();
    const b = new TokenBroker({
      signingKey: await loadOrCreateSigningKey(tmp()),
      clock: m.clock,
      lifetimeSeconds: 60,
    });
    const t = await b.issueAsync({});
    assert.equal(b.verify(t)['iss'], 'CoCo-Attestation-Service');
    assert.equal((await b.verifyAsync(b.issue({})))['iss'], 'CoCo-Attestation-Service');
    m.advance(61_000);
    await rejectsCode(b.verifyAsync(t), 'ERR_KBS_TOKEN_EXPIRED');
    await rejectsCode(b.verifyAsync('x.y.z'), 'ERR_KBS_TOKEN_INVALID');
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await rejectsCode(b.verifyAsync(signJwt({ exp: 1e12 }, other.privateKey)), 'ERR_KBS_TOKEN_INVALID');
    const trusting = new TokenBroker({
      signingKey: await loadOrCreateSigningKey(tmp()),
      clock: m.clock,
      trustedKeys: [other.publicKey],
    });
    assert.equal((await trusting.verifyAsync(signJwt({ exp: 1e12 }, other.privateKey)))['exp'], 1e12);
  });
});

describe('authenticateAdmin', () => {
  const k = generateKeyPairSync('ed25519');
  const now = Math.floor(T0 / 1000);
  const clock = fixedClock(T0);
  test('pass_valid_token', () => {
    assert.equal(
      authenticateAdmin(`Bearer ${signJwt({ exp: now + 60, sub: 'ops' }, k.privateKey)}`, k.publicKey, clock)
        .subject,
      'ops',
    );
  });
  const bad: [string, string | undefined][] = [
    ['fail_no_header', undefined],
    ['fail_basic_auth', 'Basic YWRtaW46YWRtaW4='],
    ['fail_no_exp', `Bearer ${signJwt({}, k.privateKey)}`],
    ['fail_expired', `Bearer ${signJwt({ exp: now - 120 }, k.privateKey)}`],
    ['fail_other_key', `Bearer ${signJwt({ exp: now + 60 }, generateKeyPairSync('ed25519').privateKey)}`],
    ['fail_garbage', 'Bearer abc'],
  ];
  for (const [name, h] of bad)
    test(
      name,
      () => void throwsCode(() => authenticateAdmin(h, k.publicKey, clock), 'ERR_KBS_ADMIN_UNAUTHORIZED'),
    );
  test('fail_no_key_configured', () =>
    void throwsCode(
      () => authenticateAdmin(`Bearer ${signJwt({ exp: now + 60 }, k.privateKey)}`, undefined, clock),
      'ERR_KBS_ADMIN_UNAUTHORIZED',
    ));
});

describe('ReferenceValueStore', () => {
  const msg = (values: unknown, extra: Record<string, unknown> = {}): string =>
    JSON.stringify({
      version: '0.1.0',
      type: 'sample',
      payload: b64std(Buffer.from(JSON.stringify(values))),
      ...extra,
    });
  test('pass_register_query_persist', async () => {
    const d = tmp();
    const s = new ReferenceValueStore(d, fixedClock(T0));
    assert.deepEqual(await s.register(msg({ svn: ['1'], major_version: 1 })), ['svn', 'major_version']);
    assert.deepEqual(s.get('svn'), ['1']);
    const again = new ReferenceValueStore(d, fixedClock(T0));
    await again.load();
    assert.equal(again.query('major_version'), 1);
    const stored = JSON.parse(readFileSync(join(d, 'reference-values.json'), 'utf8')) as {
      expiration: string;
    }[];
    assert.equal(stored[0]!.expiration, '2027-11-24T08:00:00Z');
    const later = new ReferenceValueStore(d, fixedClock(Date.parse('2028-01-01T00:00:00Z')));
    await later.load();
    assert.equal(later.query('svn'), undefined, 'expired after 12 months');
  });
  const bad: [string, string][] = [
    ['fail_not_json', '{'],
    ['fail_version', msg({}, { version: '0.2.0' })],
    ['fail_extractor', msg({}, { type: 'corim' })],
    ['fail_payload_not_b64', JSON.stringify({ type: 'sample', payload: '!!' })],
    ['fail_payload_not_object', JSON.stringify({ type: 'sample', payload: b64std(Buffer.from('[1]')) })],
  ];
  for (const [name, m] of bad) {
    test(name, async () => {
      await rejectsCode(
        new ReferenceValueStore(undefined, fixedClock(T0)).register(m),
        name === 'fail_not_json' ? 'ERR_KBS_PROTOCOL_INVALID_MESSAGE' : 'ERR_KBS_REFERENCE_VALUE_INVALID',
      );
    });
  }
  test('fail_unknown_id', () =>
    void throwsCode(
      () => new ReferenceValueStore(undefined, fixedClock(T0)).get('x'),
      'ERR_KBS_REFERENCE_VALUE_NOT_FOUND',
    ));
});

describe('initDataDigest (kbs-protocol.md §10)', () => {
  test('pass_sha384_over_raw_bytes', () => {
    const body = 'algorithm = "sha384"\nversion = "0.1.0"\n[data]\n"cdh.toml" = "a = 1"\n';
    const r = initDataDigest({ format: 'toml', body });
    assert.equal(r.digest.length, 48);
    assert.deepEqual(r.claims, { 'cdh.toml': { a: 1 } });
  });
  const bad: [string, string, string][] = [
    ['fail_json_format', 'json', 'algorithm = "sha384"'],
    ['fail_not_toml', 'toml', 'algorithm = '],
    ['fail_sm3', 'toml', 'algorithm = "sm3"'],
    ['fail_no_algorithm', 'toml', 'version = "0.1.0"'],
  ];
  for (const [name, format, body] of bad)
    test(name, () => void throwsCode(() => initDataDigest({ format, body }), 'ERR_KBS_INIT_DATA_INVALID'));
});

describe('[kbs] config section', () => {
  test('pass_defaults_and_env', () => {
    const d = kbsSection.defaults();
    assert.equal(d.listen, '127.0.0.1:8080');
    assert.equal(d.allow_sample, false);
    assert.equal(d.body_limit, 2 * 1024 * 1024);
    const c = loadConfig({
      env: { COCOON_KBS_ALLOW_SAMPLE: 'true', COCOON_KBS_LISTEN: '0.0.0.0:9000' },
      overrides: { 'kbs.insecure_http': true },
    });
    const k = c.config['kbs'] as typeof d;
    assert.equal(k.allow_sample, true);
    assert.equal(k.listen, '0.0.0.0:9000');
    assert.equal(k.insecure_http, true);
  });
  const bad: [string, Record<string, unknown>][] = [
    ['fail_unknown_key', { allow_samples: true }],
    ['fail_listen', { listen: 'nope' }],
    ['fail_tls_half', { tls_cert: '/a' }],
    ['fail_body_limit', { body_limit: 10 }],
  ];
  for (const [name, raw] of bad)
    test(name, () => void throwsCode(() => kbsSection.validate(raw), 'ERR_CONFIG_INVALID'));
});
