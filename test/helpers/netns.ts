/**
 * Runs network tests inside namespaces the test creates, never on the machine's interfaces.
 * `runInNetns` starts a child with `unshare --net --mount --pid --fork --kill-child`: its own
 * network namespace (bridges and veths are born and die there), a private mount namespace (pod
 * namespace files bind-mounted in it vanish with it) and a PID namespace with its own /proc (killing the child
 * kills every plugin it started). The child is a TypeScript module run through tsx that reads
 * its input from COCOON_NETNS_INPUT and reports with `reportFromNetns`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Marker in front of the child's JSON report on stdout. */
const REPORT_MARKER = '@@cocoon-netns-report@@';

/** Binaries the network tests need (Debian: util-linux, iproute2, containernetworking-plugins). */
export const NETWORK_TEST_BINARIES: readonly { path: string; pkg: string }[] = [
  { path: '/usr/bin/unshare', pkg: 'util-linux' },
  { path: '/usr/bin/nsenter', pkg: 'util-linux' },
  { path: '/usr/sbin/ip', pkg: 'iproute2' },
  { path: '/usr/lib/cni/bridge', pkg: 'containernetworking-plugins' },
  { path: '/usr/lib/cni/host-local', pkg: 'containernetworking-plugins' },
  { path: '/usr/lib/cni/loopback', pkg: 'containernetworking-plugins' },
];

/** Throws a clear error naming the Debian package when a binary is missing. */
export function requireNetworkBinaries(): void {
  for (const b of NETWORK_TEST_BINARIES) {
    if (!existsSync(b.path))
      throw new Error(`${b.path} is missing: install ${b.pkg} (bash scripts/install-deps.sh)`);
  }
  if (process.getuid?.() !== 0)
    throw new Error('network namespace tests need root (CAP_SYS_ADMIN, CAP_NET_ADMIN)');
}

/** Runs `script` in fresh network/mount/PID namespaces with `input`; resolves with its report. */
export async function runInNetns<T>(script: string, input: unknown, timeoutMs = 60_000): Promise<T> {
  requireNetworkBinaries();
  const child = spawn(
    'unshare',
    [
      '--net',
      '--mount',
      '--propagation',
      'private',
      '--pid',
      '--fork',
      '--kill-child',
      '--mount-proc',
      '--',
      process.execPath,
      '--import',
      'tsx',
      script,
    ],
    { env: { ...process.env, COCOON_NETNS_INPUT: JSON.stringify(input) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => {
    if (err.length < 64 * 1024) err += c.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`netns child timed out after ${timeoutMs} ms\n${err}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  const i = out.lastIndexOf(REPORT_MARKER);
  if (i < 0) throw new Error(`netns child exited ${code} without a report\nstdout: ${out}\nstderr: ${err}`);
  return JSON.parse(out.slice(i + REPORT_MARKER.length).split('\n')[0]!) as T;
}

/** In the child: the input the parent passed. */
export function netnsInput<T>(): T {
  return JSON.parse(process.env['COCOON_NETNS_INPUT'] ?? 'null') as T;
}

/** In the child: sends the report (one JSON line) to the parent. */
export function reportFromNetns(report: unknown): void {
  process.stdout.write(`\n${REPORT_MARKER}${JSON.stringify(report)}\n`);
}
