/**
 * The one error → gRPC status mapping of the CRI server (docs/architecture.md "Errors"), built
 * on mapError(): the registry's canonical status becomes the gRPC code, the message goes out as
 * details, and the stable Cocoon code travels in the `cocoon-error-code` trailer. Unknown thrown
 * values become INTERNAL "internal error" (never a leak). An error returned by the pass-through
 * runtime keeps its own gRPC code (the kubelet tolerates NotFound from either runtime).
 */
import { Metadata, type StatusObject } from '@grpc/grpc-js';
import { mapError } from '../common/error-registry.js';
import { PassthroughError } from './passthrough.js';

/** Trailer carrying the Cocoon error code. */
export const ERROR_CODE_TRAILER = 'cocoon-error-code';

/** A gRPC status for any thrown value. */
export function toGrpcStatus(
  e: unknown,
): Pick<StatusObject, 'code' | 'details' | 'metadata'> & { cocoonCode: string } {
  const metadata = new Metadata();
  if (e instanceof PassthroughError) {
    metadata.set(ERROR_CODE_TRAILER, 'ERR_CRI_PASSTHROUGH');
    return { code: e.grpcCode, details: e.message, metadata, cocoonCode: 'ERR_CRI_PASSTHROUGH' };
  }
  const m = mapError(e);
  metadata.set(ERROR_CODE_TRAILER, m.code);
  return { code: m.status, details: m.message, metadata, cocoonCode: m.code };
}
