/** The PodNetwork seam over src/cri/network (netns + CNI ADD/DEL, built-in default network). */
import { join } from 'node:path';
import { messageOf } from '../common/errors.js';
import {
  createPodNetwork,
  DEFAULT_CNI_BIN_DIRS,
  DEFAULT_CNI_CONF_DIR,
  findPlugin,
  selectNetwork,
  teardownPodNetwork,
  type PodNetworkOptions,
} from './network/index.js';
import type { PodNetwork, PodNetworkRequest, PodNetworkResult } from './pod-network.js';

/** Options of CniPodNetwork. */
export interface CniPodNetworkOptions {
  /** State directory; netns files, CNI cache and IPAM data live below it. */
  readonly stateDir: string;
  /** CNI configuration folder; default /etc/cni/net.d. */
  readonly confDir?: string;
  /** Plugin folders; default /opt/cni/bin, /usr/libexec/cni, /usr/lib/cni. */
  readonly binDirs?: readonly string[];
  /** Folder of pod netns files; default <stateDir>/netns. */
  readonly netnsDir?: string;
}

/** Pod networking with real CNI plugins. */
export class CniPodNetwork implements PodNetwork {
  private readonly o: CniPodNetworkOptions;
  private cidr = '';

  constructor(o: CniPodNetworkOptions) {
    this.o = o;
  }

  private opts(req: PodNetworkRequest): PodNetworkOptions {
    return {
      podId: req.id,
      name: req.name,
      namespace: req.namespace,
      uid: req.uid,
      netnsDir: this.o.netnsDir ?? join(this.o.stateDir, 'netns'),
      cniConfDir: this.o.confDir ?? DEFAULT_CNI_CONF_DIR,
      cniBinDirs: this.o.binDirs ?? DEFAULT_CNI_BIN_DIRS,
      cacheDir: join(this.o.stateDir, 'cni-cache'),
      builtin: {
        ipamDataDir: join(this.o.stateDir, 'ipam'),
        ...(this.cidr === '' ? {} : { subnet: this.cidr }),
      },
    };
  }

  async setUp(req: PodNetworkRequest): Promise<PodNetworkResult> {
    const n = await createPodNetwork(this.opts(req));
    return { netnsPath: n.netnsPath, ip: n.ip ?? '', additionalIps: n.ips.slice(1) };
  }

  async tearDown(req: PodNetworkRequest): Promise<void> {
    await teardownPodNetwork(this.opts(req));
  }

  async status(): Promise<{ ready: boolean; reason: string; message: string }> {
    try {
      const { conf, source } = await selectNetwork({ cniConfDir: this.o.confDir ?? DEFAULT_CNI_CONF_DIR });
      for (const p of conf.plugins) await findPlugin(p.type, this.o.binDirs ?? DEFAULT_CNI_BIN_DIRS);
      return { ready: true, reason: '', message: `network ${conf.name} (${source})` };
    } catch (e) {
      return { ready: false, reason: 'NetworkPluginNotReady', message: messageOf(e) };
    }
  }

  setPodCidr(cidr: string): void {
    this.cidr = cidr;
  }
}
