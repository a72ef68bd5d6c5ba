/** `cocoon cri`: the CRI runtime (runtime.v1 gRPC on a Unix socket). Thin: flags → config → startCriServer. */
import type { Command } from 'commander';
import { section } from '../../config/config.js';
import { criSection } from '../../config/sections/cri.js';
import { startCriServer } from '../../cri/server.js';
import type { CliContext } from '../context.js';
import { versionInfo } from './version.js';

interface ServeOptions {
  readonly listen?: string;
  readonly stateDir?: string;
  readonly metricsListen?: string;
  readonly network?: string;
}

export function register(program: Command, ctx: CliContext): void {
  const group = program.command('cri').description('the CRI runtime (runtime.v1 gRPC on a Unix socket)');
  group
    .command('serve')
    .description('serve RuntimeService and ImageService until SIGTERM/SIGINT ([cri] section of the config)')
    .option('--listen <unix://path>', 'socket address (default unix:///run/cocoon/cri.sock)')
    .option('--state-dir <dir>', 'state directory (default /var/lib/cocoon/cri)')
    .option('--metrics-listen <host:port>', 'Prometheus listener ("" disables)')
    .option('--network <mode>', 'pod networking: cni | host')
    .action(async (opts: ServeOptions, cmd: Command) => {
      const overrides: Record<string, unknown> = {};
      if (opts.listen !== undefined) overrides['cri.listen'] = opts.listen;
      if (opts.stateDir !== undefined) overrides['cri.state_dir'] = opts.stateDir;
      if (opts.metricsListen !== undefined) overrides['cri.metrics_listen'] = opts.metricsListen;
      if (opts.network !== undefined) overrides['cri.network'] = opts.network;
      const { config } = ctx.loadConfig(cmd, overrides);
      const logger = ctx.logger(cmd, 'cri');
      const server = await startCriServer({
        config: section(config, criSection),
        logger,
        version: versionInfo()['cocoon']!,
      });
      ctx.out(
        JSON.stringify({
          listening: server.address,
          metrics: server.metricsUrl ?? null,
          recovered: server.recovery,
        }),
      );
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      await server.close();
    });
}
