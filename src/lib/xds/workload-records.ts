// Plain, JSON-friendly mirrors of the workload API messages (istio.workload.Address, istio.security.Authorization):
// same fields as PROTOCOLS.md §6.2–6.3 in camelCase, IPs as text, enums by name. The control plane computes these,
// tests compare them as JSON, and workload-codec.ts turns them into wire messages and back.

type TunnelProtocolName = 'NONE' | 'HBONE';
export type WorkloadTypeName = 'DEPLOYMENT' | 'CRONJOB' | 'POD' | 'JOB';
export type WorkloadStatusName = 'HEALTHY' | 'UNHEALTHY';
type NetworkModeName = 'STANDARD' | 'HOST_NETWORK';
export type AppProtocolName = 'UNKNOWN' | 'HTTP11' | 'HTTP2' | 'GRPC';
export type IpFamiliesName = 'AUTOMATIC' | 'IPV4_ONLY' | 'IPV6_ONLY' | 'DUAL';
type VisibilityName = 'PUBLIC' | 'NAMESPACE';
export type LoadBalancingScopeName = 'REGION' | 'ZONE' | 'SUBZONE' | 'NODE' | 'CLUSTER' | 'NETWORK';
type LoadBalancingModeName = 'UNSPECIFIED_MODE' | 'STRICT' | 'FAILOVER' | 'PASSTHROUGH';
type HealthPolicyName = 'ONLY_HEALTHY' | 'ALLOW_ALL';

export interface NetworkAddressRecord {
  network: string;
  address: string;
  /** Prefix length; absent for a host address. */
  length?: number;
}

export interface PortRecord {
  servicePort: number;
  /** 0: named or unknown (an endpoint's own mapping supplies it). */
  targetPort: number;
  appProtocol?: AppProtocolName;
}

/** Exactly one of `hostname` and `address` is set. */
export interface GatewayAddressRecord {
  hostname?: { namespace: string; hostname: string };
  address?: NetworkAddressRecord;
  hboneMtlsPort: number;
}

interface LocalityRecord {
  region?: string;
  zone?: string;
  subzone?: string;
}

interface LoadBalancingRecord {
  routingPreference: LoadBalancingScopeName[];
  mode: LoadBalancingModeName;
  healthPolicy?: HealthPolicyName;
}

export interface WorkloadRecord {
  uid: string;
  name: string;
  namespace: string;
  /** Textual IPs. */
  addresses: string[];
  hostname?: string;
  network: string;
  tunnelProtocol: TunnelProtocolName;
  trustDomain: string;
  serviceAccount: string;
  waypoint?: GatewayAddressRecord;
  node?: string;
  canonicalName: string;
  canonicalRevision: string;
  workloadType: WorkloadTypeName;
  workloadName: string;
  /** `namespace/hostname` → this endpoint's port mapping. */
  services: Record<string, PortRecord[]>;
  /** Sorted keys (`namespace/name`) of the WORKLOAD_SELECTOR authorizations selecting this workload. */
  authorizationPolicies: string[];
  status: WorkloadStatusName;
  clusterId: string;
  locality?: LocalityRecord;
  networkMode: NetworkModeName;
  capacity?: number;
  nativeTunnel?: boolean;
  applicationTunnel?: { protocol: 'NONE' | 'PROXY'; port?: number };
}

export interface ServiceRecord {
  name: string;
  namespace: string;
  hostname: string;
  addresses: NetworkAddressRecord[];
  ports: PortRecord[];
  subjectAltNames: string[];
  waypoint?: GatewayAddressRecord;
  loadBalancing?: LoadBalancingRecord;
  ipFamilies: IpFamiliesName;
  canonical: boolean;
  visibility: VisibilityName;
}

/** One istio.workload.Address resource. */
export type AddressRecord = { workload: WorkloadRecord; service?: undefined } | { service: ServiceRecord; workload?: undefined };

export type StringMatchRecord = { exact: string } | { prefix: string } | { suffix: string } | { presence: Record<string, never> };

export interface IpPrefixRecord {
  address: string;
  length: number;
}

export interface ServiceAccountMatchRecord {
  namespace: string;
  serviceAccount: string;
}

/** Only populated lists are present. */
export interface MatchRecord {
  namespaces?: StringMatchRecord[];
  notNamespaces?: StringMatchRecord[];
  principals?: StringMatchRecord[];
  notPrincipals?: StringMatchRecord[];
  sourceIps?: IpPrefixRecord[];
  notSourceIps?: IpPrefixRecord[];
  destinationIps?: IpPrefixRecord[];
  notDestinationIps?: IpPrefixRecord[];
  destinationPorts?: number[];
  notDestinationPorts?: number[];
  serviceAccounts?: ServiceAccountMatchRecord[];
  notServiceAccounts?: ServiceAccountMatchRecord[];
}

export interface ClauseRecord {
  matches: MatchRecord[];
}

export interface RuleRecord {
  clauses: ClauseRecord[];
}

type AuthorizationScopeName = 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';
type AuthorizationActionName = 'ALLOW' | 'DENY';

export interface AuthorizationRecord {
  name: string;
  namespace: string;
  scope: AuthorizationScopeName;
  action: AuthorizationActionName;
  rules: RuleRecord[];
  dryRun: boolean;
}

/** Resource name of an Address: the workload uid, or `namespace/hostname` of a service. */
export function addressResourceName(a: AddressRecord): string {
  return a.workload ? a.workload.uid : `${a.service.namespace}/${a.service.hostname}`;
}

/** Resource name of an Authorization: `namespace/name`. */
export function authorizationResourceName(a: AuthorizationRecord): string {
  return `${a.namespace}/${a.name}`;
}
