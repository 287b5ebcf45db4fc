// The service graph: namespaces (as groups), services, workloads, waypoints and ztunnels as nodes; traffic edges from
// the metrics source (request rate, error rate, p99 for HTTP through waypoints; connection rate and bytes for TCP
// from ztunnels) with whether the traffic was mutual TLS; and structural edges (service → the workloads behind it,
// service → its waypoint, ztunnel → the workloads it captures). One traffic edge per (source, destination) pair: the waypoint's report wins for
// requests, the source ztunnel's (else the destination's) for connections and bytes — so an edge is not counted
// twice when two proxies saw it.
import type { KubeObject } from '../../api/meta.js';
import type { ServiceRecord, WorkloadRecord } from '../../lib/xds/workload-records.js';
import { formatSpiffeId } from '../../lib/certs/spiffe-id.js';
import { GATEWAY_NAME_LABEL, WAYPOINT_MANAGED_LABEL } from '../../lib/mesh-contract.js';
import { namespaceEnrolment, podEnrolment } from './enrolment.js';
import { keyOf, labelsOf, type MeshSnapshot } from './mesh-snapshot.js';
import { workloadMtlsMode } from './peer-authentication.js';
import type { GraphEdge, GraphNode, MeshGraph } from './view-types.js';
import { LATENCY_QUERY, RATE_RANGE_SECONDS, TRAFFIC_QUERIES, type MetricsSource, type SeriesValue } from './traffic-queries.js';

const UNKNOWN = 'unknown';
const known = (v: string | undefined): v is string => !!v && v !== UNKNOWN;
const namespaceId = (ns: string) => `ns:${ns}`;
const serviceId = (ns: string, hostname: string) => `svc:${ns}/${hostname}`;
const workloadId = (ns: string, name: string) => `wl:${ns}/${name}`;
const waypointId = (ns: string, name: string) => `wp:${ns}/${name}`;
const ztunnelId = (node: string) => `zt:${node}`;

/** `ztunnel~<ip>~ztunnel-<node>.istio-system~…` → `<node>`. */
function ztunnelNode(nodeId: string): string | undefined {
  return /^ztunnel~[^~]*~ztunnel-([^.~]+)\./.exec(nodeId)?.[1];
}

interface EdgeAccumulator {
  edge: GraphEdge;
  /** Which reporter supplied the L4 numbers (source beats destination). */
  l4Reporter?: string;
  requests: number;
  errors: number;
  mtls: boolean;
  plain: boolean;
}

