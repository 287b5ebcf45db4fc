// Converts workload-API records (workload-records.ts) to protobuf-es wire messages and back. Decoding validates:
// a resource that ztunnel would reject (bad IP length, LEGACY_ISTIO_MTLS, missing key fields) yields a reason
// instead of a record, so a client can NACK exactly that resource.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AddressSchema,
  AppProtocol,
  GatewayAddressSchema,
  IPFamilies,
  LoadBalancing_HealthPolicy,
  LoadBalancing_Mode,
  LoadBalancing_Scope,
  NetworkMode,
  Service_Visibility,
  TunnelProtocol,
  WorkloadStatus,
  WorkloadType,
  type Address,
  type GatewayAddress,
  type NetworkAddress,
  type Port,
  type Service,
  type Workload,
} from '../../../proto/gen/istio/workload/workload_pb.js';
import {
  Action,
  AuthorizationSchema,
  Scope,
  type Authorization,
  type Match,
  type StringMatch,
} from '../../../proto/gen/istio/security/authorization_pb.js';
import { bytesToIp, ipToBytes } from './ip-bytes.js';
import type {
  AddressRecord,
  AuthorizationRecord,
  GatewayAddressRecord,
  IpPrefixRecord,
  LoadBalancingScopeName,
  MatchRecord,
  NetworkAddressRecord,
  PortRecord,
  ServiceRecord,
  StringMatchRecord,
  WorkloadRecord,
} from './workload-records.js';

/** A decode that either produced a record or says why the resource is unusable. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

class DecodeProblem extends Error {}

function ip(text: string): Uint8Array {
  const b = ipToBytes(text);
  if (!b) throw new DecodeProblem(`'${text}' is not an IP address`);
  return b;
}

function ipText(bytes: Uint8Array, what: string): string {
  const t = bytesToIp(bytes);
  if (t === undefined) throw new DecodeProblem(`${what}: an IP must be 4 or 16 bytes, got ${bytes.length}`);
  return t;
}

function enumName<E extends Record<string, string | number>>(e: E, v: number, what: string): keyof E & string {
  const name = (e as Record<number, string>)[v];
  if (typeof name !== 'string') throw new DecodeProblem(`${what}: unknown enum value ${v}`);
  return name as keyof E & string;
}

// ---- records → messages ----

function networkAddressMessage(a: NetworkAddressRecord): { network: string; address: Uint8Array; length?: number } {
  return { network: a.network, address: ip(a.address), ...(a.length !== undefined ? { length: a.length } : {}) };
}

function portMessage(p: PortRecord): { servicePort: number; targetPort: number; appProtocol: AppProtocol } {
  return { servicePort: p.servicePort, targetPort: p.targetPort, appProtocol: AppProtocol[p.appProtocol ?? 'UNKNOWN'] };
}

function gatewayMessage(g: GatewayAddressRecord): GatewayAddress {
  return create(GatewayAddressSchema, {
    destination: g.hostname
      ? { case: 'hostname', value: { namespace: g.hostname.namespace, hostname: g.hostname.hostname } }
      : { case: 'address', value: networkAddressMessage(g.address!) },
    hboneMtlsPort: g.hboneMtlsPort,
  });
}

function workloadMessage(w: WorkloadRecord): Workload {
  return {
    $typeName: 'istio.workload.Workload',
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    addresses: w.addresses.map(ip),
    hostname: w.hostname ?? '',
    network: w.network,
    tunnelProtocol: TunnelProtocol[w.tunnelProtocol],
    trustDomain: w.trustDomain,
    serviceAccount: w.serviceAccount,
    waypoint: w.waypoint ? gatewayMessage(w.waypoint) : undefined,
    networkGateway: undefined,
    node: w.node ?? '',
    canonicalName: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    workloadType: WorkloadType[w.workloadType],
    workloadName: w.workloadName,
    nativeTunnel: w.nativeTunnel ?? false,
    authorizationPolicies: [...w.authorizationPolicies],
    status: WorkloadStatus[w.status],
    clusterId: w.clusterId,
    services: Object.fromEntries(
      Object.entries(w.services).map(([k, ports]) => [k, { $typeName: 'istio.workload.PortList', ports: ports.map((p) => ({ $typeName: 'istio.workload.Port', ...portMessage(p) })) }]),
    ),
    applicationTunnel: w.applicationTunnel
      ? { $typeName: 'istio.workload.ApplicationTunnel', protocol: w.applicationTunnel.protocol === 'PROXY' ? 1 : 0, port: w.applicationTunnel.port ?? 0 }
      : undefined,
    locality: w.locality ? { $typeName: 'istio.workload.Locality', region: w.locality.region ?? '', zone: w.locality.zone ?? '', subzone: w.locality.subzone ?? '' } : undefined,
    networkMode: NetworkMode[w.networkMode],
    extensions: [],
    capacity: w.capacity,
  };
}

function serviceMessage(s: ServiceRecord): Service {
  return {
    $typeName: 'istio.workload.Service',
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    addresses: s.addresses.map((a) => ({ $typeName: 'istio.workload.NetworkAddress', ...networkAddressMessage(a) })),
    ports: s.ports.map((p) => ({ $typeName: 'istio.workload.Port', ...portMessage(p) })),
    subjectAltNames: [...s.subjectAltNames],
    waypoint: s.waypoint ? gatewayMessage(s.waypoint) : undefined,
    loadBalancing: s.loadBalancing
      ? {
          $typeName: 'istio.workload.LoadBalancing',
          routingPreference: s.loadBalancing.routingPreference.map((r) => LoadBalancing_Scope[r]),
          mode: LoadBalancing_Mode[s.loadBalancing.mode],
          healthPolicy: LoadBalancing_HealthPolicy[s.loadBalancing.healthPolicy ?? 'ONLY_HEALTHY'],
        }
      : undefined,
    ipFamilies: IPFamilies[s.ipFamilies],
    extensions: [],
    canonical: s.canonical,
    ingressUseWaypoint: false,
    weightedWaypoints: [],
    visibility: Service_Visibility[s.visibility],
  };
}

/** The wire message of an Address record. Throws on a record holding a non-IP where an IP belongs (a bug upstream). */
function addressMessage(a: AddressRecord): Address {
  return create(AddressSchema, {
    type: a.workload ? { case: 'workload', value: workloadMessage(a.workload) } : { case: 'service', value: serviceMessage(a.service) },
  });
}

