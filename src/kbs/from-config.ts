/**
 * Turns a validated `[kbs]` section into startKbs options: reads the TLS, admin-key and policy
 * files it names (a policy value `builtin:<name>` is taken as the policy text itself).
 */
import { readFile } from 'node:fs/promises';
import { CocoonError } from '../common/errors.js';
import type { KbsConfig } from '../config/sections/kbs.js';
import type { Logger } from '../common/log.js';
import { BUILTIN_PREFIX } from './policy.js';
import type { KbsServerOptions } from './server.js';
import { testRootVerifierOptions } from './test-roots.js';

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new CocoonError('ERR_KBS_CONFIG_INVALID', `cannot read ${what} ${path}`, { cause: e });
  }
}

async function policy(v: string | undefined, what: string): Promise<string | undefined> {
  if (v === undefined) return undefined;
  return v.startsWith(BUILTIN_PREFIX) ? v : readText(v, what);
}

/** Builds server options from configuration. */
export async function serverOptionsFromConfig(cfg: KbsConfig, logger?: Logger): Promise<KbsServerOptions> {
  if (!cfg.insecure_http && (cfg.tls_cert === undefined || cfg.tls_key === undefined)) {
    throw new CocoonError(
      'ERR_KBS_CONFIG_INVALID',
      'HTTPS needs --tls-cert and --tls-key (or pass --insecure-http)',
    );
  }
  const tls =
    cfg.tls_cert !== undefined && cfg.tls_key !== undefined
      ? { cert: await readText(cfg.tls_cert, 'TLS certificate'), key: await readText(cfg.tls_key, 'TLS key') }
      : undefined;
  const attestationPolicy = await policy(cfg.attestation_policy, 'attestation policy');
  const resourcePolicy = await policy(cfg.resource_policy, 'resource policy');
  return {
    listen: cfg.listen,
    insecureHttp: cfg.insecure_http,
    ...(tls === undefined ? {} : { tls }),
    resourcesDir: cfg.resources_dir,
    ...(cfg.state_dir === undefined ? {} : { stateDir: cfg.state_dir }),
    ...(cfg.admin_public_key === undefined
      ? {}
      : { adminPublicKey: await readText(cfg.admin_public_key, 'admin public key') }),
    allowSample: cfg.allow_sample,
    ...(cfg.trust_test_roots ? { verifierOptions: testRootVerifierOptions() } : {}),
    ...(attestationPolicy === undefined ? {} : { attestationPolicy }),
    ...(resourcePolicy === undefined ? {} : { resourcePolicy }),
    bodyLimitBytes: cfg.body_limit,
    sessionLifetimeMs: cfg.session_lifetime * 1000,
    tokenLifetimeSeconds: cfg.token_lifetime,
    authRateLimit: cfg.auth_rate === 0 ? false : { perSecond: cfg.auth_rate, burst: cfg.auth_burst },
    allowRsa15: cfg.allow_rsa1_5,
    ...(logger === undefined ? {} : { logger }),
  };
}