export async function buildGraph(snap: MeshSnapshot, metrics: MetricsSource): Promise<MeshGraph> {
  const nodes = new Map<string, GraphNode>();
  const edges = new Map<string, GraphEdge>();
  const namespaces = new Map(snap.objects('Namespace').map((n) => [n.metadata.name, n]));
  const pods = new Map(snap.objects('Pod').map((p) => [keyOf(p), p]));
  const addNamespace = (ns: string) => {
    const id = namespaceId(ns);
    if (!nodes.has(id)) {
      const obj = namespaces.get(ns);
      const e = obj ? namespaceEnrolment(obj) : { enrolled: false, why: 'namespace object not found' };
      nodes.set(id, { id, kind: 'namespace', label: ns, enrolled: e.enrolled, details: { enrolment: e.why, traffic: e.enrolled ? 'mutual TLS (HBONE)' : 'plaintext' } });
    }
    return id;
  };
  // Workloads: pods grouped by their controller (workloadName); waypoint and gateway pods by their Gateway.
  const workloadNodeOf = new Map<string, string>();
  const certs = snap.certificates();
  const peerAuthentications = snap.objects('PeerAuthentication');
  const services = snap.services();
  for (const w of snap.workloads()) {
    const pod = pods.get(`${w.namespace}/${w.name}`);
    const podLabels = labelsOf(pod);
    const isProxy = podLabels[WAYPOINT_MANAGED_LABEL] !== undefined;
    const gateway = podLabels[GATEWAY_NAME_LABEL];
    const id = isProxy && gateway ? waypointId(w.namespace, gateway) : workloadId(w.namespace, w.workloadName || w.name);
    workloadNodeOf.set(`${w.namespace}/${w.workloadName || w.name}`, id);
    const parent = addNamespace(w.namespace);
    const node = nodes.get(id) ?? {
      id, kind: isProxy ? 'waypoint' : 'workload', label: isProxy && gateway ? gateway : (w.workloadName || w.name), parent, namespace: w.namespace,
      enrolled: false, details: workloadDetails(w, labelsOf(pod), peerAuthentications, certs),
    };
    const e = pod ? podEnrolment(pod, namespaces.get(w.namespace)) : { enrolled: w.tunnelProtocol === 'HBONE', why: 'not a pod (WorkloadEntry or ServiceEntry endpoint)' };
    node.enrolled ||= e.enrolled;
    (node.details.pods as unknown[]).push({ name: w.name, node: w.node ?? '', ip: w.addresses.join(', '), status: w.status, enrolled: e.enrolled, why: e.why, ...(e.capture ? { capture: e.capture } : {}) });
    nodes.set(id, node);
    for (const svcKey of Object.keys(w.services)) {
      const [svcNs, host] = [svcKey.slice(0, svcKey.indexOf('/')), svcKey.slice(svcKey.indexOf('/') + 1)];
      const from = serviceId(svcNs, host);
      edges.set(`${from}>${id}`, { id: `${from}>${id}`, source: from, target: id, kind: 'selects' });
    }
    if (w.node && e.enrolled) edges.set(`${ztunnelId(w.node)}>${id}`, { id: `${ztunnelId(w.node)}>${id}`, source: ztunnelId(w.node), target: id, kind: 'captures' });
  }
  const policies = snap.objects('AuthorizationPolicy');
  for (const s of services) {
    const id = serviceId(s.namespace, s.hostname);
    nodes.set(id, { id, kind: 'service', label: s.name || s.hostname, parent: addNamespace(s.namespace), namespace: s.namespace, details: serviceDetails(s, policies) });
    const wp = waypointOfService(s, services);
    if (wp) edges.set(`${id}>${wp}`, { id: `${id}>${wp}`, source: id, target: wp, kind: 'waypoint' });
  }
  // ztunnels: one per node object, connected or not.
  const connected = new Map(snap.proxies().filter((p) => p.kind === 'ztunnel').map((p) => [ztunnelNode(p.nodeId) ?? p.nodeId, p]));
  for (const n of snap.objects('Node')) {
    const p = connected.get(n.metadata.name);
    nodes.set(ztunnelId(n.metadata.name), {
      id: ztunnelId(n.metadata.name), kind: 'ztunnel', label: `ztunnel ${n.metadata.name}`,
      details: { node: n.metadata.name, connected: !!p, ...(p ? { ip: p.ip, connectedAt: p.connectedAt } : {}) },
    });
  }
  for (const e of [...edges.values()]) if (!nodes.has(e.source) || !nodes.has(e.target)) edges.delete(e.id);
  for (const e of edges.values()) {
    if (e.kind !== 'captures') continue;
    const zt = nodes.get(e.source)!.details;
    zt.captures = [...((zt.captures as string[] | undefined) ?? []), nodes.get(e.target)!.label];
  }

  // Traffic from metrics.
  let metricsError: string | undefined;
  try {
    const [requests, errors, opened, sent, received, p99] = await Promise.all([
      metrics.rate(TRAFFIC_QUERIES.requests, RATE_RANGE_SECONDS),
      metrics.rate(TRAFFIC_QUERIES.errors, RATE_RANGE_SECONDS),
      metrics.rate(TRAFFIC_QUERIES.tcpOpened, RATE_RANGE_SECONDS),
      metrics.rate(TRAFFIC_QUERIES.tcpSent, RATE_RANGE_SECONDS),
      metrics.rate(TRAFFIC_QUERIES.tcpReceived, RATE_RANGE_SECONDS),
      metrics.quantile(LATENCY_QUERY, RATE_RANGE_SECONDS),
    ]);
    const acc = new Map<string, EdgeAccumulator>();
    const endpoints = (l: Record<string, string>): [string, string] => {
      const src = known(l.source_workload)
        ? (workloadNodeOf.get(`${l.source_workload_namespace}/${l.source_workload}`) ?? external(nodes, `${l.source_workload}.${l.source_workload_namespace}`))
        : external(nodes, 'unknown source');
      let dst: string;
      if (known(l.destination_service) && known(l.destination_service_namespace) && nodes.has(serviceId(l.destination_service_namespace, l.destination_service))) {
        dst = serviceId(l.destination_service_namespace, l.destination_service);
      } else if (known(l.destination_workload)) {
        dst = workloadNodeOf.get(`${l.destination_workload_namespace}/${l.destination_workload}`) ?? external(nodes, `${l.destination_workload}.${l.destination_workload_namespace}`);
      } else dst = external(nodes, known(l.destination_service) ? l.destination_service : 'unknown destination');
      return [src, dst];
    };
    const edgeOf = (l: Record<string, string>): EdgeAccumulator => {
      const [source, target] = endpoints(l);
      const id = `${source}>${target}`;
      let a = acc.get(id);
      if (!a) {
        a = { edge: { id, source, target, kind: 'traffic' }, requests: 0, errors: 0, mtls: false, plain: false };
        acc.set(id, a);
      }
      return a;
    };
    const secure = (a: EdgeAccumulator, l: Record<string, string>, value: number) => {
      if (value <= 0) return;
      if (l.connection_security_policy === 'mutual_tls') a.mtls = true;
      else a.plain = true;
    };
    for (const s of requests) {
      if (s.labels.reporter !== 'waypoint') continue;
      const a = edgeOf(s.labels);
      a.requests += s.value;
      secure(a, s.labels, s.value);
    }
    for (const s of errors) if (s.labels.reporter === 'waypoint') edgeOf(s.labels).errors += s.value;
    const l4 = (series: SeriesValue[], add: (e: GraphEdge, v: number) => void) => {
      for (const s of series) {
        const reporter = s.labels.reporter;
        if (reporter !== 'source' && reporter !== 'destination') continue;
        const a = edgeOf(s.labels);
        // The source ztunnel's numbers win; the destination's count only where no source ztunnel reported.
        if (a.l4Reporter === 'source' && reporter === 'destination') continue;
        if (a.l4Reporter === 'destination' && reporter === 'source') {
          delete a.edge.connectionRate;
          delete a.edge.bytesRate;
        }
        a.l4Reporter = reporter;
        add(a.edge, s.value);
        secure(a, s.labels, s.value);
      }
    };
    l4(opened, (e, v) => (e.connectionRate = (e.connectionRate ?? 0) + v));
    l4(sent, (e, v) => (e.bytesRate = (e.bytesRate ?? 0) + v));
    l4(received, (e, v) => (e.bytesRate = (e.bytesRate ?? 0) + v));
    for (const s of p99) {
      if (s.labels.reporter !== 'waypoint') continue;
      const e = edgeOf(s.labels).edge;
      e.p99Ms = Math.max(e.p99Ms ?? 0, s.value);
    }
    for (const a of acc.values()) {
      const e = a.edge;
      if (a.requests > 0) {
        e.requestRate = a.requests;
        e.errorRate = Math.min(1, a.errors / a.requests);
      }
      if (!e.requestRate && !e.connectionRate && !e.bytesRate) continue;
      e.security = a.mtls && a.plain ? 'mixed' : a.mtls ? 'mtls' : 'plaintext';
      edges.set(e.id, e);
    }
  } catch (err) {
    metricsError = (err as Error).message;
  }
  // Outside nodes exist only for the edges that reach them.
  const linked = new Set([...edges.values()].flatMap((e) => [e.source, e.target]));
  for (const n of [...nodes.values()]) if (n.kind === 'external' && !linked.has(n.id)) nodes.delete(n.id);
  return {
    generatedAt: new Date().toISOString(),
    metricsSource: metrics.description,
    rangeSeconds: RATE_RANGE_SECONDS,
    nodes: [...nodes.values()],
    edges: [...edges.values()],
    ...(metricsError ? { metricsError } : {}),
  };
}

