// The xDS edge of ztunnel: turns workload-API records (lib/xds, already decoded and validated by the codec) into
// ztunnel's internal state types with every optional field defaulted, and feeds each applied xDS response into
// ProxyState as one batch. A record that still cannot be used (e.g. an unparsable policy CIDR) is reported by name
// and skipped; the rest of the batch applies.
import type { XdsSnapshot, XdsUpdate } from '../lib/xds/xds-client.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, MESH_SETTINGS_TYPE_URL } from '../lib/xds/type-urls.js';
import { MESH_SETTINGS_NAME, type MeshSettingsRecord } from '../lib/xds/mesh-settings.js';
import type {
  AddressRecord, AuthorizationRecord, GatewayAddressRecord, IpPrefixRecord, MatchRecord, ServiceRecord,
  StringMatchRecord, WorkloadRecord,
} from '../lib/xds/workload-records.js';
import { canonicalIp, parseIpPrefix, type IpPrefix } from '../lib/ip-address.js';
import type { ProxyState, StateUpdate } from './state/proxy-state.js';
import type {
  Authorization, GatewayAddress, LoadBalancing, Match, PortMapping, Service, StringMatch, Workload,
} from './state/types.js';
import { PORT_HBONE } from '../lib/mesh-contract.js';

/** A record the adapter could not convert: `name: reason`. */
class RecordConversionError extends Error {}

function gateway(g: GatewayAddressRecord | undefined): GatewayAddress | undefined {
  if (!g) return undefined;
  const out: GatewayAddress = { hbonePort: g.hboneMtlsPort || PORT_HBONE };
  if (g.address) out.address = { network: g.address.network, address: canonicalIp(g.address.address) };
  if (g.hostname) out.hostname = { namespace: g.hostname.namespace, hostname: g.hostname.hostname };
  return out;
}

function ports(list: ReadonlyArray<{ servicePort: number; targetPort: number }>): PortMapping[] {
  return list.map((p) => ({ servicePort: p.servicePort, targetPort: p.targetPort }));
}

function workloadFromRecord(r: WorkloadRecord): Workload {
  const services: Record<string, PortMapping[]> = {};
  for (const [key, list] of Object.entries(r.services)) services[key] = ports(list);
  const w: Workload = {
    uid: r.uid,
    name: r.name,
    namespace: r.namespace,
    addresses: r.addresses.map(canonicalIp),
    ...(r.hostname && r.addresses.length === 0 ? { hostname: r.hostname } : {}),
    network: r.network,
    tunnelProtocol: r.tunnelProtocol,
    trustDomain: r.trustDomain || 'cluster.local',
    serviceAccount: r.serviceAccount || 'default',
    node: r.node ?? '',
    canonicalName: r.canonicalName,
    canonicalRevision: r.canonicalRevision,
    workloadType: r.workloadType.toLowerCase(),
    workloadName: r.workloadName,
    services,
    authorizationPolicies: [...r.authorizationPolicies],
    healthy: r.status !== 'UNHEALTHY',
    clusterId: r.clusterId,
    locality: { region: r.locality?.region ?? '', zone: r.locality?.zone ?? '', subzone: r.locality?.subzone ?? '' },
    hostNetwork: r.networkMode === 'HOST_NETWORK',
    capacity: r.capacity && r.capacity > 0 ? r.capacity : 1,
  };
  const wp = gateway(r.waypoint);
  if (wp) w.waypoint = wp;
  return w;
}

function serviceFromRecord(r: ServiceRecord): Service {
  const s: Service = {
    name: r.name,
    namespace: r.namespace,
    hostname: r.hostname,
    vips: r.addresses.map((a) => (a.length === undefined
      ? { network: a.network, address: canonicalIp(a.address) }
      : { network: a.network, address: canonicalIp(a.address), length: a.length })),
    ports: ports(r.ports),
    subjectAltNames: [...r.subjectAltNames],
    canonical: r.canonical,
    namespaceOnly: r.visibility === 'NAMESPACE',
  };
  const wp = gateway(r.waypoint);
  if (wp) s.waypoint = wp;
  if (r.loadBalancing) {
    const lb: LoadBalancing = {
      routingPreference: [...r.loadBalancing.routingPreference],
      mode: r.loadBalancing.mode === 'UNSPECIFIED_MODE' ? 'STANDARD' : r.loadBalancing.mode,
      allowUnhealthy: r.loadBalancing.healthPolicy === 'ALLOW_ALL',
    };
    s.loadBalancing = lb;
  }
  return s;
}

