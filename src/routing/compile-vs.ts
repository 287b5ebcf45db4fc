// Istio VirtualService (waypoint subset) → compiled entries in declaration order, first match wins.
import { parseIstioDurationMs } from '../api/kinds/checks.js';
import type { AttachedResourceRecord } from '../lib/xds/waypoint-records.js';
import type { DestinationRuleIndex } from './destination-rule.js';
import { emptyEdits } from './edits.js';
import { compileRe2, exactTest, prefixTest, regexTest, type StringTest } from './match.js';
import {
  defaultRetry,
  expandHost,
  hostCovers,
  isObj,
  listOf,
  namespaceOfHost,
  numOf,
  objOf,
  strOf,
  strsOf,
  type CompileContext,
  type CompiledAction,
  type CompiledBackend,
  type CompiledMatch,
  type HttpEntry,
  type Json,
  type TcpEntry,
} from './model.js';
import type { Backend, HeaderEdits, RouteRef } from './types.js';

/** gRPC status names (VirtualService `abort.grpcStatus`) → codes. */
const GRPC_CODES: Record<string, number> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

type Problem = (field: string, reason: string) => void;

/** Bound service keys a VirtualService applies to: its `services` if given, else those its `hosts` cover. */
export function vsAttachments(rec: AttachedResourceRecord, ctx: CompileContext): string[] {
  if (rec.services.length) return rec.services.filter((k) => ctx.byKey.has(k));
  const hosts = strsOf(rec.spec as Json, 'hosts').map((h) => expandHost(h, rec.namespace, ctx.clusterDomain));
  return ctx.services.filter((s) => hosts.some((h) => hostCovers(h, s.hostname))).map((s) => s.key);
}

export function compileVirtualService(
  rec: AttachedResourceRecord,
  ctx: CompileContext,
  rules: DestinationRuleIndex,
): { http: HttpEntry[]; tcp: TcpEntry[] } {
  const spec = rec.spec as Json;
  const problem: Problem = (field, reason) => ctx.problems.add(rec.kind, rec.namespace, rec.name, field, reason);
  const gateways = strsOf(spec, 'gateways');
  if (gateways.length && !gateways.includes('mesh')) {
    problem('spec.gateways', 'the VirtualService is bound to gateways only, not to the mesh: the waypoint ignores it');
    return { http: [], tcp: [] };
  }
  if (spec['tls'] !== undefined) problem('spec.tls', 'TLS (SNI) routes are not implemented');
  if (spec['exportTo'] !== undefined) problem('spec.exportTo', 'visibility scoping is not implemented: the VirtualService applies to every caller');
  const routeKey = `${rec.namespace}/${rec.name}`;
  const http: HttpEntry[] = [];
  listOf(spec, 'http').forEach((r, ri) => {
    const field = `spec.http[${ri}]`;
    const ref: RouteRef = { kind: 'VirtualService', namespace: rec.namespace, name: rec.name, rule: ri };
    const name = strOf(r, 'name');
    if (name) ref.ruleName = name;
    const action = compileHttpAction(r, rec, field, ctx, rules, problem);
    const matches = listOf(r, 'match');
    const list: Array<Json | undefined> = matches.length ? matches : [undefined];
    list.forEach((m, mi) => {
      const match = compileMatch(m, `${field}.match[${mi}]`, problem);
      if (!match) return;
      const port = numOf(m, 'port');
      http.push({ ref, match, action, ...(port !== undefined ? { ports: new Set([port]) } : {}), order: { source: 1, route: routeKey, rule: ri, match: mi } });
    });
  });
  const tcp: TcpEntry[] = [];
  listOf(spec, 'tcp').forEach((r, ri) => {
    const field = `spec.tcp[${ri}]`;
    const ref: RouteRef = { kind: 'VirtualService', namespace: rec.namespace, name: rec.name, rule: ri };
    const backends = destinations(listOf(r, 'route'), rec, `${field}.route`, ctx, rules, problem);
    const ports = new Set<number>();
    let anyPort = !listOf(r, 'match').length;
    listOf(r, 'match').forEach((m, mi) => {
      for (const k of ['destinationSubnets', 'sourceLabels', 'sourceNamespace', 'sourceSubnet', 'gateways']) {
        if (m[k] !== undefined) problem(`${field}.match[${mi}].${k}`, 'not evaluated by the waypoint: the match applies regardless');
      }
      const port = numOf(m, 'port');
      if (port === undefined) anyPort = true;
      else ports.add(port);
    });
    const totalWeight = backends.reduce((n, b) => n + b.weight, 0);
    tcp.push({ ref, backends, totalWeight, ...(anyPort ? {} : { ports }), order: { source: 1, route: routeKey, rule: ri } });
  });
  return { http, tcp };
}

