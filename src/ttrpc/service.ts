/**
 * Typed helpers over protobufjs so callers never hand-encode payloads: load .proto files shipped
 * under the package's proto/ folder, call a service's methods with plain objects, and serve an
 * implementation object.
 *
 * Object conventions (both directions): field names exactly as in the .proto (keepCase, e.g.
 * `shim_pid`); 64-bit integers as JavaScript numbers (precise up to 2^53); enums as numbers;
 * bytes as Buffer/Uint8Array; fields at their default value are present in decoded objects.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import protobuf from 'protobufjs';
import { CocoonError } from '../common/errors.js';
import { packagePath } from '../common/paths.js';
import type { CallOptions, TtrpcClient } from './client.js';
import type { CallContext, TtrpcServer } from './server.js';

/** A decoded or to-be-encoded message as a plain object. */
export type MessageObject = Record<string, unknown>;

/** Conversion options used for every decode (see the file comment). */
export const TO_OBJECT_OPTIONS: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  defaults: true,
  arrays: true,
};

function protoError(message: string, details: Record<string, unknown>, cause?: unknown): CocoonError {
  return new CocoonError('ERR_TTRPC_PROTO_INVALID', message, {
    details,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Options of loadProtoRoot. */
export interface LoadProtoOptions {
  /**
   * Extra import roots, relative to the package's proto/ folder (e.g. `containerd` for files
   * that `import "types/mount.proto"`). Default none.
   */
  readonly includeDirs?: readonly string[];
}

/**
 * Loads .proto files (paths relative to the package's proto/ folder). An import resolves
 * against the importing file's folder, then each include dir, then proto/ itself;
 * google/protobuf well-known types come with protobufjs. Throws ERR_TTRPC_PROTO_INVALID.
 */
export function loadProtoRoot(files: string[], opts: LoadProtoOptions = {}): protobuf.Root {
  const root = new protobuf.Root();
  const base = packagePath('proto');
  const roots = [...(opts.includeDirs ?? []).map((d) => resolve(base, d)), base];
  root.resolvePath = (origin, target) => {
    if (isAbsolute(target)) return target;
    const candidates = [
      ...(origin === '' ? [] : [resolve(dirname(origin), target)]),
      ...roots.map((r) => resolve(r, target)),
    ];
    return candidates.find((c) => existsSync(c)) ?? resolve(base, target);
  };
  try {
    root.loadSync(files, { keepCase: true });
    root.resolveAll();
  } catch (e) {
    throw protoError(`cannot load proto files ${files.join(', ')}`, { files }, e);
  }
  return root;
}

function lookupService(root: protobuf.Root, name: string): protobuf.Service {
  try {
    return root.lookupService(name);
  } catch (e) {
    throw protoError(`no service ${name} in the loaded protos`, { service: name }, e);
  }
}

function lookupMethod(svc: protobuf.Service, service: string, method: string): protobuf.Method {
  const m = svc.methods[method];
  if (m === undefined) throw protoError(`service ${service} has no method ${method}`, { service, method });
  m.resolve();
  return m;
}

/** Encodes a plain object as `type`; throws ERR_TTRPC_MESSAGE_INVALID on a bad field. */
export function encodeMessage(type: protobuf.Type, obj: MessageObject): Uint8Array {
  const err = type.verify(obj);
  if (err !== null) {
    throw new CocoonError('ERR_TTRPC_MESSAGE_INVALID', `${type.fullName.slice(1)}: ${err}`, {
      details: { type: type.fullName.slice(1) },
    });
  }
  return type.encode(type.fromObject(obj)).finish();
}

/** Decodes bytes as `type` into a plain object; throws ERR_TTRPC_MESSAGE_INVALID. */
export function decodeMessage(type: protobuf.Type, bytes: Uint8Array): MessageObject {
  try {
    return type.toObject(type.decode(bytes), TO_OBJECT_OPTIONS);
  } catch (e) {
    throw new CocoonError('ERR_TTRPC_MESSAGE_INVALID', `cannot decode ${type.fullName.slice(1)}`, {
      cause: e,
      details: { type: type.fullName.slice(1) },
    });
  }
}

/** A typed client for one service. */
export interface ServiceClient {
  /** Calls a unary method with a plain request object; resolves with the decoded response. */
  call(method: string, request: MessageObject, opts?: CallOptions): Promise<MessageObject>;
  /** Calls a server-streaming method; yields decoded messages. */
  serverStream(method: string, request: MessageObject, opts?: CallOptions): AsyncIterable<MessageObject>;
}

/** Binds `client` to service `service` (fully qualified, e.g. `containerd.task.v2.Task`). */
export function serviceClient(client: TtrpcClient, root: protobuf.Root, service: string): ServiceClient {
  const svc = lookupService(root, service);
  const name = svc.fullName.slice(1);
  return {
    async call(method, request, opts) {
      const m = lookupMethod(svc, name, method);
      const out = await client.unary(name, method, encodeMessage(m.resolvedRequestType!, request), opts);
      return decodeMessage(m.resolvedResponseType!, out);
    },
    async *serverStream(method, request, opts) {
      const m = lookupMethod(svc, name, method);
      for await (const msg of client.serverStream(
        name,
        method,
        encodeMessage(m.resolvedRequestType!, request),
        opts,
      )) {
        yield decodeMessage(m.resolvedResponseType!, msg);
      }
    },
  };
}

/** An implementation of a service's unary methods over plain objects. */
export type ServiceImpl = Record<
  string,
  (request: MessageObject, ctx: CallContext) => Promise<MessageObject>
>;

/**
 * Registers `impl` on `server` for `service`. Every key must be a method of the service
 * (ERR_TTRPC_PROTO_INVALID otherwise); methods left out answer Unimplemented.
 */
export function serveService(
  server: TtrpcServer,
  root: protobuf.Root,
  service: string,
  impl: ServiceImpl,
): void {
  const svc = lookupService(root, service);
  const name = svc.fullName.slice(1);
  for (const [method, fn] of Object.entries(impl)) {
    const m = lookupMethod(svc, name, method);
    const reqType = m.resolvedRequestType!;
    const resType = m.resolvedResponseType!;
    server.register(name, method, async (payload, ctx) =>
      encodeMessage(resType, await fn(decodeMessage(reqType, payload), ctx)),
    );
  }
}
