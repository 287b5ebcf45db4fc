// Per-request decisions over a RouteTable: match → forward (backend, edits, resilience) | redirect | respond; TCP picks.
import { hostOf, headerValue, normalizePath, parseQuery, splitPath } from './match.js';
import { emptyEdits, mergeEdits, redirectLocation, rewritePath } from './edits.js';
import type { CompiledAction, CompiledBackend, CompiledMatch, HttpEntry, VsRedirect } from './model.js';
import { defaultRetry } from './model.js';
import type { RouteTable } from './table.js';
import type { Backend, ForwardDecision, HeaderEdits, GrpcRequestInfo, HttpDecision, HttpRequestInfo, RespondDecision, RouteRef, Target, TcpDecision } from './types.js';

type Rand = () => number;

/**
 * Decides what to do with one HTTP request sent to `target`. With no HTTP route attached to the target port the
 * request goes to the target service itself (the default route); with routes attached and none matching, the
 * answer is 404 with flag NR. `rand` (uniform in [0, 1)) drives weighted picks, fault and mirror percentages.
 */
export function decideHttp(table: RouteTable, target: Target, req: HttpRequestInfo, rand: Rand = Math.random): HttpDecision {
  // Istio's default path normalization (BASE): dot segments are resolved before matching, and the backend gets
  // the normalized path too.
  const { path, query } = splitPath(req.path);
  const norm = normalizePath(path);
  if (norm === path) return decideNormalized(table, target, req, rand);
  const normalized = { ...req, path: query ? `${norm}?${query}` : norm };
  const d = decideNormalized(table, target, normalized, rand);
  if (d.action === 'forward' && d.rewritePath === undefined) d.rewritePath = normalized.path;
  return d;
}

function decideNormalized(table: RouteTable, target: Target, req: HttpRequestInfo, rand: Rand): HttpDecision {
  const routes = table.routesFor(target);
  if (!routes.http.length) {
    if (routes.tcp.length) {
      // Only a TCPRoute governs this port: HTTP on it is carried like any TCP stream.
      const t = decideTcp(table, target, rand);
      if (t.action === 'forward') return { ...forwardBase(t.backend, t.upstream), ...(t.route ? { route: t.route } : {}) };
      return respond(500, t.reason, 'NC', NO_EDITS, req, t.route);
    }
    // An ingress listener has no backend of its own: only routes send traffic anywhere.
    if (table.service(target.serviceKey)?.kind === 'GatewayListener') return respond(404, 'no route matched the request', 'NR', NO_EDITS, req);
    const backend = defaultBackend(table, target);
    return forwardBase(backend, table.destinationRules.upstream(backend, req));
  }
  const { path, query } = splitPath(req.path);
  let q: Map<string, string> | undefined;
  const scheme = req.scheme ?? 'http';
  for (const e of routes.http) {
    const m = e.match;
    if (m.query.length) q ??= parseQuery(query);
    if (matches(m, path, req, scheme, q)) return act(table, target, req, e, rand);
  }
  return respond(404, 'no route matched the request', 'NR', NO_EDITS, req);
}

/** A gRPC call, decided as the HTTP/2 POST `/<service>/<method>` it is on the wire. */
export function decideGrpc(table: RouteTable, target: Target, call: GrpcRequestInfo, rand: Rand = Math.random): HttpDecision {
  const headers = call.headers['content-type'] === undefined ? { ...call.headers, 'content-type': 'application/grpc' } : call.headers;
  return decideHttp(table, target, { method: 'POST', authority: call.authority, path: `/${call.service}/${call.method}`, headers }, rand);
}

/** Decides a TCP connection to `target`: the first TCP route on the port (weighted pick), else the service itself. */
export function decideTcp(table: RouteTable, target: Target, rand: Rand = Math.random): TcpDecision {
  const e = table.routesFor(target).tcp[0];
  if (!e) {
    const backend = defaultBackend(table, target);
    const upstream = table.destinationRules.upstream(backend);
    return { action: 'forward', backend, ...(upstream ? { upstream } : {}) };
  }
  const b = pick(e.backends, e.totalWeight, rand);
  if (!b) return { action: 'reject', route: e.ref, flag: 'NC', reason: 'every backend has weight 0' };
  if (!b.backend) return { action: 'reject', route: e.ref, flag: 'NC', reason: b.unresolved ?? 'backend unresolvable' };
  const backend = withPort(b.backend, target.port);
  const upstream = table.destinationRules.upstream(backend);
  return { action: 'forward', route: e.ref, backend, ...(upstream ? { upstream } : {}) };
}

// --- Matching ---