function stringMatchMessage(m: StringMatchRecord): StringMatch {
  const $typeName = 'istio.security.StringMatch' as const;
  if ('exact' in m) return { $typeName, matchType: { case: 'exact', value: m.exact } };
  if ('prefix' in m) return { $typeName, matchType: { case: 'prefix', value: m.prefix } };
  if ('suffix' in m) return { $typeName, matchType: { case: 'suffix', value: m.suffix } };
  return { $typeName, matchType: { case: 'presence', value: { $typeName: 'google.protobuf.Empty' } } };
}

function prefixMessages(list: IpPrefixRecord[] | undefined) {
  return (list ?? []).map((a) => ({ $typeName: 'istio.security.Address' as const, address: ip(a.address), length: a.length }));
}

function saMessages(list: MatchRecord['serviceAccounts']) {
  return (list ?? []).map((s) => ({ $typeName: 'istio.security.ServiceAccountMatch' as const, namespace: s.namespace, serviceAccount: s.serviceAccount }));
}

function matchMessage(m: MatchRecord): Match {
  return {
    $typeName: 'istio.security.Match',
    namespaces: (m.namespaces ?? []).map(stringMatchMessage),
    notNamespaces: (m.notNamespaces ?? []).map(stringMatchMessage),
    principals: (m.principals ?? []).map(stringMatchMessage),
    notPrincipals: (m.notPrincipals ?? []).map(stringMatchMessage),
    sourceIps: prefixMessages(m.sourceIps),
    notSourceIps: prefixMessages(m.notSourceIps),
    destinationIps: prefixMessages(m.destinationIps),
    notDestinationIps: prefixMessages(m.notDestinationIps),
    destinationPorts: [...(m.destinationPorts ?? [])],
    notDestinationPorts: [...(m.notDestinationPorts ?? [])],
    serviceAccounts: saMessages(m.serviceAccounts),
    notServiceAccounts: saMessages(m.notServiceAccounts),
    extensions: [],
  };
}

