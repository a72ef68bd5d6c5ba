/** `cocoon cri` command group. Reserved; its subcommands arrive with their module. */
import type { Command } from 'commander';
import { CocoonError } from '../../common/errors.js';
import type { CliContext } from '../context.js';

export function register(program: Command, _ctx: CliContext): void {
  program
    .command('cri')
    .description('the CRI runtime (runtime.v1 gRPC on a Unix socket)')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      throw new CocoonError('ERR_COMMON_NOT_IMPLEMENTED', '`cocoon cri` is not available in this build yet');
    });
}
