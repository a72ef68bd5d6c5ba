/**
 * Fuzz of the KBS wire layer and server (seeded, bounded): mutated and random versions of valid
 * Request, Attestation, tee-pubkey, flattened JWE and EAR token texts go through every parser, and
 * through a running KBS over HTTP. Only typed errors may come out of a parser (a CocoonError whose
 * code is registered), and the server answers every request with a status and ErrorInformation
 * JSON, never a 500, and keeps serving. COCOON_FUZZ_SEED replays a run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CocoonError } from '../../../src/common/errors.js';
import { allErrorCodes } from '../../../src/common/error-registry.js';
import {
  canonicalize,
  decodeJwt,
  decryptJwe,
  encryptJwe,
  parseAttestation,
  parseChallenge,
  parseJsonText,
  parseRequest,
  parseTeePubKey,
  primaryRuntimeDigest,
  teePubKeyFromKeyObject,
} from '../../../src/kbs-protocol/index.js';
import { makeSampleEvidence } from '../../../src/attestation/index.js';
import { startKbs, type RunningKbs } from '../../../src/kbs/index.js';
import { httpCall, KbsClient, sampleEvidenceProvider } from '../../../src/kbs-client/index.js';
import { prng } from '../../helpers/prng.js';

const SEED = Number(process.env['COCOON_FUZZ_SEED'] ?? 0xcb5);

const JUNK = [
  '',
  '{',
  '}',
  '[',
  '"',
  '\\',
  '\u0000',
  '\ud800',
  'null',
  '1e999',
  '-0',
  'true',
  '"a"',
  ',',
  ':',
];

/** One random edit of a text: byte flip, deletion, duplication, insertion of a JSON-ish token. */
function mutateText(text: string, rnd: () => number): string {
  const i = Math.floor(rnd() * (text.length + 1));
  switch (Math.floor(rnd() * 5)) {
    case 0: {
      const c = text.charCodeAt(i) || 32;
      return text.slice(0, i) + String.fromCharCode(c ^ (1 << Math.floor(rnd() * 7))) + text.slice(i + 1);
    }
    case 1:
      return text.slice(0, i) + text.slice(i + 1 + Math.floor(rnd() * 8));
    case 2:
      return text.slice(0, i) + text.slice(i, i + 16) + text.slice(i);
    case 3:
      return text.slice(0, i) + JUNK[Math.floor(rnd() * JUNK.length)]! + text.slice(i);
    default:
      return text.slice(0, i);
  }
}

/** One structural edit of a JSON value: a member replaced by another type, deleted or added. */
function mutateJson(v: unknown, rnd: () => number, depth = 0): unknown {
  const others: unknown[] = [null, 0, -1, 1.5, '', 'x', true, [], {}, 'A'.repeat(300), [1, 2], { a: 1 }];
  if (v === null || typeof v !== 'object' || depth > 5 || rnd() < 0.2) {
    return others[Math.floor(rnd() * others.length)];
  }
  if (Array.isArray(v)) {
    const out = [...v];
    if (out.length === 0 || rnd() < 0.3) out.push(others[Math.floor(rnd() * others.length)]);
    else {
      const i = Math.floor(rnd() * out.length);
      out[i] = mutateJson(out[i], rnd, depth + 1);
    }
    return out;
  }
  const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  const keys = Object.keys(o);
  const r = rnd();
  if (keys.length === 0 || r < 0.15)
    o[`extra${Math.floor(rnd() * 3)}`] = others[Math.floor(rnd() * others.length)];
  else if (r < 0.3) delete o[keys[Math.floor(rnd() * keys.length)]!];
  else {
    const k = keys[Math.floor(rnd() * keys.length)]!;
    o[k] = mutateJson(o[k], rnd, depth + 1);
  }
  return o;
}

const registered = new Set<string>(allErrorCodes());

/** Per parser: cases that reached it, and cases it accepted. */
const reach = new Map<string, { seen: number; accepted: number }>();

/** Runs `f`; a thrown error must be a CocoonError with a registered code. */
function typed(what: string, f: () => unknown): void {
  const r = reach.get(what) ?? { seen: 0, accepted: 0 };
  reach.set(what, r);
  r.seen++;
  try {
    f();
    r.accepted++;
  } catch (e) {
    assert.ok(e instanceof CocoonError, `${what}: untyped ${String(e)}`);
    assert.ok(registered.has(e.code), `${what}: unregistered code ${e.code}`);
  }
}