function matches(m: CompiledMatch, path: string, req: HttpRequestInfo, scheme: string, q: Map<string, string> | undefined): boolean {
  if (m.pathTest && !m.pathTest(path)) return false;
  if (m.method && !m.method(req.method)) return false;
  for (const h of m.headers) {
    const v = headerValue(req.headers, h.name);
    if (h.absent) {
      if (v !== undefined && (!h.test || h.test(v))) return false;
    } else if (v === undefined || (h.test && !h.test(v))) return false;
  }
  for (const p of m.query) {
    const v = q!.get(p.name);
    if (v === undefined || (p.test && !p.test(v))) return false;
  }
  if (m.authority && !m.authority(req.authority)) return false;
  if (m.scheme && !m.scheme(scheme)) return false;
  return true;
}

// --- Actions ---

function act(table: RouteTable, target: Target, req: HttpRequestInfo, e: HttpEntry, rand: Rand): HttpDecision {
  const a = e.action;
  const route = e.ref;
  if (a.direct) return respond(a.direct.status, a.direct.body, a.direct.flag, a.responseHeaders, req, route);
  const matchedPrefix = e.match.pathKind === 'prefix' ? e.match.pathValue : undefined;
  if (a.redirect) {
    const location = redirectLocation({ scheme: req.scheme ?? 'http', authority: req.authority, path: req.path }, target.port, a.redirect, matchedPrefix);
    return { action: 'redirect', route, status: a.redirect.statusCode, location, responseHeaders: a.responseHeaders };
  }
  if (a.vsRedirect) return { action: 'redirect', route, status: a.vsRedirect.status, location: vsLocation(req, target.port, a.vsRedirect), responseHeaders: a.responseHeaders };
  // Fault injection: the delay (if it fires) happens first, then the abort (if it fires) answers instead of the backend.
  let faultDelayMs: number | undefined;
  if (a.fault) {
    const f = a.fault;
    if (f.delayMs && fires(f.delayPercent ?? 0, rand)) faultDelayMs = f.delayMs;
    if ((f.abortStatus !== undefined || f.abortGrpc !== undefined) && fires(f.abortPercent ?? 0, rand)) {
      const d = f.abortStatus !== undefined ? respond(f.abortStatus, 'fault filter abort', 'FI', a.responseHeaders, req, route) : grpcAbort(f.abortGrpc!, a, route);
      return faultDelayMs ? { ...d, faultDelayMs } : d;
    }
  }
  const chosen = pick(a.backends, a.totalWeight, rand);
  if (!chosen) return respond(500, 'every backend of the matched route has weight 0', 'NC', a.responseHeaders, req, route);
  if (!chosen.backend) return respond(chosen.failStatus ?? 500, `backend unresolvable: ${chosen.unresolved ?? ''}`, 'NC', a.responseHeaders, req, route);
  const backend = withPort(chosen.backend, target.port);
  const out: ForwardDecision = {
    action: 'forward',
    route,
    backend,
    requestHeaders: mergeEdits(a.requestHeaders, chosen.requestHeaders),
    responseHeaders: mergeEdits(a.responseHeaders, chosen.responseHeaders),
    mirrors: [],
    timeouts: a.timeouts,
    retry: a.retry,
  };
  if (a.rewritePath) out.rewritePath = rewritePath(req.path, matchedPrefix, a.rewritePath);
  else if (a.vsRewriteUri !== undefined) out.rewritePath = vsRewrite(req.path, e.match, a.vsRewriteUri);
  else if (a.vsRegexRewrite) {
    const { path, query } = splitPath(req.path);
    out.rewritePath = path.replace(a.vsRegexRewrite.re, a.vsRegexRewrite.replacement) + (query ? `?${query}` : '');
  }
  if (a.rewriteHost !== undefined) out.rewriteHost = a.rewriteHost;
  for (const m of a.mirrors) if (m.backend && fires(m.percent, rand)) out.mirrors.push(withPort(m.backend, target.port));
  if (faultDelayMs) out.faultDelayMs = faultDelayMs;
  const upstream = table.destinationRules.upstream(backend, req);
  if (upstream) out.upstream = upstream;
  return out;
}

/** Weighted pick; 0-weight shares are never chosen; undefined when every weight is 0. */
function pick(backends: CompiledBackend[], total: number, rand: Rand): CompiledBackend | undefined {
  if (total <= 0) return undefined;
  if (backends.length === 1) return backends[0];
  const r = rand() * total;
  let acc = 0;
  let last: CompiledBackend | undefined;
  for (const b of backends) {
    if (b.weight <= 0) continue;
    acc += b.weight;
    last = b;
    if (r < acc) return b;
  }
  return last; // rand() at the top edge
}

