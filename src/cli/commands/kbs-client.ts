/** `cocoon kbs-client` command group. Reserved; its subcommands arrive with their module. */
import type { Command } from 'commander';
import { CocoonError } from '../../common/errors.js';
import type { CliContext } from '../context.js';

export function register(program: Command, _ctx: CliContext): void {
  program
    .command('kbs-client')
    .description('KBS client: attest, fetch resources, admin configuration')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      throw new CocoonError(
        'ERR_COMMON_NOT_IMPLEMENTED',
        '`cocoon kbs-client` is not available in this build yet',
      );
    });
}
