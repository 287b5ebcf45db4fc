// The gRPC definition of envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources for
// @grpc/grpc-js, on the protobuf-es messages generated from proto/envoy. Shared by the xDS server and client.
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import {
  DeltaDiscoveryRequestSchema,
  DeltaDiscoveryResponseSchema,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
} from '../../../proto/gen/envoy/service/discovery/v3/discovery_pb.js';

export { DeltaDiscoveryRequestSchema, DeltaDiscoveryResponseSchema, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse };

export const DELTA_ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

const deltaAggregatedResources: MethodDefinition<DeltaDiscoveryRequest, DeltaDiscoveryResponse> = {
  path: DELTA_ADS_PATH,
  requestStream: true,
  responseStream: true,
  requestSerialize: (m) => Buffer.from(toBinary(DeltaDiscoveryRequestSchema, m)),
  requestDeserialize: (b) => fromBinary(DeltaDiscoveryRequestSchema, b),
  responseSerialize: (m) => Buffer.from(toBinary(DeltaDiscoveryResponseSchema, m)),
  responseDeserialize: (b) => fromBinary(DeltaDiscoveryResponseSchema, b),
  originalName: 'deltaAggregatedResources',
};

interface AggregatedDiscoveryServiceDefinition extends ServiceDefinition {
  DeltaAggregatedResources: typeof deltaAggregatedResources;
}

export const aggregatedDiscoveryServiceDefinition: AggregatedDiscoveryServiceDefinition = { DeltaAggregatedResources: deltaAggregatedResources };

/** Metadata keys every xDS call carries (PROTOCOLS.md §6.1). */
export const AUTHORIZATION_HEADER = 'authorization';
export const CLUSTER_ID_HEADER = 'clusterid';
