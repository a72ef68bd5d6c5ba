/** `cocoon version`. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { packagePath } from '../../common/paths.js';
import type { CliContext } from '../context.js';

/** Package version, protocol versions spoken, and the runtime. */
export function versionInfo(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string };
  return {
    cocoon: pkg.version,
    node: process.versions.node,
    criApi: 'runtime.v1',
    kbsProtocol: '0.4.0',
    ttrpc: '1.2',
  };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('version')
    .description('print the version of cocoon and the protocol versions it speaks')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const v = versionInfo();
      if (opts.json === true) ctx.out(JSON.stringify(v));
      else for (const [k, val] of Object.entries(v)) ctx.out(`${k}: ${val}`);
    });
}
