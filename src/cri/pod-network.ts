/**
 * What the CRI handlers need from pod networking (implemented over src/cri/network by
 * network-cni.ts). Host-network pods never reach it.
 */

/** A pod's network after setup. */
export interface PodNetworkResult {
  /** Network namespace path handed to the runtime. */
  readonly netnsPath: string;
  /** Primary pod IP ("" when the network gave none). */
  readonly ip: string;
  /** Further IPs (e.g. IPv6). */
  readonly additionalIps: readonly string[];
}

/** Identity of the pod for CNI (CNI_ARGS K8S_POD_*). */
export interface PodNetworkRequest {
  readonly id: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

/** The network seam. */
export interface PodNetwork {
  /** Creates the namespace and runs CNI ADD. */
  setUp(req: PodNetworkRequest): Promise<PodNetworkResult>;
  /** Runs CNI DEL and removes the namespace; idempotent. */
  tearDown(req: PodNetworkRequest, netnsPath: string | undefined): Promise<void>;
  /** NetworkReady condition: ready or a reason/message. */
  status(): Promise<{ ready: boolean; reason: string; message: string }>;
  /** Pod CIDR from UpdateRuntimeConfig. */
  setPodCidr(cidr: string): void;
}

/** A network for nodes and tests without CNI: every pod is treated as host-network. */
export class HostOnlyNetwork implements PodNetwork {
  private cidr = '';
  async setUp(): Promise<PodNetworkResult> {
    return { netnsPath: '', ip: '', additionalIps: [] };
  }
  async tearDown(): Promise<void> {}
  async status(): Promise<{ ready: boolean; reason: string; message: string }> {
    return {
      ready: true,
      reason: '',
      message: `host network only${this.cidr === '' ? '' : ` (pod CIDR ${this.cidr})`}`,
    };
  }
  setPodCidr(cidr: string): void {
    this.cidr = cidr;
  }
}
