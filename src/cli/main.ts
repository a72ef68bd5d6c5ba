/**
 * `cocoon` command line. A thin layer: each command group lives in src/cli/commands/<group>.ts
 * and only parses flags, calls the library and prints.
 */
import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { processContext, reportError, EXIT, type CliContext } from './context.js';
import { COMMANDS } from './commands/index.js';

/** Builds the program (exported for tests, which run it in-process). */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('cocoon');
  program
    .description(
      'Cocoon: confidential containers toolkit (CRI runtime, Kata shim driver, attestation, KBS, policy)',
    )
    .option('--config <file>', 'configuration file (TOML); default $COCOON_CONFIG')
    .option(
      '--log-level <level>',
      'log level: fatal|error|warn|info|debug|trace|silent (default $COCOON_LOG_LEVEL or info)',
    )
    .option('--set <section.key=value...>', 'override one configuration value (repeatable)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
    });
  for (const register of COMMANDS) register(program, ctx);
  return program;
}

/** Runs the CLI with argv and returns the exit code. */
export async function runCli(argv: readonly string[], ctx: CliContext = processContext): Promise<number> {
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.help' ||
        e.code === 'commander.version'
      ) {
        return EXIT.OK;
      }
      return EXIT.USAGE;
    }
    return reportError(e, ctx);
  }
}
