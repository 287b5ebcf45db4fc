// Pods, WorkloadEntries, Services and ServiceEntries → istio.workload.Address records (PROTOCOLS.md §6.2):
// enrolment → tunnel protocol, identity, canonical names, health, per-endpoint port maps (named targetPorts
// resolved against container ports), VIPs and headless services, ServiceEntry hosts and endpoints, waypoints.
import type { KubeObject } from '../../api/meta.js';
import { matchLabels } from '../../api/labels.js';
import { isIP } from 'node:net';
import { allocatedAddresses } from '../ip-allocator/ip-allocator.js';
import { parseCidr } from '../../lib/xds/ip-bytes.js';
import type { AppProtocolName, IpFamiliesName, NetworkAddressRecord, PortRecord, ServiceRecord, WorkloadRecord } from '../../lib/xds/workload-records.js';
import { workloadPolicyKeys } from './authorization-translate.js';
import { canonicalName, canonicalRevision, namedContainerPort, parseLocality, podHealth, podIps, podWorkloadKind } from './enrollment.js';
import { annotationsOf, isRecord, labelsOf, nsOf, num, rec, recs, specOf, str, strs, type IndexReader, type Json } from './index-reader.js';
import { bindWaypoint, bindingTargetOf, visibilityOf, type WaypointBinding } from './waypoint-binding.js';
import { isAmbientEnrolled, isWaypointProxy } from '../../lib/mesh-contract.js';
import { formatSpiffeId } from '../../lib/certs/spiffe-id.js';

/** `<cluster>/<group>/<kind>/<namespace>/<name>` (Istio's uid shape; core group is empty). */
export function workloadUid(r: IndexReader, group: string, kind: string, namespace: string, name: string): string {
  return `${r.config.clusterId}/${group}/${kind}/${namespace}/${name}`;
}

export function serviceHostname(r: IndexReader, svc: KubeObject): string {
  return `${svc.metadata.name}.${nsOf(svc)}.svc.${r.config.domainSuffix}`;
}

/** app_protocol from an explicit appProtocol / Istio protocol name, else the port-name prefix. */
export function appProtocolOf(explicit: string | undefined, portName: string | undefined): AppProtocolName | undefined {
  const pick = (p: string): AppProtocolName | undefined => {
    const v = p.toLowerCase();
    if (v === 'http' || v === 'http1' || v === 'http11') return 'HTTP11';
    if (v === 'http2' || v === 'kubernetes.io/h2c' || v === 'h2c') return 'HTTP2';
    if (v === 'grpc' || v === 'grpc-web') return 'GRPC';
    return undefined;
  };
  if (explicit) return pick(explicit);
  const prefix = portName?.split('-')[0];
  return prefix ? pick(prefix) : undefined;
}

function port(servicePort: number, targetPort: number, appProtocol?: AppProtocolName): PortRecord {
  return appProtocol ? { servicePort, targetPort, appProtocol } : { servicePort, targetPort };
}

const isTcp = (p: Json) => p['protocol'] === undefined || p['protocol'] === 'TCP';

// ---- Services ----

/** Whether this Service selects workloads with `labels` (an empty or missing selector selects nothing). */
function serviceSelects(svc: KubeObject, labels: Record<string, string>): boolean {
  const sel = rec(specOf(svc), 'selector');
  const entries = Object.keys(sel);
  return entries.length > 0 && matchLabels(sel as Record<string, string>, labels);
}

