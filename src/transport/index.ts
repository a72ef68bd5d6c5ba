/**
 * Transports shared by kata, attestation and kbs-client (docs/transports.md): address parsing,
 * dial with retry, listen, hybrid vsock both ways, and AF_VSOCK through the native addon.
 */
export { parseAddress, formatAddress, toAddress, VMADDR_CID_ANY, type Address } from './address.js';
export {
  dial,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_DIAL_ATTEMPTS,
  DEFAULT_DIAL_INITIAL_DELAY_MS,
  DEFAULT_DIAL_MAX_DELAY_MS,
  HVSOCK_HANDSHAKE_TIMEOUT_MS,
  type DialOptions,
  type RetryOptions,
} from './dial.js';
export { listen, type Listener } from './listen.js';
export { hvsockHandshake, listenHvsock, HVSOCK_COMMAND_TIMEOUT_MS } from './hvsock.js';
export {
  vsockAddon,
  loadVsockAddon,
  listenVsock,
  dialVsock,
  NativeSocketStream,
  VSOCK_ADDON_PATH,
  type VsockAddon,
  type VsockListener,
  type NativePoller,
} from './vsock.js';
