/** What every CLI command receives: the loaded configuration, a logger, output streams. */
import type { Command } from 'commander';
import { CocoonError, isCocoonError, messageOf } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { loadConfig, parseSetFlags, type LoadedConfig } from '../config/config.js';

/** Process exit codes shared by all commands. Commands may define more, above 9. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
} as const;

/** Global options every command inherits. */
export interface GlobalOptions {
  readonly config?: string;
  readonly logLevel?: string;
  readonly set?: string[];
}

/** Runtime context handed to command actions. */
export interface CliContext {
  /** Loads configuration with the global flags plus command-specific dotted overrides. */
  loadConfig(cmd: Command, overrides?: Record<string, unknown>): LoadedConfig;
  /** Creates a logger at the effective level. */
  logger(cmd: Command, name: string): Logger;
  /** Writes a line to stdout. */
  out(line: string): void;
  /** Writes a line to stderr. */
  err(line: string): void;
}

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

/** The real context (process streams, process.env). */
export const processContext: CliContext = {
  loadConfig(cmd, overrides = {}) {
    const g = globals(cmd);
    const fromSet = parseSetFlags(g.set ?? []);
    const o: Record<string, unknown> = { ...fromSet, ...overrides };
    if (g.logLevel !== undefined) o['log.level'] = g.logLevel;
    return loadConfig({ file: g.config, overrides: o });
  },
  logger(cmd, name) {
    const g = globals(cmd);
    return createLogger({ name, ...(g.logLevel === undefined ? {} : { level: g.logLevel }) });
  },
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** A CLI usage error (exit 2). */
export function usageError(message: string): CocoonError {
  return new CocoonError('ERR_CLI_USAGE', message);
}

/** Exit status carrier: commands throw this to exit with a specific code after printing. */
export class ExitCode extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.exitCode = exitCode;
  }
}

/** Prints an error the way every command does and returns the exit code to use. */
export function reportError(e: unknown, ctx: CliContext): number {
  if (e instanceof ExitCode) return e.exitCode;
  if (isCocoonError(e)) {
    ctx.err(`error: ${e.code}: ${e.message}`);
    return e.code === 'ERR_CLI_USAGE' ? EXIT.USAGE : EXIT.FAILURE;
  }
  ctx.err(`error: ERR_COMMON_INTERNAL: ${messageOf(e)}`);
  return EXIT.FAILURE;
}