/** The wire message of an Authorization record. */
function authorizationMessage(a: AuthorizationRecord): Authorization {
  return create(AuthorizationSchema, {
    name: a.name,
    namespace: a.namespace,
    scope: Scope[a.scope],
    action: Action[a.action],
    dryRun: a.dryRun,
    rules: a.rules.map((r) => ({ clauses: r.clauses.map((c) => ({ matches: c.matches.map(matchMessage) })) })),
  });
}

export function encodeAddress(a: AddressRecord): Uint8Array {
  return toBinary(AddressSchema, addressMessage(a));
}

export function encodeAuthorization(a: AuthorizationRecord): Uint8Array {
  return toBinary(AuthorizationSchema, authorizationMessage(a));
}

// ---- messages → records (validated) ----

function networkAddressRecord(a: NetworkAddress, what: string): NetworkAddressRecord {
  const r: NetworkAddressRecord = { network: a.network, address: ipText(a.address, what) };
  if (a.length !== undefined) r.length = a.length;
  return r;
}

function portRecord(p: Port): PortRecord {
  const r: PortRecord = { servicePort: p.servicePort, targetPort: p.targetPort };
  if (p.appProtocol !== AppProtocol.UNKNOWN) r.appProtocol = enumName(AppProtocol, p.appProtocol, 'app_protocol') as PortRecord['appProtocol'];
  return r;
}

function gatewayRecord(g: GatewayAddress, what: string): GatewayAddressRecord {
  switch (g.destination.case) {
    case 'hostname':
      return { hostname: { namespace: g.destination.value.namespace, hostname: g.destination.value.hostname }, hboneMtlsPort: g.hboneMtlsPort };
    case 'address':
      return { address: networkAddressRecord(g.destination.value, what), hboneMtlsPort: g.hboneMtlsPort };
    default:
      throw new DecodeProblem(`${what}: a gateway address needs a hostname or an address`);
  }
}

function workloadRecord(w: Workload): WorkloadRecord {
  if (!w.uid) throw new DecodeProblem('workload has no uid');
  if (w.tunnelProtocol === TunnelProtocol.LEGACY_ISTIO_MTLS) throw new DecodeProblem('tunnel protocol LEGACY_ISTIO_MTLS is not supported');
  const r: WorkloadRecord = {
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    addresses: w.addresses.map((a) => ipText(a, 'addresses')),
    network: w.network,
    tunnelProtocol: enumName(TunnelProtocol, w.tunnelProtocol, 'tunnel_protocol') as WorkloadRecord['tunnelProtocol'],
    trustDomain: w.trustDomain || 'cluster.local',
    serviceAccount: w.serviceAccount || 'default',
    canonicalName: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    workloadType: enumName(WorkloadType, w.workloadType, 'workload_type'),
    workloadName: w.workloadName,
    services: Object.fromEntries(Object.entries(w.services).map(([k, pl]) => [k, pl.ports.map(portRecord)])),
    authorizationPolicies: [...w.authorizationPolicies],
    status: enumName(WorkloadStatus, w.status, 'status'),
    clusterId: w.clusterId || 'Kubernetes',
    networkMode: enumName(NetworkMode, w.networkMode, 'network_mode'),
  };
  if (w.hostname) r.hostname = w.hostname;
  if (w.waypoint) r.waypoint = gatewayRecord(w.waypoint, 'waypoint');
  if (w.node) r.node = w.node;
  if (w.locality) {
    const l: NonNullable<WorkloadRecord['locality']> = {};
    if (w.locality.region) l.region = w.locality.region;
    if (w.locality.zone) l.zone = w.locality.zone;
    if (w.locality.subzone) l.subzone = w.locality.subzone;
    r.locality = l;
  }
  if (w.capacity !== undefined) r.capacity = w.capacity;
  if (w.nativeTunnel) r.nativeTunnel = true;
  if (w.applicationTunnel) r.applicationTunnel = { protocol: w.applicationTunnel.protocol === 1 ? 'PROXY' : 'NONE', port: w.applicationTunnel.port };
  return r;
}

