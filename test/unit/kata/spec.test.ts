import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildContainerSpec,
  buildSandboxSpec,
  resolveExecutable,
  CRI_ANNOTATIONS,
  DEFAULT_PATH,
  type ContainerSpecInput,
  type SandboxSpecInput,
} from '../../../src/kata/index.js';
import { throwsCode } from '../../helpers/assert-code.js';

const SANDBOX: SandboxSpecInput = {
  id: 'sb1',
  name: 'web',
  namespace: 'prod',
  uid: 'uid-1',
  args: ['/pause'],
  logDirectory: '/var/log/pods/prod_web_uid-1',
  netnsPath: '/var/run/netns/cni-1',
  hostname: 'web',
  sizing: { cpuPeriod: 100000, cpuQuota: 150000, cpuShares: 1536, memoryLimitBytes: 2147483648 },
  podAnnotations: {
    'io.katacontainers.config.hypervisor.cc_init_data': 'H4sI',
    'io.katacontainers.config.hypervisor.default_memory': '4096',
    'example.com/other': 'dropped',
  },
  oomScoreAdj: -998,
};

const CONTAINER: ContainerSpecInput = {
  id: 'c1',
  name: 'app',
  sandboxId: 'sb1',
  sandboxName: 'web',
  sandboxNamespace: 'prod',
  sandboxUid: 'uid-1',
  imageName: 'registry.example/app:1.0',
  args: ['/bin/app', '--flag'],
  env: ['A=1'],
  netnsPath: '/var/run/netns/cni-1',
  shared: { ipc: '/proc/10/ns/ipc', uts: '/proc/10/ns/uts' },
  mounts: [{ destination: '/data', type: 'bind', source: '/host/data', options: ['rbind', 'ro'] }],
  cgroupsPath: '/kubepods/pod-uid-1/c1',
  resources: { memory: { limit: 1 << 28 } },
};

describe('buildSandboxSpec', () => {
  test('pass_containerd_annotation_layout', () => {
    const s = buildSandboxSpec(SANDBOX);
    const a = s.annotations!;
    assert.equal(a[CRI_ANNOTATIONS.containerType], 'sandbox');
    assert.equal(a['io.kubernetes.cri.sandbox-id'], 'sb1');
    assert.equal(a['io.kubernetes.cri.sandbox-name'], 'web');
    assert.equal(a['io.kubernetes.cri.sandbox-namespace'], 'prod');
    assert.equal(a['io.kubernetes.cri.sandbox-uid'], 'uid-1');
    assert.equal(a['io.kubernetes.cri.sandbox-log-directory'], '/var/log/pods/prod_web_uid-1');
    assert.equal(a['io.kubernetes.cri.sandbox-cpu-period'], '100000');
    assert.equal(a['io.kubernetes.cri.sandbox-cpu-quota'], '150000');
    assert.equal(a['io.kubernetes.cri.sandbox-cpu-shares'], '1536');
    assert.equal(a['io.kubernetes.cri.sandbox-memory'], '2147483648');
    assert.equal(a['io.katacontainers.config.hypervisor.cc_init_data'], 'H4sI');
    assert.equal(a['io.katacontainers.config.hypervisor.default_memory'], '4096');
    assert.equal(a['example.com/other'], undefined, 'non-allow-listed pod annotation forwarded');
  });

  test('pass_namespaces_hostname_process', () => {
    const s = buildSandboxSpec(SANDBOX);
    assert.equal(s.hostname, 'web');
    const net = s.linux!.namespaces!.find((n) => n.type === 'network');
    assert.deepEqual(net, { type: 'network', path: '/var/run/netns/cni-1' });
    assert.deepEqual(s.linux!.namespaces!.map((n) => n.type).sort(), [
      'ipc',
      'mount',
      'network',
      'pid',
      'uts',
    ]);
    // env-notes.md: negative oom_score_adj breaks runc here.
    assert.equal(s.process!.oomScoreAdj, 0);
    assert.ok(s.process!.env!.includes(`PATH=${DEFAULT_PATH}`));
    assert.deepEqual(s.linux!.resources!.devices![0], { allow: false, access: 'rwm' });
    assert.equal(s.root!.path, 'rootfs');
  });

  test('pass_custom_allowlist', () => {
    const s = buildSandboxSpec({ ...SANDBOX, podAnnotationAllowlist: ['example.com/other'] });
    assert.equal(s.annotations!['example.com/other'], 'dropped');
    assert.equal(s.annotations!['io.katacontainers.config.hypervisor.default_memory'], undefined);
  });

  test('pass_identity_keys_win_over_pod_annotations', () => {
    const s = buildSandboxSpec({
      ...SANDBOX,
      podAnnotationAllowlist: ['io.kubernetes.cri.*'],
      podAnnotations: { 'io.kubernetes.cri.sandbox-id': 'spoofed' },
    });
    assert.equal(s.annotations!['io.kubernetes.cri.sandbox-id'], 'sb1');
  });

  const failures: [string, Partial<SandboxSpecInput>, string][] = [
    ['fail_empty_id', { id: '' }, 'id'],
    ['fail_empty_name', { name: '' }, 'name'],
    ['fail_empty_args', { args: [] }, 'args'],
    ['fail_relative_cwd', { cwd: 'tmp' }, 'cwd'],
    ['fail_negative_uid', { user: { uid: -1, gid: 0 } }, 'user'],
    ['fail_fractional_sizing', { sizing: { cpuQuota: 1.5 } }, 'sizing.cpuQuota'],
    ['fail_relative_mount', { mounts: [{ destination: 'data' }] }, 'mounts'],
    ['fail_oom_too_high', { oomScoreAdj: 1001 }, 'oomScoreAdj'],
  ];
  for (const [name, patch, field] of failures) {
    test(name, () => {
      const e = throwsCode(() => buildSandboxSpec({ ...SANDBOX, ...patch }), 'ERR_KATA_SPEC_INVALID');
      assert.equal(e.details['field'], field);
    });
  }
});