// --- Matches ---

/** A VirtualService StringMatch; an empty one (`{}`) tests presence only (test undefined). */
function stringMatch(m: Json | undefined, field: string, problem: Problem, ignoreCase = false): { test?: StringTest } | undefined {
  if (!m) return {};
  const exact = strOf(m, 'exact');
  const prefix = strOf(m, 'prefix');
  const regex = strOf(m, 'regex');
  if (exact !== undefined) return { test: exactTest(exact, ignoreCase) };
  if (prefix !== undefined) return { test: prefixTest(prefix, ignoreCase) };
  if (regex !== undefined) {
    const re = compileRe2(regex, ignoreCase);
    if (re instanceof RegExp) return { test: regexTest(re) };
    problem(field, `regular expression cannot be evaluated (${re.error}); the match is skipped`);
    return undefined;
  }
  return {};
}

function compileMatch(m: Json | undefined, field: string, problem: Problem): CompiledMatch | undefined {
  const match: CompiledMatch = { pathKind: 'any', pathValue: '/', headers: [], query: [], hasMethod: false };
  if (!m) return match;
  for (const k of ['sourceLabels', 'sourceNamespace', 'gateways', 'statPrefix']) {
    if (m[k] !== undefined) problem(`${field}.${k}`, 'not evaluated by the waypoint: the match applies regardless');
  }
  const uri = objOf(m, 'uri');
  if (uri) {
    const ic = m['ignoreUriCase'] === true;
    const s = stringMatch(uri, `${field}.uri`, problem, ic);
    if (!s) return undefined;
    if (s.test) {
      match.pathTest = s.test;
      match.pathKind = strOf(uri, 'exact') !== undefined ? 'exact' : strOf(uri, 'prefix') !== undefined ? 'vsprefix' : 'regex';
      match.pathValue = strOf(uri, 'exact') ?? strOf(uri, 'prefix') ?? strOf(uri, 'regex') ?? '/';
    }
  }
  for (const [k, target] of [['method', 'method'], ['authority', 'authority'], ['scheme', 'scheme']] as const) {
    const sm = objOf(m, k);
    if (!sm) continue;
    const s = stringMatch(sm, `${field}.${k}`, problem);
    if (!s) return undefined;
    if (s.test) match[target] = s.test;
  }
  match.hasMethod = match.method !== undefined;
  for (const [key, absent] of [['headers', false], ['withoutHeaders', true]] as const) {
    const hs = objOf(m, key);
    if (!hs) continue;
    for (const [name, v] of Object.entries(hs)) {
      const s = stringMatch(isObj(v) ? v : undefined, `${field}.${key}.${name}`, problem);
      if (!s) return undefined;
      match.headers.push({ name: name.toLowerCase(), ...(s.test ? { test: s.test } : {}), ...(absent ? { absent } : {}) });
    }
  }
  const qs = objOf(m, 'queryParams');
  if (qs) {
    for (const [name, v] of Object.entries(qs)) {
      const s = stringMatch(isObj(v) ? v : undefined, `${field}.queryParams.${name}`, problem);
      if (!s) return undefined;
      match.query.push({ name, ...(s.test ? { test: s.test } : {}) });
    }
  }
  return match;
}

// --- Actions ---

function headerOps(h: Json | undefined): HeaderEdits {
  const e = emptyEdits();
  if (!h) return e;
  for (const [op, list] of [['set', e.set], ['add', e.add]] as const) {
    const m = objOf(h, op);
    if (m) for (const [name, value] of Object.entries(m)) if (typeof value === 'string') list.push({ name: name.toLowerCase(), value });
  }
  for (const n of strsOf(h, 'remove')) e.remove.push(n.toLowerCase());
  return e;
}

/** Resolves an Istio Destination; port 0 = the port the request came in on. */
function resolveDestination(
  d: Json | undefined,
  rec: AttachedResourceRecord,
  field: string,
  ctx: CompileContext,
  rules: DestinationRuleIndex,
): { backend?: Backend; unresolved?: string } {
  const host = expandHost(strOf(d, 'host') ?? '', rec.namespace, ctx.clusterDomain);
  const bound = ctx.services.find((s) => s.hostname === host);
  let port = numOf(objOf(d, 'port'), 'number') ?? 0;
  if (!port && bound?.ports.length === 1) port = bound.ports[0]!.port;
  if (bound && port && !bound.ports.some((p) => p.port === port)) return { unresolved: `${host} has no port ${port}` };
  const backend: Backend = { namespace: bound?.namespace ?? namespaceOfHost(host, rec.namespace), hostname: host, port };
  if (bound) backend.serviceKey = bound.key;
  const subset = strOf(d, 'subset');
  if (subset !== undefined) {
    const labels = rules.subsetLabels(host, subset);
    if (!labels) return { unresolved: `subset ${JSON.stringify(subset)} of ${host} is not defined by any DestinationRule (${field})` };
    backend.subset = { name: subset, labels };
  }
  return { backend };
}

