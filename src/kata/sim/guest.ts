/**
 * One simulated confidential VM ("guest") per pod sandbox. It owns what a Kata CoCo guest owns:
 * the Attestation Agent (ttrpc on hybrid vsock), the Confidential Data Hub (resources from the KBS
 * after attestation), the api-server-rest front end, the in-guest image store (a private
 * directory the host-side CRI never reads), and runc for the containers.
 *
 * Guest pull (guest.md §5): a container's image is pulled here, only after the guest attested
 * to the KBS and the image security policy resource admitted the image.
 */
import { appendFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { CocoonError, messageOf } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/log.js';
import { ImageStore, RegistryClient, parseImageRef } from '../../oci/index.js';
import type { EncodedInitData } from '../initdata.js';
import { createAttester, type Attester, type SimTee } from './attester.js';
import { startApiServerRest, type ApiServerRest } from './api-server-rest.js';
import { evaluateImagePolicy, parseImagePolicy } from './image-policy.js';
import { startAttestationAgent, type AttestationAgent } from './attestation-agent.js';
import { checkSocketPath } from './paths.js';
import { createCdh, type Cdh } from './cdh.js';

/** User-Agent of the in-guest image pulls, so a registry can tell guest pulls from host pulls. */
export const GUEST_USER_AGENT = 'cocoon-guest/0.1 (simulated confidential guest)';

/** File in the guest folder recording guest milestones as JSON lines. */
export const GUEST_JOURNAL = 'journal.jsonl';

/** Hybrid-vsock port the simulated Attestation Agent listens on (Cocoon's choice; Kata uses 1024 for the agent). */
export const SIM_AA_VSOCK_PORT = 50002;

/** What the guest learned from its launch configuration (initdata + hypervisor annotations). */
export interface GuestLaunch {
  readonly tee: SimTee;
  readonly initData?: EncodedInitData;
  readonly firmware?: string;
  readonly debug?: boolean;
}

/** Options of SimGuest. */
export interface SimGuestOptions {
  readonly sandboxId: string;
  /** Private directory of this guest (images, bundles, runc state, sockets). */
  readonly dir: string;
  readonly launch: GuestLaunch;
  /** Registries reached over plain HTTP besides loopback ones. */
  readonly insecureRegistries?: readonly string[];
  readonly logger?: Logger;
  /** Observer of guest milestones (attestation, pull), for the demo timeline and tests. */
  readonly onEvent?: (e: GuestEvent) => void;
}

/** A guest milestone. */
export interface GuestEvent {
  readonly kind:
    'attested' | 'attestation-failed' | 'resource-denied' | 'resource' | 'policy' | 'pulled' | 'pull-failed';
  readonly detail: Record<string, unknown>;
}

/** The KBS-related settings read from initdata's cdh.toml / aa.toml (guest.md §2.2, §1.4). */
export interface GuestKbsConfig {
  readonly kbsUrl?: string;
  readonly kbsCert?: string;
  readonly imageSecurityPolicyUri?: string;
}

/** Reads KBS URL, certificate and image policy URI from the initdata documents. */
export function kbsConfigFromInitData(initData: EncodedInitData | undefined): GuestKbsConfig {
  if (initData === undefined) return {};
  const data = initData.document.data;
  const out: { kbsUrl?: string; kbsCert?: string; imageSecurityPolicyUri?: string } = {};
  const read = (name: string): Record<string, unknown> | undefined => {
    const text = data[name];
    if (text === undefined) return undefined;
    try {
      return parseToml(text) as Record<string, unknown>;
    } catch (e) {
      throw new CocoonError(
        'ERR_KATA_SIM_CONFIG_INVALID',
        `initdata ${name} is not valid TOML: ${messageOf(e)}`,
      );
    }
  };
  const cdh = read('cdh.toml');
  const kbc = cdh?.['kbc'] as Record<string, unknown> | undefined;
  if (typeof kbc?.['url'] === 'string' && kbc['url'] !== '') out.kbsUrl = kbc['url'];
  if (typeof kbc?.['kbs_cert'] === 'string') out.kbsCert = kbc['kbs_cert'];
  const image = cdh?.['image'] as Record<string, unknown> | undefined;
  if (typeof image?.['image_security_policy_uri'] === 'string')
    out.imageSecurityPolicyUri = image['image_security_policy_uri'];
  if (out.kbsUrl === undefined) {
    const aa = read('aa.toml');
    const kbs = (aa?.['token_configs'] as Record<string, unknown> | undefined)?.['kbs'] as
      Record<string, unknown> | undefined;
    if (typeof kbs?.['url'] === 'string' && kbs['url'] !== '') out.kbsUrl = kbs['url'];
    if (out.kbsCert === undefined && typeof kbs?.['cert'] === 'string') out.kbsCert = kbs['cert'];
  }
  return out;
}

/** A running simulated VM. */
export class SimGuest {
  readonly sandboxId: string;
  readonly dir: string;
  readonly attester: Attester;
  readonly kbs: GuestKbsConfig;
  private readonly log: Logger;
  private readonly opts: SimGuestOptions;
  private aa: AttestationAgent | undefined;
  private rest: ApiServerRest | undefined;
  private cdh: Cdh | undefined;
  private images: ImageStore | undefined;

  constructor(opts: SimGuestOptions) {
    this.opts = opts;
    this.sandboxId = opts.sandboxId;
    this.dir = opts.dir;
    this.log = opts.logger ?? silentLogger;
    this.attester = createAttester({
      tee: opts.launch.tee,
      ...(opts.launch.initData === undefined ? {} : { initDataDigest: opts.launch.initData.digest }),
      ...(opts.launch.firmware === undefined ? {} : { firmware: opts.launch.firmware }),
      ...(opts.launch.debug === undefined ? {} : { debug: opts.launch.debug }),
    });
    this.kbs = kbsConfigFromInitData(opts.launch.initData);
  }

  /** Hybrid-vsock address of the guest's Attestation Agent. */
  get aaAddress(): string {
    return `hvsock://${join(this.dir, 'kata.hvsock')}:${SIM_AA_VSOCK_PORT}`;
  }

  /** The api-server-rest front end (after boot). */
  get restUrl(): string | undefined {
    return this.rest?.url;
  }

  /** Path of the api-server-rest Unix socket, reachable from inside any network namespace. */
  get restSocket(): string {
    return join(this.dir, 'api-server-rest.sock');
  }

  /** "Boots" the VM: guest directories, the AA, the CDH and api-server-rest. */
  async boot(): Promise<void> {
    checkSocketPath(join(this.dir, 'kata.hvsock'));
    checkSocketPath(this.restSocket);
    await mkdir(join(this.dir, 'images'), { recursive: true, mode: 0o700 });
    await mkdir(join(this.dir, 'bundles'), { recursive: true, mode: 0o700 });
    await mkdir(join(this.dir, 'runc'), { recursive: true, mode: 0o700 });
    this.aa = await startAttestationAgent({
      address: this.aaAddress,
      attester: this.attester,
      logger: this.log,
    });
    this.cdh = createCdh({
      aaAddress: this.aaAddress,
      kbs: this.kbs,
      ...(this.opts.launch.initData === undefined ? {} : { initDataToml: this.opts.launch.initData.toml }),
      logger: this.log,
      onEvent: (e) => this.emit(e),
    });
    this.rest = await startApiServerRest(
      { getResource: (uri) => this.getResource(uri), teeType: () => this.attester.tee },
      0,
      this.restSocket,
    );
    this.images = new ImageStore(join(this.dir, 'images'), {
      client: new RegistryClient({
        insecureRegistries: [...(this.opts.insecureRegistries ?? [])],
        userAgent: GUEST_USER_AGENT,
      }),
    });
    await this.images.open();
  }

  private emit(e: GuestEvent): void {
    this.log.info({ guestEvent: e.kind, ...e.detail }, `guest ${e.kind}`);
    this.opts.onEvent?.(e);
    // A journal of guest milestones (never secrets: resource events carry sizes only), so a
    // person or `cocoon demo` can follow what happened inside the guest.
    appendFile(
      join(this.dir, GUEST_JOURNAL),
      `${JSON.stringify({ time: new Date().toISOString(), kind: e.kind, ...e.detail })}\n`,
    ).catch(() => undefined);
  }

  /** CDH GetResource (attests to the KBS on first use). */
  async getResource(uri: string): Promise<Uint8Array> {
    if (this.cdh === undefined) throw new CocoonError('ERR_KATA_SIM_STATE', 'the guest has not booted');
    return this.cdh.getResource(uri);
  }

  /**
   * Pulls `image` inside the guest: attestation and the image security policy first, then
   * manifest, digest-verified layers and unpacking into the guest's private store. Returns the
   * rootfs path and the image config.
   */
  async pullImage(image: string): Promise<{ rootfs: string; imageId: string }> {
    if (this.images === undefined) throw new CocoonError('ERR_KATA_SIM_STATE', 'the guest has not booted');
    const ref = parseImageRef(image);
    const normalized =
      ref.digest !== undefined
        ? `${ref.domain}/${ref.path}@${ref.digest}`
        : `${ref.domain}/${ref.path}:${ref.tag}`;
    if (this.kbs.imageSecurityPolicyUri !== undefined) {
      const policyBytes = await this.getResource(this.kbs.imageSecurityPolicyUri);
      const decision = evaluateImagePolicy(parseImagePolicy(policyBytes), normalized);
      this.emit({
        kind: 'policy',
        detail: { image: normalized, allowed: decision.allowed, scope: decision.scope },
      });
      if (!decision.allowed) throw new CocoonError('ERR_KATA_SIM_IMAGE_REJECTED', decision.reason);
    }
    try {
      const rec = await this.images.pull(image);
      const rootfs = await this.images.rootfsPath(rec.id);
      this.emit({ kind: 'pulled', detail: { image: normalized, imageId: rec.id, size: rec.size } });
      return { rootfs, imageId: rec.id };
    } catch (e) {
      this.emit({ kind: 'pull-failed', detail: { image: normalized, error: messageOf(e) } });
      throw e;
    }
  }

  /** Stops the guest's services and removes its private directory. */
  async shutdown(removeDir = true): Promise<void> {
    await this.rest?.close();
    await this.aa?.close();
    this.rest = undefined;
    this.aa = undefined;
    if (removeDir) await rm(this.dir, { recursive: true, force: true });
  }
}