describe('buildContainerSpec', () => {
  test('pass_containerd_annotation_layout', () => {
    const s = buildContainerSpec({
      ...CONTAINER,
      extraAnnotations: { 'io.kubernetes.cri.container-type': 'x', k: 'v' },
    });
    const a = s.annotations!;
    assert.equal(a['io.kubernetes.cri.container-type'], 'container');
    assert.equal(a['io.kubernetes.cri.sandbox-id'], 'sb1');
    assert.equal(a['io.kubernetes.cri.sandbox-name'], 'web');
    assert.equal(a['io.kubernetes.cri.sandbox-namespace'], 'prod');
    assert.equal(a['io.kubernetes.cri.sandbox-uid'], 'uid-1');
    assert.equal(a['io.kubernetes.cri.container-name'], 'app');
    assert.equal(a['io.kubernetes.cri.image-name'], 'registry.example/app:1.0');
    assert.equal(a['k'], 'v');
  });

  test('pass_shared_namespaces_mounts_cgroups', () => {
    const s = buildContainerSpec(CONTAINER);
    const ns = Object.fromEntries(s.linux!.namespaces!.map((n) => [n.type, n.path]));
    assert.equal(ns['ipc'], '/proc/10/ns/ipc');
    assert.equal(ns['uts'], '/proc/10/ns/uts');
    assert.equal(ns['network'], '/var/run/netns/cni-1');
    assert.equal(ns['pid'], undefined);
    assert.equal(s.linux!.cgroupsPath, '/kubepods/pod-uid-1/c1');
    assert.equal(s.linux!.resources!.memory!.limit, 1 << 28);
    const data = s.mounts!.find((m) => m.destination === '/data');
    assert.deepEqual(data, {
      destination: '/data',
      type: 'bind',
      source: '/host/data',
      options: ['rbind', 'ro'],
    });
    assert.deepEqual(s.process!.args, ['/bin/app', '--flag']);
  });

  test('pass_mount_overrides_default_destination', () => {
    const s = buildContainerSpec({
      ...CONTAINER,
      mounts: [{ destination: '/dev/shm', type: 'bind', source: '/x' }],
    });
    const shm = s.mounts!.filter((m) => m.destination === '/dev/shm');
    assert.equal(shm.length, 1);
    assert.equal(shm[0]!.source, '/x');
  });

  for (const field of [
    'sandboxId',
    'imageName',
    'name',
    'sandboxName',
    'sandboxNamespace',
    'sandboxUid',
  ] as const) {
    test(`fail_missing_${field}`, () => {
      const e = throwsCode(() => buildContainerSpec({ ...CONTAINER, [field]: '' }), 'ERR_KATA_SPEC_INVALID');
      assert.equal(e.details['field'], field);
    });
  }
});

describe('resolveExecutable (env-notes.md: absolute process args)', () => {
  let rootfs: string;
  before(() => {
    rootfs = mkdtempSync(join(tmpdir(), 'cocoon-kata-spec-'));
    mkdirSync(join(rootfs, 'usr/bin'), { recursive: true });
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    writeFileSync(join(rootfs, 'usr/bin/tool'), '');
    writeFileSync(join(rootfs, 'bin/sh'), '');
  });
  after(() => rmSync(rootfs, { recursive: true, force: true }));

  test('pass_resolves_against_path_in_rootfs', () => {
    assert.equal(resolveExecutable('tool', [], rootfs), '/usr/bin/tool');
    assert.equal(resolveExecutable('sh', ['PATH=/bin'], rootfs), '/bin/sh');
    assert.equal(resolveExecutable('/opt/x', [], rootfs), '/opt/x');
  });

  test('pass_without_rootfs_unchanged', () => {
    assert.equal(resolveExecutable('tool', []), 'tool');
  });

  test('pass_spec_uses_resolution', () => {
    const s = buildContainerSpec({ ...CONTAINER, args: ['sh', '-c', 'true'], env: ['PATH=/bin'], rootfs });
    assert.deepEqual(s.process!.args, ['/bin/sh', '-c', 'true']);
  });

  test('fail_not_found_in_rootfs', () => {
    throwsCode(() => resolveExecutable('missing', [], rootfs), 'ERR_KATA_SPEC_INVALID');
  });

  test('fail_directory_is_not_executable', () => {
    throwsCode(() => resolveExecutable('bin', ['PATH=/'], rootfs), 'ERR_KATA_SPEC_INVALID');
  });
});
