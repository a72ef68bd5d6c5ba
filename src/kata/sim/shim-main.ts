/**
 * `cocoon shim sim`: the simulated confidential guest as a containerd shim v2 binary
 * (cri-kata.md §4.2). The CRI runtime starts it like any shim:
 *
 *   <shim> -namespace NS -id ID -address A -publish-binary P start    (cwd = bundle)
 *
 * `start` prints the ttrpc address on stdout and exits; for the sandbox it first spawns the
 * long-running daemon (`… serve`), for a container it prints the address of its pod's daemon
 * (one shim per pod, found from the sandbox-id annotation). `delete` cleans up after a dead
 * daemon and prints a marshalled DeleteResponse.
 *
 * Environment: COCOON_SIM_TEE (tdx | snp, default tdx), COCOON_SIM_RUN_DIR (default
 * /run/cocoon/sim), COCOON_SIM_GUEST_PULL (default true), COCOON_SIM_INSECURE_REGISTRIES
 * (comma-separated), TTRPC_ADDRESS (events endpoint).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { CocoonError, messageOf } from '../../common/errors.js';
import { packageRoot } from '../../common/paths.js';
import { CRI_ANNOTATIONS } from '../annotations.js';
import type { OciSpec } from '../oci-spec.types.js';
import type { SimTee } from './attester.js';
import { checkSocketPath, guestDir } from './paths.js';

/** How long `start` waits for the daemon to listen before printing the address anyway. */
export const START_WAIT_MS = 4000;

/** Default directory of daemon sockets and guest folders. */
export const DEFAULT_SIM_RUN_DIR = '/run/cocoon/sim';

/** Parsed shim command line (Go flag syntax: -name value, --name value or -name=value). */
export interface ShimArgs {
  readonly namespace: string;
  readonly id: string;
  readonly address: string;
  readonly publishBinary: string;
  readonly bundle: string | undefined;
  readonly socket: string | undefined;
  readonly action: string;
  readonly debug: boolean;
}

/** Parses the shim v2 command line. Throws ERR_CLI_USAGE. */
export function parseShimArgs(argv: readonly string[]): ShimArgs {
  const flags = new Map<string, string>();
  const bools = new Set(['debug', 'v', 'version', 'info']);
  let action: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) {
      if (action !== undefined) throw new CocoonError('ERR_CLI_USAGE', `unexpected argument "${a}"`);
      action = a;
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    if (eq >= 0) flags.set(body.slice(0, eq), body.slice(eq + 1));
    else if (bools.has(body)) flags.set(body, 'true');
    else {
      const v = argv[++i];
      if (v === undefined) throw new CocoonError('ERR_CLI_USAGE', `flag -${body} needs a value`);
      flags.set(body, v);
    }
  }
  if (action === undefined) throw new CocoonError('ERR_CLI_USAGE', 'missing action: start, delete or serve');
  const id = flags.get('id') ?? '';
  if (id === '') throw new CocoonError('ERR_CLI_USAGE', '-id is required');
  const namespace = flags.get('namespace') ?? '';
  if (namespace === '') throw new CocoonError('ERR_CLI_USAGE', '-namespace is required');
  return {
    namespace,
    id,
    address: flags.get('address') ?? '',
    publishBinary: flags.get('publish-binary') ?? '',
    bundle: flags.get('bundle'),
    socket: flags.get('socket'),
    action,
    debug: flags.get('debug') === 'true',
  };
}

function runDir(): string {
  return process.env['COCOON_SIM_RUN_DIR'] ?? DEFAULT_SIM_RUN_DIR;
}

/** Daemon socket of a pod: one per (namespace, sandbox id), like Kata's address scheme. */
export function simSocketPath(namespace: string, sandboxId: string, dir = runDir()): string {
  return join(dir, 's', createHash('sha256').update(`${namespace}/${sandboxId}`).digest('hex').slice(0, 32));
}

/** Private folder of a pod's guest. */
export function simGuestRoot(dir = runDir()): string {
  return join(dir, 'vm');
}

function teeFromEnv(): SimTee {
  const t = process.env['COCOON_SIM_TEE'] ?? 'tdx';
  if (t !== 'tdx' && t !== 'snp')
    throw new CocoonError('ERR_KATA_SIM_CONFIG_INVALID', `COCOON_SIM_TEE must be tdx or snp, got "${t}"`);
  return t;
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    setTimeout(() => done(false), 1000).unref();
  });
}

async function readSpec(bundle: string): Promise<OciSpec> {
  try {
    return JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as OciSpec;
  } catch (e) {
    throw new CocoonError(
      'ERR_KATA_SIM_CONFIG_INVALID',
      `cannot read ${bundle}/config.json: ${messageOf(e)}`,
      { cause: e },
    );
  }
}

