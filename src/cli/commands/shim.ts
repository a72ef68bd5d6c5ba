/** `cocoon shim sim …`: the simulated confidential guest as a shim v2 binary (src/kata/sim). */
import type { Command } from 'commander';
import { parseShimArgs, shimDelete, shimServe, shimStart } from '../../kata/sim/shim-main.js';
import { usageError, type CliContext } from '../context.js';

export function register(program: Command, _ctx: CliContext): void {
  const shim = program.command('shim').description('shim v2 implementations (the simulated confidential guest)');
  shim
    .command('sim')
    .description('simulated Kata confidential guest: -namespace NS -id ID [-address A] [-publish-binary P] start|delete|serve')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      const a = parseShimArgs(args);
      if (a.action === 'start') await shimStart(a, (s) => process.stdout.write(s));
      else if (a.action === 'delete') await shimDelete(a, (b) => process.stdout.write(b));
      else if (a.action === 'serve') await shimServe(a);
      else throw usageError(`unknown shim action "${a.action}" (start, delete or serve)`);
    });
}
