// ztunnel's internal view of the mesh (workloads, services, L4 authorizations), validated once at the xDS edge.
//
// These mirror the workload API (PROTOCOLS.md §6.2–6.3) with every optional field defaulted, so hot code never
// re-checks "maybe unset" values. The xDS edge (not written yet) converts wire records into these once.
import type { IpPrefix } from '../../lib/ip-address.js';

type TunnelProtocol = 'NONE' | 'HBONE';

export interface PortMapping {
  servicePort: number;
  /** 0: named or unknown (the endpoint's own mapping must supply it). */
  targetPort: number;
}

interface NetworkAddress {
  network: string;
  address: string;
}

/** A waypoint (or gateway) reference: by address or by namespaced hostname of its Service. */
export interface GatewayAddress {
  address?: NetworkAddress;
  hostname?: { namespace: string; hostname: string };
  /** The HBONE port to dial (usually 15008). */
  hbonePort: number;
}

interface Locality {
  region: string;
  zone: string;
  subzone: string;
}

export interface Workload {
  uid: string;
  name: string;
  namespace: string;
  /** Textual IPs (v4 dotted, v6 canonical). */
  addresses: string[];
  /** A name to resolve when the workload has no address (a ServiceEntry endpoint with `resolution: DNS`). */
  hostname?: string;
  network: string;
  tunnelProtocol: TunnelProtocol;
  trustDomain: string;
  serviceAccount: string;
  waypoint?: GatewayAddress;
  node: string;
  canonicalName: string;
  canonicalRevision: string;
  /** Lower-case: deployment, cronjob, pod, job (the baggage key `k8s.<type>.name`). */
  workloadType: string;
  workloadName: string;
  /** `namespace/hostname` of each service this workload is an endpoint of → its own port mapping. */
  services: Record<string, PortMapping[]>;
  /** Keys `namespace/name` of WORKLOAD_SELECTOR authorizations that select this workload. */
  authorizationPolicies: string[];
  healthy: boolean;
  clusterId: string;
  locality: Locality;
  hostNetwork: boolean;
  /** Load-balancing weight, default 1. */
  capacity: number;
}

export type LoadBalancingScope = 'REGION' | 'ZONE' | 'SUBZONE' | 'NODE' | 'CLUSTER' | 'NETWORK';

export interface LoadBalancing {
  routingPreference: LoadBalancingScope[];
  mode: 'STANDARD' | 'STRICT' | 'FAILOVER' | 'PASSTHROUGH';
  /** ALLOW_ALL: unhealthy endpoints stay eligible. */
  allowUnhealthy: boolean;
}

export interface Service {
  name: string;
  namespace: string;
  hostname: string;
  /** VIPs; a CIDR VIP carries its prefix length. Empty = headless. */
  vips: Array<NetworkAddress & { length?: number }>;
  ports: PortMapping[];
  subjectAltNames: string[];
  waypoint?: GatewayAddress;
  loadBalancing?: LoadBalancing;
  canonical: boolean;
  /** NAMESPACE: invisible to clients in other namespaces. */
  namespaceOnly: boolean;
}

// --- Authorization (L4 RBAC) ---

export type StringMatch =
  | { kind: 'exact'; value: string }
  | { kind: 'prefix'; value: string }
  | { kind: 'suffix'; value: string }
  | { kind: 'presence' };

export interface ServiceAccountMatch {
  namespace: string;
  serviceAccount: string;
}

/** One Match: every populated field type must pass; positive lists = any element, `not*` lists = none. */
export interface Match {
  namespaces: StringMatch[];
  notNamespaces: StringMatch[];
  principals: StringMatch[];
  notPrincipals: StringMatch[];
  sourceIps: IpPrefix[];
  notSourceIps: IpPrefix[];
  destinationIps: IpPrefix[];
  notDestinationIps: IpPrefix[];
  destinationPorts: number[];
  notDestinationPorts: number[];
  serviceAccounts: ServiceAccountMatch[];
  notServiceAccounts: ServiceAccountMatch[];
}

interface Clause {
  matches: Match[];
}

export interface Rule {
  clauses: Clause[];
}

type AuthorizationScope = 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';

export interface Authorization {
  name: string;
  namespace: string;
  scope: AuthorizationScope;
  action: 'ALLOW' | 'DENY';
  rules: Rule[];
  dryRun: boolean;
}

/** `namespace/name`: an authorization's key and how workloads refer to selector policies. */
export function authorizationKey(a: { namespace: string; name: string }): string {
  return `${a.namespace}/${a.name}`;
}

/** `namespace/hostname`: a service's key and how workloads name the services they belong to. */
export function serviceKey(s: { namespace: string; hostname: string }): string {
  return `${s.namespace}/${s.hostname}`;
}

/** An empty Match (all lists empty), for building policies in code and tests. */
export function emptyMatch(): Match {
  return {
    namespaces: [], notNamespaces: [], principals: [], notPrincipals: [], sourceIps: [], notSourceIps: [],
    destinationIps: [], notDestinationIps: [], destinationPorts: [], notDestinationPorts: [], serviceAccounts: [],
    notServiceAccounts: [],
  };
}
