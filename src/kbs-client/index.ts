/** Public entry of `src/kbs-client`: the RCAR client, evidence providers, admin client. */
export * from './client.js';
export * from './admin.js';
export * from './tee-key.js';
export * from './evidence-provider.js';
export { httpCall, baseUrl, DEFAULT_HTTP_TIMEOUT_MS, type HttpOptions, type HttpResponse } from './http.js';
export { simTdxEvidenceProvider, simSnpEvidenceProvider } from './sim-providers.js';
export {
  AttestationAgentClient,
  aaEvidenceProvider,
  aaTokenProvider,
  AA_SERVICE,
  AA_PROTO,
  DEFAULT_AA_ADDRESS,
  type AaClientOptions,
} from './aa.js';
