// Coded errors of the certificate authority; each code maps to one gRPC status (see grpcStatusOf in ca-server.ts).
import { MeshError } from '../../lib/errors.js';

type CaErrorCode =
  | 'CA_INVALID_ARGUMENT' // malformed request or CSR → INVALID_ARGUMENT
  | 'CA_UNAUTHENTICATED' // missing/unknown credential → UNAUTHENTICATED
  | 'CA_PERMISSION_DENIED' // caller may not hold the requested identity → PERMISSION_DENIED
  | 'CA_CONFIG' // unusable CA material on disk (startup)
  | 'CA_ROTATION' // rotation/retirement refused (wrong mode or state)
  | 'CA_INTERNAL'; // signing failed → INTERNAL

export class CaError extends MeshError {
  declare readonly code: CaErrorCode;
  constructor(code: CaErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
