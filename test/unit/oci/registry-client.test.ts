import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import {
  RegistryClient,
  parseChallenge,
  selectPlatform,
  isLoopbackHost,
  type FetchLike,
} from '../../../src/oci/registry-client.js';
import { MediaType } from '../../../src/oci/types.js';
import {
  startRegistry,
  seedBusybox,
  pushImage,
  pushIndex,
  layerRequests,
  type TestRegistry,
  type PushedImage,
} from '../../helpers/registry.js';
import { writeTar } from '../../../src/oci/tar.js';
import { rejectsCode } from '../../helpers/assert-code.js';

let reg: TestRegistry;
let busybox: PushedImage;
let arm: PushedImage;
let indexDigest: string;

before(async () => {
  reg = await startRegistry();
  busybox = await seedBusybox(reg);
  // A second, tiny image for linux/arm64 and an index over both (image index → platform).
  arm = await pushImage(reg, 'multi/app', {
    tag: 'arm64-only',
    layers: [writeTar([{ name: 'arch', type: 'file', data: Buffer.from('arm64') }])],
    architecture: 'arm64',
    runtimeConfig: { User: '1000:1000' },
  });
  const amd = await pushImage(reg, 'multi/app', {
    tag: 'amd64-only',
    layers: [writeTar([{ name: 'arch', type: 'file', data: Buffer.from('amd64') }])],
    runtimeConfig: { User: 'app' },
  });
  indexDigest = await pushIndex(reg, 'multi/app', 'latest', [
    { image: arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { image: amd, platform: { os: 'linux', architecture: 'amd64' } },
  ]);
});

after(async () => {
  await reg?.stop();
});

describe('RegistryClient against docker-registry 2.8', () => {
  test('pass_resolve_by_tag_fetches_no_blob', async () => {
    const c = new RegistryClient();
    reg.requestLog.length = 0;
    const r = await c.resolve(busybox.ref);
    assert.equal(r.manifestDigest, busybox.manifestDigest);
    assert.equal(r.configDigest, busybox.configDigest);
    assert.equal(r.mediaType, MediaType.OCI_MANIFEST);
    assert.equal(r.config.config?.User, '0');
    assert.deepEqual(r.config.config?.Cmd, ['/bin/sh']);
    assert.equal(r.size, busybox.layerSizes[0]);
    assert.equal(r.layers.length, 1);
    assert.deepEqual(c.stats(), { manifest: 1, config: 1, blob: 0, token: 0 });
    // Independent of our counters: the registry-side log shows no layer blob GET.
    const blobGets = reg.requestLog.filter((q) => q.kind === 'blob');
    assert.deepEqual(
      blobGets.map((q) => q.path),
      [`/v2/library/busybox/blobs/${busybox.configDigest}`],
    );
    assert.ok(!reg.requestLog.some((q) => q.path.includes(busybox.layerDigests[0]!)));
    assert.deepEqual(layerRequests(reg, busybox), []);
  });

  test('pass_resolve_by_digest', async () => {
    const c = new RegistryClient();
    const r = await c.resolve(`${reg.host}/library/busybox@${busybox.manifestDigest}`);
    assert.equal(r.configDigest, busybox.configDigest);
    assert.equal(r.ref.tag, undefined);
  });

  test('pass_index_selects_platform', async () => {
    const c = new RegistryClient();
    const amd = await c.resolve(`${reg.host}/multi/app:latest`, {
      platform: { os: 'linux', architecture: 'amd64' },
    });
    assert.equal(amd.indexDigest, indexDigest);
    assert.equal(amd.config.config?.User, 'app');
    assert.equal(amd.platform.architecture, 'amd64');
    const a64 = await c.resolve(`${reg.host}/multi/app:latest`, {
      platform: { os: 'linux', architecture: 'arm64' },
    });
    assert.equal(a64.manifestDigest, arm.manifestDigest);
    assert.equal(a64.config.config?.User, '1000:1000');
    assert.equal(c.stats().blob, 0);
  });

  test('fail_platform_not_in_index', async () => {
    const c = new RegistryClient({ defaultPlatform: { os: 'linux', architecture: 's390x' } });
    const e = await rejectsCode(c.resolve(`${reg.host}/multi/app:latest`), 'ERR_OCI_PLATFORM_NOT_FOUND');
    assert.equal((e.details['available'] as unknown[]).length, 2);
  });

  test('fail_unknown_tag_and_repo', async () => {
    const c = new RegistryClient();
    await rejectsCode(c.resolve(`${reg.host}/library/busybox:nope`), 'ERR_OCI_NOT_FOUND');
    await rejectsCode(c.resolve(`${reg.host}/no/such:latest`), 'ERR_OCI_NOT_FOUND');
  });

  test('pass_fetch_blob_verified_stream', async () => {
    const c = new RegistryClient();
    const chunks: Buffer[] = [];
    for await (const ch of await c.fetchBlob(busybox.ref, busybox.layerDigests[0]!, {
      expectedSize: busybox.layerSizes[0]!,
    }))
      chunks.push(Buffer.from(ch));
    const all = Buffer.concat(chunks);
    assert.equal(`sha256:${createHash('sha256').update(all).digest('hex')}`, busybox.layerDigests[0]);
    assert.equal(c.stats().blob, 1);
  });

  test('fail_corrupted_config_byte', async () => {
    const c = new RegistryClient();
    reg.fault = (_m, p) => (p.endsWith(busybox.configDigest) ? 'corrupt' : undefined);
    try {
      await rejectsCode(c.resolve(busybox.ref), 'ERR_OCI_DIGEST_MISMATCH');
    } finally {
      reg.fault = () => undefined;
    }
  });

  test('fail_corrupted_layer_byte_detected_at_end_of_stream', async () => {
    const c = new RegistryClient();
    reg.fault = (_m, p) => (p.endsWith(busybox.layerDigests[0]!) ? 'corrupt' : undefined);
    try {
      const stream = await c.fetchBlob(busybox.ref, busybox.layerDigests[0]!, {
        expectedSize: busybox.layerSizes[0]!,
      });
      await rejectsCode(async () => {
        for await (const _ of stream) {
          // consume
        }
      }, 'ERR_OCI_DIGEST_MISMATCH');
    } finally {
      reg.fault = () => undefined;
    }
  });

  test('fail_truncated_layer_is_size_mismatch', async () => {
    const c = new RegistryClient();
    reg.fault = (_m, p) => (p.endsWith(busybox.layerDigests[0]!) ? 'truncate' : undefined);
    try {
      await rejectsCode(
        c.fetchBlobBytes(busybox.ref, busybox.layerDigests[0]!, { expectedSize: busybox.layerSizes[0]! }),
        'ERR_OCI_DIGEST_MISMATCH',
      );
    } finally {
      reg.fault = () => undefined;
    }
  });

  test('fail_corrupted_manifest_by_digest', async () => {
    const c = new RegistryClient();
    reg.fault = (_m, p) => (p.includes('/manifests/') ? 'corrupt' : undefined);
    try {
      await rejectsCode(
        c.resolve(`${reg.host}/library/busybox@${busybox.manifestDigest}`),
        'ERR_OCI_DIGEST_MISMATCH',
      );
    } finally {
      reg.fault = () => undefined;
    }
  });

  test('fail_hanging_registry_times_out_bounded', async () => {
    const c = new RegistryClient({ timeoutMs: 300 });
    reg.fault = () => 'hang';
    const t0 = Date.now();
    try {
      await rejectsCode(c.resolve(busybox.ref), 'ERR_OCI_REGISTRY_TIMEOUT');
    } finally {
      reg.fault = () => undefined;
    }
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  });

  test('fail_stalled_blob_body_idle_timeout', async () => {
    const c = new RegistryClient({ blobIdleTimeoutMs: 300 });
    reg.fault = (_m, p) => (p.endsWith(busybox.layerDigests[0]!) ? 'stall' : undefined);
    const t0 = Date.now();
    try {
      await rejectsCode(
        c.fetchBlobBytes(busybox.ref, busybox.layerDigests[0]!, { expectedSize: busybox.layerSizes[0]! }),
        'ERR_OCI_REGISTRY_TIMEOUT',
      );
    } finally {
      reg.fault = () => undefined;
    }
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  });

  test('fail_unreachable_registry_is_clear_and_fast', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const c = new RegistryClient({ timeoutMs: 2000 });
    const t0 = Date.now();
    const e = await rejectsCode(
      c.resolve(`127.0.0.1:${port}/library/busybox:latest`),
      'ERR_OCI_REGISTRY_UNREACHABLE',
    );
    assert.equal(e.details['errno'], 'ECONNREFUSED');
    assert.ok(Date.now() - t0 < 2000);
  });

  test('fail_cancelled_by_signal', async () => {
    const c = new RegistryClient();
    reg.fault = () => 'hang';
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    try {
      await rejectsCode(c.resolve(busybox.ref, { signal: ac.signal }), 'ERR_COMMON_CANCELLED');
    } finally {
      reg.fault = () => undefined;
    }
  });
});

