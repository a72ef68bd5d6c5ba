/** `cocoon config print`: the effective configuration (file, then environment, then flags). */
import type { Command } from 'commander';
import { stringify as toToml } from 'smol-toml';
import { toFileForm } from '../../config/config.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  const group = program.command('config').description('inspect the effective configuration');
  group
    .command('print')
    .description('print the effective configuration: config file, then COCOON_* environment, then flags')
    .option('--json', 'print JSON instead of TOML')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const { config: typed, file } = ctx.loadConfig(cmd);
      const config = toFileForm(typed) as Record<string, unknown>;
      if (opts.json === true) {
        ctx.out(JSON.stringify({ file: file ?? null, config }, null, 2));
      } else {
        ctx.out(`# effective configuration${file === undefined ? ' (no config file)' : ` (file: ${file})`}`);
        ctx.out(toToml(config));
      }
    });
}
