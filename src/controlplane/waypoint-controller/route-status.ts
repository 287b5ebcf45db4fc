// Route status (HTTPRoute, GRPCRoute, TCPRoute with Service, waypoint Gateway or ingress Gateway parents), as Gateway
// API status.parents: Accepted — the parent exists and traffic to it reaches a waypoint (a route on a Service that
// uses no waypoint takes no effect in ambient mode, and says so), or for an ingress Gateway a listener takes it
// (allowedRoutes, hostnames: NotAllowedByListeners, NoMatchingListenerHostname) —, ResolvedRefs — every backendRef names an
// existing Service port — and PartiallyInvalid when the routing engine the waypoints run (src/routing) finds parts
// it cannot enforce (an unsupported filter, an unresolvable backend share…): the same verdicts, computed here.
import type { JsonObject } from '@bufbuild/protobuf';
import type { Condition, KubeObject } from '../../api/meta.js';
import type { BoundServiceRecord } from '../../lib/xds/waypoint-records.js';
import { compileRoutes } from '../../routing/index.js';
import { INGRESS_GATEWAY_CLASSES, USE_WAYPOINT_LABEL, USE_WAYPOINT_NAMESPACE_LABEL, WAYPOINT_GATEWAY_CLASS } from '../../lib/mesh-contract.js';
import { attachRoute, isIngressGateway } from '../ambient/ingress-attachment.js';

export const ROUTE_KINDS = ['HTTPRoute', 'GRPCRoute', 'TCPRoute'] as const;
const CONTROLLER_NAME = 'istio.io/gateway-controller';

type Json = Record<string, unknown>;
const rec = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const recs = (v: unknown): Json[] => (Array.isArray(v) ? v.map(rec) : []);

/** What route status needs to look up. */
interface RouteStatusReader {
  get(kind: 'Service' | 'Gateway' | 'Namespace', namespace: string, name: string): KubeObject | undefined;
}

type ParentCondition = Omit<Condition, 'lastTransitionTime'>;

function waypointOfService(r: RouteStatusReader, svc: KubeObject): string | undefined {
  const own = svc.metadata.labels?.[USE_WAYPOINT_LABEL];
  if (own !== undefined) return own === 'none' ? undefined : `${svc.metadata.labels?.[USE_WAYPOINT_NAMESPACE_LABEL] ?? svc.metadata.namespace}/${own}`;
  const ns = r.get('Namespace', '', svc.metadata.namespace ?? 'default');
  const fromNs = ns?.metadata.labels?.[USE_WAYPOINT_LABEL];
  return fromNs && fromNs !== 'none' ? `${ns?.metadata.labels?.[USE_WAYPOINT_NAMESPACE_LABEL] ?? svc.metadata.namespace}/${fromNs}` : undefined;
}

function accepted(r: RouteStatusReader, route: KubeObject, ref: Json, generation: number): ParentCondition {
  const kind = typeof ref['kind'] === 'string' ? ref['kind'] : 'Gateway';
  const ns = typeof ref['namespace'] === 'string' ? ref['namespace'] : route.metadata.namespace ?? 'default';
  const name = String(ref['name'] ?? '');
  const base = { type: 'Accepted', observedGeneration: generation };
  if (kind === 'Service') {
    const svc = r.get('Service', ns, name);
    if (!svc) return { ...base, status: 'False', reason: 'NoMatchingParent', message: `Service ${ns}/${name} does not exist` };
    const port = ref['port'];
    if (typeof port === 'number' && !recs(rec(svc.spec)['ports']).some((p) => p['port'] === port)) {
      return { ...base, status: 'False', reason: 'NoMatchingParent', message: `Service ${ns}/${name} has no port ${port}` };
    }
    const wp = waypointOfService(r, svc);
    if (!wp) {
      return { ...base, status: 'False', reason: 'NoMatchingParent', message: `Service ${ns}/${name} uses no waypoint (label ${USE_WAYPOINT_LABEL} on it or its namespace): mesh routes take effect only at a waypoint` };
    }
    return { ...base, status: 'True', reason: 'Accepted', message: `Route was valid, bound to waypoint ${wp}` };
  }
  const gw = r.get('Gateway', ns, name);
  if (!gw) return { ...base, status: 'False', reason: 'NoMatchingParent', message: `Gateway ${ns}/${name} does not exist` };
  if (isIngressGateway(gw)) {
    const refused = attachRoute(gw, route, ref, (n) => r.get('Namespace', '', n)?.metadata.labels).refusal;
    return refused ? { ...base, status: 'False', reason: refused.reason, message: refused.message } : { ...base, status: 'True', reason: 'Accepted', message: 'Route was valid' };
  }
  if (rec(gw.spec)['gatewayClassName'] !== WAYPOINT_GATEWAY_CLASS) {
    return { ...base, status: 'False', reason: 'NoMatchingParent', message: `Gateway ${ns}/${name} is neither a waypoint (class ${WAYPOINT_GATEWAY_CLASS}) nor an ingress gateway (class ${INGRESS_GATEWAY_CLASSES.join(' or ')})` };
  }
  return { ...base, status: 'True', reason: 'Accepted', message: 'Route was valid' };
}

