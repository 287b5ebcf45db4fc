// A waypoint Gateway → ambit.waypoint.v1.WaypointConfig: the services and workloads bound to it (by the same
// rules as the workload API), and the routes, AuthorizationPolicies and RequestAuthentications attached to it or
// to one of those services through parentRefs/targetRefs. Specs are passed through: the waypoint owns L7 semantics.
import type { JsonObject } from '@bufbuild/protobuf';
import type { KubeObject } from '../../api/meta.js';
import type { AttachedResourceRecord, BoundServiceRecord, WaypointConfigRecord } from '../../lib/xds/waypoint-records.js';
import { meshProviders } from './mesh-providers.js';
import { serviceEntryVips, serviceHostname } from './address-translate.js';
import { targetRefsOf } from './authorization-translate.js';
import { labelsOf, nsOf, num, recs, specOf, str, strs, type IndexReader, type Json } from './index-reader.js';
import { bindWaypoint, bindingTargetOf, gatewayTrafficType, hboneListener, isWaypointGateway } from './waypoint-binding.js';
import { appProtocolOf, workloadEntryLabels, workloadUid } from './address-translate.js';
import { PORT_HBONE, USE_WAYPOINT_LABEL, USE_WAYPOINT_NAMESPACE_LABEL } from '../../lib/mesh-contract.js';

const ROUTE_KINDS = ['HTTPRoute', 'GRPCRoute', 'TCPRoute'];
/** Istio's protocol selection prefixes that mean opaque TCP (no sniffing: a server-first protocol must not wait). */
const TCP_PROTOCOLS = new Set(['tcp', 'tls', 'mongo', 'mysql', 'redis']);

/** http, http2, grpc or tcp from `appProtocol`, else the port name's prefix; '' = undeclared (the waypoint sniffs). */
function waypointPortProtocol(appProtocol: string | undefined, name: string | undefined): string {
  const declared = (appProtocol ?? name?.split('-')[0] ?? '').toLowerCase();
  if (TCP_PROTOCOLS.has(declared)) return 'tcp';
  return (appProtocolOf(appProtocol, name) ?? '').replace('HTTP11', 'http').replace('HTTP2', 'http2').replace('GRPC', 'grpc');
}

/**
 * Whether an object might bind to waypoint `ns/name`: it names it itself, or it has no label of its own and its
 * namespace names it. Cheap filter before the full binding check; the namespace dependency is read separately.
 */
function mayBind(r: IndexReader, o: KubeObject, gwNs: string, gwName: string, labels = labelsOf(o)): boolean {
  const own = labels[USE_WAYPOINT_LABEL];
  if (own !== undefined) return own === gwName && (labels[USE_WAYPOINT_NAMESPACE_LABEL] || nsOf(o)) === gwNs;
  const nsLabels = labelsOf(r.get('Namespace', '', nsOf(o)));
  return nsLabels[USE_WAYPOINT_LABEL] === gwName && (nsLabels[USE_WAYPOINT_NAMESPACE_LABEL] || nsOf(o)) === gwNs;
}

/** The most specific Telemetry setting `field` for a waypoint: its Gateway's, else its namespace's, else the root's. */
function mostSpecificTelemetry(r: IndexReader, gwNs: string, gwName: string, field: 'tracing' | 'accessLogging' | 'metrics'): KubeObject | undefined {
  const wide = (o: KubeObject) => !specOf(o)['selector'] && targetRefsOf(specOf(o)).length === 0;
  const sets = (o: KubeObject) => recs(specOf(o), field).length > 0;
  return r.list('Telemetry', gwNs, (o) => sets(o) && targetRefsOf(specOf(o)).some((ref) => ref['kind'] === 'Gateway' && ref['name'] === gwName))[0]
    ?? r.list('Telemetry', gwNs, (o) => sets(o) && wide(o))[0]
    ?? r.list('Telemetry', r.config.rootNamespace, (o) => sets(o) && wide(o))[0];
}

/**
 * The tracing of a waypoint, from the most specific Telemetry with `tracing`: one targeting the waypoint's Gateway,
 * else its namespace's (no selector, no targetRefs), else the root namespace's. Istio's default sampling (1%) unless
 * `randomSamplingPercentage`; none when `disableSpanReporting` or the provider is not an OTLP/HTTP collector.
 */
function waypointTracing(r: IndexReader, gwNs: string, gwName: string): WaypointConfigRecord['tracing'] {
  const t = mostSpecificTelemetry(r, gwNs, gwName, 'tracing');
  if (!t) return undefined;
  const tr = recs(specOf(t), 'tracing')[0]!;
  if (tr['disableSpanReporting'] === true) return undefined;
  const name = str(recs(tr, 'providers')[0], 'name');
  const provider = meshProviders(r).find((p) => p.name === name);
  if (!provider?.opentelemetry) return undefined;
  const pct = typeof tr['randomSamplingPercentage'] === 'number' ? tr['randomSamplingPercentage'] : 1;
  return { provider, randomSamplingPercentage: pct, telemetry: `${nsOf(t)}/${t.metadata.name}` };
}

