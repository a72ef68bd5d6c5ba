/**
 * KBS benchmark: one full RCAR handshake (auth → evidence → attest, verification and Rego policy
 * included) plus one resource fetch (policy + JWE), per operation, with a fresh client and TEE key
 * each time, at 1, 16 and 64 concurrent clients; sample and simulated-TDX evidence. Baseline: a
 * bare node:http echo round trip over the same loopback in the same run. Both sides use Node 20's
 * keep-alive global agent (measured: 16 TCP connections serve a whole c=16 series). Goal (issue 4):
 * at concurrency 16 the handshake + fetch costs ≤ 5× the echo; at c=16 it is also shown against
 * three sequential echoes, the bare cost of the three requests a handshake + fetch needs.
 *
 * The floor, measured in the same run: a handshake + fetch is three requests plus the public-key
 * operations the protocol cannot skip — the client's TEE key pair, the server's ephemeral ECDH-ES
 * key and agreement, the client's agreement, the ES256 signature of the token and its check at
 * the GET. Those run once, on one thread, as "mandatory crypto"; (3 echoes + that) ÷ 1 echo is
 * what one thread could reach with zero overhead. The KBS moves the agreements and signatures off
 * the event loop (worker thread, libuv pool), so on a multi-core machine it may go below it.
 */
import { createECDH, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKbs, testRootVerifierOptions } from '../src/kbs/index.js';
import {
  KbsAdminClient,
  KbsClient,
  sampleEvidenceProvider,
  simTdxEvidenceProvider,
  type EvidenceProvider,
} from '../src/kbs-client/index.js';
import { measure, report } from './harness.js';

/** One handshake + fetch's unavoidable public-key work, synchronously on this thread. */
function mandatoryCrypto(token: KeyObject, tokenPub: KeyObject): void {
  const tee = createECDH('prime256v1'); // client: TEE key pair
  const teePub = tee.generateKeys();
  const eph = createECDH('prime256v1'); // server: ephemeral ECDH-ES key + agreement
  const ephPub = eph.generateKeys();
  eph.computeSecret(teePub);
  tee.computeSecret(ephPub); // client: agreement to unwrap the CEK
  const input = Buffer.alloc(900, 0x61); // an EAR token's signing input is ~1 KiB
  const sig = sign('sha256', input, { key: token, dsaEncoding: 'ieee-p1363' }); // /attest: token
  if (!verify('sha256', input, { key: tokenPub, dsaEncoding: 'ieee-p1363' }, sig)) throw new Error('bad sig');
}

function echo(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/echo' }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end('{"ping":1}');
  });
}

export default async function (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kbs-bench-'));
  const admin = generateKeyPairSync('ed25519');
  const start = (policyEngine: 'rego' | 'builtin', sub: string): ReturnType<typeof startKbs> =>
    startKbs({
      listen: '127.0.0.1:0',
      insecureHttp: true,
      resourcesDir: join(dir, sub),
      adminPublicKey: admin.publicKey,
      allowSample: true,
      verifierOptions: testRootVerifierOptions(),
      resourcePolicy: 'builtin:allow_all',
      authRateLimit: false,
      policyEngine,
    });
  const kbs = await start('rego', 'rego');
  const plain = await start('builtin', 'builtin');
  const echoServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(Buffer.concat(chunks)));
  });
  await new Promise<void>((r) => echoServer.listen(0, '127.0.0.1', r));
  const echoPort = (echoServer.address() as AddressInfo).port;
  try {
    for (const k of [kbs, plain]) {
      await new KbsAdminClient({ url: k.url, insecureHttp: true, adminKey: admin.privateKey }).setResource(
        'default/key/bench',
        Buffer.from('bench-secret'),
      );
    }
    // Default server (Rego policies) for sample and simulated TDX; the TS built-in policies for comparison.
    const kinds: [string, () => EvidenceProvider, string][] = [
      ['sample, rego policies', sampleEvidenceProvider, kbs.url],
      ['sim-tdx, rego policies', simTdxEvidenceProvider, kbs.url],
      ['sample, builtin policies', sampleEvidenceProvider, plain.url],
    ];
    for (const concurrency of [1, 16, 64]) {
      const opts = { concurrency, maxMs: 2000, maxOps: 4000, warmup: 20 };
      const base = await measure(`echo round trip (c=${concurrency})`, () => echo(echoPort), opts);
      // Informative only: a handshake + fetch is three requests (POST /auth, POST /attest,
      // GET /resource), so three sequential echoes are its bare transport cost.
      const base3 =
        concurrency === 16
          ? await measure(
              `3 sequential echo round trips (c=${concurrency})`,
              async () => {
                await echo(echoPort);
                await echo(echoPort);
                await echo(echoPort);
              },
              opts,
            )
          : undefined;
      let floor: number | undefined;
      if (concurrency === 16) {
        const tk = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        const crypto = await measure(
          'mandatory crypto of one handshake + fetch (1 thread)',
          () => mandatoryCrypto(tk.privateKey, tk.publicKey),
          { maxMs: 2000, maxOps: 4000, warmup: 50 },
        );
        const echoUs = 1e6 / base.opsPerSec;
        const cryptoUs = 1e6 / crypto.opsPerSec;
        floor = 3 + cryptoUs / echoUs;
        console.log(
          `\n## floor at concurrency 16\necho ${echoUs.toFixed(0)} µs/op; mandatory crypto ${cryptoUs.toFixed(0)} µs/op` +
            ` (${(cryptoUs / echoUs).toFixed(2)} echoes); one-thread floor = 3 echoes + crypto = ${floor.toFixed(2)}x one echo`,
        );
      }
      for (const [name, provider, url] of kinds) {
        const cpu0 = process.cpuUsage();
        const subject = await measure(
          `RCAR + resource, ${name} (c=${concurrency})`,
          async () => {
            const c = new KbsClient({ url, insecureHttp: true, evidence: provider() });
            const s = await c.getResource('default/key/bench');
            if (s.length !== 12) throw new Error('bad secret');
          },
          opts,
        );
        const cpu = process.cpuUsage(cpu0);
        console.log(
          `\n(${name}, c=${concurrency}: ${((cpu.user + cpu.system) / subject.ops).toFixed(0)} µs of process CPU per handshake + fetch, all threads)`,
        );
        report(
          `KBS handshake + fetch, ${name}, concurrency ${concurrency}`,
          subject,
          base,
          concurrency === 16 ? 5 : undefined,
        );
        if (base3 !== undefined)
          report(`KBS handshake + fetch vs its 3 bare requests, ${name}, concurrency 16`, subject, base3);
        if (floor !== undefined)
          console.log(
            `vs the one-thread floor (${floor.toFixed(2)}x): ${(base.opsPerSec / subject.opsPerSec / floor).toFixed(2)}x of it`,
          );
      }
    }
  } finally {
    await kbs.close();
    await plain.close();
    echoServer.closeAllConnections();
    await new Promise((r) => echoServer.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
}