function resolvedRefs(r: RouteStatusReader, route: KubeObject, generation: number): ParentCondition {
  const missing: string[] = [];
  for (const rule of recs(rec(route.spec)['rules'])) {
    for (const b of recs(rule['backendRefs'])) {
      const kind = typeof b['kind'] === 'string' ? b['kind'] : 'Service';
      if (kind !== 'Service') continue;
      const ns = typeof b['namespace'] === 'string' ? b['namespace'] : route.metadata.namespace ?? 'default';
      const svc = r.get('Service', ns, String(b['name'] ?? ''));
      if (!svc) missing.push(`Service ${ns}/${String(b['name'])} does not exist`);
      else if (typeof b['port'] === 'number' && !recs(rec(svc.spec)['ports']).some((p) => p['port'] === b['port'])) missing.push(`Service ${ns}/${String(b['name'])} has no port ${b['port']}`);
    }
  }
  return missing.length
    ? { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound', message: `${missing.join('; ')}: requests for those backends get HTTP 500`, observedGeneration: generation }
    : { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'All references resolved', observedGeneration: generation };
}

/** What the routing engine cannot enforce in this route, compiled against its Service parents (`field: reason`). */
function unenforced(r: RouteStatusReader, route: KubeObject): string[] {
  const ns = route.metadata.namespace ?? 'default';
  const services: BoundServiceRecord[] = [];
  for (const ref of recs(rec(route.spec)['parentRefs'])) {
    if (ref['kind'] !== 'Service') continue;
    const refNs = typeof ref['namespace'] === 'string' ? ref['namespace'] : ns;
    const svc = r.get('Service', refNs, String(ref['name'] ?? ''));
    if (!svc) continue;
    const hostname = `${svc.metadata.name}.${refNs}.svc.cluster.local`;
    const ip = rec(svc.spec)['clusterIP'];
    services.push({
      key: `${refNs}/${hostname}`, kind: 'Service', name: svc.metadata.name, namespace: refNs, hostname, vips: typeof ip === 'string' && ip !== 'None' ? [ip] : [],
      ports: recs(rec(svc.spec)['ports']).map((p) => ({ port: Number(p['port'] ?? 0), targetPort: typeof p['targetPort'] === 'number' ? p['targetPort'] : 0, name: String(p['name'] ?? ''), protocol: '' })),
    });
  }
  if (!services.length) return [];
  const table = compileRoutes({
    name: '', namespace: ns, trafficType: 'service', trustDomain: '', hbonePort: 0, services, workloadUids: [],
    routes: [{ kind: route.kind, namespace: ns, name: route.metadata.name, resourceVersion: route.metadata.resourceVersion ?? '', spec: (route.spec ?? {}) as JsonObject, services: services.map((s) => s.key) }],
    authorizationPolicies: [], requestAuthentications: [],
  });
  return table.problems.filter((p) => p.name === route.metadata.name && p.namespace === ns).map((p) => `${p.field}: ${p.reason}`);
}

/** The status.parents a route should have (lastTransitionTime kept from `route` while a condition's status holds). */
export function routeParentsStatus(r: RouteStatusReader, route: KubeObject, now: string): Json[] {
  const generation = route.metadata.generation ?? 1;
  const problems = unenforced(r, route);
  const current = recs(rec(route.status)['parents']);
  const refs = recs(rec(route.spec)['parentRefs']).filter((ref) => (ref['kind'] ?? 'Gateway') === 'Service' || (ref['kind'] ?? 'Gateway') === 'Gateway');
  return refs.map((ref) => {
    const prev = current.find((p) => JSON.stringify(p['parentRef']) === JSON.stringify(ref));
    const partial: ParentCondition[] = problems.length
      ? [{ type: 'PartiallyInvalid', status: 'True', reason: 'UnsupportedValue', message: `waypoints do not enforce: ${problems.join('; ')}`, observedGeneration: generation }]
      : [];
    const conditions = [accepted(r, route, ref, generation), resolvedRefs(r, route, generation), ...partial].map((c) => {
      const old = recs(prev?.['conditions']).find((x) => x['type'] === c.type);
      return { ...c, lastTransitionTime: old && old['status'] === c.status && typeof old['lastTransitionTime'] === 'string' ? old['lastTransitionTime'] : now };
    });
    return { parentRef: ref, controllerName: CONTROLLER_NAME, conditions };
  });
}
