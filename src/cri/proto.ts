/**
 * Loads Cocoon's runtime.v1 proto (proto/cri/api.proto) once. Options follow cri-kata.md §1.5:
 * field names as written (snake_case), int64 as decimal strings (nanosecond times exceed 2^53),
 * enums as names, bytes as base64 strings (so stored configs are plain JSON), defaults on.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { packagePath } from '../common/paths.js';

/** Path of the proto file. */
export const CRI_PROTO_PATH = packagePath('proto', 'cri', 'api.proto');

/** proto-loader options shared by the server, the pass-through client and tests. */
export const CRI_PROTO_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: String,
  defaults: true,
  oneofs: true,
};

/** gRPC service paths (cri-kata.md §1.1). */
export const RUNTIME_SERVICE = 'runtime.v1.RuntimeService';
/** ImageService path. */
export const IMAGE_SERVICE = 'runtime.v1.ImageService';

/** kubelet accepts 16 MiB messages (cri-kata.md §1.1). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

let loaded:
  { runtime: grpc.ServiceDefinition; image: grpc.ServiceDefinition; pkg: grpc.GrpcObject } | undefined;

/** The two service definitions and the package object (for clients). */
export function criServices(): {
  runtime: grpc.ServiceDefinition;
  image: grpc.ServiceDefinition;
  pkg: grpc.GrpcObject;
} {
  if (loaded !== undefined) return loaded;
  const def = protoLoader.loadSync(CRI_PROTO_PATH, CRI_PROTO_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def);
  const v1 = (pkg['runtime'] as grpc.GrpcObject)['v1'] as grpc.GrpcObject;
  const runtime = (v1['RuntimeService'] as grpc.ServiceClientConstructor).service;
  const image = (v1['ImageService'] as grpc.ServiceClientConstructor).service;
  loaded = { runtime, image, pkg };
  return loaded;
}

/** A client constructor for one service (tests and the pass-through client). */
export function criClientConstructor(
  service: 'RuntimeService' | 'ImageService',
): grpc.ServiceClientConstructor {
  const v1 = (criServices().pkg['runtime'] as grpc.GrpcObject)['v1'] as grpc.GrpcObject;
  return v1[service] as grpc.ServiceClientConstructor;
}
