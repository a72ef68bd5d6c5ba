/** Process entry point of `cocoon` (bin/cocoon runs the built copy of this file). */
const argv = process.argv.slice(2);

/** Prints a typed error like every command does and sets the exit code. */
function fail(e: unknown): void {
  const code = (e as { code?: unknown }).code;
  process.stderr.write(
    `error: ${typeof code === 'string' ? code : 'ERR_COMMON_INTERNAL'}: ${(e as Error).message ?? String(e)}\n`,
  );
  process.exitCode = typeof code === 'string' && code === 'ERR_CLI_USAGE' ? 2 : 1;
}

if (argv[0] === 'shim' && argv[1] === 'sim' && argv[2] !== '--help' && argv[2] !== '-h') {
  // Fast path: a shim binary is started for every pod and container; skip loading the whole CLI.
  import('../kata/sim/shim-main.js').then((m) => m.runShim(argv.slice(2)), fail).catch(fail);
} else {
  import('./main.js')
    .then((m) => m.runCli(argv))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (e: unknown) => {
        process.stderr.write(`fatal: ${String(e)}\n`);
        process.exitCode = 1;
      },
    );
}
