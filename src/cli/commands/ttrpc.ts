/** `cocoon ttrpc` command group. Reserved; its subcommands arrive with their module. */
import type { Command } from 'commander';
import { CocoonError } from '../../common/errors.js';
import type { CliContext } from '../context.js';

export function register(program: Command, _ctx: CliContext): void {
  program
    .command('ttrpc')
    .description('ttrpc debugging client (call a service/method on a shim or agent)')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      throw new CocoonError(
        'ERR_COMMON_NOT_IMPLEMENTED',
        '`cocoon ttrpc` is not available in this build yet',
      );
    });
}
