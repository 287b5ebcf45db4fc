// compileRoutes: a WaypointConfigRecord (+ VirtualServices/DestinationRules) → an immutable RouteTable per bound service.
import type { AttachedResourceRecord, BoundServiceRecord, WaypointConfigRecord } from '../lib/xds/waypoint-records.js';
import { compileGatewayRoute } from './compile-gateway.js';
import { compileVirtualService, vsAttachments } from './compile-vs.js';
import { DestinationRuleIndex } from './destination-rule.js';
import { ProblemSink, type CompileContext, type HttpEntry, type TcpEntry } from './model.js';
import type { CompileExtras, RouteProblem, Target } from './types.js';

/** The routes that apply to one service port, in evaluation order. */
interface PortRoutes {
  http: HttpEntry[];
  tcp: TcpEntry[];
}

interface ServiceRoutes {
  http: HttpEntry[];
  tcp: TcpEntry[];
  /** Namespaces with consumer routes on this service. */
  consumerNamespaces: Set<string>;
}

const NO_ROUTES: PortRoutes = { http: [], tcp: [] };
const PATH_RANK = { exact: 0, prefix: 1, regex: 2, vsprefix: 3, any: 3 } as const;

/**
 * Gateway API precedence between matches of all routes on one service: Exact path, then PathPrefix (longest
 * first), then RegularExpression; then a method match; then more header matches; then more query matches; then
 * the oldest route — the waypoint config carries no creationTimestamp, so `namespace/name` alphabetical order
 * stands in for it (the spec's own second tie-breaker) — then rule order, then match order.
 */
function gatewayOrder(a: HttpEntry, b: HttpEntry): number {
  const am = a.match;
  const bm = b.match;
  return (
    PATH_RANK[am.pathKind] - PATH_RANK[bm.pathKind] ||
    (am.pathKind === 'prefix' ? bm.pathValue.length - am.pathValue.length : 0) ||
    Number(bm.hasMethod) - Number(am.hasMethod) ||
    bm.headers.length - am.headers.length ||
    bm.query.length - am.query.length ||
    (a.order.route < b.order.route ? -1 : a.order.route > b.order.route ? 1 : 0) ||
    a.order.rule - b.order.rule ||
    a.order.match - b.order.match
  );
}

/** Compiled routing state of one waypoint. Immutable; build a new one on every config push. */
export class RouteTable {
  /** Valid config the waypoint cannot enforce or resolve, for status conditions and logs. */
  readonly problems: readonly RouteProblem[];
  /** `namespace/name` of the waypoint. */
  readonly waypoint: string;
  readonly destinationRules: DestinationRuleIndex;
  #services: Map<string, BoundServiceRecord>;
  #routes: Map<string, ServiceRoutes>;
  /** service key → port (or `port/consumer namespace`) → routes; filled lazily on first use. */
  #portCache = new Map<string, Map<number | string, PortRoutes>>();

  constructor(
    waypoint: string,
    services: Map<string, BoundServiceRecord>,
    routes: Map<string, ServiceRoutes>,
    destinationRules: DestinationRuleIndex,
    problems: RouteProblem[],
  ) {
    this.waypoint = waypoint;
    this.#services = services;
    this.#routes = routes;
    this.destinationRules = destinationRules;
    this.problems = problems;
  }

  /** The bound service for a key, if any. */
  service(key: string): BoundServiceRecord | undefined {
    return this.#services.get(key);
  }

  /**
   * Routes attached to a service port, in evaluation order (cached). GAMMA consumer routes (declared in another
   * namespace than the Service) replace the producer routes for callers from their own namespace only.
   */
  routesFor(target: Target): PortRoutes {
    const all = this.#routes.get(target.serviceKey);
    if (!all) return NO_ROUTES;
    const consumer = target.sourceNamespace !== undefined && all.consumerNamespaces.has(target.sourceNamespace) ? target.sourceNamespace : undefined;
    let cache = this.#portCache.get(target.serviceKey);
    if (!cache) this.#portCache.set(target.serviceKey, (cache = new Map()));
    const key = consumer === undefined ? target.port : `${target.port}/${consumer}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const producer = <T extends { ports?: Set<number>; consumer?: string }>(e: T) => e.consumer === undefined && (!e.ports || e.ports.has(target.port));
    const mine = <T extends { ports?: Set<number>; consumer?: string }>(e: T) => e.consumer === consumer && (!e.ports || e.ports.has(target.port));
    let http = consumer === undefined ? [] : all.http.filter(mine);
    if (!http.length) http = all.http.filter(producer);
    let tcp = consumer === undefined ? [] : all.tcp.filter(mine);
    if (!tcp.length) tcp = all.tcp.filter(producer);
    const out: PortRoutes = { http, tcp };
    cache.set(key, out);
    return out;
  }
}

function clusterDomainOf(services: BoundServiceRecord[]): string {
  for (const s of services) {
    const m = /^[^.]+\.[^.]+\.svc\.(.+)$/.exec(s.hostname);
    if (s.kind === 'Service' && m) return m[1]!;
  }
  return 'cluster.local';
}

/**
 * Compiles the waypoint's attached routes. `config.routes` holds HTTPRoute, GRPCRoute and TCPRoute (and
 * VirtualService/DestinationRule records should the control plane start passing them); `extras` supplies the
 * VirtualServices and DestinationRules the control plane does not pass today. A service with Gateway API routes
 * ignores VirtualServices for the same host (mixing them is undefined in Istio; the conflict is reported).
 */
export function compileRoutes(config: WaypointConfigRecord, extras: CompileExtras = {}): RouteTable {
  const sink = new ProblemSink();
  const byKey = new Map(config.services.map((s) => [s.key, s]));
  const byName = new Map<string, BoundServiceRecord[]>();
  for (const s of config.services) {
    const k = `${s.kind}/${s.namespace}/${s.name}`;
    byName.set(k, [...(byName.get(k) ?? []), s]);
  }
  const ctx: CompileContext = {
    services: config.services,
    byKey,
    byName,
    clusterDomain: clusterDomainOf(config.services),
    resolveBackend: extras.resolveBackend,
    problems: sink,
  };
  const gatewayRoutes: AttachedResourceRecord[] = [];
  const virtualServices: AttachedResourceRecord[] = [...(extras.virtualServices ?? [])];
  const destinationRules: AttachedResourceRecord[] = [...(extras.destinationRules ?? [])];
  for (const r of config.routes) {
    if (r.kind === 'HTTPRoute' || r.kind === 'GRPCRoute' || r.kind === 'TCPRoute') gatewayRoutes.push(r);
    else if (r.kind === 'VirtualService') virtualServices.push(r);
    else if (r.kind === 'DestinationRule') destinationRules.push(r);
    else sink.add(r.kind, r.namespace, r.name, 'kind', `${r.kind} is not a route kind the waypoint understands`);
  }
  const byRoute = (a: AttachedResourceRecord, b: AttachedResourceRecord) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`) || a.kind.localeCompare(b.kind);
  gatewayRoutes.sort(byRoute);
  virtualServices.sort(byRoute);

