/**
 * Runs inside the namespaces test/helpers/netns.ts creates (never on the machine's
 * interfaces): drives createPodNetwork/checkPodNetwork/teardownPodNetwork with Debian's CNI
 * plugins and reports what it observed, scenario by scenario, as JSON.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createPodNetwork,
  checkPodNetwork,
  teardownPodNetwork,
  podNetworkStatus,
  isNetnsMounted,
  type PodNetworkOptions,
} from '../../../../../src/cri/network/index.js';
import { CocoonError } from '../../../../../src/common/errors.js';
import { netnsInput, reportFromNetns } from '../../../../helpers/netns.js';

const input = netnsInput<{ scenarios: string[] }>();
const report: Record<string, unknown> = {};

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function inPod(netns: string, cmd: string, args: string[]): string {
  return sh('nsenter', [`--net=${netns}`, cmd, ...args]);
}
function links(): string[] {
  return (JSON.parse(sh('ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname);
}
async function expectError(fn: () => Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await fn();
    return { code: 'none' };
  } catch (e) {
    if (e instanceof CocoonError) return { code: e.code, details: e.details };
    return { code: 'untyped', message: String(e) };
  }
}

const base = await mkdtemp(join(tmpdir(), 'cocoon-cni-'));
const emptyConf = join(base, 'conf-empty');
await mkdir(emptyConf);
const common = (podId: string, extra: Partial<PodNetworkOptions> = {}): PodNetworkOptions => ({
  podId,
  name: `pod-${podId}`,
  namespace: 'default',
  uid: `uid-${podId}`,
  netnsDir: join(base, 'netns'),
  cacheDir: join(base, 'cache'),
  cniConfDir: emptyConf,
  cniBinDirs: ['/usr/lib/cni'],
  builtin: { ipamDataDir: join(base, 'ipam') },
  ...extra,
});

try {
  report['hostLinksBefore'] = links();
  if (input.scenarios.includes('builtin')) {
    const a = await createPodNetwork(common('poda'));
    const b = await createPodNetwork(common('podb'));
    const again = await createPodNetwork(common('poda'));
    const addrs = JSON.parse(inPod(a.netnsPath, 'ip', ['-j', 'addr', 'show'])) as {
      ifname: string;
      operstate: string;
      flags: string[];
      addr_info: { local: string }[];
    }[];
    const bridge = JSON.parse(sh('ip', ['-j', 'addr', 'show', 'cocoon0'])) as {
      addr_info: { local: string }[];
    }[];
    let pingGateway = false;
    let pingPeer = false;
    try {
      inPod(a.netnsPath, '/bin/busybox', ['ping', '-c', '1', '-W', '2', a.result.ips?.[0]?.gateway ?? '']);
      pingGateway = true;
    } catch {
      pingGateway = false;
    }
    try {
      inPod(a.netnsPath, '/bin/busybox', ['ping', '-c', '1', '-W', '2', b.ip ?? '']);
      pingPeer = true;
    } catch {
      pingPeer = false;
    }
    const checked = await checkPodNetwork(common('poda'));
    const status = await podNetworkStatus(common('poda'));
    const linksWithPods = links();
    await teardownPodNetwork(common('poda'));
    const afterTeardown = {
      netnsFile: existsSync(a.netnsPath),
      mounted: await isNetnsMounted(a.netnsPath),
      status: (await podNetworkStatus(common('poda'))) ?? null,
      links: links(),
      ipam: await readdir(join(base, 'ipam', 'cocoon')),
    };
    await teardownPodNetwork(common('poda')); // idempotent
    await teardownPodNetwork(common('podb'));
    report['builtin'] = {
      a: {
        ip: a.ip,
        ips: a.ips,
        netnsPath: a.netnsPath,
        network: a.network,
        source: a.source,
        interfaces: a.interfaces,
      },
      b: { ip: b.ip },
      againIp: again.ip,
      podIfaces: addrs.map((x) => ({
        ifname: x.ifname,
        up: x.flags.includes('UP'),
        addrs: x.addr_info.map((i) => i.local),
      })),
      bridgeAddrs: bridge[0]?.addr_info.map((i) => i.local) ?? [],
      gateway: a.result.ips?.[0]?.gateway,
      pingGateway,
      pingPeer,
      checkedIp: checked.ip,
      statusIp: status?.ip,
      linksWithPods,
      afterTeardown,
      finalLinks: links(),
      netnsLeft: await readdir(join(base, 'netns')),
    };
  }
  if (input.scenarios.includes('conflist')) {
    const dir = join(base, 'conf-list');
    await mkdir(dir);
    await writeFile(
      join(dir, '10-test.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'testnet',
        plugins: [
          {
            type: 'bridge',
            bridge: 'testbr1',
            isGateway: true,
            ipam: {
              type: 'host-local',
              dataDir: join(base, 'ipam2'),
              ranges: [[{ subnet: '10.77.5.0/24' }]],
              routes: [{ dst: '0.0.0.0/0' }],
            },
          },
          { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.accept_redirects': '0' } },
        ],
      }),
    );
    await writeFile(
      join(dir, '20-other.conf'),
      JSON.stringify({
        cniVersion: '0.4.0',
        name: 'othernet',
        type: 'bridge',
        bridge: 'otherbr',
        ipam: { type: 'host-local', dataDir: join(base, 'ipam3'), subnet: '10.77.6.0/24' },
      }),
    );
    await writeFile(join(dir, '05-broken.conflist'), '{ not json');
    const p = await createPodNetwork(common('podc', { cniConfDir: dir }));
    const sysctl = inPod(p.netnsPath, 'cat', ['/proc/sys/net/ipv4/conf/eth0/accept_redirects']).trim();
    await checkPodNetwork(common('podc', { cniConfDir: dir }));
    await teardownPodNetwork(common('podc', { cniConfDir: dir }));
    const o = await createPodNetwork(common('podd', { cniConfDir: dir, defaultNetwork: 'othernet' }));
    await teardownPodNetwork(common('podd', { cniConfDir: dir, defaultNetwork: 'othernet' }));
    const missing = await expectError(() =>
      createPodNetwork(common('pode', { cniConfDir: dir, defaultNetwork: 'nonet' })),
    );
    report['conflist'] = {
      ip: p.ip,
      network: p.network,
      source: p.source,
      sysctl,
      otherIp: o.ip,
      otherNetwork: o.network,
      missing,
      netnsLeft: await readdir(join(base, 'netns')).catch(() => []),
    };
  }
  if (input.scenarios.includes('failures')) {
    const dir = join(base, 'conf-bad');
    await mkdir(dir);
    await writeFile(
      join(dir, '10-bad.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'badnet',
        plugins: [
          {
            type: 'bridge',
            bridge: 'badbr',
            ipam: { type: 'host-local', ranges: [[{ subnet: '10.999.0.0/24' }]] },
          },
        ],
      }),
    );
    const pluginFailed = await expectError(() => createPodNetwork(common('podf', { cniConfDir: dir })));
    const dir2 = join(base, 'conf-missing');
    await mkdir(dir2);
    await writeFile(
      join(dir2, '10-x.conflist'),
      JSON.stringify({ cniVersion: '1.0.0', name: 'x', plugins: [{ type: 'no-such-plugin' }] }),
    );
    const notFound = await expectError(() => createPodNetwork(common('podg', { cniConfDir: dir2 })));
    const bin = join(base, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'sleeper'), '#!/bin/sh\nexec /bin/busybox sleep 30\n');
    await chmod(join(bin, 'sleeper'), 0o755);
    const dir3 = join(base, 'conf-slow');
    await mkdir(dir3);
    await writeFile(
      join(dir3, '10-slow.conflist'),
      JSON.stringify({ cniVersion: '1.0.0', name: 'slow', plugins: [{ type: 'sleeper' }] }),
    );
    const t0 = Date.now();
    const timeout = await expectError(() =>
      createPodNetwork(
        common('podh', { cniConfDir: dir3, cniBinDirs: [bin, '/usr/lib/cni'], timeoutMs: 300 }),
      ),
    );
    const timeoutMs = Date.now() - t0;
    const badId = await expectError(() => createPodNetwork(common('../evil')));
    const badName = await expectError(() => createPodNetwork({ ...common('podi'), name: 'a;b=c' }));
    report['failures'] = {
      pluginFailed,
      notFound,
      timeout,
      timeoutMs,
      badId,
      badName,
      netnsLeft: await readdir(join(base, 'netns')).catch(() => []),
    };
  }
} catch (e) {
  report['crash'] =
    e instanceof CocoonError
      ? { code: e.code, message: e.message, details: e.details }
      : String((e as Error).stack ?? e);
}
reportFromNetns(report);