describe('RegistryClient auth challenges (token service written here)', () => {
  let bearer: TestRegistry;
  let basic: TestRegistry;
  before(async () => {
    bearer = await startRegistry({
      auth: { kind: 'bearer', username: 'alice', password: 's3cret', refreshToken: 'refresh-me' },
    });
    await seedBusybox(bearer, 'private/busybox', 'v1');
    basic = await startRegistry({ auth: { kind: 'basic', username: 'bob', password: 'pw' } });
    await seedBusybox(basic, 'private/busybox', 'v1');
  });
  after(async () => {
    await bearer?.stop();
    await basic?.stop();
  });

  test('pass_bearer_token_flow_and_cache', async () => {
    const c = new RegistryClient();
    const r = await c.resolve(`${bearer.host}/private/busybox:v1`, {
      auth: { username: 'alice', password: 's3cret' },
    });
    assert.equal(r.config.config?.User, '0');
    assert.equal(bearer.tokenLog.at(-1)?.scope, 'repository:private/busybox:pull');
    assert.equal(bearer.tokenLog.at(-1)?.authorized, true);
    const tokensBefore = c.stats().token;
    await c.resolve(`${bearer.host}/private/busybox:v1`, { auth: { username: 'alice', password: 's3cret' } });
    assert.equal(c.stats().token, tokensBefore, 'token reused from the cache');
  });

  test('pass_bearer_with_docker_auth_field', async () => {
    const c = new RegistryClient();
    const auth = Buffer.from('alice:s3cret').toString('base64');
    await c.resolve(`${bearer.host}/private/busybox:v1`, { auth: { auth } });
  });

  test('pass_bearer_identity_token_refresh_grant', async () => {
    const c = new RegistryClient();
    await c.resolve(`${bearer.host}/private/busybox:v1`, { auth: { identityToken: 'refresh-me' } });
    assert.deepEqual(bearer.tokenLog.at(-1), { authorized: true, scope: 'repository:private/busybox:pull' });
  });

  test('fail_bearer_bad_identity_token', async () => {
    const c = new RegistryClient();
    await rejectsCode(
      c.resolve(`${bearer.host}/private/busybox:v1`, { auth: { identityToken: 'stale' } }),
      'ERR_OCI_UNAUTHORIZED',
    );
  });

  test('pass_registry_token_sent_as_is', async () => {
    const res = await fetch(`${bearer.tokenUrl}?service=x&scope=repository:private/busybox:pull`, {
      headers: { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` },
    });
    const { token } = (await res.json()) as { token: string };
    const c = new RegistryClient();
    const before = bearer.tokenLog.length;
    await c.resolve(`${bearer.host}/private/busybox:v1`, { auth: { registryToken: token } });
    assert.equal(bearer.tokenLog.length, before, 'no token-service round trip');
    await rejectsCode(
      c.resolve(`${bearer.host}/private/busybox:v1`, { auth: { registryToken: 'forged' } }),
      'ERR_OCI_UNAUTHORIZED',
    );
  });

  test('fail_bearer_wrong_password', async () => {
    const c = new RegistryClient();
    await rejectsCode(
      c.resolve(`${bearer.host}/private/busybox:v1`, { auth: { username: 'alice', password: 'nope' } }),
      'ERR_OCI_UNAUTHORIZED',
    );
  });

  test('fail_bearer_anonymous', async () => {
    const c = new RegistryClient();
    await rejectsCode(c.resolve(`${bearer.host}/private/busybox:v1`), 'ERR_OCI_UNAUTHORIZED');
  });

  test('pass_basic_auth', async () => {
    const c = new RegistryClient();
    const r = await c.resolve(`${basic.host}/private/busybox:v1`, {
      auth: { username: 'bob', password: 'pw' },
    });
    assert.equal(r.layers.length, 1);
  });

  test('fail_basic_wrong_password', async () => {
    const c = new RegistryClient();
    await rejectsCode(
      c.resolve(`${basic.host}/private/busybox:v1`, { auth: { username: 'bob', password: 'x' } }),
      'ERR_OCI_UNAUTHORIZED',
    );
  });
});

describe('RegistryClient transport policy (injected fetch, no real network)', () => {
  function recorder(): { urls: string[]; fetch: FetchLike } {
    const urls: string[] = [];
    return {
      urls,
      fetch: async (url) => {
        urls.push(url);
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        });
      },
    };
  }

  test('pass_remote_registry_https_only', async () => {
    const r = recorder();
    const c = new RegistryClient({ fetch: r.fetch });
    await rejectsCode(c.resolve('registry.example.test/app:1'), 'ERR_OCI_REGISTRY_UNREACHABLE');
    assert.deepEqual(r.urls, ['https://registry.example.test/v2/app/manifests/1']);
  });

  test('pass_docker_hub_uses_api_host', async () => {
    const r = recorder();
    const c = new RegistryClient({ fetch: r.fetch });
    await rejectsCode(c.resolve('busybox'), 'ERR_OCI_REGISTRY_UNREACHABLE');
    assert.deepEqual(r.urls, ['https://registry-1.docker.io/v2/library/busybox/manifests/latest']);
  });

  test('pass_configured_insecure_falls_back_to_http', async () => {
    const r = recorder();
    const c = new RegistryClient({ fetch: r.fetch, insecureRegistries: ['registry.example.test:5000'] });
    await rejectsCode(c.resolve('registry.example.test:5000/app:1'), 'ERR_OCI_REGISTRY_UNREACHABLE');
    assert.deepEqual(r.urls, [
      'https://registry.example.test:5000/v2/app/manifests/1',
      'http://registry.example.test:5000/v2/app/manifests/1',
    ]);
  });

  test('fail_plain_http_token_realm_for_remote', async () => {
    const c = new RegistryClient({
      fetch: async (url) => {
        if (url.startsWith('https://registry.example.test/')) {
          return new Response('{}', {
            status: 401,
            headers: { 'www-authenticate': 'Bearer realm="http://auth.example.test/token",service="r"' },
          });
        }
        throw new Error(`unexpected ${url}`);
      },
    });
    await rejectsCode(
      c.resolve('registry.example.test/app:1', { auth: { username: 'u', password: 'p' } }),
      'ERR_OCI_INSECURE_REGISTRY',
    );
  });

  test('fail_schema1_manifest_unsupported', async () => {
    const c = new RegistryClient({
      fetch: async () =>
        new Response('{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}', {
          status: 200,
          headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' },
        }),
    });
    await rejectsCode(c.resolve('registry.example.test/app:1'), 'ERR_OCI_MEDIA_TYPE_UNSUPPORTED');
  });

  test('fail_oversized_manifest', async () => {
    const c = new RegistryClient({
      maxManifestBytes: 1000,
      fetch: async () =>
        new Response('x'.repeat(2000), { status: 200, headers: { 'content-type': MediaType.OCI_MANIFEST } }),
    });
    await rejectsCode(c.resolve('registry.example.test/app:1'), 'ERR_OCI_TOO_LARGE');
  });

  test('fail_manifest_not_json', async () => {
    const c = new RegistryClient({
      fetch: async () =>
        new Response('{not json', { status: 200, headers: { 'content-type': MediaType.OCI_MANIFEST } }),
    });
    await rejectsCode(c.resolve('registry.example.test/app:1'), 'ERR_OCI_MANIFEST_INVALID');
  });

  test('fail_manifest_bad_layer_descriptor', async () => {
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OCI_MANIFEST,
      config: { mediaType: MediaType.OCI_CONFIG, digest: `sha256:${'a'.repeat(64)}`, size: 2 },
      layers: [{ mediaType: MediaType.OCI_LAYER_GZIP, digest: 'sha256:zz', size: 1 }],
    });
    const c = new RegistryClient({ fetch: async () => new Response(body, { status: 200 }) });
    await rejectsCode(c.resolve('registry.example.test/app:1'), 'ERR_OCI_MANIFEST_INVALID');
  });

  test('fail_registry_500', async () => {
    const c = new RegistryClient({
      fetch: async () => new Response('{"errors":[{"code":"UNKNOWN"}]}', { status: 500 }),
    });
    const e = await rejectsCode(c.resolve('registry.example.test/app:1'), 'ERR_OCI_REGISTRY_ERROR');
    assert.equal(e.details['status'], 500);
  });

  test('fail_denied_403', async () => {
    const c = new RegistryClient({ fetch: async () => new Response('{}', { status: 403 }) });
    await rejectsCode(c.resolve('registry.example.test/app:1'), 'ERR_OCI_DENIED');
  });
});

describe('helpers', () => {
  test('pass_parse_challenge', () => {
    assert.deepEqual(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
      ),
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull',
        },
      },
    );
    assert.deepEqual(parseChallenge('Basic realm="x y"'), { scheme: 'basic', params: { realm: 'x y' } });
  });

  test('pass_loopback_hosts', () => {
    for (const h of ['localhost', 'localhost:5000', '127.0.0.1', '127.1.2.3:80', '[::1]:5000', '::1'])
      assert.ok(isLoopbackHost(h), h);
    for (const h of ['example.com', '10.0.0.1:5000', 'localhost.example.com', '128.0.0.1'])
      assert.ok(!isLoopbackHost(h), h);
  });

  test('pass_select_platform_variants', () => {
    const dg = (c: string): string => `sha256:${c.repeat(64)}`;
    const index = {
      schemaVersion: 2 as const,
      manifests: [
        {
          mediaType: MediaType.OCI_MANIFEST,
          digest: dg('1'),
          size: 1,
          platform: { os: 'linux', architecture: 'arm', variant: 'v6' },
        },
        {
          mediaType: MediaType.OCI_MANIFEST,
          digest: dg('2'),
          size: 1,
          platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
        },
        {
          mediaType: MediaType.OCI_MANIFEST,
          digest: dg('3'),
          size: 1,
          platform: { os: 'unknown', architecture: 'unknown' },
          annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
        },
        {
          mediaType: MediaType.OCI_MANIFEST,
          digest: dg('4'),
          size: 1,
          platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
        },
      ],
    };
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm', variant: 'v7' })?.digest, dg('2'));
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm64' })?.digest, dg('4'));
    assert.equal(selectPlatform(index, { os: 'unknown', architecture: 'unknown' }), undefined);
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'amd64' }), undefined);
  });
});
