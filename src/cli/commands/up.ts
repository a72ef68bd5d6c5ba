/** `cocoon up`, `cocoon down`, `cocoon demo` (src/up). */
import type { Command } from 'commander';
import { CocoonError } from '../../common/errors.js';
import { runDemo, type DemoEvent, type DemoSummary } from '../../up/demo.js';
import { DEFAULT_UP_STATE_DIR, down, up } from '../../up/up.js';
import { ExitCode, type CliContext } from '../context.js';

interface UpFlags {
  stateDir: string;
  json?: boolean;
  registry?: string;
  demoImage?: string;
  kbsListen?: string;
  network?: string;
}

function human(e: DemoEvent | DemoSummary): string {
  if (e.event === 'summary') {
    const s = e as DemoSummary;
    return `\n${s.ok ? '✔' : '✘'} demo ${s.ok ? 'succeeded' : 'FAILED'} in ${(s.ms / 1000).toFixed(1)} s — layer blobs fetched by the host: ${s.hostBlobRequests}, by the guest: ${s.guestBlobRequests}`;
  }
  const d = e as DemoEvent;
  const { event, scenario, ok, ms, ...rest } = d;
  const detail = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('  ');
  return `${ok ? '✔' : '✘'} [${(ms / 1000).toFixed(1).padStart(5)}s] ${scenario.padEnd(16)} ${event.padEnd(16)} ${detail}`;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('up')
    .description('start the CRI runtime with simulated TEE handlers, an embedded KBS and a local registry')
    .option('--state-dir <dir>', 'state directory (CRI socket at DIR/cri.sock)', DEFAULT_UP_STATE_DIR)
    .option('--json', 'first stdout line is {"event":"ready",...}')
    .option('--registry <host:port>', 'use this registry instead of starting a local one')
    .option('--demo-image <ref>', 'demo image reference (with --registry)')
    .option('--kbs-listen <host:port>', 'KBS listen address (default 127.0.0.1, port kept across restarts)')
    .option('--network <mode>', 'pod networking: host (default) or cni', 'host')
    .action(async (o: UpFlags, cmd: Command) => {
      if (o.network !== 'host' && o.network !== 'cni')
        throw new CocoonError('ERR_CLI_USAGE', '--network must be host or cni');
      const log = ctx.logger(cmd, 'up');
      const g = cmd.optsWithGlobals() as { config?: string };
      const running = await up({
        stateDir: o.stateDir,
        ...(o.registry === undefined ? {} : { registry: o.registry }),
        ...(o.demoImage === undefined ? {} : { demoImage: o.demoImage }),
        ...(o.kbsListen === undefined ? {} : { kbsListen: o.kbsListen }),
        network: o.network,
        ...(g.config === undefined ? {} : { configFile: g.config }),
        logger: log,
      });
      const ready = {
        event: 'ready',
        cri: running.cri,
        kbs: running.kbs,
        registry: running.registry,
        demoImage: running.demoImage,
        handlers: running.handlers,
        metrics: running.metrics,
        stateDir: running.stateDir,
      };
      if (o.json === true) ctx.out(JSON.stringify(ready));
      else {
        ctx.out(`cocoon up: ready (pid ${process.pid})`);
        ctx.out(`  CRI socket   ${running.cri}`);
        ctx.out(`  KBS          ${running.kbs}`);
        ctx.out(`  registry     ${running.registry}  (demo image ${running.demoImage})`);
        ctx.out(`  handlers     ${running.handlers.join(', ')}`);
        ctx.out('');
        ctx.out(`  crictl --runtime-endpoint ${running.cri} --image-endpoint ${running.cri} version`);
        ctx.out(
          `  kubelet --container-runtime-endpoint=${running.cri} (RuntimeClass handlers sim-tdx, sim-snp)`,
        );
        ctx.out(`  ./bin/cocoon demo --state-dir ${running.stateDir}`);
        ctx.out(`  ./bin/cocoon down --state-dir ${running.stateDir}`);
      }
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await running.close();
      if (o.json === true) ctx.out(JSON.stringify({ event: 'stopped' }));
      else ctx.out('cocoon up: stopped');
    });

  program
    .command('down')
    .description('stop a running `cocoon up`')
    .option('--state-dir <dir>', 'state directory of the running instance', DEFAULT_UP_STATE_DIR)
    .action(async (o: { stateDir: string }) => {
      const pid = await down(o.stateDir);
      ctx.out(`cocoon down: stopped pid ${pid}`);
    });

  program
    .command('demo')
    .description(
      'run a confidential pod end to end through the CRI socket of `cocoon up` and print the timeline',
    )
    .option('--state-dir <dir>', 'state directory of the running `cocoon up`', DEFAULT_UP_STATE_DIR)
    .option('--handler <name>', 'RuntimeClass handler', 'sim-tdx')
    .option('--skip-denial', 'skip the denied-pod scenario')
    .option('--json', 'one JSON object per step, then {"event":"summary",...}')
    .action(async (o: { stateDir: string; handler: string; skipDenial?: boolean; json?: boolean }) => {
      if (o.json !== true) ctx.out(`cocoon demo: confidential pods on ${o.handler} (state ${o.stateDir})\n`);
      // On a terminal, the step in flight is shown on one line until its result replaces it.
      const tty = o.json !== true && process.stdout.isTTY === true;
      const started = Date.now();
      let pending = false;
      const clear = (): void => {
        if (pending) process.stdout.write('\r\x1b[2K');
        pending = false;
      };
      const summary = await runDemo({
        stateDir: o.stateDir,
        handler: o.handler,
        ...(o.skipDenial === true ? { skipDenial: true } : {}),
        onEvent: (e) => {
          clear();
          ctx.out(o.json === true ? JSON.stringify(e) : human(e));
        },
        ...(tty
          ? {
              onProgress: (label: string) => {
                clear();
                process.stdout.write(
                  `… [${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${label}`,
                );
                pending = true;
              },
            }
          : {}),
      });
      clear();
      if (!summary.ok) throw new ExitCode(1);
    });
}