  const routes = new Map<string, ServiceRoutes>();
  const slot = (key: string) => {
    let s = routes.get(key);
    if (!s) routes.set(key, (s = { http: [], tcp: [], consumerNamespaces: new Set() }));
    return s;
  };
  const drIndex = new DestinationRuleIndex(destinationRules, ctx);
  const gatewayHttp = new Set<string>();
  const gatewayTcp = new Set<string>();
  for (const rec of gatewayRoutes) {
    const c = compileGatewayRoute(rec, ctx);
    for (const a of c.attachments) {
      const s = slot(a.key);
      // GAMMA consumer routes exist for Services only: a route on an ingress listener applies to every client.
      const bound = byKey.get(a.key)!;
      const consumer = bound.kind !== 'GatewayListener' && bound.namespace !== rec.namespace ? rec.namespace : undefined;
      const extra = { ...(a.ports ? { ports: a.ports } : {}), ...(consumer !== undefined ? { consumer } : {}) };
      if (consumer !== undefined) s.consumerNamespaces.add(consumer);
      for (const e of c.http) s.http.push({ ...e, ...extra });
      for (const e of c.tcp) s.tcp.push({ ...e, ...extra });
      if (rec.kind !== 'TCPRoute') gatewayHttp.add(a.key);
      if (rec.kind === 'TCPRoute') gatewayTcp.add(a.key);
    }
  }
  for (const rec of virtualServices) {
    const keys = vsAttachments(rec, ctx);
    if (!keys.length) {
      sink.add(rec.kind, rec.namespace, rec.name, 'spec.hosts', 'no host matches a service bound to this waypoint');
      continue;
    }
    const c = compileVirtualService(rec, ctx, drIndex);
    for (const key of keys) {
      const s = slot(key);
      if (c.http.length) {
        if (gatewayHttp.has(key)) sink.add(rec.kind, rec.namespace, rec.name, 'spec.http', `ignored for ${key}: Gateway API routes are attached to it (do not mix VirtualService and HTTPRoute)`);
        else s.http.push(...c.http);
      }
      if (c.tcp.length) {
        if (gatewayTcp.has(key)) sink.add(rec.kind, rec.namespace, rec.name, 'spec.tcp', `ignored for ${key}: a TCPRoute is attached to it`);
        else s.tcp.push(...c.tcp);
      }
    }
  }
  for (const [key, s] of routes) {
    if (gatewayHttp.has(key)) s.http.sort(gatewayOrder);
    // TCP: one route wins per port; Gateway API order (oldest ≈ alphabetical, then rule order).
    s.tcp.sort((a, b) => a.order.source - b.order.source || (a.order.route < b.order.route ? -1 : a.order.route > b.order.route ? 1 : 0) || a.order.rule - b.order.rule);
    reportShadowedTcp(key, s.tcp, sink);
    for (const e of s.http) freezeAction(e.action);
  }
  return new RouteTable(`${config.namespace}/${config.name}`, byKey, routes, drIndex, sink.list);
}

/** A TCP connection has nothing to match on: on each port only the first TCP route rule applies. */
function reportShadowedTcp(key: string, entries: TcpEntry[], sink: ProblemSink): void {
  entries.forEach((e, i) => {
    const winner = entries.slice(0, i).find((w) => !w.ports || !e.ports || [...e.ports].some((p) => w.ports!.has(p)));
    if (!winner) return;
    const field = e.ref.kind === 'VirtualService' ? `spec.tcp[${e.ref.rule}]` : `spec.rules[${e.ref.rule}]`;
    sink.add(e.ref.kind, e.ref.namespace, e.ref.name, field, `shadowed for ${key}: ${winner.ref.kind} ${winner.ref.namespace}/${winner.ref.name} rule ${winner.ref.rule} already takes its connections`);
  });
}

/** Decisions hand out the compiled objects themselves (no per-request copies): make them read-only. */
function freezeAction(a: HttpEntry['action']): void {
  if (Object.isFrozen(a.retry)) return;
  Object.freeze(a.retry.retryOn);
  Object.freeze(a.retry.codes);
  Object.freeze(a.retry);
  Object.freeze(a.timeouts);
  for (const e of [a.requestHeaders, a.responseHeaders, ...a.backends.flatMap((b) => [b.requestHeaders, b.responseHeaders])]) {
    Object.freeze(e.set);
    Object.freeze(e.add);
    Object.freeze(e.remove);
  }
}
