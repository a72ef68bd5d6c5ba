/**
 * Edge cases of the io.jwt.* and net.cidr_* built-ins that OPA's conformance cases do not cover:
 * tampering, algorithm confusion, "none", kid selection, the injected clock, round trips through
 * encode_sign, IPv6 merge and formatting, IPv4-mapped addresses and operand errors. Tokens are
 * signed here with node:crypto directly, independently of io.jwt.encode_sign.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { compilePolicy } from '../../../src/policy/engine.js';
import { toJSON } from '../../../src/policy/value.js';
import { fixedClock } from '../../../src/common/clock.js';
import { throwsCode } from '../../helpers/assert-code.js';

const NOW = new Date('2026-01-02T03:04:05Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);

/** Evaluates `x := <expr>` strictly with the fixed clock; returns x as JSON, or 'undefined'. */
function evalExpr(expr: string, input?: unknown): unknown {
  const p = compilePolicy('package t\n');
  const r = p.query(`x := ${expr}`, { input, strict: true, clock: fixedClock(NOW) });
  if (r.rows.length === 0) return 'undefined';
  return toJSON(r.rows[0].get('x')!);
}

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64url');

/** A compact JWS over JSON header and payload, signed by `signer`. */
function token(header: object, payload: object, signer: (input: Buffer) => Buffer): string {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`;
  return `${input}.${b64(signer(Buffer.from(input)))}`;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaOther = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const pem = (k: KeyObject): string => k.export({ type: 'spki', format: 'pem' }).toString();
const jwk = (k: KeyObject, extra: object = {}): object => ({ ...k.export({ format: 'jwk' }), ...extra });

const RSA_PEM = pem(rsa.publicKey);
const rs256 = (payload: object, header: object = { alg: 'RS256', typ: 'JWT' }): string =>
  token(header, payload, (i) => sign('sha256', i, rsa.privateKey));
const hs256 = (secret: string | Buffer, payload: object, header: object = { alg: 'HS256' }): string =>
  token(header, payload, (i) => createHmac('sha256', secret).update(i).digest());

/** Flips one bit in the signature part. */
function tamperSignature(t: string): string {
  const [h, p, s] = t.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[0] ^= 1;
  return `${h}.${p}.${b64(sig)}`;
}

interface Case {
  readonly name: string;
  readonly expr: string;
  readonly input?: unknown;
  readonly want: unknown;
}

const UNVERIFIED = [false, {}, {}];

describe('io.jwt', () => {
  const good = rs256({ iss: 'me', exp: NOW_S + 60 });
  const JWT_CASES: readonly Case[] = [
    {
      name: 'pass_rs256_pem_public_key',
      expr: 'io.jwt.verify_rs256(input.t, input.k)',
      input: { t: good, k: RSA_PEM },
      want: true,
    },
    {
      name: 'pass_rs256_jwk',
      expr: 'io.jwt.verify_rs256(input.t, input.k)',
      input: { t: good, k: JSON.stringify(jwk(rsa.publicKey)) },
      want: true,
    },
    {
      name: 'fail_rs256_tampered_signature',
      expr: 'io.jwt.verify_rs256(input.t, input.k)',
      input: { t: tamperSignature(good), k: RSA_PEM },
      want: false,
    },
    {
      name: 'fail_rs256_tampered_payload',
      expr: 'io.jwt.verify_rs256(input.t, input.k)',
      input: { t: `${good.split('.')[0]}.${b64('{"iss":"you"}')}.${good.split('.')[2]}`, k: RSA_PEM },
      want: false,
    },
    {
      name: 'fail_rs256_other_key',
      expr: 'io.jwt.verify_rs256(input.t, input.k)',
      input: { t: good, k: pem(rsaOther.publicKey) },
      want: false,
    },
    {
      // Algorithm confusion: an HS256 token MACed with the RSA public key's PEM text as secret.
      name: 'fail_alg_confusion_hs256_with_rsa_cert_constraint',
      expr: 'io.jwt.decode_verify(input.t, {"cert": input.k})',
      input: { t: hs256(RSA_PEM, { iss: 'me' }), k: RSA_PEM },
      want: UNVERIFIED,
    },
    {
      name: 'fail_alg_confusion_hs256_via_verify_rs256',
      expr: 'io.jwt.verify_rs256(input.t, input.k)',
      input: { t: hs256(RSA_PEM, { iss: 'me' }), k: RSA_PEM },
      want: false,
    },
    {
      name: 'fail_alg_confusion_hs256_with_oct_free_jwks',
      expr: 'io.jwt.decode_verify(input.t, {"cert": input.k})',
      input: { t: hs256(RSA_PEM, {}), k: JSON.stringify({ keys: [jwk(rsa.publicKey)] }) },
      want: UNVERIFIED,
    },
    {
      name: 'fail_rs256_token_with_secret_constraint',
      expr: 'io.jwt.decode_verify(input.t, {"secret": input.k})',
      input: { t: good, k: RSA_PEM },
      want: UNVERIFIED,
    },
    {
      name: 'fail_alg_none_with_secret',
      expr: 'io.jwt.decode_verify(input.t, {"secret": "s"})',
      input: { t: `${b64('{"alg":"none"}')}.${b64('{"iss":"me"}')}.` },
      want: UNVERIFIED,
    },
    {
      name: 'fail_alg_none_with_cert',
      expr: 'io.jwt.decode_verify(input.t, {"cert": input.k})',
      input: { t: `${b64('{"alg":"none"}')}.${b64('{"iss":"me"}')}.`, k: RSA_PEM },
      want: UNVERIFIED,
    },
    {
      name: 'fail_alg_missing',
      expr: 'io.jwt.decode_verify(input.t, {"secret": "s"})',
      input: { t: hs256('s', {}, { typ: 'JWT' }) },
      want: UNVERIFIED,
    },
    {
      name: 'fail_unknown_critical_header',
      expr: 'io.jwt.decode_verify(input.t, {"secret": "s"})',
      input: { t: hs256('s', {}, { alg: 'HS256', crit: ['x-new'], 'x-new': 1 }) },
      want: UNVERIFIED,
    },
    {
      name: 'pass_exp_against_injected_clock',
      expr: 'io.jwt.decode_verify(input.t, {"cert": input.k})[0]',
      input: { t: good, k: RSA_PEM },
      want: true,
    },
    {
      name: 'fail_exp_equal_to_injected_clock',
      expr: 'io.jwt.decode_verify(input.t, {"secret": "s"})[0]',
      input: { t: hs256('s', { exp: NOW_S }) },
      want: false,
    },
    {
      name: 'fail_nbf_after_injected_clock',
      expr: 'io.jwt.decode_verify(input.t, {"secret": "s"})[0]',
      input: { t: hs256('s', { nbf: NOW_S + 1 }) },
      want: false,
    },
    {
      name: 'pass_time_constraint_overrides_clock',
      expr: 'io.jwt.decode_verify(input.t, {"secret": "s", "time": input.ns})[0]',
      input: { t: hs256('s', { exp: NOW_S }), ns: (NOW_S - 10) * 1e9 },
      want: true,
    },
    {
      name: 'pass_aud_in_list',
      expr: 'io.jwt.decode_verify(input.t, {"secret": "s", "aud": "b"})[0]',
      input: { t: hs256('s', { aud: ['a', 'b'] }) },
      want: true,
    },
    {
      name: 'fail_token_aud_without_constraint',
      expr: 'io.jwt.decode_verify(input.t, {"secret": "s"})[0]',
      input: { t: hs256('s', { aud: 'a' }) },
      want: false,
    },
    {
      name: 'fail_iss_not_a_string',
      expr: 'io.jwt.decode_verify(input.t, {"secret": "s", "iss": "1"})[0]',
      input: { t: hs256('s', { iss: 1 }) },
      want: false,
    },
    {
      // The kid-matching key decides alone, even though the other key would verify.
      name: 'fail_kid_selects_wrong_key',
      expr: 'io.jwt.decode_verify(input.t, {"cert": input.k})[0]',
      input: {
        t: rs256({}, { alg: 'RS256', kid: 'a' }),
        k: JSON.stringify({
          keys: [jwk(rsaOther.publicKey, { kid: 'a' }), jwk(rsa.publicKey, { kid: 'b' })],
        }),
      },
      want: false,
    },
    {
      name: 'pass_kid_selects_right_key',
      expr: 'io.jwt.decode_verify(input.t, {"cert": input.k})[0]',
      input: {
        t: rs256({}, { alg: 'RS256', kid: 'b' }),
        k: JSON.stringify({
          keys: [jwk(rsaOther.publicKey, { kid: 'a' }), jwk(rsa.publicKey, { kid: 'b' })],
        }),
      },
      want: true,
    },
    {
      name: 'fail_jwks_key_alg_mismatch_is_skipped',
      expr: 'io.jwt.decode_verify(input.t, {"cert": input.k})[0]',
      input: { t: rs256({}), k: JSON.stringify({ keys: [jwk(rsa.publicKey, { alg: 'PS256' })] }) },
      want: false,
    },
    {
      name: 'pass_es256_encode_sign_then_verify_jwk',
      expr: 'io.jwt.verify_es256(io.jwt.encode_sign({"alg": "ES256"}, {"a": 1}, input.priv), input.pub)',
      input: { priv: jwk(ec.privateKey), pub: JSON.stringify(jwk(ec.publicKey)) },
      want: true,
    },
    {
      name: 'pass_es256_sign_is_stable_within_one_query',
      expr: 'io.jwt.encode_sign({"alg": "ES256"}, {}, input.priv) == io.jwt.encode_sign({"alg": "ES256"}, {}, input.priv)',
      input: { priv: jwk(ec.privateKey) },
      want: true,
    },
    {
      name: 'pass_ps384_encode_sign_then_verify_pem',
      expr: 'io.jwt.verify_ps384(io.jwt.encode_sign({"alg": "PS384"}, {"a": 1}, input.priv), input.pub)',
      input: { priv: jwk(rsa.privateKey), pub: RSA_PEM },
      want: true,
    },
    {
      name: 'pass_eddsa_encode_sign_then_decode_verify',
      expr: 'io.jwt.decode_verify(io.jwt.encode_sign({"alg": "EdDSA"}, {"sub": "x"}, input.priv), {"cert": input.pub})',
      input: { priv: jwk(ed.privateKey), pub: pem(ed.publicKey) },
      want: [true, { alg: 'EdDSA' }, { sub: 'x' }],
    },
    {
      name: 'fail_eddsa_token_via_verify_es256',
      expr: 'io.jwt.verify_es256(io.jwt.encode_sign({"alg": "EdDSA"}, {}, input.priv), input.pub)',
      input: { priv: jwk(ed.privateKey), pub: pem(ed.publicKey) },
      want: false,
    },
    {
      name: 'pass_hs512_secret_bytes',
      expr: 'io.jwt.verify_hs512(io.jwt.encode_sign({"alg": "HS512"}, {}, {"kty": "oct", "k": input.k}), "key")',
      input: { k: b64('key') },
      want: true,
    },
    {
      // Go's json.Marshal orders map keys bytewise: "10" before "9" (JSON.stringify would not).
      name: 'pass_encode_sign_payload_keys_in_go_order',
      expr: 'split(io.jwt.encode_sign({"alg": "HS256"}, {"9": 1, "10": 2, "b": 3}, {"kty": "oct", "k": "AA"}), ".")[1]',
      want: b64('{"10":2,"9":1,"b":3}'),
    },
    {
      name: 'fail_hs256_wrong_secret',
      expr: 'io.jwt.verify_hs256(input.t, "other")',
      input: { t: hs256('s', {}) },
      want: false,
    },
  ];
  for (const c of JWT_CASES) test(c.name, () => assert.deepEqual(evalExpr(c.expr, c.input), c.want));

  const ERROR_CASES: readonly { name: string; expr: string; input?: unknown; code: string }[] = [
    {
      name: 'fail_verify_token_not_string',
      expr: 'io.jwt.verify_hs256(input.n, "s")',
      input: { n: 1 },
      code: 'ERR_POLICY_TYPE',
    },
    {
      name: 'fail_verify_key_not_string',
      expr: 'io.jwt.verify_rs256(input.t, input.n)',
      input: { t: good, n: 1 },
      code: 'ERR_POLICY_TYPE',
    },
    {
      name: 'fail_decode_verify_constraints_not_object',
      expr: 'io.jwt.decode_verify(input.t, "s")',
      input: { t: good },
      code: 'ERR_POLICY_TYPE',
    },
    {
      name: 'fail_decode_verify_no_key',
      expr: 'io.jwt.decode_verify(input.t, {"iss": "me"})',
      input: { t: good },
      code: 'ERR_POLICY_BUILTIN',
    },
    {
      name: 'fail_decode_verify_two_keys',
      expr: 'io.jwt.decode_verify(input.t, {"secret": "s", "cert": input.k})',
      input: { t: good, k: RSA_PEM },
      code: 'ERR_POLICY_BUILTIN',
    },
    {
      name: 'fail_decode_verify_unknown_constraint',
      expr: 'io.jwt.decode_verify(input.t, {"secret": "s", "foo": 1})',
      input: { t: good },
      code: 'ERR_POLICY_BUILTIN',
    },
    {
      name: 'fail_decode_verify_negative_time',
      expr: 'io.jwt.decode_verify(input.t, {"secret": "s", "time": -1})',
      input: { t: good },
      code: 'ERR_POLICY_BUILTIN',
    },
    {
      name: 'fail_decode_jwe',
      expr: 'io.jwt.decode(input.t)',
      input: { t: `${b64('{"alg":"RSA-OAEP","enc":"A256GCM"}')}.e30.` },
      code: 'ERR_POLICY_BUILTIN',
    },
    {
      name: 'fail_pem_private_key_as_cert',
      expr: 'io.jwt.verify_rs256(input.t, input.k)',
      input: { t: good, k: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
      code: 'ERR_POLICY_BUILTIN',
    },
    {
      name: 'fail_encode_sign_alg_none',
      expr: 'io.jwt.encode_sign({"alg": "none"}, {}, {"kty": "oct", "k": "AA"})',
      code: 'ERR_POLICY_BUILTIN',
    },
    {
      name: 'fail_encode_sign_key_type_mismatch',
      expr: 'io.jwt.encode_sign({"alg": "RS256"}, {}, {"kty": "oct", "k": "AA"})',
      code: 'ERR_POLICY_BUILTIN',
    },
  ];
  for (const c of ERROR_CASES)
    test(c.name, () => {
      throwsCode(() => evalExpr(c.expr, c.input), c.code);
    });

  test('fail_builtin_error_is_undefined_outside_strict_mode', () => {
    const r = compilePolicy('package t\n').query('x := io.jwt.decode("nope")', { clock: fixedClock(NOW) });
    assert.equal(r.rows.length, 0);
  });
});

describe('net.cidr', () => {
  const sorted = (v: unknown): unknown => (Array.isArray(v) ? [...(v as string[])].sort() : v);
  const NET_CASES: readonly Case[] = [
    {
      name: 'pass_merge_ipv6_halves',
      expr: 'net.cidr_merge(["2001:db8::/33", "2001:db8:8000::/33"])',
      want: ['2001:db8::/32'],
    },
    {
      name: 'pass_merge_ipv6_adjacent_hosts',
      expr: 'net.cidr_merge(["2001:db8::1/128", "2001:db8::/128"])',
      want: ['2001:db8::/127'],
    },
    {
      name: 'pass_merge_ipv6_unaligned_range_splits',
      expr: 'net.cidr_merge(["2001:db8::1/128", "2001:db8::2/127"])',
      want: ['2001:db8::1/128', '2001:db8::2/127'],
    },
    {
      name: 'pass_merge_ipv6_contained_dropped',
      expr: 'net.cidr_merge(["fe80::/10", "fe80::1:2/127", "fe80::/64"])',
      want: ['fe80::/10'],
    },
    {
      name: 'pass_merge_families_kept_apart',
      expr: 'net.cidr_merge(["10.0.0.0/9", "10.128.0.0/9", "::a00:0/104"])',
      want: ['10.0.0.0/8', '::a00:0/104'],
    },
    {
      name: 'pass_merge_ipv4_mapped_is_ipv4',
      expr: 'net.cidr_merge(["::ffff:10.0.0.0/104", "11.0.0.0/8"])',
      want: ['10.0.0.0/7'],
    },
    { name: 'pass_merge_classful_ip_keeps_text', expr: 'net.cidr_merge(["10.1.2.3"])', want: ['10.1.2.3/8'] },
    {
      name: 'pass_expand_rfc5952_longest_zero_run',
      expr: 'net.cidr_expand("2001:0:0:1:0:0:0:0/127")',
      want: ['2001:0:0:1::', '2001:0:0:1::1'],
    },
    {
      name: 'pass_expand_single_zero_group_not_compressed',
      expr: 'net.cidr_expand("2001:db8:0:1:1:1:1:1/128")',
      want: ['2001:db8:0:1:1:1:1:1'],
    },
    {
      name: 'pass_contains_ipv4_mapped_address',
      expr: 'net.cidr_contains("10.0.0.0/8", "::ffff:10.1.2.3")',
      want: true,
    },
    {
      name: 'pass_contains_ipv6_cidr',
      expr: 'net.cidr_contains("2001:db8::/32", "2001:db8:1::/48")',
      want: true,
    },
    { name: 'fail_contains_other_family', expr: 'net.cidr_contains("::/0", "10.0.0.1")', want: false },
    { name: 'fail_intersects_other_family', expr: 'net.cidr_intersects("::/0", "0.0.0.0/0")', want: false },
    { name: 'fail_is_valid_leading_zero', expr: 'net.cidr_is_valid("010.0.0.0/8")', want: false },
    { name: 'fail_is_valid_prefix_too_long', expr: 'net.cidr_is_valid("2001:db8::/129")', want: false },
    { name: 'fail_is_valid_no_prefix', expr: 'net.cidr_is_valid("10.0.0.1")', want: false },
    { name: 'fail_is_valid_not_string', expr: 'net.cidr_is_valid(1)', want: false },
    {
      name: 'pass_contains_matches_ipv6_object',
      expr: 'net.cidr_contains_matches({"lan": "fd00::/8", "wan": ["2000::/3", "x"]}, ["fd12::1", "2001:db8::1"])',
      want: [
        ['lan', 0],
        ['wan', 1],
      ],
    },
  ];
  for (const c of NET_CASES)
    test(c.name, () => assert.deepEqual(sorted(evalExpr(c.expr, c.input)), sorted(c.want)));

  const ERROR_CASES: readonly { name: string; expr: string; input?: unknown; code: string }[] = [
    {
      name: 'fail_merge_not_collection',
      expr: 'net.cidr_merge(input.s)',
      input: { s: '10.0.0.0/8' },
      code: 'ERR_POLICY_TYPE',
    },
    {
      name: 'fail_merge_element_not_string',
      expr: 'net.cidr_merge(input.a)',
      input: { a: [1] },
      code: 'ERR_POLICY_BUILTIN',
    },
    { name: 'fail_merge_ipv6_without_prefix', expr: 'net.cidr_merge(["::1"])', code: 'ERR_POLICY_BUILTIN' },
    { name: 'fail_expand_too_large', expr: 'net.cidr_expand("2001:db8::/64")', code: 'ERR_POLICY_BUILTIN' },
    {
      name: 'fail_contains_bad_cidr',
      expr: 'net.cidr_contains("10.0.0.0/33", "10.0.0.1")',
      code: 'ERR_POLICY_BUILTIN',
    },
    {
      name: 'fail_contains_not_string',
      expr: 'net.cidr_contains(input.n, "10.0.0.1")',
      input: { n: 1 },
      code: 'ERR_POLICY_TYPE',
    },
    {
      name: 'fail_contains_matches_empty_tuple',
      expr: 'net.cidr_contains_matches([[]], "10.0.0.1")',
      code: 'ERR_POLICY_BUILTIN',
    },
    {
      name: 'fail_contains_matches_number',
      expr: 'net.cidr_contains_matches(input.n, "10.0.0.1")',
      input: { n: 1 },
      code: 'ERR_POLICY_TYPE',
    },
  ];
  for (const c of ERROR_CASES)
    test(c.name, () => {
      throwsCode(() => evalExpr(c.expr, c.input), c.code);
    });
});
