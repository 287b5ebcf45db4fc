// An ingress Gateway (class istio or ambit) → the WaypointConfig its gateway pod runs: one ingress port per listener
// port (HTTP or HTTPS), each listener a bound "service" of kind GatewayListener that the HTTPRoutes and GRPCRoutes
// attached to it name, with `spec.hostnames` narrowed to what the route serves on that listener (ingress-
// attachment.ts); HTTPS listeners carry the certificate and key of their kubernetes.io/tls Secret (same namespace;
// a cross-namespace reference is not resolved: ReferenceGrant for Secrets is not implemented). Backends are any
// mesh service: the gateway reaches enrolled ones over HBONE with its own identity, others in plain TCP.
import type { JsonObject } from '@bufbuild/protobuf';
import type { KubeObject } from '../../api/meta.js';
import type { AttachedResourceRecord, BoundServiceRecord, IngressPortRecord, WaypointConfigRecord } from '../../lib/xds/waypoint-records.js';
import { attachRoute, isIngressGateway, listenerCertificate, refersTo, servedListeners } from './ingress-attachment.js';
import { labelsOf, nsOf, recs, specOf, type IndexReader } from './index-reader.js';
import { targetRefsOf } from './authorization-translate.js';
import { serviceHostname } from './address-translate.js';
import { INGRESS_USE_WAYPOINT_LABEL } from '../../lib/mesh-contract.js';

const INGRESS_ROUTE_KINDS = ['HTTPRoute', 'GRPCRoute'];

/** The bound-service key standing for listener `listener` of gateway `ns/name`. */
function ingressListenerKey(ns: string, name: string, listener: string): string {
  return `${ns}/${name}.${listener}.listener`;
}

/** Specificity order of listener hostnames: exact names first, longer before shorter, "any" last. */
function hostRank(h: string | undefined): number {
  if (!h) return -1;
  return h.startsWith('*.') ? h.length : 1000 + h.length;
}

export function translateIngressConfig(r: IndexReader, gw: KubeObject): WaypointConfigRecord | undefined {
  if (!isIngressGateway(gw)) return undefined;
  const gwNs = nsOf(gw);
  const gwName = gw.metadata.name;
  const ports = new Map<number, IngressPortRecord>();
  const services: BoundServiceRecord[] = [];
  for (const l of servedListeners(gw).sort((a, b) => hostRank(b.hostname) - hostRank(a.hostname))) {
    let p = ports.get(l.port);
    if (!p) ports.set(l.port, (p = { port: l.port, protocol: l.protocol as 'HTTP' | 'HTTPS', listeners: [] }));
    const serviceKey = ingressListenerKey(gwNs, gwName, l.name);
    const cert = l.protocol === 'HTTPS' ? listenerCertificate(gw, l, (ns, name) => r.get('Secret', ns, name)).material : undefined;
    p.listeners.push({ name: l.name, hostname: l.hostname ?? '', serviceKey, ...(cert ? { certChain: cert.certPem, privateKey: cert.keyPem } : {}) });
    services.push({
      key: serviceKey, kind: 'GatewayListener', name: gwName, namespace: gwNs, hostname: l.hostname ?? '', vips: [],
      ports: [{ port: l.port, targetPort: l.port, name: l.name, protocol: 'http' }],
    });
  }
  // No HTTP or HTTPS listener: nothing to serve (the listeners' status says why).
  if (!services.length) return undefined;
  const served = new Set(services.map((s) => s.key));
  const routes: AttachedResourceRecord[] = [];
  const namespaceLabels = (ns: string) => labelsOf(r.get('Namespace', '', ns));
  for (const kind of INGRESS_ROUTE_KINDS) {
    for (const route of r.list(kind, undefined, (o) => recs(specOf(o), 'parentRefs').some((p) => refersTo(o, p, gw)))) {
      // Per listener: the hostnames this route serves there (several parentRefs may attach it to several listeners).
      const perListener = new Map<string, Set<string> | 'any'>();
      for (const ref of recs(specOf(route), 'parentRefs').filter((p) => refersTo(route, p, gw))) {
        for (const a of attachRoute(gw, route, ref, namespaceLabels).attachments) {
          const key = ingressListenerKey(gwNs, gwName, a.listener.name);
          if (!served.has(key)) continue;
          const cur = perListener.get(key);
          if (cur === 'any' || !a.hostnames.length) perListener.set(key, 'any');
          else perListener.set(key, new Set([...(cur ?? []), ...a.hostnames]));
        }
      }
      for (const [key, hosts] of perListener) {
        const spec = { ...(route.spec ?? {}), hostnames: hosts === 'any' ? [] : [...hosts] } as JsonObject;
        routes.push({ kind: route.kind, namespace: nsOf(route), name: route.metadata.name, resourceVersion: route.metadata.resourceVersion ?? '', spec, services: [key] });
      }
    }
  }
  // DestinationRules apply to backends mesh-wide, as at waypoints.
  for (const dr of r.list('DestinationRule', undefined)) {
    routes.push({ kind: dr.kind, namespace: nsOf(dr), name: dr.metadata.name, resourceVersion: dr.metadata.resourceVersion ?? '', spec: (dr.spec ?? {}) as JsonObject, services: [] });
  }
  const authorizationPolicies: AttachedResourceRecord[] = r.list('AuthorizationPolicy', gwNs, (o) => targetRefsOf(specOf(o)).some((ref) => ref['kind'] === 'Gateway' && ref['name'] === gwName))
    .map((o) => ({ kind: o.kind, namespace: nsOf(o), name: o.metadata.name, resourceVersion: o.metadata.resourceVersion ?? '', spec: (o.spec ?? {}) as JsonObject, services: [] }));
  // Services that want ingress traffic to cross their waypoint (Istio's istio.io/ingress-use-waypoint=true).
  const viaWaypoint = r.list('Service', undefined, (svc) => labelsOf(svc)[INGRESS_USE_WAYPOINT_LABEL] === 'true').map((svc) => `${nsOf(svc)}/${serviceHostname(r, svc)}`).sort();
  return {
    name: gwName,
    namespace: gwNs,
    trafficType: 'none',
    trustDomain: r.config.trustDomain,
    hbonePort: 0,
    services,
    workloadUids: [],
    routes,
    authorizationPolicies,
    requestAuthentications: [],
    ingressPorts: [...ports.values()].sort((a, b) => a.port - b.port),
    ...(viaWaypoint.length ? { ingressUseWaypoint: viaWaypoint } : {}),
  };
}
