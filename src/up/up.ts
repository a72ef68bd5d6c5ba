/**
 * `cocoon up`: everything a person needs for a hardware-free confidential pod, on one machine —
 * the CRI runtime with the simulated TEE handlers (sim-tdx, sim-snp, plus runc), an embedded KBS
 * that trusts the simulated test roots and holds default resources, policies and the simulated
 * platforms' reference values, and a local registry seeded with a demo image.
 *
 * State lives in one directory (`--state-dir`): the CRI store, the KBS resources and signing key,
 * the registry storage, the admin key and `up.json` (ports in use, so image references and the
 * KBS URL stay the same across down/up). `up.pid` marks a running instance; `cocoon down` signals it.
 */
import { generateKeyPairSync, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CocoonError, messageOf } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import { loadConfig, section } from '../config/config.js';
import { criSection, type CriConfig, type CriHandlerConfig } from '../config/sections/cri.js';
import { startCriServer, type CriServer } from '../cri/server.js';
import { startKbs, type RunningKbs } from '../kbs/server.js';
import { testRootVerifierOptions } from '../kbs/test-roots.js';
import { KbsAdminClient } from '../kbs-client/index.js';
import { startLocalRegistry, seedDemoImage, type LocalRegistry } from './registry.js';
import { simReferenceValues } from './reference-values.js';

/** Resource the demo container reads through the guest's api-server-rest. */
export const DEMO_SECRET_PATH = 'default/demo/secret';
/** The image security policy resource the simulated guests fetch before pulling (guest.md §5.2). */
export const SECURITY_POLICY_PATH = 'default/security-policy/test';

/** Initdata every simulated handler's pods carry: KBS URL for AA and CDH, image policy URI. */
export const UP_INITDATA_TEMPLATE = `version = "0.1.0"
algorithm = "sha384"

[data]
"aa.toml" = '''
[token_configs.kbs]
url = "\${kbs_url}"
'''
"cdh.toml" = '''
socket = "unix:///run/confidential-containers/cdh.sock"

[kbc]
name = "cc_kbc"
url = "\${kbs_url}"

[image]
image_security_policy_uri = "kbs:///${SECURITY_POLICY_PATH}"
'''
`;

/** Options of up(). */
export interface UpOptions {
  /** State directory; default /var/lib/cocoon/up. */
  readonly stateDir: string;
  /** An existing registry host (host:port); absent = run the local one. */
  readonly registry?: string;
  /** Demo image reference when `registry` is given; default `<registry>/cocoon/demo:latest`. */
  readonly demoImage?: string;
  /** KBS listen address; default 127.0.0.1 on the port used last time (or a free one). */
  readonly kbsListen?: string;
  /** Pod networking of the CRI runtime: "host" (default; no bridge on this machine) or "cni". */
  readonly network?: 'host' | 'cni';
  /** Configuration file / overrides for the CRI section, as `cocoon config print` shows them. */
  readonly configFile?: string;
  readonly overrides?: Readonly<Record<string, unknown>>;
  readonly logger?: Logger;
}

/** What a running `cocoon up` offers. */
export interface RunningUp {
  readonly cri: string;
  readonly kbs: string;
  readonly registry: string;
  readonly demoImage: string;
  readonly handlers: readonly string[];
  readonly metrics: string | undefined;
  readonly stateDir: string;
  readonly localRegistry: LocalRegistry | undefined;
  readonly criServer: CriServer;
  close(): Promise<void>;
}

interface UpState {
  registryPort?: number;
  kbsPort?: number;
}

/** Default state directory of `cocoon up`. */
export const DEFAULT_UP_STATE_DIR = '/var/lib/cocoon/up';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of the `cocoon up` running on `stateDir`, if any. */
export function runningUpPid(stateDir: string): number | undefined {
  const f = join(stateDir, 'up.pid');
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
}

async function writeAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

async function adminKey(stateDir: string): Promise<{ priv: KeyObject; pubPem: string }> {
  const f = join(stateDir, 'kbs-admin-key.pem');
  if (!existsSync(f)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    await writeAtomic(f, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  }
  const priv = createPrivateKey(await readFile(f));
  return { priv, pubPem: createPublicKey(priv).export({ type: 'spki', format: 'pem' }) as string };
}

/** Provisions what the demo and the simulated handlers need, keeping anything already stored. */
async function provisionKbs(kbs: RunningKbs, key: KeyObject, resourcesDir: string): Promise<void> {
  const admin = new KbsAdminClient({ url: kbs.url, insecureHttp: true, adminKey: key });
  if (!existsSync(join(resourcesDir, DEMO_SECRET_PATH))) {
    await admin.setResource(
      DEMO_SECRET_PATH,
      Buffer.from('cocoon-demo-secret: released only to an attested guest'),
    );
  }
  if (!existsSync(join(resourcesDir, SECURITY_POLICY_PATH))) {
    await admin.setResource(
      SECURITY_POLICY_PATH,
      Buffer.from(JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] })),
    );
  }
  const rv = { ...(await simReferenceValues('tdx')), ...(await simReferenceValues('snp')) };
  await admin.setReferenceValues(rv);
  // Only affirmed guests get secrets: a pod on other firmware is refused.
  await admin.setResourcePolicy('builtin:affirming');
}

function simHandler(
  base: CriHandlerConfig | undefined,
  name: string,
  tee: 'tdx' | 'snp',
  kbsUrl: string,
): CriHandlerConfig {
  return {
    ...(base ?? { kind: 'shim', configPath: '', namespace: 'k8s.io' }),
    name,
    kind: 'shim',
    shim: base?.shim ?? 'builtin:sim',
    confidential: true,
    tee,
    guestPull: true,
    kbsUrl,
    initdataTemplate: UP_INITDATA_TEMPLATE,
    namespace: base?.namespace ?? 'k8s.io',
    configPath: base?.configPath ?? '',
  } as CriHandlerConfig;
}