describe(`kbs wire layer fuzz (seed ${SEED})`, () => {
  const teeKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = teePubKeyFromKeyObject(teeKeys.publicKey);
  const nonce = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
  const request = { version: '0.4.0', tee: 'sample', 'extra-params': '' };
  const attestation = {
    'runtime-data': { nonce, 'tee-pubkey': jwk },
    'tee-evidence': {
      primary_evidence: makeSampleEvidence(primaryRuntimeDigest(nonce, jwk, '')),
      additional_evidence: '',
    },
  };
  const jwe = encryptJwe(Buffer.from('secret'), jwk);
  const token = `${Buffer.from('{"alg":"ES256","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"exp":1,"submods":{}}').toString('base64url')}.${'A'.repeat(86)}`;

  test('fail_only_typed_errors_from_every_parser', { timeout: 120_000 }, () => {
    const rnd = prng(SEED);
    const t0 = Date.now();
    let n = 0;
    for (; n < 20_000 && Date.now() - t0 < 60_000; n++) {
      const kind = n % 6;
      const base =
        kind === 0
          ? request
          : kind === 1
            ? attestation
            : kind === 2
              ? jwk
              : kind === 3
                ? jwe
                : kind === 4
                  ? { nonce }
                  : null;
      if (kind === 5) {
        const t =
          rnd() < 0.5
            ? mutateText(token, rnd)
            : token
                .split('.')
                .map((p) => mutateText(p, rnd))
                .join('.');
        typed('decodeJwt', () => decodeJwt(t));
        continue;
      }
      // Half structural (valid JSON, wrong shape), half textual (possibly not JSON at all).
      const text =
        rnd() < 0.5 ? JSON.stringify(mutateJson(base, rnd)) : mutateText(JSON.stringify(base), rnd);
      let parsed: unknown;
      try {
        parsed = parseJsonText(text, 'fuzz');
      } catch (e) {
        assert.ok(e instanceof CocoonError && registered.has(e.code), `parseJsonText: ${String(e)}`);
        continue;
      }
      if (kind === 0) typed('parseRequest', () => parseRequest(parsed));
      if (kind === 1) typed('parseAttestation', () => parseAttestation(parsed));
      if (kind === 2) typed('parseTeePubKey', () => parseTeePubKey(parsed));
      if (kind === 3) typed('decryptJwe', () => decryptJwe(parsed, teeKeys.privateKey));
      if (kind === 4) typed('parseChallenge', () => parseChallenge(parsed));
      typed('canonicalize', () => canonicalize(parsed));
    }
    assert.ok(n >= 3000, `only ${n} cases in the time budget`);
    // Every parser was reached, and refused most mutations (the fuzz is not vacuous).
    for (const p of [
      'parseRequest',
      'parseAttestation',
      'parseTeePubKey',
      'decryptJwe',
      'parseChallenge',
      'decodeJwt',
    ]) {
      const r = reach.get(p);
      assert.ok(r !== undefined && r.seen >= 100, `${p} reached ${r?.seen ?? 0} times`);
      assert.ok(r.accepted < r.seen, `${p} accepted every mutation`);
    }
  });
});

describe(`kbs server fuzz (seed ${SEED})`, () => {
  let dir: string;
  let kbs: RunningKbs;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kbs-fuzz-'));
    kbs = await startKbs({
      listen: '127.0.0.1:0',
      insecureHttp: true,
      resourcesDir: dir,
      allowSample: true,
      authRateLimit: false,
      adminPublicKey: generateKeyPairSync('ed25519').publicKey,
    });
  });
  after(async () => {
    await kbs.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    'fail_malformed_requests_get_error_information_and_the_server_keeps_serving',
    { timeout: 120_000 },
    async () => {
      const rnd = prng(SEED + 1);
      const http = { url: kbs.url, insecureHttp: true, timeoutMs: 10_000 };
      const post = (path: string, body: string, cookie?: string): ReturnType<typeof httpCall> =>
        httpCall(
          http,
          'POST',
          path,
          { 'content-type': 'application/json', ...(cookie === undefined ? {} : { cookie }) },
          Buffer.from(body),
        );
      const statuses = new Map<number, number>();
      const t0 = Date.now();
      let n = 0;
      for (; n < 2000 && Date.now() - t0 < 60_000; n++) {
        // A fresh session for the /attest cases, so mutations reach the attestation checks.
        const auth = await post(
          '/kbs/v0/auth',
          JSON.stringify({ version: '0.4.0', tee: 'sample', 'extra-params': '' }),
        );
        assert.equal(auth.status, 200);
        const cookie = String(auth.headers['set-cookie']).split(';')[0]!;
        const challenge = JSON.parse(auth.body.toString()) as { nonce: string };
        const key = teePubKeyFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey);
        const good = {
          'runtime-data': { nonce: challenge.nonce, 'tee-pubkey': key },
          'tee-evidence': {
            primary_evidence: makeSampleEvidence(primaryRuntimeDigest(challenge.nonce, key, '')),
            additional_evidence: '',
          },
        };
        const which = n % 4;
        let r;
        if (which === 0) {
          r = await post(
            '/kbs/v0/auth',
            mutateText(JSON.stringify({ version: '0.4.0', tee: 'sample', 'extra-params': '' }), rnd),
          );
        } else if (which === 1) {
          r = await post('/kbs/v0/attest', JSON.stringify(mutateJson(good, rnd)), cookie);
        } else if (which === 2) {
          r = await post('/kbs/v0/attest', mutateText(JSON.stringify(good), rnd), cookie);
        } else {
          const segs = ['default', 'key', 'one'].map((s) => (rnd() < 0.5 ? mutateText(s, rnd) : s));
          r = await httpCall(
            http,
            'GET',
            `/kbs/v0/resource/${segs.map((x) => encodeURIComponent(x.replace(/[\ud800-\udfff]/g, 'x'))).join('/')}`,
            {
              cookie: rnd() < 0.5 ? cookie : mutateText(cookie, rnd).replace(/[^\x21-\x7e]/g, 'x'),
            },
          );
        }
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        assert.ok(r.status < 500, `case ${n}: status ${r.status} ${r.body.toString().slice(0, 200)}`);
        if (r.status !== 200) {
          const info = JSON.parse(r.body.toString()) as { type?: unknown; detail?: unknown };
          assert.equal(typeof info.type, 'string', `case ${n}: ErrorInformation.type`);
          assert.equal(typeof info.detail, 'string', `case ${n}: ErrorInformation.detail`);
        }
      }
      assert.ok(n >= 200, `only ${n} cases in the time budget`);
      assert.ok((statuses.get(401) ?? 0) > 0, `no request was refused: ${JSON.stringify([...statuses])}`);
      // Still serving: a well-formed client completes a handshake afterwards.
      const c = new KbsClient({ url: kbs.url, insecureHttp: true, evidence: sampleEvidenceProvider() });
      assert.match(await c.attest(), /^[\w-]+\.[\w-]+\.[\w-]+$/);
    },
  );
});