/** The `start` action: prints the pod daemon's address, spawning the daemon for a sandbox. */
export async function shimStart(a: ShimArgs, out: (s: string) => void): Promise<void> {
  const bundle = a.bundle ?? process.cwd();
  const spec = await readSpec(bundle);
  const ann = spec.annotations ?? {};
  const isContainer = ann[CRI_ANNOTATIONS.containerType] === 'container';
  const sandboxId = isContainer ? (ann[CRI_ANNOTATIONS.sandboxId] ?? '') : a.id;
  if (sandboxId === '')
    throw new CocoonError('ERR_KATA_SIM_CONFIG_INVALID', 'container bundle lacks the sandbox-id annotation');
  const sock = simSocketPath(a.namespace, sandboxId);
  checkSocketPath(sock);
  const address = `unix://${sock}`;
  if (!isContainer && !(await canConnect(sock))) {
    await mkdir(join(runDir(), 's'), { recursive: true, mode: 0o700 });
    const entry = process.argv[1];
    if (entry === undefined)
      throw new CocoonError('ERR_KATA_SIM_CONFIG_INVALID', 'cannot locate the cocoon entry point');
    const args = [
      ...process.execArgv,
      entry,
      'shim',
      'sim',
      '-namespace',
      a.namespace,
      '-id',
      a.id,
      '-bundle',
      bundle,
      '-socket',
      sock,
      'serve',
    ];
    // The daemon runs from the package root so loader flags (tsx in development) resolve.
    const child = spawn(process.execPath, args, {
      detached: true,
      stdio: 'ignore',
      cwd: packageRoot(),
      env: process.env,
    });
    child.unref();
    const deadline = Date.now() + 15_000;
    while (!(await canConnect(sock))) {
      if (child.exitCode !== null)
        throw new CocoonError('ERR_KATA_SIM_CONFIG_INVALID', `sim shim daemon exited with ${child.exitCode}`);
      if (Date.now() > deadline)
        throw new CocoonError('ERR_COMMON_TIMEOUT', 'sim shim daemon did not listen within 15 s');
      await new Promise((r) => setTimeout(r, 25));
    }
    await writeFile(join(bundle, 'shim.pid'), String(child.pid ?? ''));
  }
  await writeFile(join(bundle, 'address'), address);
  out(address);
}

/** The `serve` action: the long-running daemon. Resolves when Shutdown was handled. */
export async function shimServe(a: ShimArgs): Promise<void> {
  if (a.socket === undefined) throw new CocoonError('ERR_CLI_USAGE', 'serve needs -socket');
  // Heavy modules load only in the daemon, so `start` (on the pod start path) stays fast.
  const [{ SimTaskService }, { TtrpcServer }, { createLogger }] = await Promise.all([
    import('./task-service.js'),
    import('../../ttrpc/index.js'),
    import('../../common/log.js'),
  ]);
  const guestRoot = simGuestRoot();
  await mkdir(guestRoot, { recursive: true, mode: 0o700 });
  // The daemon has no stderr (detached); its log goes next to its socket.
  const { pino } = await import('pino');
  const log = createLogger({
    name: 'sim-shim',
    destination: pino.destination({ dest: `${a.socket}.log`, sync: false }),
  });
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const events = process.env['TTRPC_ADDRESS'];
  const insecure = (process.env['COCOON_SIM_INSECURE_REGISTRIES'] ?? '').split(',').filter((s) => s !== '');
  const svc = new SimTaskService({
    namespace: a.namespace,
    guestRoot,
    tee: teeFromEnv(),
    guestPull: process.env['COCOON_SIM_GUEST_PULL'] !== 'false',
    ...(events === undefined || events === '' ? {} : { eventsAddress: events }),
    insecureRegistries: insecure,
    logger: log,
    onShutdown: () => finish(),
  });
  const server = new TtrpcServer({ logger: log });
  svc.register(server);
  await rm(a.socket, { force: true });
  const listener = await server.listen(`unix://${a.socket}`);
  const stop = (): void => {
    void svc.close().finally(() => finish());
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await done;
  await server.close().catch(() => undefined);
  await listener.close().catch(() => undefined);
  await rm(a.socket, { force: true });
}

/** The `delete` action: cleans up after a dead daemon; prints a marshalled DeleteResponse. */
export async function shimDelete(a: ShimArgs, out: (b: Uint8Array) => void): Promise<void> {
  const [{ runcDelete }, { dateToTimestamp, encodeMessage }] = await Promise.all([
    import('./runc.js'),
    import('../protos.js'),
  ]);
  const dir = guestDir(simGuestRoot(), a.id);
  if (existsSync(join(dir, 'runc')))
    await runcDelete({ root: join(dir, 'runc') }, a.id).catch(() => undefined);
  out(
    encodeMessage('containerd.task.v2.DeleteResponse', {
      pid: 0,
      exit_status: 137,
      exited_at: dateToTimestamp(new Date()),
    }),
  );
}

/** Runs one shim action from the command line (the `cocoon shim sim` entry). */
export async function runShim(argv: readonly string[]): Promise<void> {
  const a = parseShimArgs(argv);
  if (a.action === 'start') await shimStart(a, (s) => process.stdout.write(s));
  else if (a.action === 'delete') await shimDelete(a, (b) => process.stdout.write(b));
  else if (a.action === 'serve') await shimServe(a);
  else throw new CocoonError('ERR_CLI_USAGE', `unknown shim action "${a.action}" (start, delete or serve)`);
}
