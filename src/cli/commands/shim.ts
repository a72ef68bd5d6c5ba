/** `cocoon shim sim …`: the simulated confidential guest as a shim v2 binary (src/kata/sim). */
import type { Command } from 'commander';
import { runShim } from '../../kata/sim/shim-main.js';
import type { CliContext } from '../context.js';

export function register(program: Command, _ctx: CliContext): void {
  const shim = program
    .command('shim')
    .description('shim v2 implementations (the simulated confidential guest)');
  shim
    .command('sim')
    .description(
      'simulated Kata confidential guest: -namespace NS -id ID [-address A] [-publish-binary P] start|delete|serve',
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      await runShim(args);
    });
}
