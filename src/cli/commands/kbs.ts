/** `cocoon kbs serve`: the Trustee-compatible test KBS (src/kbs). Thin: flags → [kbs] config → startKbs. */
import type { Command } from 'commander';
import { section } from '../../config/config.js';
import { kbsSection } from '../../config/sections/kbs.js';
import { serverOptionsFromConfig, startKbs } from '../../kbs/index.js';
import type { CliContext } from '../context.js';

interface ServeFlags {
  listen?: string;
  insecureHttp?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  resourcesDir?: string;
  stateDir?: string;
  adminPublicKey?: string;
  allowSample?: boolean;
  trustTestRoots?: boolean;
  attestationPolicy?: string;
  resourcePolicy?: string;
  bodyLimit?: string;
  allowRsa15?: boolean;
}

/** Registers `cocoon kbs`. */
export function register(program: Command, ctx: CliContext): void {
  const kbs = program
    .command('kbs')
    .description('run the Key Broker Service for integration testing (protocol 0.4.0)');
  kbs
    .command('serve')
    .description('serve the KBS until SIGINT/SIGTERM')
    .option('--listen <host:port>', 'listen address (default 127.0.0.1:8080)')
    .option('--insecure-http', 'serve plain HTTP instead of HTTPS')
    .option('--tls-cert <file>', 'TLS certificate chain (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--resources-dir <dir>', 'resource store root (DIR/<repo>/<type>/<tag>)')
    .option('--state-dir <dir>', 'state directory (token signing key, reference values)')
    .option(
      '--admin-public-key <file>',
      'admin public key (Ed25519 or P-256 PEM); without it the admin API is refused',
    )
    .option('--allow-sample', 'accept the sample TEE (no hardware; never in production)')
    .option('--trust-test-roots', 'accept the simulated TDX/SNP evidence (test roots)')
    .option('--attestation-policy <file>', 'attestation policy file (Rego), or builtin:default')
    .option(
      '--resource-policy <file>',
      'resource policy file (Rego), or builtin:default|allow_all|deny_all|affirming',
    )
    .option('--body-limit <bytes>', 'request body limit in bytes (default 2097152)')
    .option('--allow-rsa1-5', 'accept deprecated RSA1_5 TEE keys')
    .action(async (flags: ServeFlags, cmd: Command) => {
      const o: Record<string, unknown> = {};
      const set = (k: string, v: unknown): void => {
        if (v !== undefined) o[`kbs.${k}`] = v;
      };
      set('listen', flags.listen);
      set('insecure_http', flags.insecureHttp);
      set('tls_cert', flags.tlsCert);
      set('tls_key', flags.tlsKey);
      set('resources_dir', flags.resourcesDir);
      set('state_dir', flags.stateDir);
      set('admin_public_key', flags.adminPublicKey);
      set('allow_sample', flags.allowSample);
      set('trust_test_roots', flags.trustTestRoots);
      set('attestation_policy', flags.attestationPolicy);
      set('resource_policy', flags.resourcePolicy);
      set('body_limit', flags.bodyLimit === undefined ? undefined : Number(flags.bodyLimit));
      set('allow_rsa1_5', flags.allowRsa15);
      const cfg = section(ctx.loadConfig(cmd, o).config, kbsSection);
      const log = ctx.logger(cmd, 'kbs');
      const running = await startKbs(await serverOptionsFromConfig(cfg, log));
      ctx.out(running.url);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await running.close();
    });
}
