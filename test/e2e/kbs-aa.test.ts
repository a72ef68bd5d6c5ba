/**
 * The Attestation Agent evidence and token providers against a small AA ttrpc server started
 * here (TtrpcServer + serveService, our attestation-agent.proto) on a Unix socket and on hybrid
 * vsock, with a real KBS behind it: background-check (GetTeeType + GetEvidence) and passport
 * (GetToken "kbs") modes, plus malformed AA replies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSampleEvidence } from '../../src/attestation/index.js';
import { startKbs, type RunningKbs } from '../../src/kbs/index.js';
import {
  AA_PROTO,
  AA_SERVICE,
  AttestationAgentClient,
  KbsAdminClient,
  KbsClient,
  aaEvidenceProvider,
  aaTokenProvider,
  sampleEvidenceProvider,
  teeKeyToPem,
} from '../../src/kbs-client/index.js';
import { loadProtoRoot, serveService, TtrpcServer } from '../../src/ttrpc/index.js';
import { rejectsCode } from '../helpers/assert-code.js';

describe('kbs e2e: Attestation Agent providers over ttrpc', () => {
  let dir: string;
  let kbs: RunningKbs;
  let aa: TtrpcServer;
  let broken: TtrpcServer;
  const adminKeys = generateKeyPairSync('ed25519');
  let tokenCalls = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kbs-aa-'));
    kbs = await startKbs({
      listen: '127.0.0.1:0',
      insecureHttp: true,
      resourcesDir: join(dir, 'res'),
      adminPublicKey: adminKeys.publicKey,
      allowSample: true,
      resourcePolicy: 'builtin:allow_all',
    });
    await new KbsAdminClient({
      url: kbs.url,
      insecureHttp: true,
      adminKey: adminKeys.privateKey,
    }).setResource('default/key/aa', Buffer.from('aa-secret'));
    const root = loadProtoRoot([AA_PROTO]);
    aa = new TtrpcServer();
    serveService(aa, root, AA_SERVICE, {
      GetTeeType: () => Promise.resolve({ tee: 'sample' }),
      GetEvidence: (req) =>
        Promise.resolve({
          Evidence: Buffer.from(JSON.stringify(makeSampleEvidence(req['RuntimeData'] as Uint8Array))),
        }),
      async GetToken(req) {
        if (req['TokenType'] !== 'kbs') throw new Error('unsupported token type');
        tokenCalls++;
        // The AA runs its own RCAR with a fresh key and returns the key as PEM (kbs-protocol.md §9.1).
        const inner = new KbsClient({ url: kbs.url, insecureHttp: true, evidence: sampleEvidenceProvider() });
        const token = await inner.attest();
        return { Token: Buffer.from(JSON.stringify({ token, tee_keypair: teeKeyToPem(inner.key) })) };
      },
    });
    await aa.listen(`unix://${join(dir, 'aa.sock')}`);
    await aa.listen(`hvsock://${join(dir, 'hv.sock')}:1025`);
    broken = new TtrpcServer();
    serveService(broken, root, AA_SERVICE, {
      GetTeeType: () => Promise.resolve({ tee: 'not-a-tee' }),
      GetEvidence: () => Promise.resolve({ Evidence: Buffer.from('{not json') }),
      GetToken: () => Promise.resolve({ Token: Buffer.from('{"token": 1}') }),
    });
    await broken.listen(`unix://${join(dir, 'broken.sock')}`);
  });

  after(async () => {
    await aa.close();
    await broken.close();
    await kbs.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, addr] of [
    ['unix', (): string => `unix://${join(dir, 'aa.sock')}`],
    ['hvsock', (): string => `hvsock://${join(dir, 'hv.sock')}:1025`],
  ] as const) {
    test(`pass_background_check_${name}: GetTeeType + GetEvidence`, async () => {
      const agent = new AttestationAgentClient({ address: addr(), timeoutMs: 5000 });
      try {
        const c = new KbsClient({ url: kbs.url, insecureHttp: true, evidence: aaEvidenceProvider(agent) });
        assert.equal((await c.getResource('default/key/aa')).toString(), 'aa-secret');
      } finally {
        await agent.close();
      }
    });
  }

  test('pass_passport_get_token: Bearer token and key from GetToken("kbs")', async () => {
    const agent = new AttestationAgentClient({ address: `unix://${join(dir, 'aa.sock')}`, timeoutMs: 5000 });
    try {
      const before = tokenCalls;
      const c = new KbsClient({ url: kbs.url, insecureHttp: true, tokenProvider: aaTokenProvider(agent) });
      assert.equal((await c.getResource('default/key/aa')).toString(), 'aa-secret');
      assert.equal(tokenCalls, before + 1);
    } finally {
      await agent.close();
    }
  });

  test('fail_aa_malformed_replies', async () => {
    const agent = new AttestationAgentClient({
      address: `unix://${join(dir, 'broken.sock')}`,
      timeoutMs: 5000,
    });
    try {
      await rejectsCode(agent.getTeeType(), 'ERR_KBS_CLIENT_AA_FAILED');
      await rejectsCode(agent.getEvidence(new Uint8Array(48)), 'ERR_KBS_CLIENT_AA_FAILED');
      await rejectsCode(agent.getKbsToken(), 'ERR_KBS_CLIENT_AA_FAILED');
    } finally {
      await agent.close();
    }
  });

  test('fail_aa_unreachable', async () => {
    const agent = new AttestationAgentClient({
      address: `unix://${join(dir, 'missing.sock')}`,
      timeoutMs: 300,
    });
    await rejectsCode(agent.getTeeType(), 'ERR_KBS_CLIENT_AA_FAILED');
    await agent.close();
  });
});
