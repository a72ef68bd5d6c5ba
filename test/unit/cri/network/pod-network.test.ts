import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { networkInterfaces, tmpdir } from 'node:os';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { runInNetns } from '../../../helpers/netns.js';
import {
  parseNetworkConfig,
  resultIps,
  builtinNetwork,
  checkNetworkReady,
  selectNetwork,
  BUILTIN_SUBNET,
} from '../../../../src/cri/network/index.js';
import { rejectsCode, throwsCode } from '../../../helpers/assert-code.js';

interface CodeReport {
  code: string;
  details?: Record<string, unknown>;
}
interface IfaceReport {
  ifname: string;
  up: boolean;
  addrs: string[];
}
/** What helpers/cni-child.ts reports (JSON). */
interface ChildReport {
  crash?: unknown;
  hostLinksBefore: string[];
  builtin: {
    a: { ip: string; ips: string[]; netnsPath: string; network: string; source: string };
    b: { ip: string };
    againIp: string;
    podIfaces: IfaceReport[];
    bridgeAddrs: string[];
    gateway: string;
    pingGateway: boolean;
    pingPeer: boolean;
    checkedIp: string;
    statusIp: string;
    linksWithPods: string[];
    afterTeardown: { netnsFile: boolean; mounted: boolean; status: unknown; links: string[]; ipam: string[] };
    finalLinks: string[];
    netnsLeft: string[];
  };
  conflist: {
    ip: string;
    network: string;
    source: string;
    sysctl: string;
    otherIp: string;
    otherNetwork: string;
    missing: CodeReport;
    netnsLeft: string[];
  };
  failures: {
    pluginFailed: CodeReport;
    notFound: CodeReport;
    timeout: CodeReport;
    timeoutMs: number;
    badId: CodeReport;
    badName: CodeReport;
    netnsLeft: string[];
  };
}

const CHILD = join(import.meta.dirname, 'helpers/cni-child.ts');

/** The machine's own interfaces must look the same before and after (nothing leaks out). */
function hostIfaces(): string[] {
  return Object.keys(networkInterfaces()).sort();
}

function inSubnet(ip: string | undefined, prefix: string): boolean {
  return ip !== undefined && ip.startsWith(prefix);
}

describe('pod networking with Debian CNI plugins, inside a test network namespace', () => {
  test('pass_builtin_default_network_add_check_del', async () => {
    const before = hostIfaces();
    const r = await runInNetns<ChildReport>(CHILD, { scenarios: ['builtin'] });
    assert.equal(r['crash'], undefined, JSON.stringify(r['crash']));
    const b = r['builtin'];
    assert.ok(inSubnet(b.a.ip, '10.89.'), `pod IP ${b.a.ip} in ${BUILTIN_SUBNET}`);
    assert.ok(inSubnet(b.b.ip, '10.89.'));
    assert.notEqual(b.a.ip, b.b.ip);
    assert.equal(b.againIp, b.a.ip, 'a retried create returns the same network');
    assert.equal(b.a.network, 'cocoon');
    assert.equal(b.a.source, 'builtin');
    const eth0 = b.podIfaces.find((i) => i.ifname === 'eth0')!;
    const lo = b.podIfaces.find((i) => i.ifname === 'lo')!;
    assert.deepEqual(
      eth0.addrs.filter((a) => !a.startsWith('fe80:')),
      [b.a.ip],
    );
    assert.ok(lo.up, 'loopback plugin brought lo up');
    assert.deepEqual(
      b.bridgeAddrs.filter((a) => !a.startsWith('fe80:')),
      [b.gateway],
    );
    assert.ok(b.pingGateway, 'pod reaches its gateway');
    assert.ok(b.pingPeer, 'pod reaches the other pod over the bridge');
    assert.equal(b.checkedIp, b.a.ip);
    assert.equal(b.statusIp, b.a.ip);
    assert.ok(b.linksWithPods.includes('cocoon0'));
    assert.equal(b.afterTeardown.netnsFile, false);
    assert.equal(b.afterTeardown.mounted, false);
    assert.equal(b.afterTeardown.status, null);
    assert.ok(!b.afterTeardown.ipam.includes(b.a.ip), 'IP lease released');
    assert.ok(b.afterTeardown.ipam.includes(b.b.ip), 'other pod keeps its lease');
    assert.ok(b.linksWithPods.length > b.finalLinks.length, 'veths removed');
    assert.deepEqual(b.netnsLeft, []);
    assert.ok(!r['hostLinksBefore'].includes('cocoon0'), 'the test namespace started empty');
    assert.deepEqual(hostIfaces(), before);
    assert.ok(!hostIfaces().includes('cocoon0'), 'no bridge on the machine');
  });

  test('pass_conflist_chain_and_named_network', async () => {
    const r = await runInNetns<ChildReport>(CHILD, { scenarios: ['conflist'] });
    assert.equal(r['crash'], undefined, JSON.stringify(r['crash']));
    const c = r['conflist'];
    assert.equal(c.network, 'testnet', 'first valid file in name order (the broken one is skipped)');
    assert.ok(c.source.endsWith('10-test.conflist'));
    assert.ok(inSubnet(c.ip, '10.77.5.'));
    assert.equal(c.sysctl, '0', 'tuning ran with the bridge result as prevResult');
    assert.equal(c.otherNetwork, 'othernet');
    assert.ok(inSubnet(c.otherIp, '10.77.6.'), 'single-plugin .conf with CNI 0.4.0');
    assert.equal(c.missing.code, 'ERR_CNI_NETWORK_NOT_FOUND');
    assert.deepEqual(c.netnsLeft, []);
  });

  test('fail_plugin_errors_are_typed_and_cleaned_up', async () => {
    const r = await runInNetns<ChildReport>(CHILD, { scenarios: ['failures'] });
    assert.equal(r['crash'], undefined, JSON.stringify(r['crash']));
    const f = r['failures'];
    assert.equal(f.pluginFailed.code, 'ERR_CNI_PLUGIN_FAILED');
    assert.equal(f.pluginFailed.details?.['plugin'], 'bridge');
    assert.equal(f.pluginFailed.details?.['command'], 'ADD');
    assert.equal(typeof f.pluginFailed.details?.['cniCode'], 'number', "the plugin's error JSON is carried");
    assert.match(String(f.pluginFailed.details?.['msg']), /10\.999/);
    assert.equal(f.notFound.code, 'ERR_CNI_PLUGIN_NOT_FOUND');
    assert.equal(f.timeout.code, 'ERR_CNI_PLUGIN_TIMEOUT');
    assert.ok(f.timeoutMs < 5000, `timeout took ${f.timeoutMs} ms`);
    assert.equal(f.badId.code, 'ERR_CNI_INVALID_ARGUMENT');
    assert.equal(f.badName.code, 'ERR_CNI_INVALID_ARGUMENT');
    assert.deepEqual(f.netnsLeft, [], 'failed creates leave no namespace behind');
  });
});