/** Starts everything; throws ERR_UP_ALREADY_RUNNING when another instance owns `stateDir`. */
export async function up(o: UpOptions): Promise<RunningUp> {
  const stateDir = resolve(o.stateDir);
  const log = o.logger ?? silentLogger;
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const other = runningUpPid(stateDir);
  if (other !== undefined && other !== process.pid) {
    throw new CocoonError(
      'ERR_UP_ALREADY_RUNNING',
      `cocoon up already runs on ${stateDir} (pid ${other}); stop it with cocoon down --state-dir ${stateDir}`,
    );
  }
  await writeAtomic(join(stateDir, 'up.pid'), String(process.pid), 0o644);
  const statePath = join(stateDir, 'up.json');
  const saved: UpState = existsSync(statePath)
    ? (JSON.parse(await readFile(statePath, 'utf8')) as UpState)
    : {};
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse())
      await c().catch((e: unknown) => log.warn({ err: messageOf(e) }, 'shutdown step failed'));
    await rm(join(stateDir, 'up.pid'), { force: true });
  };
  try {
    // 1. Registry with the demo image.
    let registryHost: string;
    let demoImage: string;
    let localRegistry: LocalRegistry | undefined;
    if (o.registry === undefined) {
      localRegistry = await startLocalRegistry(join(stateDir, 'registry'), saved.registryPort ?? 0);
      closers.push(() => localRegistry!.stop());
      demoImage = await seedDemoImage(localRegistry);
      registryHost = localRegistry.host;
    } else {
      registryHost = o.registry;
      demoImage = o.demoImage ?? `${o.registry}/cocoon/demo:latest`;
    }
    // 2. KBS trusting the simulated roots, with default resources, policies and reference values.
    const key = await adminKey(stateDir);
    const resourcesDir = join(stateDir, 'kbs', 'resources');
    const kbs = await startKbs({
      listen: o.kbsListen ?? `127.0.0.1:${saved.kbsPort ?? 0}`,
      insecureHttp: true,
      resourcesDir,
      stateDir: join(stateDir, 'kbs', 'state'),
      adminPublicKey: key.pubPem,
      verifierOptions: testRootVerifierOptions(),
      logger: log,
    }).catch((e: unknown) => {
      if (o.kbsListen !== undefined || saved.kbsPort === undefined) throw e;
      log.warn({ port: saved.kbsPort }, 'KBS port taken; using a new one');
      return startKbs({
        listen: '127.0.0.1:0',
        insecureHttp: true,
        resourcesDir,
        stateDir: join(stateDir, 'kbs', 'state'),
        adminPublicKey: key.pubPem,
        verifierOptions: testRootVerifierOptions(),
        logger: log,
      });
    });
    closers.push(() => kbs.close());
    await provisionKbs(kbs, key.priv, resourcesDir);
    // 3. The CRI runtime with the simulated handlers.
    const loaded = loadConfig({
      ...(o.configFile === undefined ? {} : { file: o.configFile }),
      ...(o.overrides === undefined ? {} : { overrides: o.overrides }),
    });
    const base = section(loaded.config, criSection);
    const handlers: Record<string, CriHandlerConfig> = { ...base.handlers };
    handlers['sim-tdx'] = simHandler(base.handlers['sim-tdx'], 'sim-tdx', 'tdx', kbs.url);
    handlers['sim-snp'] = simHandler(base.handlers['sim-snp'], 'sim-snp', 'snp', kbs.url);
    const criConfig: CriConfig = {
      ...base,
      listen: `unix://${join(stateDir, 'cri.sock')}`,
      stateDir: join(stateDir, 'cri'),
      metricsListen: '127.0.0.1:0',
      defaultRuntimeHandler: 'sim-tdx',
      insecureRegistries: [...new Set([...base.insecureRegistries, registryHost])],
      network: o.network ?? 'host',
      handlers,
    };
    // Simulated guests keep their private folders under the state directory.
    process.env['COCOON_SIM_RUN_DIR'] ??= join(stateDir, 'sim');
    process.env['COCOON_SIM_INSECURE_REGISTRIES'] = [registryHost, ...base.insecureRegistries].join(',');
    const cri = await startCriServer({ config: criConfig, logger: log });
    closers.push(() => cri.close());
    const kbsPort = Number(new URL(kbs.url).port);
    const regPort = localRegistry === undefined ? undefined : Number(localRegistry.host.split(':')[1]);
    await writeAtomic(statePath, JSON.stringify({ registryPort: regPort, kbsPort } satisfies UpState), 0o644);
    await writeAtomic(
      join(stateDir, 'up-info.json'),
      JSON.stringify({ cri: cri.address, kbs: kbs.url, registry: registryHost, demoImage, pid: process.pid }),
      0o644,
    );
    closers.unshift(() => rm(join(stateDir, 'up-info.json'), { force: true }));
    return {
      cri: cri.address,
      kbs: kbs.url,
      registry: registryHost,
      demoImage,
      handlers: Object.keys(handlers).sort(),
      metrics: cri.metricsUrl,
      stateDir,
      localRegistry,
      criServer: cri,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** `cocoon down`: signals the instance on `stateDir` and waits (bounded) until it is gone. */
export async function down(stateDir: string, timeoutMs = 30_000): Promise<number> {
  const pid = runningUpPid(resolve(stateDir));
  if (pid === undefined) throw new CocoonError('ERR_UP_NOT_RUNNING', `no cocoon up runs on ${stateDir}`);
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return pid;
}
