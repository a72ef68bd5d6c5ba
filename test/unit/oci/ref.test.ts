import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseImageRef, parseDigest, apiHost, repoTag, repoDigest } from '../../../src/oci/ref.js';
import { throwsCode } from '../../helpers/assert-code.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseImageRef (Docker normalisation)', () => {
  const pass: {
    name: string;
    input: string;
    canonical: string;
    domain: string;
    path: string;
    tag?: string;
    digest?: string;
  }[] = [
    {
      name: 'pass_bare_name',
      input: 'busybox',
      canonical: 'docker.io/library/busybox:latest',
      domain: 'docker.io',
      path: 'library/busybox',
      tag: 'latest',
    },
    {
      name: 'pass_bare_name_tag',
      input: 'busybox:1.36',
      canonical: 'docker.io/library/busybox:1.36',
      domain: 'docker.io',
      path: 'library/busybox',
      tag: '1.36',
    },
    {
      name: 'pass_user_repo',
      input: 'user/app',
      canonical: 'docker.io/user/app:latest',
      domain: 'docker.io',
      path: 'user/app',
      tag: 'latest',
    },
    {
      name: 'pass_index_docker_io',
      input: 'index.docker.io/library/alpine',
      canonical: 'docker.io/library/alpine:latest',
      domain: 'docker.io',
      path: 'library/alpine',
      tag: 'latest',
    },
    {
      name: 'pass_docker_io_single',
      input: 'docker.io/nginx',
      canonical: 'docker.io/library/nginx:latest',
      domain: 'docker.io',
      path: 'library/nginx',
      tag: 'latest',
    },
    {
      name: 'pass_registry_port',
      input: '127.0.0.1:5000/a/b/c:v1',
      canonical: '127.0.0.1:5000/a/b/c:v1',
      domain: '127.0.0.1:5000',
      path: 'a/b/c',
      tag: 'v1',
    },
    {
      name: 'pass_localhost',
      input: 'localhost/app',
      canonical: 'localhost/app:latest',
      domain: 'localhost',
      path: 'app',
      tag: 'latest',
    },
    {
      name: 'pass_quay_single_path',
      input: 'quay.io/app',
      canonical: 'quay.io/app:latest',
      domain: 'quay.io',
      path: 'app',
      tag: 'latest',
    },
    {
      name: 'pass_digest_only',
      input: `ghcr.io/o/r@${D}`,
      canonical: `ghcr.io/o/r@${D}`,
      domain: 'ghcr.io',
      path: 'o/r',
      digest: D,
    },
    {
      name: 'pass_tag_and_digest',
      input: `busybox:1@${D}`,
      canonical: `docker.io/library/busybox:1@${D}`,
      domain: 'docker.io',
      path: 'library/busybox',
      tag: '1',
      digest: D,
    },
    {
      name: 'pass_separators',
      input: 'my.reg/a_b/c__d/e-f/g---h.i:T_a.g-1',
      canonical: 'my.reg/a_b/c__d/e-f/g---h.i:T_a.g-1',
      domain: 'my.reg',
      path: 'a_b/c__d/e-f/g---h.i',
      tag: 'T_a.g-1',
    },
    {
      name: 'pass_ipv6_host',
      input: '[::1]:5000/app:x',
      canonical: '[::1]:5000/app:x',
      domain: '[::1]:5000',
      path: 'app',
      tag: 'x',
    },
  ];
  for (const c of pass) {
    test(c.name, () => {
      const r = parseImageRef(c.input);
      assert.equal(r.canonical, c.canonical);
      assert.equal(r.domain, c.domain);
      assert.equal(r.path, c.path);
      assert.equal(r.name, `${c.domain}/${c.path}`);
      assert.equal(r.tag, c.tag);
      assert.equal(r.digest, c.digest);
      assert.equal(r.reference, c.digest ?? c.tag);
    });
  }

  const fail: { name: string; input: string }[] = [
    { name: 'fail_empty', input: '' },
    { name: 'fail_uppercase_repo', input: 'BusyBox' },
    { name: 'fail_space', input: 'busy box' },
    { name: 'fail_trailing_slash', input: 'library/' },
    { name: 'fail_double_slash', input: 'a//b' },
    { name: 'fail_leading_separator', input: '-app' },
    { name: 'fail_bad_tag_char', input: 'app:t@g' },
    { name: 'fail_tag_too_long', input: `app:${'t'.repeat(129)}` },
    { name: 'fail_empty_tag', input: 'app:' },
    { name: 'fail_short_digest', input: 'app@sha256:abc' },
    { name: 'fail_unknown_digest_alg', input: `app@md5:${'a'.repeat(32)}` },
    { name: 'fail_uppercase_digest', input: `app@sha256:${'A'.repeat(64)}` },
    { name: 'fail_port_out_of_range', input: 'reg:99999/app' },
    { name: 'fail_name_too_long', input: `reg.io/${'a'.repeat(260)}` },
    { name: 'fail_only_tag', input: ':latest' },
    { name: 'fail_path_traversal', input: 'reg.io/../etc' },
  ];
  for (const c of fail) {
    test(c.name, () => {
      throwsCode(() => parseImageRef(c.input), 'ERR_OCI_REF_INVALID');
    });
  }

  test('pass_helpers', () => {
    const r = parseImageRef('busybox');
    assert.equal(apiHost(r.domain), 'registry-1.docker.io');
    assert.equal(apiHost('127.0.0.1:5000'), '127.0.0.1:5000');
    assert.equal(repoTag(r), 'docker.io/library/busybox:latest');
    assert.equal(repoTag(parseImageRef(`x.io/a@${D}`)), undefined);
    assert.equal(repoDigest(r, D), `docker.io/library/busybox@${D}`);
    assert.deepEqual(parseDigest(D), { algorithm: 'sha256', hex: 'a'.repeat(64) });
    assert.equal(parseDigest(`sha512:${'b'.repeat(128)}`).algorithm, 'sha512');
    throwsCode(() => parseDigest('sha256:'), 'ERR_OCI_REF_INVALID');
  });
});
