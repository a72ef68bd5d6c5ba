/**
 * The RCAR client against small scripted HTTP servers on 127.0.0.1:0: bounded re-attestation on
 * token errors, no retry on deny / not-found, timeouts, oversize and malformed replies; plus the
 * TEE key helpers and the admin token minting.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fixedClock } from '../../../src/common/clock.js';
import {
  adminKeyFromPem,
  baseUrl,
  classify,
  generateTeeKey,
  KbsClient,
  mintAdminToken,
  sampleEvidenceProvider,
  teeKeyFromPem,
  teeKeyToPem,
  tokenExp,
} from '../../../src/kbs-client/index.js';
import { ERROR_TYPE_PREFIX, signJwt, verifyJwtSignature } from '../../../src/kbs-protocol/index.js';
import { rejectsCode, throwsCode } from '../../helpers/assert-code.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function errorReply(res: ServerResponse, status: number, variant: string, code?: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    ...(code === undefined ? {} : { 'x-cocoon-error-code': code }),
  });
  res.end(JSON.stringify({ type: `${ERROR_TYPE_PREFIX}${variant}`, detail: variant }));
}

const signer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

/** A scripted KBS: real auth/attest shapes, resource GET answered by `onResource`. */
function scripted(onResource: Handler): Handler {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/kbs/v0/auth') {
        res.writeHead(200, {
          'content-type': 'application/json',
          'set-cookie': 'kbs-session-id=abc; Expires=Wed, 01 Jan 2099 00:00:00 GMT',
        });
        res.end(JSON.stringify({ nonce: Buffer.alloc(32).toString('base64'), 'extra-params': '' }));
      } else if (req.url === '/kbs/v0/attest') {
        assert.equal(req.headers.cookie, 'kbs-session-id=abc');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token: signJwt({ exp: 4_000_000_000 }, signer.privateKey) }));
      } else onResource(req, res);
    });
  };
}

