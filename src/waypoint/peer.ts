// Who is on each side of a waypoint request, as telemetry labels: the caller from its mTLS identity plus the
// baggage its ztunnel sent on the CONNECT, the destination from the service and the endpoint chosen.
import { parseBaggage } from '../hbone/hbone-protocol.js';
import { formatSpiffeId, splitSpiffeId } from '../lib/certs/spiffe-id.js';
import type { ServiceRecord, WorkloadRecord } from '../lib/xds/workload-records.js';
import type { RequestLabels } from './metrics.js';

const UNKNOWN = 'unknown';

export interface PeerFacts {
  /** The caller's SPIFFE identity (the client certificate of the HBONE connection). */
  identity: string;
  namespace: string;
  /** `ip:port` of the HBONE peer (the source pod, as its ztunnel dials from it). */
  address: string;
  workload?: string;
  canonicalService?: string;
  canonicalRevision?: string;
  cluster?: string;
}

/** The peer of one CONNECT stream: identity from mTLS, workload facts from the `baggage` header. */
export function peerFacts(identity: string, address: string, baggageHeader: string | undefined): PeerFacts {
  const b = parseBaggage(baggageHeader);
  const id = splitSpiffeId(identity);
  return {
    identity,
    namespace: id?.namespace ?? b.namespace ?? '',
    address,
    ...(b.workloadName ? { workload: b.workloadName } : {}),
    ...(b.canonicalName ? { canonicalService: b.canonicalName } : {}),
    ...(b.canonicalRevision ? { canonicalRevision: b.canonicalRevision } : {}),
    ...(b.clusterId ? { cluster: b.clusterId } : {}),
  };
}

type SourceLabels = Pick<RequestLabels, 'source_workload' | 'source_canonical_service' | 'source_canonical_revision' | 'source_workload_namespace' | 'source_principal' | 'source_app' | 'source_version' | 'source_cluster'>;
type DestinationLabels = Pick<RequestLabels, 'destination_service' | 'destination_service_namespace' | 'destination_service_name' | 'destination_workload' | 'destination_canonical_service' | 'destination_canonical_revision' | 'destination_workload_namespace' | 'destination_principal' | 'destination_app' | 'destination_version' | 'destination_cluster'>;

export function sourceLabels(p: PeerFacts): SourceLabels {
  return {
    source_workload: p.workload ?? UNKNOWN,
    source_canonical_service: p.canonicalService ?? UNKNOWN,
    source_canonical_revision: p.canonicalRevision ?? UNKNOWN,
    source_workload_namespace: p.namespace || UNKNOWN,
    source_principal: p.identity,
    source_app: p.canonicalService ?? UNKNOWN,
    source_version: p.canonicalRevision ?? UNKNOWN,
    source_cluster: p.cluster ?? UNKNOWN,
  };
}

export function destinationLabels(svc: ServiceRecord | undefined, w: WorkloadRecord | undefined): DestinationLabels {
  return {
    destination_service: svc?.hostname ?? UNKNOWN,
    destination_service_namespace: svc?.namespace ?? UNKNOWN,
    destination_service_name: svc?.name ?? UNKNOWN,
    destination_workload: w?.workloadName || w?.name || UNKNOWN,
    destination_canonical_service: w?.canonicalName || UNKNOWN,
    destination_canonical_revision: w?.canonicalRevision || UNKNOWN,
    destination_workload_namespace: w?.namespace ?? UNKNOWN,
    destination_principal: w ? formatSpiffeId(w) : UNKNOWN,
    destination_app: w?.canonicalName || UNKNOWN,
    destination_version: w?.canonicalRevision || UNKNOWN,
    destination_cluster: w?.clusterId || UNKNOWN,
  };
}