function destinations(list: Json[], rec: AttachedResourceRecord, field: string, ctx: CompileContext, rules: DestinationRuleIndex, problem: Problem): CompiledBackend[] {
  // Istio: a lone destination takes all traffic; with several, an unset weight is 0 — unless none is set, then equal shares.
  const anyWeight = list.some((d) => numOf(d, 'weight') !== undefined);
  return list.map((d, i) => {
    const r = resolveDestination(objOf(d, 'destination'), rec, `${field}[${i}].destination`, ctx, rules);
    if (r.unresolved) problem(`${field}[${i}].destination`, `${r.unresolved}: its share of requests gets HTTP 503`);
    const h = objOf(d, 'headers');
    const out: CompiledBackend = {
      weight: list.length === 1 ? 1 : anyWeight ? (numOf(d, 'weight') ?? 0) : 1,
      requestHeaders: headerOps(objOf(h, 'request')),
      responseHeaders: headerOps(objOf(h, 'response')),
    };
    if (r.backend) out.backend = r.backend;
    else {
      out.unresolved = r.unresolved!;
      out.failStatus = 503;
    }
    return out;
  });
}

function percentOf(p: Json | undefined, legacy: number | undefined, dflt: number): number {
  const v = numOf(p, 'value');
  return v !== undefined ? v : legacy !== undefined ? legacy : dflt;
}

