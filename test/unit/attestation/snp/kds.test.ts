import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { readShared } from '../../../helpers/shared.js';
import { rejectsCode } from '../../../helpers/assert-code.js';
import { fixedClock } from '../../../../src/common/clock.js';
import { expected } from '../../../../src/attestation/verifier.js';
import { parseReport, makeTcb } from '../../../../src/attestation/snp/abi.js';
import {
  certChainUrl,
  createKdsClient,
  createOfflineKdsClient,
  crlUrl,
  kdsHwId,
  httpFetcher,
  vcekUrl,
} from '../../../../src/attestation/snp/kds.js';
import { createSnpVerifier } from '../../../../src/attestation/snp/verifier.js';
import { buildSimCrl, generateSimSnpReport, simSnpRoots } from '../../../../src/attestation/snp/sim.js';

const none = expected.notProvided<Uint8Array>();

describe('AMD KDS URL shapes (evidence.md §2.4)', () => {
  test('pass_gosev_vcek_url_matches_the_upstream_test_mapping', () => {
    const r = parseReport(readShared('evidence', 'snp', 'gosev-milan', 'report.bin'));
    const url = vcekUrl('Milan', r.chipId, r.reportedTcb);
    assert.match(
      url,
      /^https:\/\/kdsintf\.amd\.com\/vcek\/v1\/Milan\/3ac3fe21[0-9a-f]{116}6b5d\?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68$/,
    );
  });
  test('pass_turin_url_uses_8_byte_hwid_and_fmcSPL; chain and crl urls', () => {
    const chip = new Uint8Array(64);
    chip.set([0x1e, 0x55, 0x0a, 0x8e, 0xe5, 0xcf, 0x9f, 0x4d]);
    const t = makeTcb('turin', { fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 9 });
    assert.equal(
      vcekUrl('Turin', chip, t),
      'https://kdsintf.amd.com/vcek/v1/Turin/1e550a8ee5cf9f4d?fmcSPL=1&blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=9',
    );
    assert.equal(certChainUrl('Genoa', 'vlek'), 'https://kdsintf.amd.com/vlek/v1/Genoa/cert_chain');
    assert.equal(crlUrl('Milan', 'vcek'), 'https://kdsintf.amd.com/vcek/v1/Milan/crl');
  });
});

describe('offline VCEK store (Trustee layout)', () => {
  test('pass_exact_tcb_file_then_fallback; fail_missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-kds-store-'));
    try {
      const report = readShared('evidence', 'snp', 'trustee-genoa-e2e', 'report.bin');
      const r = parseReport(report);
      const hw = kdsHwId('Genoa', r.chipId);
      mkdirSync(join(dir, 'vcek', hw), { recursive: true });
      const vcek = readShared('evidence', 'snp', 'trustee-genoa-e2e', 'vcek.der');
      writeFileSync(join(dir, 'vcek', hw, 'bl10_tee00_snp23_ucode25_vcek.der'), vcek);
      const clock = fixedClock('2025-06-01T00:00:00Z');
      const v = createSnpVerifier({ clock, kds: createOfflineKdsClient(dir) });
      assert.equal(
        (await v.verify({ evidence: report, reportData: none, initDataHash: none })).verdict,
        'valid',
      );
      rmSync(join(dir, 'vcek', hw, 'bl10_tee00_snp23_ucode25_vcek.der'));
      writeFileSync(join(dir, 'vcek', hw, 'vcek.der'), vcek);
      assert.equal(
        (await v.verify({ evidence: report, reportData: none, initDataHash: none })).verdict,
        'valid',
      );
      rmSync(join(dir, 'vcek', hw, 'vcek.der'));
      const gone = await createSnpVerifier({ clock, kds: createOfflineKdsClient(dir) }).verify({
        evidence: report,
        reportData: none,
        initDataHash: none,
      });
      assert.equal(gone.failures[0]!.code, 'ERR_SNP_CERT_MISSING');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('KDS over a loopback HTTP server with an on-disk cache', () => {
  let server: Server;
  let base = '';
  const hits: string[] = [];
  const routes = new Map<string, Uint8Array>();
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-kds-'));
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      const body = routes.get(req.url ?? '');
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('pass_vcek_fetched_once_then_served_from_disk', async () => {
    const report = readShared('evidence', 'snp', 'trustee-genoa-e2e', 'report.bin');
    const r = parseReport(report);
    const path = new URL(vcekUrl('Genoa', r.chipId, r.reportedTcb, base)).pathname;
    const query = new URL(vcekUrl('Genoa', r.chipId, r.reportedTcb, base)).search;
    routes.set(path + query, readShared('evidence', 'snp', 'trustee-genoa-e2e', 'vcek.der'));
    const clock = fixedClock('2025-06-01T00:00:00Z');
    const verifyOnce = async () =>
      createSnpVerifier({
        clock,
        kds: createKdsClient({ fetcher: httpFetcher(), baseUrl: base, cacheDir: dir, clock }),
      }).verify({ evidence: report, reportData: none, initDataHash: none });
    const first = await verifyOnce();
    assert.equal(first.verdict, 'valid', JSON.stringify(first.failures));
    assert.equal(hits.length, 1);
    const second = await verifyOnce(); // new client, same cache folder: no request
    assert.equal(second.verdict, 'valid');
    assert.equal(hits.length, 1);
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.der')).length, 1);
  });

  test('fail_404_is_ERR_SNP_KDS_FETCH; masked chip is ERR_SNP_CERT_MISSING', async () => {
    const kds = createKdsClient({ fetcher: httpFetcher(), baseUrl: base });
    const t = makeTcb('legacy', { bootloader: 1, tee: 0, snp: 1, microcode: 1 });
    await rejectsCode(kds.getVcek('Milan', new Uint8Array(64).fill(7), t), 'ERR_SNP_KDS_FETCH');
    await rejectsCode(kds.getVcek('Milan', new Uint8Array(64), t), 'ERR_SNP_CERT_MISSING');
    const failing = createKdsClient({
      fetcher: () => Promise.reject(new Error('boom')),
    });
    await rejectsCode(failing.getVcek('Milan', new Uint8Array(64).fill(7), t), 'ERR_SNP_KDS_FETCH');
  });

  test('pass_crl_fetched_when_required_and_cached_until_nextUpdate', async () => {
    const sim = generateSimSnpReport({ reportData: new Uint8Array(64) });
    const crl = buildSimCrl('Milan', [], new Date('2026-01-01T00:00:00Z'), new Date('2026-02-01T00:00:00Z'));
    routes.set('/vcek/v1/Milan/crl', crl);
    const before = hits.length;
    let now = new Date('2026-01-10T00:00:00Z');
    const clock = { now: () => now };
    const kds = createKdsClient({ fetcher: httpFetcher(), baseUrl: base, clock });
    const v = createSnpVerifier({ roots: simSnpRoots(), clock, kds, requireCrl: true });
    const req = { evidence: sim.evidence, reportData: none, initDataHash: none };
    assert.equal((await v.verify(req)).verdict, 'valid');
    assert.equal((await v.verify(req)).verdict, 'valid');
    assert.equal(hits.length - before, 1, 'the fresh CRL is reused');
    now = new Date('2026-03-01T00:00:00Z'); // past nextUpdate: fetched again, and stale → invalid
    const late = await v.verify(req);
    assert.equal(hits.length - before, 2);
    assert.equal(late.failures[0]!.code, 'ERR_SNP_CRL_INVALID');
  });
});
