// The gRPC definition of istio.v1.auth.IstioCertificateService for @grpc/grpc-js, built on the protobuf-es
// messages generated from proto/istio/v1/auth/ca.proto. Shared by the CA server and the CA client.
import { fromBinary, toBinary, create } from '@bufbuild/protobuf';
import type { ServiceDefinition, MethodDefinition } from '@grpc/grpc-js';
import {
  IstioCertificateRequestSchema,
  IstioCertificateResponseSchema,
  type IstioCertificateRequest,
  type IstioCertificateResponse,
} from '../../../proto/gen/istio/v1/auth/ca_pb.js';

export { IstioCertificateRequestSchema, IstioCertificateResponseSchema, type IstioCertificateRequest, type IstioCertificateResponse };

/** The full gRPC method path Istio's ztunnel calls. */
const CREATE_CERTIFICATE_PATH = '/istio.v1.auth.IstioCertificateService/CreateCertificate';

/** Metadata key under which a node asks for another identity (PROTOCOLS.md §6.4). */
export const IMPERSONATED_IDENTITY_KEY = 'ImpersonatedIdentity';

const createCertificate: MethodDefinition<IstioCertificateRequest, IstioCertificateResponse> = {
  path: CREATE_CERTIFICATE_PATH,
  requestStream: false,
  responseStream: false,
  requestSerialize: (m) => Buffer.from(toBinary(IstioCertificateRequestSchema, m)),
  requestDeserialize: (b) => fromBinary(IstioCertificateRequestSchema, b),
  responseSerialize: (m) => Buffer.from(toBinary(IstioCertificateResponseSchema, m)),
  responseDeserialize: (b) => fromBinary(IstioCertificateResponseSchema, b),
  originalName: 'createCertificate',
};

interface IstioCertificateServiceDefinition extends ServiceDefinition {
  CreateCertificate: typeof createCertificate;
}

export const istioCertificateServiceDefinition: IstioCertificateServiceDefinition = { CreateCertificate: createCertificate };

/** Builds a request message; `validitySeconds` 0 means "the CA's default". */
export function newCertificateRequest(csr: string, validitySeconds: number, impersonatedIdentity?: string): IstioCertificateRequest {
  return create(IstioCertificateRequestSchema, {
    csr,
    validityDuration: BigInt(Math.max(0, Math.floor(validitySeconds))),
    metadata: impersonatedIdentity ? { [IMPERSONATED_IDENTITY_KEY]: impersonatedIdentity } : undefined,
  });
}