describe('KbsClient retry and error semantics', () => {
  let server: Server;
  let url: string;
  let handler: Handler = () => undefined;
  let resourceHits = 0;

  before(async () => {
    server = createServer((req, res) => handler(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const client = (extra: Record<string, unknown> = {}): KbsClient =>
    new KbsClient({
      url,
      insecureHttp: true,
      evidence: sampleEvidenceProvider(),
      timeoutMs: 10_000,
      ...extra,
    });

  const cases: [string, (res: ServerResponse) => void, string, number][] = [
    [
      'fail_token_verifier_error_bounded',
      (res) => errorReply(res, 401, 'TokenVerifierError'),
      'ERR_KBS_CLIENT_UNAUTHORIZED',
      3,
    ],
    [
      'fail_token_not_found_bounded',
      (res) => errorReply(res, 401, 'TokenNotFound'),
      'ERR_KBS_CLIENT_UNAUTHORIZED',
      3,
    ],
    ['fail_unknown_401_bounded', (res) => res.writeHead(401).end('nope'), 'ERR_KBS_CLIENT_UNAUTHORIZED', 3],
    ['fail_policy_deny_once', (res) => errorReply(res, 401, 'PolicyDeny'), 'ERR_KBS_CLIENT_POLICY_DENIED', 1],
    [
      'fail_not_found_by_header',
      (res) => errorReply(res, 401, 'PluginInternalError', 'ERR_KBS_RESOURCE_NOT_FOUND'),
      'ERR_KBS_CLIENT_RESOURCE_NOT_FOUND',
      1,
    ],
    [
      'fail_plugin_error_once',
      (res) => errorReply(res, 401, 'PluginInternalError'),
      'ERR_KBS_CLIENT_SERVER_ERROR',
      1,
    ],
    [
      'fail_404_plugin',
      (res) => errorReply(res, 404, 'PluginNotFound'),
      'ERR_KBS_CLIENT_RESOURCE_NOT_FOUND',
      1,
    ],
    ['fail_500', (res) => res.writeHead(500).end(), 'ERR_KBS_CLIENT_SERVER_ERROR', 1],
    ['fail_200_not_json', (res) => res.writeHead(200).end('{'), 'ERR_KBS_CLIENT_RESPONSE_INVALID', 1],
    [
      'fail_200_not_jwe',
      (res) => res.writeHead(200).end('{"protected":1}'),
      'ERR_KBS_PROTOCOL_JWE_INVALID',
      1,
    ],
  ];
  for (const [name, reply, code, handshakes] of cases) {
    test(name, async () => {
      resourceHits = 0;
      handler = scripted((_req, res) => {
        resourceHits++;
        reply(res);
      });
      const c = client();
      await rejectsCode(c.getResource('a/b/c'), code);
      assert.equal(c.handshakes, handshakes);
      assert.equal(resourceHits, handshakes);
    });
  }

  test('fail_timeout', async () => {
    handler = scripted(() => undefined); // never answers
    await rejectsCode(client({ timeoutMs: 200 }).getResource('a/b/c'), 'ERR_KBS_CLIENT_TIMEOUT');
  });

  test('fail_auth_rejected', async () => {
    handler = (_req, res) => errorReply(res, 401, 'AttestationError');
    const e = await rejectsCode(client().attest(), 'ERR_KBS_CLIENT_ATTESTATION_FAILED');
    assert.equal(e.details['stage'], 'auth');
  });

  test('fail_auth_without_cookie', async () => {
    handler = (_req, res) => res.writeHead(200).end(JSON.stringify({ nonce: 'n', 'extra-params': '' }));
    await rejectsCode(
      client({ maxResponseBytes: 1024 * 1024, timeoutMs: 20_000 }).attest(),
      'ERR_KBS_CLIENT_RESPONSE_INVALID',
    );
  });

  test('fail_challenge_malformed', async () => {
    handler = (_req, res) => res.writeHead(200, { 'set-cookie': 'kbs-session-id=a' }).end('{"nonce":5}');
    await rejectsCode(client().attest(), 'ERR_KBS_PROTOCOL_INVALID_MESSAGE');
  });

  test('fail_oversize_response', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let n = 0;
      const pump = (): void => {
        while (n < 3 && res.write(chunk)) n++;
        if (n < 3) res.once('drain', pump);
        else res.end();
      };
      pump();
    };
    await rejectsCode(
      client({ maxResponseBytes: 1024 * 1024, timeoutMs: 20_000 }).attest(),
      'ERR_KBS_CLIENT_RESPONSE_INVALID',
    );
  });

  test('fail_connection_refused', async () => {
    const c = new KbsClient({
      url: 'http://127.0.0.1:1',
      insecureHttp: true,
      evidence: sampleEvidenceProvider(),
    });
    await rejectsCode(c.attest(), 'ERR_KBS_CLIENT_HTTP_FAILED');
  });

  test('pass_token_cache_respects_exp', async () => {
    handler = scripted((_q, res) => errorReply(res, 401, 'PolicyDeny'));
    const c = client({ clock: fixedClock(4_000_000_000_000 - 5_000) });
    await c.getToken();
    await c.getToken();
    assert.equal(c.handshakes, 2, 'a token within the skew of exp is not reused');
    const d = client({ clock: fixedClock(0) });
    await d.getToken();
    await d.getToken();
    assert.equal(d.handshakes, 1);
  });
});

describe('helpers', () => {
  test('pass_classify_table', () => {
    const r = (status: number, variant?: string, code?: string) => ({
      status,
      headers: code === undefined ? {} : { 'x-cocoon-error-code': code },
      body: Buffer.from(
        variant === undefined
          ? ''
          : JSON.stringify({ type: `${ERROR_TYPE_PREFIX}${variant}`, detail: 'resource not found: x' }),
      ),
    });
    assert.equal(classify(r(401, 'TokenVerifierError')), 'reattest');
    assert.equal(classify(r(401, 'PolicyDeny')), 'deny');
    assert.equal(classify(r(401, 'PluginInternalError')), 'not-found', 'Trustee detail text');
    assert.equal(classify(r(404)), 'not-found');
    assert.equal(classify(r(503)), 'error');
  });
  test('pass_base_url_rules', () => {
    assert.equal(baseUrl({ url: 'https://kbs.example/' }).href, 'https://kbs.example/');
    throwsCode(() => baseUrl({ url: 'http://kbs.example' }), 'ERR_KBS_CLIENT_INSECURE_URL');
    throwsCode(
      () => baseUrl({ url: 'ftp://kbs.example', insecureHttp: true }),
      'ERR_KBS_CLIENT_INSECURE_URL',
    );
    throwsCode(() => baseUrl({ url: 'not a url' }), 'ERR_KBS_CLIENT_INSECURE_URL');
  });
  test('pass_tee_key_pem_round_trip', () => {
    for (const alg of ['ECDH-ES+A256KW-P256', 'RSA-OAEP-256'] as const) {
      const k = generateTeeKey(alg);
      assert.deepEqual(teeKeyFromPem(teeKeyToPem(k)).publicJwk, k.publicJwk);
    }
    throwsCode(() => teeKeyFromPem('garbage'), 'ERR_KBS_CLIENT_KEY_INVALID');
    throwsCode(
      () => teeKeyFromPem(generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' })),
      'ERR_KBS_CLIENT_KEY_INVALID',
    );
  });
  test('pass_token_exp', () => {
    assert.equal(tokenExp(signJwt({ exp: 5 }, signer.privateKey)), 5);
    assert.equal(tokenExp(signJwt({}, signer.privateKey)), undefined);
    throwsCode(() => tokenExp('x'), 'ERR_KBS_CLIENT_TOKEN_INVALID');
  });
  test('pass_admin_token_minting', () => {
    const k = generateKeyPairSync('ed25519');
    const key = adminKeyFromPem(k.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const t = mintAdminToken(key, fixedClock(1_000_000));
    const p = verifyJwtSignature(t, k.publicKey).payload;
    assert.equal(p['exp'], 1000 + 7200);
    throwsCode(
      () =>
        adminKeyFromPem(
          generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
            format: 'pem',
            type: 'pkcs8',
          }),
        ),
      'ERR_KBS_CLIENT_KEY_INVALID',
    );
  });
  test('fail_client_without_source', () =>
    assert.throws(() => new KbsClient({ url: 'https://x' }), TypeError));
});