function serviceRecord(s: Service): ServiceRecord {
  if (!s.hostname || !s.namespace) throw new DecodeProblem('service needs a namespace and a hostname');
  const r: ServiceRecord = {
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    addresses: s.addresses.map((a) => networkAddressRecord(a, 'addresses')),
    ports: s.ports.map(portRecord),
    subjectAltNames: [...s.subjectAltNames],
    ipFamilies: enumName(IPFamilies, s.ipFamilies, 'ip_families'),
    canonical: s.canonical,
    visibility: enumName(Service_Visibility, s.visibility, 'visibility'),
  };
  if (s.waypoint) r.waypoint = gatewayRecord(s.waypoint, 'waypoint');
  if (s.loadBalancing) {
    r.loadBalancing = {
      routingPreference: s.loadBalancing.routingPreference.map((v) => enumName(LoadBalancing_Scope, v, 'routing_preference') as LoadBalancingScopeName),
      mode: enumName(LoadBalancing_Mode, s.loadBalancing.mode, 'load_balancing.mode'),
    };
    if (s.loadBalancing.healthPolicy !== LoadBalancing_HealthPolicy.ONLY_HEALTHY) {
      r.loadBalancing.healthPolicy = enumName(LoadBalancing_HealthPolicy, s.loadBalancing.healthPolicy, 'load_balancing.health_policy');
    }
  }
  return r;
}

function guard<T>(fn: () => T): Decoded<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof DecodeProblem) return { ok: false, reason: err.message };
    return { ok: false, reason: `cannot decode: ${(err as Error).message}` };
  }
}

/** Decodes and validates one Address resource. */
export function decodeAddress(bytes: Uint8Array): Decoded<AddressRecord> {
  return guard(() => {
    const a = fromBinary(AddressSchema, bytes);
    switch (a.type.case) {
      case 'workload':
        return { workload: workloadRecord(a.type.value) };
      case 'service':
        return { service: serviceRecord(a.type.value) };
      default:
        throw new DecodeProblem('address holds neither a workload nor a service');
    }
  });
}

function stringMatchRecord(m: StringMatch): StringMatchRecord {
  switch (m.matchType.case) {
    case 'exact':
      return { exact: m.matchType.value };
    case 'prefix':
      return { prefix: m.matchType.value };
    case 'suffix':
      return { suffix: m.matchType.value };
    case 'presence':
      return { presence: {} };
    default:
      throw new DecodeProblem('a string match has no match type');
  }
}

// Malformed IPs in an Address entry are dropped, as ztunnel does (PROTOCOLS.md §6.3).
function prefixRecords(list: Array<{ address: Uint8Array; length: number }>): IpPrefixRecord[] {
  const out: IpPrefixRecord[] = [];
  for (const a of list) {
    const t = bytesToIp(a.address);
    if (t !== undefined && a.length <= a.address.length * 8) out.push({ address: t, length: a.length });
  }
  return out;
}

function matchRecord(m: Match): MatchRecord {
  const r: MatchRecord = {};
  const strings = ['namespaces', 'notNamespaces', 'principals', 'notPrincipals'] as const;
  for (const k of strings) if (m[k].length) r[k] = m[k].map(stringMatchRecord);
  const ips = ['sourceIps', 'notSourceIps', 'destinationIps', 'notDestinationIps'] as const;
  for (const k of ips) if (m[k].length) r[k] = prefixRecords(m[k]);
  if (m.destinationPorts.length) r.destinationPorts = [...m.destinationPorts];
  if (m.notDestinationPorts.length) r.notDestinationPorts = [...m.notDestinationPorts];
  if (m.serviceAccounts.length) r.serviceAccounts = m.serviceAccounts.map((s) => ({ namespace: s.namespace, serviceAccount: s.serviceAccount }));
  if (m.notServiceAccounts.length) r.notServiceAccounts = m.notServiceAccounts.map((s) => ({ namespace: s.namespace, serviceAccount: s.serviceAccount }));
  return r;
}

/** Decodes and validates one Authorization resource. */
export function decodeAuthorization(bytes: Uint8Array): Decoded<AuthorizationRecord> {
  return guard(() => {
    const a = fromBinary(AuthorizationSchema, bytes);
    if (!a.name || !a.namespace) throw new DecodeProblem('authorization needs a name and a namespace');
    return {
      name: a.name,
      namespace: a.namespace,
      scope: enumName(Scope, a.scope, 'scope'),
      action: enumName(Action, a.action, 'action'),
      dryRun: a.dryRun,
      rules: a.rules.map((r) => ({ clauses: r.clauses.map((c) => ({ matches: c.matches.map(matchRecord) })) })),
    };
  });
}
