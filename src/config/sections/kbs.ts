/**
 * `[kbs]` section: the test KBS server (`cocoon kbs serve`). Every key mirrors a flag; flags win
 * (config.ts layering). Paths are read by the command, not here, so validation stays pure.
 */
import {
  asObject,
  configError,
  rejectUnknownKeys,
  takeBool,
  takeInt,
  takeOptString,
  takeString,
  type ConfigSection,
} from '../schema.js';

/** Validated `[kbs]` settings. */
export interface KbsConfig {
  /** HOST:PORT; default DEFAULT_KBS_CONFIG_LISTEN. */
  readonly listen: string;
  /** Serve plain HTTP; default false (then tls_cert/tls_key are required). */
  readonly insecure_http: boolean;
  /** TLS certificate chain PEM file. */
  readonly tls_cert: string | undefined;
  /** TLS private key PEM file. */
  readonly tls_key: string | undefined;
  /** Resource store root; default DEFAULT_KBS_RESOURCES_DIR. */
  readonly resources_dir: string;
  /** State directory (signing key, reference values); default <resources_dir>/.state. */
  readonly state_dir: string | undefined;
  /** Admin public key PEM file (Ed25519 or P-256); absent: admin API refused. */
  readonly admin_public_key: string | undefined;
  /** Accept the sample TEE; default false. */
  readonly allow_sample: boolean;
  /** Trust the simulated TDX/SNP test roots; default false. */
  readonly trust_test_roots: boolean;
  /** Attestation policy file (or `builtin:<name>`). */
  readonly attestation_policy: string | undefined;
  /** Resource policy file (or `builtin:<name>`). */
  readonly resource_policy: string | undefined;
  /** Request body limit in bytes; default DEFAULT_KBS_BODY_LIMIT (2 MiB). */
  readonly body_limit: number;
  /** Session lifetime in seconds; default 300. */
  readonly session_lifetime: number;
  /** Token lifetime in seconds; default 300. */
  readonly token_lifetime: number;
  /** /auth requests per second per client address; 0 disables the limit. Default 50. */
  readonly auth_rate: number;
  /** /auth burst per client address; default 100. */
  readonly auth_burst: number;
  /** Accept RSA1_5 TEE keys; default false. */
  readonly allow_rsa1_5: boolean;
}

/** Default listen address (Trustee's default socket). */
export const DEFAULT_KBS_CONFIG_LISTEN = '127.0.0.1:8080';
/** Default resource directory. */
export const DEFAULT_KBS_RESOURCES_DIR = '/var/lib/cocoon/kbs/resources';
/** Default body limit (Trustee payload_request_size = 2 MiB). */
export const DEFAULT_KBS_BODY_LIMIT = 2 * 1024 * 1024;
/** Default session and token lifetime in seconds (Trustee: 5 minutes each). */
export const DEFAULT_KBS_LIFETIME_S = 300;
/** Default /auth rate per client address. */
export const DEFAULT_KBS_AUTH_RATE = 50;
/** Default /auth burst per client address. */
export const DEFAULT_KBS_AUTH_BURST = 100;

const KEYS = [
  'listen',
  'insecure_http',
  'tls_cert',
  'tls_key',
  'resources_dir',
  'state_dir',
  'admin_public_key',
  'allow_sample',
  'trust_test_roots',
  'attestation_policy',
  'resource_policy',
  'body_limit',
  'session_lifetime',
  'token_lifetime',
  'auth_rate',
  'auth_burst',
  'allow_rsa1_5',
] as const;

/** The `[kbs]` section. */
export const kbsSection: ConfigSection<KbsConfig> = {
  name: 'kbs',
  defaults: () => kbsSection.validate({}),
  validate(raw) {
    const o = asObject(raw, 'kbs');
    rejectUnknownKeys(o, KEYS, 'kbs');
    const listen = takeString(o, 'listen', 'kbs', DEFAULT_KBS_CONFIG_LISTEN);
    if (!/^(\[[^\]]+\]|[^:]+):\d{1,5}$/.test(listen))
      throw configError(`kbs.listen must be HOST:PORT, got "${listen}"`);
    const cfg: KbsConfig = {
      listen,
      insecure_http: takeBool(o, 'insecure_http', 'kbs', false),
      tls_cert: takeOptString(o, 'tls_cert', 'kbs'),
      tls_key: takeOptString(o, 'tls_key', 'kbs'),
      resources_dir: takeString(o, 'resources_dir', 'kbs', DEFAULT_KBS_RESOURCES_DIR),
      state_dir: takeOptString(o, 'state_dir', 'kbs'),
      admin_public_key: takeOptString(o, 'admin_public_key', 'kbs'),
      allow_sample: takeBool(o, 'allow_sample', 'kbs', false),
      trust_test_roots: takeBool(o, 'trust_test_roots', 'kbs', false),
      attestation_policy: takeOptString(o, 'attestation_policy', 'kbs'),
      resource_policy: takeOptString(o, 'resource_policy', 'kbs'),
      body_limit: takeInt(o, 'body_limit', 'kbs', DEFAULT_KBS_BODY_LIMIT, 1024, 1024 * 1024 * 1024),
      session_lifetime: takeInt(o, 'session_lifetime', 'kbs', DEFAULT_KBS_LIFETIME_S, 1, 86_400),
      token_lifetime: takeInt(o, 'token_lifetime', 'kbs', DEFAULT_KBS_LIFETIME_S, 1, 86_400 * 30),
      auth_rate: takeInt(o, 'auth_rate', 'kbs', DEFAULT_KBS_AUTH_RATE, 0, 1_000_000),
      auth_burst: takeInt(o, 'auth_burst', 'kbs', DEFAULT_KBS_AUTH_BURST, 1, 1_000_000),
      allow_rsa1_5: takeBool(o, 'allow_rsa1_5', 'kbs', false),
    };
    if ((cfg.tls_cert === undefined) !== (cfg.tls_key === undefined)) {
      throw configError('kbs.tls_cert and kbs.tls_key go together');
    }
    return cfg;
  },
};
