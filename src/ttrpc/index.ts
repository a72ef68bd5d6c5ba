/**
 * containerd's ttrpc protocol (cri-kata.md §4.6, docs/ttrpc.md): framing, client, server,
 * streams, status mapping and typed protobufjs helpers.
 */
export {
  TtrpcClient,
  type CallOptions,
  type Metadata,
  type TtrpcClientOptions,
  type TtrpcConnectOptions,
  type ClientStreamCall,
  type BidiCall,
} from './client.js';
export {
  TtrpcServer,
  type CallContext,
  type UnaryHandler,
  type StreamHandler,
  type ServerStream,
  type StreamKind,
  type TtrpcServerOptions,
} from './server.js';
export {
  ttrpcStatusOf,
  statusFromError,
  errorFromStatus,
  type TtrpcStatus,
  type TtrpcStatusDetails,
} from './status.js';
export {
  encodeFrame,
  decodeHeader,
  FrameDecoder,
  MessageType,
  Flags,
  HEADER_SIZE,
  MESSAGE_LENGTH_MAX,
  type FrameHeader,
  type FrameSink,
} from './frame.js';
export {
  encodeRequest,
  decodeRequest,
  encodeResponse,
  decodeResponse,
  type TtrpcRequest,
  type TtrpcResponse,
} from './messages.js';
export {
  loadProtoRoot,
  serviceClient,
  serveService,
  encodeMessage,
  decodeMessage,
  TO_OBJECT_OPTIONS,
  type ServiceClient,
  type LoadProtoOptions,
  type ServiceImpl,
  type MessageObject,
} from './service.js';