function serviceSubjectAltNames(r: IndexReader, svc: KubeObject): string[] {
  const ann = annotationsOf(svc);
  const out: string[] = [];
  for (const sa of (ann['alpha.istio.io/kubernetes-serviceaccounts'] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    out.push(formatSpiffeId({ trustDomain: r.config.trustDomain, namespace: nsOf(svc), serviceAccount: sa }));
  }
  for (const id of (ann['alpha.istio.io/canonical-serviceaccounts'] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) out.push(id);
  return out;
}

function ipFamiliesOf(spec: Json): IpFamiliesName {
  const fams = strs(spec, 'ipFamilies');
  if (fams.length === 2) return 'DUAL';
  if (fams[0] === 'IPv4') return 'IPV4_ONLY';
  if (fams[0] === 'IPv6') return 'IPV6_ONLY';
  return 'AUTOMATIC';
}

interface ServiceTranslation {
  service: ServiceRecord;
  binding: WaypointBinding;
}

/** A Kubernetes Service (ExternalName services are not translated: they have no VIP and no endpoints). */
export function translateService(r: IndexReader, svc: KubeObject): ServiceTranslation | undefined {
  const spec = specOf(svc);
  if (str(spec, 'type') === 'ExternalName') return undefined;
  const ips = strs(spec, 'clusterIPs').length ? strs(spec, 'clusterIPs') : [str(spec, 'clusterIP') ?? ''];
  const addresses: NetworkAddressRecord[] = ips.filter((ip) => isIP(ip) !== 0).map((address) => ({ network: r.config.network, address }));
  const ports = recs(spec, 'ports')
    .filter(isTcp)
    .filter((p) => typeof p['port'] === 'number')
    .map((p) => {
      const tp = p['targetPort'];
      const target = typeof tp === 'number' ? tp : tp === undefined ? (p['port'] as number) : /^\d+$/.test(String(tp)) ? Number(tp) : 0;
      return port(p['port'] as number, target, appProtocolOf(str(p, 'appProtocol'), str(p, 'name')));
    });
  const binding = bindWaypoint(r, bindingTargetOf(svc), 'service');
  const service: ServiceRecord = {
    name: svc.metadata.name,
    namespace: nsOf(svc),
    hostname: serviceHostname(r, svc),
    addresses,
    ports,
    subjectAltNames: serviceSubjectAltNames(r, svc),
    ipFamilies: ipFamiliesOf(spec),
    canonical: true,
    visibility: visibilityOf(svc),
  };
  if (binding.waypoint) service.waypoint = binding.waypoint;
  return { service, binding };
}

/** This endpoint's port map for a Service: numeric targetPort, named targetPort via `resolveName`, default port. */
function endpointPortsForService(svc: KubeObject, resolveName: (name: string) => number | undefined): PortRecord[] {
  const out: PortRecord[] = [];
  for (const p of recs(specOf(svc), 'ports')) {
    if (!isTcp(p) || typeof p['port'] !== 'number') continue;
    const tp = p['targetPort'];
    let target: number | undefined;
    if (typeof tp === 'number') target = tp;
    else if (tp === undefined) target = p['port'];
    else if (/^\d+$/.test(String(tp))) target = Number(tp);
    else target = resolveName(String(tp));
    // An unresolvable named port leaves this endpoint unusable for that service port (ztunnel skips it).
    if (target !== undefined) out.push(port(p['port'], target, appProtocolOf(str(p, 'appProtocol'), str(p, 'name'))));
  }
  return out;
}

// ---- ServiceEntries ----

function seAppProtocol(p: Json): AppProtocolName | undefined {
  return appProtocolOf(str(p, 'protocol'), undefined);
}

/** Port map of a workload (or inline endpoint) for a ServiceEntry: endpoint `ports[name]` > targetPort > number. */
function endpointPortsForServiceEntry(se: KubeObject, endpointPorts: Json): PortRecord[] {
  return recs(specOf(se), 'ports')
    .filter((p) => typeof p['number'] === 'number')
    .map((p) => {
      const named = str(p, 'name') ? num(endpointPorts, str(p, 'name')!) : undefined;
      return port(p['number'] as number, named ?? num(p, 'targetPort') ?? (p['number'] as number), seAppProtocol(p));
    });
}

interface ServiceEntryTranslation {
  services: ServiceRecord[];
  workloads: WorkloadRecord[];
  binding: WaypointBinding;
}

/**
 * The addresses of one host of a ServiceEntry: its `spec.addresses` (every host shares them; ranges keep their
 * length), else the address auto-allocated to that host in status (src/controlplane/ip-allocator).
 */
function serviceEntryAddresses(se: KubeObject, hostname: string): Array<{ address: string; length?: number }> {
  const own = strs(specOf(se), 'addresses');
  if (!own.length) return allocatedAddresses(se).filter((a) => a.host === hostname).map((a) => ({ address: a.value }));
  return own.flatMap((a) => {
    const c = parseCidr(a);
    if (!c) return [];
    return c.length === (isIP(c.address) === 6 ? 128 : 32) ? [{ address: c.address }] : [{ address: c.address, length: c.length }];
  });
}

/** The single-address VIPs of one host of a ServiceEntry, as a waypoint matches them (ranges left out). */
export function serviceEntryVips(se: KubeObject, hostname: string): string[] {
  return serviceEntryAddresses(se, hostname).filter((a) => a.length === undefined).map((a) => a.address);
}

/** One Service per host, plus workloads for inline endpoints (or, for DNS resolution without endpoints, per host). */
export function translateServiceEntry(r: IndexReader, se: KubeObject): ServiceEntryTranslation {
  const spec = specOf(se);
  const ns = nsOf(se);
  const hosts = strs(spec, 'hosts');
  const binding = bindWaypoint(r, bindingTargetOf(se), 'service');
  const ports = recs(spec, 'ports')
    .filter((p) => typeof p['number'] === 'number')
    .map((p) => port(p['number'] as number, num(p, 'targetPort') ?? (p['number'] as number), seAppProtocol(p)));
  const resolution = str(spec, 'resolution') ?? 'NONE';
  const services = hosts.map((hostname): ServiceRecord => {
    const s: ServiceRecord = {
      name: se.metadata.name,
      namespace: ns,
      hostname,
      addresses: serviceEntryAddresses(se, hostname).map((a): NetworkAddressRecord => ({ network: r.config.network, ...a })),
      ports,
      subjectAltNames: strs(spec, 'subjectAltNames'),
      ipFamilies: 'AUTOMATIC',
      canonical: false,
      visibility: visibilityOf(se),
    };
    if (binding.waypoint) s.waypoint = binding.waypoint;
    // resolution NONE: connect to whatever address the client dialled.
    if (resolution === 'NONE') s.loadBalancing = { routingPreference: [], mode: 'PASSTHROUGH' };
    return s;
  });
  const workloads: WorkloadRecord[] = [];
  const base = (uid: string, labels: Record<string, string>): WorkloadRecord => ({
    uid,
    name: se.metadata.name,
    namespace: ns,
    addresses: [],
    network: r.config.network,
    tunnelProtocol: isAmbientEnrolled(labels, undefined) ? 'HBONE' : 'NONE',
    trustDomain: r.config.trustDomain,
    serviceAccount: 'default',
    canonicalName: canonicalName(labels, se.metadata.name),
    canonicalRevision: canonicalRevision(labels),
    workloadType: 'POD',
    workloadName: se.metadata.name,
    services: {},
    authorizationPolicies: [],
    status: 'HEALTHY',
    clusterId: r.config.clusterId,
    networkMode: 'STANDARD',
  });
  const endpoints = recs(spec, 'endpoints');
  const selector = rec(spec, 'workloadSelector');
  if (endpoints.length) {
    for (const ep of endpoints) {
      const address = str(ep, 'address');
      if (!address) continue;
      const labels = isRecord(ep['labels']) ? (ep['labels'] as Record<string, string>) : {};
      const w = base(`${workloadUid(r, 'networking.istio.io', 'ServiceEntry', ns, se.metadata.name)}/${address}`, labels);
      if (isIP(address)) w.addresses = [address];
      else w.hostname = address;
      w.serviceAccount = str(ep, 'serviceAccount') || 'default';
      w.network = str(ep, 'network') ?? r.config.network;
      const locality = parseLocality(str(ep, 'locality'));
      if (locality) w.locality = locality;
      if (num(ep, 'weight') !== undefined) w.capacity = num(ep, 'weight');
      const ep_ports = endpointPortsForServiceEntry(se, rec(ep, 'ports'));
      for (const h of hosts) w.services[`${ns}/${h}`] = ep_ports;
      workloads.push(w);
    }
  } else if (resolution === 'DNS' && !Object.keys(rec(selector, 'labels')).length) {
    // DNS resolution with no endpoints: each host is its own endpoint, resolved by ztunnel on demand.
    for (const h of hosts) {
      const w = base(`${workloadUid(r, 'networking.istio.io', 'ServiceEntry', ns, se.metadata.name)}/${h}`, {});
      w.hostname = h;
      w.services[`${ns}/${h}`] = endpointPortsForServiceEntry(se, {});
      workloads.push(w);
    }
  }
  return { services, workloads, binding };
}

/** Whether a ServiceEntry's workloadSelector selects workloads with `labels`. */
function serviceEntrySelects(se: KubeObject, labels: Record<string, string>): boolean {
  const sel = rec(rec(specOf(se), 'workloadSelector'), 'labels') as Record<string, string>;
  return Object.keys(sel).length > 0 && matchLabels(sel, labels);
}

// ---- Workloads ----

/** `services` map entries for a workload: Services selecting it, then ServiceEntries whose workloadSelector does. */
function workloadServices(
  r: IndexReader,
  namespace: string,
  labels: Record<string, string>,
  resolveServicePortName: (name: string) => number | undefined,
  entryPorts: Json,
): Record<string, PortRecord[]> {
  const out: Record<string, PortRecord[]> = {};
  for (const svc of r.list('Service', namespace, (s) => serviceSelects(s, labels))) {
    if (str(specOf(svc), 'type') === 'ExternalName') continue;
    out[`${namespace}/${serviceHostname(r, svc)}`] = endpointPortsForService(svc, resolveServicePortName);
  }
  for (const se of r.list('ServiceEntry', namespace, (s) => serviceEntrySelects(s, labels))) {
    const ports = endpointPortsForServiceEntry(se, entryPorts);
    for (const h of strs(specOf(se), 'hosts')) out[`${namespace}/${h}`] = ports;
  }
  return out;
}

/** A Pod → Workload, or undefined when it has no IP yet or has terminated. */
export function translatePod(r: IndexReader, pod: KubeObject): WorkloadRecord | undefined {
  const phase = str(pod.status as Json | undefined, 'phase');
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const addresses = podIps(pod);
  if (!addresses.length) return undefined;
  const ns = nsOf(pod);
  const spec = specOf(pod);
  const labels = labelsOf(pod);
  const nsLabels = labelsOf(r.get('Namespace', '', ns));
  const hostNetwork = spec['hostNetwork'] === true;
  const owner = podWorkloadKind(pod);
  const w: WorkloadRecord = {
    uid: workloadUid(r, '', 'Pod', ns, pod.metadata.name),
    name: pod.metadata.name,
    namespace: ns,
    addresses,
    network: r.config.network,
    // Host-network pods share the node's stack: they can be clients but are never captured.
    tunnelProtocol: !hostNetwork && (isAmbientEnrolled(labels, nsLabels) || isWaypointProxy(labels)) ? 'HBONE' : 'NONE',
    trustDomain: r.config.trustDomain,
    serviceAccount: str(spec, 'serviceAccountName') || 'default',
    canonicalName: canonicalName(labels, owner.name),
    canonicalRevision: canonicalRevision(labels),
    workloadType: owner.type,
    workloadName: owner.name,
    services: workloadServices(r, ns, labels, (name) => namedContainerPort(pod, name), {}),
    authorizationPolicies: workloadPolicyKeys(r, ns, labels),
    status: podHealth(pod),
    clusterId: r.config.clusterId,
    networkMode: hostNetwork ? 'HOST_NETWORK' : 'STANDARD',
  };
  const node = str(spec, 'nodeName');
  if (node) w.node = node;
  const binding = bindWaypoint(r, { kind: 'Pod', namespace: ns, name: pod.metadata.name, labels }, 'workload');
  if (binding.waypoint) w.waypoint = binding.waypoint;
  return w;
}

/** The labels a WorkloadEntry is selected by: spec.labels over metadata.labels. */
export function workloadEntryLabels(we: KubeObject): Record<string, string> {
  return { ...labelsOf(we), ...(rec(specOf(we), 'labels') as Record<string, string>) };
}

/** A WorkloadEntry → Workload, or undefined without an address. */
export function translateWorkloadEntry(r: IndexReader, we: KubeObject): WorkloadRecord | undefined {
  const spec = specOf(we);
  const address = str(spec, 'address');
  if (!address) return undefined;
  const ns = nsOf(we);
  const labels = workloadEntryLabels(we);
  const nsLabels = labelsOf(r.get('Namespace', '', ns));
  const weports = rec(spec, 'ports');
  const w: WorkloadRecord = {
    uid: workloadUid(r, 'networking.istio.io', 'WorkloadEntry', ns, we.metadata.name),
    name: we.metadata.name,
    namespace: ns,
    addresses: isIP(address) ? [address] : [],
    network: str(spec, 'network') ?? r.config.network,
    tunnelProtocol: isAmbientEnrolled(labels, nsLabels) ? 'HBONE' : 'NONE',
    trustDomain: r.config.trustDomain,
    serviceAccount: str(spec, 'serviceAccount') || 'default',
    canonicalName: canonicalName(labels, we.metadata.name),
    canonicalRevision: canonicalRevision(labels),
    workloadType: 'POD',
    workloadName: we.metadata.name,
    // A Service's named targetPort resolves through the entry's `ports` map (keyed by port name).
    services: workloadServices(r, ns, labels, (name) => num(weports, name), weports),
    authorizationPolicies: workloadPolicyKeys(r, ns, labels),
    status: 'HEALTHY',
    clusterId: r.config.clusterId,
    networkMode: 'STANDARD',
  };
  if (!isIP(address)) w.hostname = address;
  const locality = parseLocality(str(spec, 'locality'));
  if (locality) w.locality = locality;
  const weight = num(spec, 'weight');
  if (weight !== undefined) w.capacity = weight;
  const binding = bindWaypoint(r, { kind: 'WorkloadEntry', namespace: ns, name: we.metadata.name, labels }, 'workload');
  if (binding.waypoint) w.waypoint = binding.waypoint;
  return w;
}
