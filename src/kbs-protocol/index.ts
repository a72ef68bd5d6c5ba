/** Public entry of `src/kbs-protocol`: the KBS wire layer shared by client and server. */
export * from './types.js';
export * from './jwk.js';
export * from './jcs.js';
export * from './base64.js';
export * from './runtime-data.js';
export * from './jwe.js';
export * from './jws.js';
export * from './ear.js';
export * from './ecdh.js';