function attachedOf(o: KubeObject, services: string[]): AttachedResourceRecord {
  return {
    kind: o.kind,
    namespace: nsOf(o),
    name: o.metadata.name,
    resourceVersion: o.metadata.resourceVersion ?? '',
    spec: (o.spec ?? {}) as JsonObject,
    services,
    ...(o.kind === 'AuthorizationPolicy' && o.metadata.annotations?.['istio.io/dry-run'] === 'true' ? { dryRun: true } : {}),
  };
}

/** The config of one waypoint Gateway, or undefined when the Gateway is not a waypoint. */
export function translateWaypointConfig(r: IndexReader, gw: KubeObject): WaypointConfigRecord | undefined {
  if (!isWaypointGateway(gw)) return undefined;
  const gwNs = nsOf(gw);
  const gwName = gw.metadata.name;
  const key = `${gwNs}/${gwName}`;
  // Namespaces pointing at this waypoint: their unlabelled objects inherit it.
  r.list('Namespace', undefined, (n) => labelsOf(n)[USE_WAYPOINT_LABEL] === gwName);
  const services: BoundServiceRecord[] = [];
  const svcKey = new Map<string, string>(); // `Kind/ns/name` → service key(s) joined
  for (const svc of r.list('Service', undefined, (s) => mayBind(r, s, gwNs, gwName))) {
    if (bindWaypoint(r, bindingTargetOf(svc), 'service').gatewayKey !== key) continue;
    const spec = specOf(svc);
    const hostname = serviceHostname(r, svc);
    const k = `${nsOf(svc)}/${hostname}`;
    svcKey.set(`Service/${nsOf(svc)}/${svc.metadata.name}`, k);
    services.push({
      key: k,
      kind: 'Service',
      name: svc.metadata.name,
      namespace: nsOf(svc),
      hostname,
      vips: (strs(spec, 'clusterIPs').length ? strs(spec, 'clusterIPs') : [str(spec, 'clusterIP') ?? '']).filter((ip) => ip && ip !== 'None'),
      ports: recs(spec, 'ports').map((p) => ({
        port: num(p, 'port') ?? 0,
        targetPort: typeof p['targetPort'] === 'number' ? p['targetPort'] : p['targetPort'] === undefined ? num(p, 'port') ?? 0 : 0,
        name: str(p, 'name') ?? '',
        protocol: waypointPortProtocol(str(p, 'appProtocol'), str(p, 'name')),
      })),
    });
  }
  for (const se of r.list('ServiceEntry', undefined, (s) => mayBind(r, s, gwNs, gwName))) {
    if (bindWaypoint(r, bindingTargetOf(se), 'service').gatewayKey !== key) continue;
    const spec = specOf(se);
    const keys: string[] = [];
    for (const hostname of strs(spec, 'hosts')) {
      const k = `${nsOf(se)}/${hostname}`;
      keys.push(k);
      services.push({
        key: k,
        kind: 'ServiceEntry',
        name: se.metadata.name,
        namespace: nsOf(se),
        hostname,
        vips: serviceEntryVips(se, hostname),
        ports: recs(spec, 'ports').map((p) => ({
          port: num(p, 'number') ?? 0,
          targetPort: num(p, 'targetPort') ?? num(p, 'number') ?? 0,
          name: str(p, 'name') ?? '',
          protocol: ((v) => (TCP_PROTOCOLS.has(v) || v === 'https' ? 'tcp' : v))((str(p, 'protocol') ?? '').toLowerCase()),
        })),
      });
    }
    svcKey.set(`ServiceEntry/${nsOf(se)}/${se.metadata.name}`, keys.join(','));
  }
  const workloadUids: string[] = [];
  const traffic = gatewayTrafficType(r, gw);
  if (traffic === 'workload' || traffic === 'all') {
    for (const pod of r.list('Pod', undefined, (p) => mayBind(r, p, gwNs, gwName))) {
      const b = bindWaypoint(r, { kind: 'Pod', namespace: nsOf(pod), name: pod.metadata.name, labels: labelsOf(pod) }, 'workload');
      if (b.gatewayKey === key) workloadUids.push(workloadUid(r, '', 'Pod', nsOf(pod), pod.metadata.name));
    }
    for (const we of r.list('WorkloadEntry', undefined, (w) => mayBind(r, w, gwNs, gwName, workloadEntryLabels(w)))) {
      const b = bindWaypoint(r, { kind: 'WorkloadEntry', namespace: nsOf(we), name: we.metadata.name, labels: workloadEntryLabels(we) }, 'workload');
      if (b.gatewayKey === key) workloadUids.push(workloadUid(r, 'networking.istio.io', 'WorkloadEntry', nsOf(we), we.metadata.name));
    }
  }
  const boundKeys = (o: KubeObject, refs: Array<Record<string, unknown>>, nameField: 'name'): string[] => {
    const out: string[] = [];
    for (const ref of refs) {
      const kind = str(ref, 'kind') ?? 'Service';
      const ns = str(ref, 'namespace') ?? nsOf(o);
      const k = svcKey.get(`${kind}/${ns}/${str(ref, nameField) ?? ''}`);
      if (k) out.push(...k.split(','));
    }
    return out;
  };
  const routes: AttachedResourceRecord[] = [];
  for (const kind of ROUTE_KINDS) {
    for (const route of r.list(kind, undefined, (o) => recs(specOf(o), 'parentRefs').some((p) => (str(p, 'kind') ?? '') !== 'Gateway'))) {
      const services = boundKeys(route, recs(specOf(route), 'parentRefs'), 'name');
      if (services.length) routes.push(attachedOf(route, services));
    }
  }
  // Istio's classic APIs at the waypoint: VirtualServices attach by `hosts` and DestinationRules apply by `host`
  // (ISTIO-API.md §5.2). Passed with no service keys: the waypoint matches hosts itself. DestinationRules are passed
  // mesh-wide (a route's backend need not be bound to this waypoint); VirtualServices only when a host could name a
  // bound service.
  const boundHosts = services.map((s) => s.hostname);
  const shortNames = new Set(services.map((s) => s.hostname.split('.')[0]));
  const mayNameBound = (h: string): boolean => h === '*' || h.startsWith('*.') || boundHosts.includes(h) || shortNames.has(h.split('.')[0] ?? '');
  for (const vs of r.list('VirtualService', undefined, (o) => strs(specOf(o), 'hosts').some(mayNameBound))) {
    if (services.length) routes.push(attachedOf(vs, []));
  }
  for (const dr of r.list('DestinationRule', undefined)) routes.push(attachedOf(dr, []));
  const className = str(specOf(gw), 'gatewayClassName');
  const attachedPolicies = (kind: string): AttachedResourceRecord[] => {
    const out: AttachedResourceRecord[] = [];
    for (const pol of r.list(kind, undefined, (o) => targetRefsOf(specOf(o)).length > 0)) {
      const refs = targetRefsOf(specOf(pol));
      const whole = refs.some(
        (ref) =>
          (ref['kind'] === 'Gateway' && ref['name'] === gwName && nsOf(pol) === gwNs) ||
          (ref['kind'] === 'GatewayClass' && ref['name'] === className && nsOf(pol) === r.config.rootNamespace),
      );
      const services = boundKeys(pol, refs.filter((ref) => ref['kind'] === 'Service' || ref['kind'] === 'ServiceEntry'), 'name');
      if (whole) out.push(attachedOf(pol, []));
      else if (services.length) out.push(attachedOf(pol, services));
    }
    return out;
  };
  const authorizationPolicies = attachedPolicies('AuthorizationPolicy');
  // The external authorizers the CUSTOM policies name, from the mesh config.
  const wanted = new Set(authorizationPolicies.filter((a) => a.spec['action'] === 'CUSTOM').map((a) => str(a.spec['provider'] as Record<string, unknown> | undefined, 'name') ?? ''));
  const extensionProviders = wanted.size ? meshProviders(r).filter((p) => wanted.has(p.name)) : [];
  const tracing = waypointTracing(r, gwNs, gwName);
  const accessLog = mostSpecificTelemetry(r, gwNs, gwName, 'accessLogging');
  const accessLoggingDisabled = accessLog !== undefined && recs(specOf(accessLog), 'accessLogging')[0]?.['disabled'] === true;
  const metricsTelemetry = mostSpecificTelemetry(r, gwNs, gwName, 'metrics');
  // Overrides that turn metrics off (server side or both; CLIENT-only ones concern client proxies, not waypoints).
  const disabledMetrics = metricsTelemetry ? [...new Set(recs(specOf(metricsTelemetry), 'metrics').flatMap((m) => recs(m, 'overrides'))
    .filter((o) => o['disabled'] === true && str(o['match'] as Json | undefined, 'mode') !== 'CLIENT')
    .map((o) => str(o['match'] as Json | undefined, 'metric') ?? 'ALL_METRICS'))].sort() : [];
  return {
    name: gwName,
    namespace: gwNs,
    trafficType: traffic,
    trustDomain: r.config.trustDomain,
    hbonePort: num(hboneListener(gw), 'port') ?? PORT_HBONE,
    services,
    workloadUids,
    routes,
    authorizationPolicies,
    requestAuthentications: attachedPolicies('RequestAuthentication'),
    ...(extensionProviders.length ? { extensionProviders } : {}),
    ...(tracing ? { tracing } : {}),
    ...(accessLoggingDisabled ? { accessLoggingDisabled } : {}),
    ...(disabledMetrics.length ? { disabledMetrics } : {}),
  };
}