function stringMatch(m: StringMatchRecord): StringMatch {
  if ('exact' in m) return { kind: 'exact', value: m.exact };
  if ('prefix' in m) return { kind: 'prefix', value: m.prefix };
  if ('suffix' in m) return { kind: 'suffix', value: m.suffix };
  return { kind: 'presence' };
}

function prefixes(list: IpPrefixRecord[] | undefined, field: string): IpPrefix[] {
  return (list ?? []).map((p) => {
    const parsed = parseIpPrefix(`${p.address}/${p.length}`);
    if (!parsed) throw new RecordConversionError(`${field}: '${p.address}/${p.length}' is not an IP prefix`);
    return parsed;
  });
}

function matchFromRecord(m: MatchRecord): Match {
  return {
    namespaces: (m.namespaces ?? []).map(stringMatch),
    notNamespaces: (m.notNamespaces ?? []).map(stringMatch),
    principals: (m.principals ?? []).map(stringMatch),
    notPrincipals: (m.notPrincipals ?? []).map(stringMatch),
    sourceIps: prefixes(m.sourceIps, 'sourceIps'),
    notSourceIps: prefixes(m.notSourceIps, 'notSourceIps'),
    destinationIps: prefixes(m.destinationIps, 'destinationIps'),
    notDestinationIps: prefixes(m.notDestinationIps, 'notDestinationIps'),
    destinationPorts: [...(m.destinationPorts ?? [])],
    notDestinationPorts: [...(m.notDestinationPorts ?? [])],
    serviceAccounts: (m.serviceAccounts ?? []).map((s) => ({ namespace: s.namespace, serviceAccount: s.serviceAccount })),
    notServiceAccounts: (m.notServiceAccounts ?? []).map((s) => ({ namespace: s.namespace, serviceAccount: s.serviceAccount })),
  };
}

function authorizationFromRecord(r: AuthorizationRecord): Authorization {
  return {
    name: r.name,
    namespace: r.namespace,
    scope: r.scope,
    action: r.action,
    dryRun: r.dryRun,
    rules: r.rules.map((rule) => ({ clauses: rule.clauses.map((c) => ({ matches: c.matches.map(matchFromRecord) })) })),
  };
}

/** The state batch for one applied xDS response; `problems` lists records skipped (`name: reason`). */
function stateUpdateFor(snapshot: XdsSnapshot, update: XdsUpdate): { update: StateUpdate; problems: string[] } {
  const out: StateUpdate = {};
  const problems: string[] = [];
  if (update.typeUrl === ADDRESS_TYPE_URL) {
    const resources = snapshot.resources<AddressRecord>(ADDRESS_TYPE_URL);
    out.workloads = [];
    out.services = [];
    for (const name of update.updated) {
      const r = resources.get(name);
      if (!r) continue;
      if (r.workload) out.workloads.push(workloadFromRecord(r.workload));
      else out.services.push(serviceFromRecord(r.service));
    }
    // A removal names a workload uid or a service `namespace/hostname`; removing an unknown key is a no-op.
    out.removedWorkloads = [...update.removed];
    out.removedServices = [...update.removed];
  } else if (update.typeUrl === AUTHORIZATION_TYPE_URL) {
    const resources = snapshot.resources<AuthorizationRecord>(AUTHORIZATION_TYPE_URL);
    out.policies = [];
    for (const name of update.updated) {
      const r = resources.get(name);
      if (!r) continue;
      try {
        out.policies.push(authorizationFromRecord(r));
      } catch (err) {
        problems.push(`${name}: ${(err as Error).message}`);
      }
    }
    out.removedPolicies = [...update.removed];
  } else if (update.typeUrl === MESH_SETTINGS_TYPE_URL) {
    const settings = snapshot.resources<MeshSettingsRecord>(MESH_SETTINGS_TYPE_URL).get(MESH_SETTINGS_NAME);
    out.meshSettings = settings ?? null;
  }
  return { update: out, problems };
}

/** Applies one xDS response to `state`; returns the skipped records (`name: reason`). */
export function applyXdsUpdate(state: ProxyState, snapshot: XdsSnapshot, update: XdsUpdate): string[] {
  const { update: batch, problems } = stateUpdateFor(snapshot, update);
  state.apply(batch);
  return problems;
}
