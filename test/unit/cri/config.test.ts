/** The [cri] section: shipped handlers, overrides, and rejected settings (ERR_CONFIG_INVALID). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, section } from '../../../src/config/config.js';
import { criSection, validateCriConfig } from '../../../src/config/sections/cri.js';
import { throwsCode } from '../../helpers/assert-code.js';

describe('[cri] config', () => {
  test('pass_defaults_ship_coco_sim_and_runc_handlers', () => {
    const c = validateCriConfig({});
    assert.deepEqual(Object.keys(c.handlers).sort(), [
      'kata-qemu-coco-dev',
      'kata-qemu-snp',
      'kata-qemu-tdx',
      'runc',
      'sim-snp',
      'sim-tdx',
    ]);
    assert.equal(c.listen, 'unix:///run/cocoon/cri.sock');
    assert.equal(c.defaultRuntimeHandler, 'runc');
    assert.equal(c.handlers['runc']!.confidential, false);
    assert.equal(c.handlers['runc']!.shim, '/usr/bin/containerd-shim-runc-v2');
    assert.equal(c.handlers['kata-qemu-tdx']!.tee, 'tdx');
    assert.equal(c.handlers['kata-qemu-tdx']!.guestPull, true);
    assert.equal(c.handlers['sim-snp']!.shim, 'builtin:sim');
  });
  test('pass_handler_override_and_new_passthrough_handler', () => {
    const c = validateCriConfig({
      passthrough_endpoint: 'unix:///run/containerd/containerd.sock',
      default_runtime_handler: 'kata-qemu-tdx',
      handlers: { 'kata-qemu-tdx': { kbs_url: 'http://kbs:8080' }, gvisor: { kind: 'passthrough' } },
    });
    assert.equal(c.handlers['kata-qemu-tdx']!.kbsUrl, 'http://kbs:8080');
    assert.equal(c.handlers['kata-qemu-tdx']!.tee, 'tdx', 'other keys keep their shipped values');
    assert.equal(c.handlers['gvisor']!.kind, 'passthrough');
  });
  test('pass_config_print_shows_cri_section', () => {
    const { config } = loadConfig({ env: { COCOON_CRI_LISTEN: 'unix:///tmp/x.sock' } });
    assert.equal(section(config, criSection).listen, 'unix:///tmp/x.sock');
  });
  const bad: [string, Record<string, unknown>][] = [
    ['fail_unknown_key', { lisen: 'x' }],
    ['fail_listen_not_unix', { listen: 'tcp://127.0.0.1:1' }],
    ['fail_default_handler_unknown', { default_runtime_handler: 'nope' }],
    ['fail_passthrough_without_endpoint', { handlers: { x: { kind: 'passthrough' } } }],
    ['fail_confidential_without_tee', { handlers: { x: { shim: '/s', confidential: true } } }],
    ['fail_tee_on_plain_handler', { handlers: { x: { shim: '/s', tee: 'tdx' } } }],
    ['fail_shim_kind_without_shim', { handlers: { x: { kind: 'shim' } } }],
    ['fail_bad_tee', { handlers: { x: { shim: '/s', confidential: true, tee: 'sgx' } } }],
    ['fail_bad_handler_name', { handlers: { 'Bad Name': { shim: '/s' } } }],
    ['fail_handler_unknown_key', { handlers: { runc: { shm: '/s' } } }],
    ['fail_cgroup_driver', { cgroup_driver: 'both' }],
    ['fail_queue_zero', { max_concurrent_ops: 0 }],
  ];
  for (const [name, raw] of bad)
    test(name, () => void throwsCode(() => validateCriConfig(raw), 'ERR_CONFIG_INVALID'));
});
