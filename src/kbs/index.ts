/** Public entry of `src/kbs`: the test KBS server and its parts. */
export {
  startKbs,
  DEFAULT_KBS_LISTEN,
  DEFAULT_BODY_LIMIT,
  type KbsServerOptions,
  type RunningKbs,
} from './server.js';
export * from './policy.js';
export { toHttpError, ERROR_VARIANTS } from './http-errors.js';
export {
  ResourceStore,
  parseResourcePath,
  parseResourcePathText,
  RESOURCE_SEGMENT,
  type ResourcePath,
} from './resource-store.js';
export { TokenBroker, loadOrCreateSigningKey } from './token.js';
export { parseAdminPublicKey } from './admin-auth.js';
export { DEFAULT_AUTH_RATE_LIMIT, type RateLimitOptions } from './rate-limit.js';
export { testRootVerifierOptions } from './test-roots.js';
export { serverOptionsFromConfig } from './from-config.js';
export { RegoAttestationPolicy, RegoResourcePolicy, createRegoPolicyEngines } from './rego-policy.js';
