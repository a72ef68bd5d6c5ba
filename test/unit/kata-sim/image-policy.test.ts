import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dockerScopes, evaluateImagePolicy, parseImagePolicy } from '../../../src/kata/sim/image-policy.js';
import { throwsCode } from '../../helpers/assert-code.js';

const POLICY = JSON.stringify({
  default: [{ type: 'reject' }],
  transports: {
    docker: {
      '127.0.0.1:5000/library/busybox:latest': [{ type: 'insecureAcceptAnything' }],
      '127.0.0.1:5000/trusted': [{ type: 'insecureAcceptAnything' }],
      'quay.io': [{ type: 'sigstoreSigned', keyPath: 'kbs:///default/cosign-public-key/test' }],
      'docker.io/library': [{ type: 'insecureAcceptAnything' }, { type: 'reject' }],
    },
  },
});

test('scopes go from the exact reference to the registry host', () => {
  assert.deepEqual(dockerScopes('127.0.0.1:5000/a/b/c:tag'), [
    '127.0.0.1:5000/a/b/c:tag',
    '127.0.0.1:5000/a/b/c',
    '127.0.0.1:5000/a/b',
    '127.0.0.1:5000/a',
    '127.0.0.1:5000',
  ]);
  assert.deepEqual(dockerScopes('docker.io/library/x@sha256:ab'), [
    'docker.io/library/x@sha256:ab',
    'docker.io/library/x',
    'docker.io/library',
    'docker.io',
  ]);
});

test('table: the most specific scope decides', () => {
  const p = parseImagePolicy(POLICY);
  const cases: [string, string, boolean, string][] = [
    [
      'pass_exact_tag',
      '127.0.0.1:5000/library/busybox:latest',
      true,
      '127.0.0.1:5000/library/busybox:latest',
    ],
    ['fail_other_tag_falls_to_default', '127.0.0.1:5000/library/busybox:1.0', false, 'default'],
    ['pass_namespace', '127.0.0.1:5000/trusted/app:v1', true, '127.0.0.1:5000/trusted'],
    ['fail_signed_required', 'quay.io/x/y:1', false, 'quay.io'],
    ['fail_all_requirements_must_accept', 'docker.io/library/alpine:3', false, 'docker.io/library'],
    ['fail_default_reject', 'ghcr.io/a/b:1', false, 'default'],
  ];
  for (const [name, ref, allowed, scope] of cases) {
    const d = evaluateImagePolicy(p, ref);
    assert.equal(d.allowed, allowed, name);
    assert.equal(d.scope, scope, name);
    assert.ok(d.reason.length > 0);
  }
  const open = parseImagePolicy('{"default":[{"type":"insecureAcceptAnything"}]}');
  assert.equal(evaluateImagePolicy(open, 'any/thing:1').allowed, true);
  const transportDefault = parseImagePolicy(
    '{"default":[{"type":"reject"}],"transports":{"docker":{"":[{"type":"insecureAcceptAnything"}]}}}',
  );
  assert.equal(evaluateImagePolicy(transportDefault, 'a.io/b:1').scope, 'docker');
});

test('table: malformed policies get ERR_KATA_SIM_IMAGE_POLICY_INVALID', () => {
  for (const bad of [
    'not json',
    '[]',
    '{}',
    '{"default":[]}',
    '{"default":[{"type":"maybe"}]}',
    '{"default":[{}]}',
    '{"default":[{"type":"reject"}],"transports":[]}',
    '{"default":[{"type":"reject"}],"transports":{"docker":3}}',
    '{"default":[{"type":"reject"}],"transports":{"docker":{"x":[]}}}',
  ]) {
    throwsCode(() => parseImagePolicy(bad), 'ERR_KATA_SIM_IMAGE_POLICY_INVALID');
  }
  throwsCode(() => parseImagePolicy(Buffer.from('{')), 'ERR_KATA_SIM_IMAGE_POLICY_INVALID');
});