function fires(percent: number, rand: Rand): boolean {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  return rand() * 100 < percent;
}

function withPort(b: Backend, port: number): Backend {
  return b.port ? b : { ...b, port };
}

function defaultBackend(table: RouteTable, target: Target): Backend {
  const svc = table.service(target.serviceKey);
  const slash = target.serviceKey.indexOf('/');
  return {
    namespace: svc?.namespace ?? target.serviceKey.slice(0, slash),
    hostname: svc?.hostname ?? target.serviceKey.slice(slash + 1),
    port: target.port,
    serviceKey: target.serviceKey,
  };
}

// Shared, frozen parts of default-route decisions (the common case: no allocation beyond the decision itself).
const NO_EDITS = freezeEdits(emptyEdits());
const NO_TIMEOUTS = Object.freeze({});
const DEFAULT_RETRY = (() => {
  const r = defaultRetry();
  Object.freeze(r.retryOn);
  Object.freeze(r.codes);
  return Object.freeze(r);
})();

function freezeEdits(e: HeaderEdits): HeaderEdits {
  Object.freeze(e.set);
  Object.freeze(e.add);
  Object.freeze(e.remove);
  return Object.freeze(e);
}

function forwardBase(backend: Backend, upstream: ForwardDecision['upstream']): ForwardDecision {
  const out: ForwardDecision = { action: 'forward', backend, requestHeaders: NO_EDITS, responseHeaders: NO_EDITS, mirrors: [], timeouts: NO_TIMEOUTS, retry: DEFAULT_RETRY };
  if (upstream) out.upstream = upstream;
  return out;
}

const isGrpc = (req: HttpRequestInfo) => (headerValue(req.headers, 'content-type') ?? '').startsWith('application/grpc');

/** gRPC status for an HTTP status Envoy would map (grpc-status from HTTP code, per the gRPC HTTP mapping). */
function grpcFromHttp(status: number): number {
  if (status === 400) return 13;
  if (status === 401) return 16;
  if (status === 403) return 7;
  if (status === 404) return 12;
  if (status === 429 || status === 502 || status === 503 || status === 504) return 14;
  return 2;
}

function respond(status: number, body: string, flag: RespondDecision['flag'], responseHeaders: RespondDecision['responseHeaders'], req: HttpRequestInfo, route?: RouteRef): RespondDecision {
  const out: RespondDecision = { action: 'respond', status, body, flag, responseHeaders };
  if (route) out.route = route;
  if (isGrpc(req)) out.grpcStatus = grpcFromHttp(status);
  return out;
}

function grpcAbort(code: number, a: CompiledAction, route: RouteRef): RespondDecision {
  return { action: 'respond', route, status: 200, body: '', flag: 'FI', grpcStatus: code, responseHeaders: a.responseHeaders };
}

/** VirtualService `rewrite.uri`: replaces the matched prefix (no uri match = prefix `/`), or the whole path otherwise. */
function vsRewrite(pathWithQuery: string, m: CompiledMatch, uri: string): string {
  const { path, query } = splitPath(pathWithQuery);
  const q = query ? `?${query}` : '';
  if (m.pathKind === 'vsprefix') return uri + path.slice(m.pathValue.length) + q;
  if (m.pathKind === 'any') return uri + path.slice(1) + q;
  return uri + q;
}

function portOf(authority: string): number | undefined {
  const m = /:(\d+)$/.exec(authority);
  return m && !authority.endsWith(']') ? Number(m[1]) : undefined;
}

/** Istio redirect: `uri` replaces the whole path (query kept unless `uri` has one); port per `port`/`derivePort`. */
function vsLocation(req: HttpRequestInfo, listenerPort: number, r: VsRedirect): string {
  const scheme = r.scheme ?? req.scheme ?? 'http';
  const host = hostOf(r.authority ?? req.authority);
  let port: number | undefined;
  if (r.port !== undefined) port = r.port;
  else if (r.derivePort === 'FROM_REQUEST_PORT') port = listenerPort;
  else if (r.derivePort === 'FROM_PROTOCOL_DEFAULT') port = undefined;
  else port = portOf(r.authority ?? req.authority);
  if ((scheme === 'http' && port === 80) || (scheme === 'https' && port === 443)) port = undefined;
  let path = req.path;
  if (r.uri !== undefined) path = r.uri.includes('?') ? r.uri : r.uri + (splitPath(req.path).query ? `?${splitPath(req.path).query}` : '');
  return `${scheme}://${host}${port !== undefined ? `:${port}` : ''}${path}`;
}