function compileHttpAction(r: Json, rec: AttachedResourceRecord, field: string, ctx: CompileContext, rules: DestinationRuleIndex, problem: Problem): CompiledAction {
  const h = objOf(r, 'headers');
  const action: CompiledAction = {
    backends: destinations(listOf(r, 'route'), rec, `${field}.route`, ctx, rules, problem),
    totalWeight: 0,
    requestHeaders: headerOps(objOf(h, 'request')),
    responseHeaders: headerOps(objOf(h, 'response')),
    mirrors: [],
    timeouts: {},
    retry: defaultRetry(),
  };
  action.totalWeight = action.backends.reduce((n, b) => n + b.weight, 0);
  const redirect = objOf(r, 'redirect');
  if (redirect) {
    action.vsRedirect = { status: numOf(redirect, 'redirectCode') ?? 301 };
    for (const k of ['uri', 'authority', 'scheme'] as const) {
      const v = strOf(redirect, k);
      if (v !== undefined) action.vsRedirect[k] = v;
    }
    const port = numOf(redirect, 'port');
    if (port !== undefined) action.vsRedirect.port = port;
    const derive = strOf(redirect, 'derivePort');
    if (derive === 'FROM_PROTOCOL_DEFAULT' || derive === 'FROM_REQUEST_PORT') action.vsRedirect.derivePort = derive;
  }
  const direct = objOf(r, 'directResponse');
  if (direct) {
    const body = objOf(direct, 'body');
    const bytes = strOf(body, 'bytes');
    action.direct = { status: numOf(direct, 'status') ?? 200, body: strOf(body, 'string') ?? (bytes ? Buffer.from(bytes, 'base64').toString('utf8') : ''), flag: 'DR' };
  }
  if (r['delegate'] !== undefined) {
    problem(`${field}.delegate`, 'delegate VirtualServices are not implemented: matching requests get HTTP 500');
    action.direct = { status: 500, body: 'delegate VirtualServices are not implemented', flag: 'NC' };
  }
  if (!action.backends.length && !action.vsRedirect && !action.direct) action.direct = { status: 500, body: 'route has no destination', flag: 'NC' };
  const rw = objOf(r, 'rewrite');
  if (rw) {
    const uri = strOf(rw, 'uri');
    const authority = strOf(rw, 'authority');
    const rr = objOf(rw, 'uriRegexRewrite');
    if (uri !== undefined) action.vsRewriteUri = uri;
    if (authority !== undefined) action.rewriteHost = authority;
    if (rr) {
      const re = compileRe2(strOf(rr, 'match') ?? '');
      if (re instanceof RegExp) {
        // Envoy regex_rewrite substitutes every match (unanchored); RE2 `\1` becomes JS `$1`.
        action.vsRegexRewrite = { re: new RegExp(re.source.slice(4, -2), `${re.flags}g`), replacement: (strOf(rr, 'rewrite') ?? '').replace(/\\(\d)/g, '$$$1') };
      } else problem(`${field}.rewrite.uriRegexRewrite.match`, `regular expression cannot be evaluated (${re.error}); no rewrite`);
    }
  }
  const timeout = strOf(r, 'timeout');
  if (timeout !== undefined) {
    const ms = parseIstioDurationMs(timeout);
    if (ms) action.timeouts.requestMs = ms;
  }
  const retries = objOf(r, 'retries');
  if (retries) {
    const attempts = numOf(retries, 'attempts') ?? 2;
    const retryOn = strOf(retries, 'retryOn');
    if (retryOn !== undefined) {
      const conds: string[] = [];
      const codes: number[] = [];
      for (const c of retryOn.split(',').map((x) => x.trim()).filter(Boolean)) {
        if (/^\d{3}$/.test(c)) codes.push(Number(c));
        else conds.push(c);
      }
      if (codes.length && !conds.includes('retriable-status-codes')) conds.push('retriable-status-codes');
      action.retry = { attempts, retryOn: conds, codes, backoffMs: 25 };
    } else action.retry = { ...defaultRetry(), attempts };
    const perTry = strOf(retries, 'perTryTimeout');
    const ms = perTry !== undefined ? parseIstioDurationMs(perTry) : undefined;
    if (ms) {
      action.retry.perTryTimeoutMs = ms;
      action.timeouts.backendRequestMs = ms;
    }
    if (retries['retryRemoteLocalities'] !== undefined) problem(`${field}.retries.retryRemoteLocalities`, 'locality-aware retries are not implemented');
  }
  const fault = objOf(r, 'fault');
  if (fault) {
    action.fault = {};
    const delay = objOf(fault, 'delay');
    if (delay) {
      const ms = parseIstioDurationMs(strOf(delay, 'fixedDelay') ?? '');
      if (objOf(delay, 'percentage') === undefined && numOf(delay, 'percent') === undefined) {
        problem(`${field}.fault.delay.percentage`, 'unset: no request is delayed (Istio semantics); set percentage.value: 100 to delay all');
      }
      if (ms) {
        action.fault.delayMs = ms;
        action.fault.delayPercent = percentOf(objOf(delay, 'percentage'), numOf(delay, 'percent'), 0);
      }
    }
    const abort = objOf(fault, 'abort');
    if (abort) {
      if (objOf(abort, 'percentage') === undefined) problem(`${field}.fault.abort.percentage`, 'unset: no request is aborted (Istio semantics); set percentage.value: 100 to abort all');
      action.fault.abortPercent = percentOf(objOf(abort, 'percentage'), undefined, 0);
      const status = numOf(abort, 'httpStatus');
      const grpc = strOf(abort, 'grpcStatus');
      if (status !== undefined) action.fault.abortStatus = status;
      else if (grpc !== undefined) {
        const code = GRPC_CODES[grpc] ?? (/^\d+$/.test(grpc) ? Number(grpc) : undefined);
        if (code === undefined) problem(`${field}.fault.abort.grpcStatus`, `unknown gRPC status ${JSON.stringify(grpc)}: no abort`);
        else action.fault.abortGrpc = code;
      } else if (strOf(abort, 'http2Error') !== undefined) problem(`${field}.fault.abort.http2Error`, 'HTTP/2 error aborts are not implemented: no abort');
    }
  }
  const mirror = objOf(r, 'mirror');
  if (mirror) {
    const m = resolveDestination(mirror, rec, `${field}.mirror`, ctx, rules);
    if (m.unresolved) problem(`${field}.mirror`, `${m.unresolved}: nothing is mirrored`);
    const legacy = numOf(r, 'mirrorPercent') ?? numOf(r, 'mirror_percent');
    action.mirrors.push({ ...(m.backend ? { backend: m.backend } : {}), percent: percentOf(objOf(r, 'mirrorPercentage'), legacy, 100) });
  }
  listOf(r, 'mirrors').forEach((mp, i) => {
    const m = resolveDestination(objOf(mp, 'destination'), rec, `${field}.mirrors[${i}].destination`, ctx, rules);
    if (m.unresolved) problem(`${field}.mirrors[${i}].destination`, `${m.unresolved}: nothing is mirrored`);
    action.mirrors.push({ ...(m.backend ? { backend: m.backend } : {}), percent: percentOf(objOf(mp, 'percentage'), undefined, 100) });
  });
  if (r['corsPolicy'] !== undefined) problem(`${field}.corsPolicy`, 'CORS is not implemented for VirtualService');
  return action;
}
