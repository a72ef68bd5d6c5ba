/**
 * Additional device evidence (kbs-protocol.md §3.2, §3.5, §6.2) end to end on 127.0.0.1:0: the
 * sample TEE plus Trustee's simulated secondary device `sampledevice` (class gpu). The token gets a
 * `gpu0` submod appraised by `default_gpu`; device evidence is bound to {nonce, tee-pubkey} and the
 * device set to the primary evidence; unknown, unbound or untrusted devices are refused. Both
 * policy engines (Rego and the TypeScript built-ins) give the same appraisal.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKbs, testRootVerifierOptions, type RunningKbs } from '../../src/kbs/index.js';
import {
  httpCall,
  KbsAdminClient,
  KbsClient,
  sampleDeviceAttester,
  sampleEvidenceProvider,
  simTdxEvidenceProvider,
  type DeviceAttester,
} from '../../src/kbs-client/index.js';
import {
  decodeJwt,
  deviceRuntimeData,
  ERROR_CODE_HEADER,
  primaryRuntimeDigest,
  runtimeDataDigest,
  type TeePubKey,
} from '../../src/kbs-protocol/index.js';
import { makeSampleEvidence } from '../../src/attestation/index.js';
import { rejectsCode } from '../helpers/assert-code.js';

interface Submod {
  'ear.status': string;
  'ear.trustworthiness-vector': Record<string, number>;
  'ear.veraison.annotated-evidence': Record<string, unknown>;
}

function submods(token: string): Record<string, Submod> {
  return decodeJwt(token).payload['submods'] as Record<string, Submod>;
}

for (const engine of ['rego', 'builtin'] as const) {
  describe(`kbs e2e: additional device evidence (${engine} policies)`, () => {
    let dir: string;
    let kbs: RunningKbs;
    let strict: RunningKbs;
    let admin: KbsAdminClient;
    const adminKeys = generateKeyPairSync('ed25519');
    const client = (devices: readonly DeviceAttester[], url = kbs.url): KbsClient =>
      new KbsClient({ url, insecureHttp: true, evidence: sampleEvidenceProvider(), devices, maxAttempts: 1 });

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'kbs-device-'));
      const common = { listen: '127.0.0.1:0', insecureHttp: true, adminPublicKey: adminKeys.publicKey };
      kbs = await startKbs({
        ...common,
        resourcesDir: join(dir, 'a'),
        allowSample: true,
        policyEngine: engine,
        resourcePolicy: 'builtin:allow_all',
      });
      // Trusts the simulated TDX (test roots) but not the sample TEE or the sample device.
      strict = await startKbs({
        ...common,
        resourcesDir: join(dir, 'b'),
        policyEngine: engine,
        verifierOptions: testRootVerifierOptions(),
      });
      admin = new KbsAdminClient({ url: kbs.url, insecureHttp: true, adminKey: adminKeys.privateKey });
      await admin.setResource('default/key/one', Buffer.from('secret-one'));
    });

    after(async () => {
      await kbs.close();
      await strict.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('pass_gpu0_submod_unrecognised_without_reference_value', async () => {
      const t = submods(await client([sampleDeviceAttester()]).attest());
      assert.deepEqual(Object.keys(t).sort(), ['cpu0', 'gpu0']);
      const gpu = t['gpu0']!;
      assert.equal(gpu['ear.trustworthiness-vector']['hardware'], 97);
      assert.equal(gpu['ear.status'], 'contraindicated');
      const ae = gpu['ear.veraison.annotated-evidence'];
      assert.deepEqual(ae['sampledevice'], { svn: '2' });
      assert.deepEqual(Object.keys(ae['runtime_data_claims'] as object).sort(), ['nonce', 'tee-pubkey']);
      // The primary binding carries the exact additional-evidence string.
      const rdc = t['cpu0']!['ear.veraison.annotated-evidence']['runtime_data_claims'] as Record<
        string,
        unknown
      >;
      assert.match(
        String(rdc['additional-evidence']),
        /^\{"sampledevice":\{"svn":"2","report_data":"[^"]+"\}\}$/,
      );
    });

    test('pass_device_svn_reference_value_makes_hardware_genuine', async () => {
      await admin.setReferenceValues({ device_svn: ['2', '3'] });
      const gpu = submods(await client([sampleDeviceAttester('3')]).attest())['gpu0']!;
      assert.equal(gpu['ear.trustworthiness-vector']['hardware'], 2);
      assert.equal(gpu['ear.trustworthiness-vector']['executables'], 33);
      assert.equal(gpu['ear.status'], 'warning');
      const other = submods(await client([sampleDeviceAttester('9')]).attest())['gpu0']!;
      assert.equal(other['ear.trustworthiness-vector']['hardware'], 97);
    });

    test('pass_resource_with_device_and_affirming_policy_denies_on_the_device', async () => {
      assert.equal(
        (await client([sampleDeviceAttester()]).getResource('default/key/one')).toString(),
        'secret-one',
      );
      await admin.setResourcePolicy('builtin:affirming');
      try {
        await rejectsCode(
          client([sampleDeviceAttester()]).getResource('default/key/one'),
          'ERR_KBS_CLIENT_POLICY_DENIED',
        );
      } finally {
        await admin.setResourcePolicy('builtin:allow_all');
      }
    });

    test('fail_device_evidence_bound_to_other_runtime_data', async () => {
      const wrong: DeviceAttester = {
        tee: 'sampledevice',
        evidence: () => Promise.resolve(makeSampleEvidence(Buffer.alloc(48, 7), '2')),
      };
      const e = await rejectsCode(client([wrong]).attest(), 'ERR_KBS_CLIENT_ATTESTATION_FAILED');
      assert.equal(e.details['serverCode'], 'ERR_KBS_EVIDENCE_REJECTED');
    });

    test('fail_client_device_listed_twice_or_attester_failing', async () => {
      await rejectsCode(
        client([sampleDeviceAttester(), sampleDeviceAttester('3')]).attest(),
        'ERR_KBS_CLIENT_EVIDENCE_FAILED',
      );
      const broken: DeviceAttester = {
        tee: 'sampledevice',
        evidence: () => Promise.reject(new Error('no device')),
      };
      const e = await rejectsCode(client([broken]).attest(), 'ERR_KBS_CLIENT_EVIDENCE_FAILED');
      assert.match(e.message, /sampledevice/);
    });

    test('fail_unknown_device_and_untrusted_sample_device', async () => {
      const gpu: DeviceAttester = { tee: 'nvidia', evidence: () => Promise.resolve({ x: 1 }) };
      const unknown = await rejectsCode(client([gpu]).attest(), 'ERR_KBS_CLIENT_ATTESTATION_FAILED');
      assert.equal(unknown.details['serverCode'], 'ERR_KBS_TEE_NOT_ALLOWED');
      // A KBS without --allow-sample refuses the sample device next to a primary it trusts.
      const tdx = (devices: readonly DeviceAttester[]): KbsClient =>
        new KbsClient({
          url: strict.url,
          insecureHttp: true,
          evidence: simTdxEvidenceProvider(),
          devices,
          maxAttempts: 1,
        });
      await tdx([]).attest(); // the primary alone is fine
      const untrusted = await rejectsCode(
        tdx([sampleDeviceAttester()]).attest(),
        'ERR_KBS_CLIENT_ATTESTATION_FAILED',
      );
      assert.equal(untrusted.details['serverCode'], 'ERR_KBS_TEE_NOT_ALLOWED');
    });

    test('fail_raw_attest_bodies: not JSON, not an object, empty, too many devices, swapped after binding', async () => {
      const device = (nonce: string, key: TeePubKey): string =>
        JSON.stringify({
          sampledevice: makeSampleEvidence(runtimeDataDigest(deviceRuntimeData(nonce, key)), '2'),
        });
      // [name, additional_evidence sent, additional_evidence the primary evidence binds]
      const cases: [string, (nonce: string, key: TeePubKey) => [string, string]][] = [
        ['not JSON', () => ['{', '{']],
        ['array', () => ['[]', '[]']],
        ['device evidence not an object', () => ['{"sampledevice":1}', '{"sampledevice":1}']],
        ['empty object', () => ['{}', '{}']],
        [
          'too many devices',
          () => {
            const t = JSON.stringify(Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`d${i}`, {}])));
            return [t, t];
          },
        ],
        ['device added after the primary binding', (n, k) => [device(n, k), '']],
        ['device bound but not sent', (n, k) => ['', device(n, k)]],
      ];
      for (const [name, make] of cases) {
        const http = { url: kbs.url, insecureHttp: true };
        const auth = await httpCall(
          http,
          'POST',
          '/kbs/v0/auth',
          { 'content-type': 'application/json' },
          Buffer.from(JSON.stringify({ version: '0.4.0', tee: 'sample', 'extra-params': '' })),
        );
        assert.equal(auth.status, 200, name);
        const cookie = String(auth.headers['set-cookie']).split(';')[0]!;
        const nonce = (JSON.parse(auth.body.toString()) as { nonce: string }).nonce;
        const key = client([]).key.publicJwk;
        const [sent, bound] = make(nonce, key);
        const body = {
          'runtime-data': { nonce, 'tee-pubkey': key },
          'tee-evidence': {
            primary_evidence: makeSampleEvidence(primaryRuntimeDigest(nonce, key, bound)),
            additional_evidence: sent,
          },
        };
        const r = await httpCall(
          http,
          'POST',
          '/kbs/v0/attest',
          { 'content-type': 'application/json', cookie },
          Buffer.from(JSON.stringify(body)),
        );
        assert.equal(r.status, 401, name);
        assert.match(
          String(r.headers[ERROR_CODE_HEADER]),
          /^ERR_KBS_(EVIDENCE_REJECTED|TEE_NOT_ALLOWED)$/,
          name,
        );
      }
    });
  });
}
