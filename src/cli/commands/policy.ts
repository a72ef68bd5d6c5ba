/** `cocoon policy` command group. Reserved; its subcommands arrive with their module. */
import type { Command } from 'commander';
import { CocoonError } from '../../common/errors.js';
import type { CliContext } from '../context.js';

export function register(program: Command, _ctx: CliContext): void {
  program
    .command('policy')
    .description('evaluate, test and explain Rego policies')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      throw new CocoonError(
        'ERR_COMMON_NOT_IMPLEMENTED',
        '`cocoon policy` is not available in this build yet',
      );
    });
}