function external(nodes: Map<string, GraphNode>, label: string): string {
  const id = `ext:${label}`;
  if (!nodes.has(id)) nodes.set(id, { id, kind: 'external', label, details: { note: 'not a workload or service this control plane knows' } });
  return id;
}

function waypointOfService(s: ServiceRecord, services: readonly ServiceRecord[]): string | undefined {
  const host = s.waypoint?.hostname;
  if (!host) return undefined;
  const svc = services.find((x) => x.namespace === host.namespace && x.hostname === host.hostname);
  return svc ? waypointId(svc.namespace, svc.name) : undefined;
}

function waypointText(w: WorkloadRecord['waypoint']): string {
  if (!w) return 'none';
  if (w.hostname) return `${w.hostname.hostname} (namespace ${w.hostname.namespace})`;
  return w.address ? `${w.address.address}` : 'set';
}

function workloadDetails(w: WorkloadRecord, podLabels: Record<string, string>, peerAuthentications: readonly KubeObject[], certs: ReturnType<MeshSnapshot['certificates']>): Record<string, unknown> {
  const identity = formatSpiffeId({ trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount });
  const expiries = certs.filter((c) => c.identity === identity).map((c) => c.notAfter).sort();
  return {
    identity,
    serviceAccount: w.serviceAccount,
    certificateExpiry: expiries.at(-1) ?? 'none issued since the control plane started',
    peerAuthentication: workloadMtlsMode(peerAuthentications, w.namespace, podLabels),
    policies: w.authorizationPolicies,
    waypoint: waypointText(w.waypoint),
    services: Object.keys(w.services),
    pods: [],
  };
}

function serviceDetails(s: ServiceRecord, policies: readonly KubeObject[]): Record<string, unknown> {
  const targeting = policies.filter((p) => p.metadata.namespace === s.namespace
    && ((p.spec as { targetRefs?: Array<{ kind?: string; name?: string }> } | undefined)?.targetRefs ?? []).some((r) => (r.kind === 'Service' || r.kind === 'ServiceEntry') && r.name === s.name));
  return {
    hostname: s.hostname,
    addresses: s.addresses.map((a) => a.address),
    ports: s.ports.map((p) => `${p.servicePort}→${p.targetPort}${p.appProtocol ? ` (${p.appProtocol})` : ''}`),
    waypoint: waypointText(s.waypoint),
    policies: targeting.map((p) => keyOf(p)),
  };
}
