/** `cocoon up`, `cocoon down`, `cocoon demo`. Reserved; they arrive with the simulated guest. */
import type { Command } from 'commander';
import { CocoonError } from '../../common/errors.js';
import type { CliContext } from '../context.js';

export function register(program: Command, _ctx: CliContext): void {
  for (const [name, desc] of [
    ['up', 'start the CRI runtime with simulated TEE handlers, an embedded KBS and a local registry'],
    ['down', 'stop a running `cocoon up`'],
    ['demo', 'run a confidential pod end to end and print the timeline'],
  ] as const) {
    program
      .command(name)
      .description(desc)
      .allowUnknownOption()
      .argument('[args...]')
      .action(() => {
        throw new CocoonError(
          'ERR_COMMON_NOT_IMPLEMENTED',
          `\`cocoon ${name}\` is not available in this build yet`,
        );
      });
  }
}