describe('CNI config parsing (no namespaces needed)', () => {
  test('pass_conf_wrapped_into_list', () => {
    const l = parseNetworkConfig(
      JSON.stringify({ cniVersion: '0.4.0', name: 'n', type: 'bridge', bridge: 'b' }),
      'x.conf',
    );
    assert.deepEqual(l, { cniVersion: '0.4.0', name: 'n', plugins: [{ type: 'bridge', bridge: 'b' }] });
  });
  const fail: { name: string; text: string; file: string }[] = [
    { name: 'fail_not_json', text: '{', file: 'a.conf' },
    { name: 'fail_no_name', text: '{"type":"bridge"}', file: 'a.conf' },
    { name: 'fail_no_type', text: '{"name":"n"}', file: 'a.conf' },
    { name: 'fail_empty_plugins', text: '{"name":"n","plugins":[]}', file: 'a.conflist' },
    { name: 'fail_plugin_without_type', text: '{"name":"n","plugins":[{}]}', file: 'a.conflist' },
  ];
  for (const c of fail)
    test(c.name, () => void throwsCode(() => parseNetworkConfig(c.text, c.file), 'ERR_CNI_CONFIG_INVALID'));
  test('pass_result_ips_v4_first_and_legacy', () => {
    assert.deepEqual(
      resultIps({ cniVersion: '1.0.0', ips: [{ address: 'fd00::2/64' }, { address: '10.0.0.2/24' }] }),
      ['10.0.0.2', 'fd00::2'],
    );
    assert.deepEqual(resultIps({ cniVersion: '0.2.0', ip4: { ip: '10.1.0.5/16' } }), ['10.1.0.5']);
  });
  test('pass_network_ready_with_debian_plugins', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cocoon-cniconf-'));
    try {
      const ready = await checkNetworkReady({ cniConfDir: dir, cniBinDirs: ['/usr/lib/cni'] });
      assert.deepEqual(ready, {
        ready: true,
        reason: '',
        message: '',
        network: 'cocoon',
        source: 'builtin',
        missingPlugins: [],
      });
      const notReady = await checkNetworkReady({ cniConfDir: dir, cniBinDirs: [dir] });
      assert.equal(notReady.ready, false);
      assert.equal(notReady.reason, 'NetworkPluginNotReady');
      assert.deepEqual([...notReady.missingPlugins].sort(), ['bridge', 'host-local', 'loopback']);
      // Naming the built-in network selects it; naming an unknown one is an error.
      assert.equal((await selectNetwork({ cniConfDir: dir, defaultNetwork: 'cocoon' })).source, 'builtin');
      await rejectsCode(
        selectNetwork({ cniConfDir: dir, defaultNetwork: 'other' }),
        'ERR_CNI_NETWORK_NOT_FOUND',
      );
      await writeFile(
        join(dir, '10-x.conflist'),
        JSON.stringify({ cniVersion: '1.0.0', name: 'x', plugins: [{ type: 'nope' }] }),
      );
      const missing = await checkNetworkReady({ cniConfDir: dir, cniBinDirs: ['/usr/lib/cni'] });
      assert.deepEqual(missing.missingPlugins, ['nope']);
      assert.equal(missing.network, 'x');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('pass_builtin_network_shape', () => {
    const n = builtinNetwork({ subnet: '10.50.0.0/16', ipamDataDir: '/x' });
    assert.equal(n.plugins[0]!.type, 'bridge');
    assert.deepEqual((n.plugins[0]!['ipam'] as { ranges: unknown }).ranges, [[{ subnet: '10.50.0.0/16' }]]);
  });
});
