/** `cocoon attest` command group. Reserved; its subcommands arrive with their module. */
import type { Command } from 'commander';
import { CocoonError } from '../../common/errors.js';
import type { CliContext } from '../context.js';

export function register(program: Command, _ctx: CliContext): void {
  program
    .command('attest')
    .description('verify and show TDX quotes and SEV-SNP reports')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      throw new CocoonError(
        'ERR_COMMON_NOT_IMPLEMENTED',
        '`cocoon attest` is not available in this build yet',
      );
    });
}
