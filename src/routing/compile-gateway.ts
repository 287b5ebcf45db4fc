// Gateway API HTTPRoute / GRPCRoute / TCPRoute specs → compiled match entries and actions (GAMMA semantics).
import { parseGatewayDurationMs } from '../api/kinds/checks.js';
import { hostnameMatches } from '../lib/hostname-match.js';
import type { AttachedResourceRecord } from '../lib/xds/waypoint-records.js';
import { emptyEdits, mergeEdits, type PathRewrite } from './edits.js';
import { compileRe2, exactTest, hostOf, normalizePrefix, regexTest, segmentPrefixMatches, type StringTest } from './match.js';
import {
  DEFAULT_RETRY_ON,
  defaultRetry,
  listOf,
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

/** One bound service a route applies to, and on which of its ports (undefined = all). */
interface Attachment {
  key: string;
  ports?: Set<number>;
}

interface CompiledGatewayRoute {
  attachments: Attachment[];
  http: Array<Omit<HttpEntry, 'ports' | 'consumer'>>;
  tcp: Array<Omit<TcpEntry, 'ports' | 'consumer'>>;
}

type Kind = 'HTTPRoute' | 'GRPCRoute' | 'TCPRoute';

/** Compiles one attached Gateway API route; problems go to `ctx.problems`. */
export function compileGatewayRoute(rec: AttachedResourceRecord, ctx: CompileContext): CompiledGatewayRoute {
  const kind = rec.kind as Kind;
  const spec = rec.spec as Json;
  const problem = (field: string, reason: string) => ctx.problems.add(rec.kind, rec.namespace, rec.name, field, reason);
  const attachments = attachmentsOf(rec, ctx, problem);
  // At an ingress gateway the route serves its hostnames (already narrowed to the listener's by the control plane);
  // in the mesh the parent Service selects the traffic, whatever Host the client sends.
  const atIngress = attachments.length > 0 && attachments.every((a) => ctx.byKey.get(a.key)?.kind === 'GatewayListener');
  const hostnames = strsOf(spec, 'hostnames');
  const authority = atIngress && hostnames.length ? hostnamesTest(hostnames) : undefined;
  if (hostnames.length && kind !== 'TCPRoute' && !atIngress) {
    problem('spec.hostnames', 'not used for mesh routes: the parent Service already selects the traffic, whatever Host the client sends');
  }
  const routeKey = `${rec.namespace}/${rec.name}`;
  const out: CompiledGatewayRoute = { attachments, http: [], tcp: [] };
  listOf(spec, 'rules').forEach((rule, ri) => {
    const ref: RouteRef = { kind, namespace: rec.namespace, name: rec.name, rule: ri };
    const ruleName = strOf(rule, 'name');
    if (ruleName) ref.ruleName = ruleName;
    const field = `spec.rules[${ri}]`;
    if (rule['sessionPersistence'] !== undefined) problem(`${field}.sessionPersistence`, 'session persistence is not implemented');
    if (kind === 'TCPRoute') {
      const backends = listOf(rule, 'backendRefs').map((b, bi) => compileBackend(b, rec, `${field}.backendRefs[${bi}]`, ctx, problem, false));
      out.tcp.push({ ref, backends, totalWeight: sumWeights(backends), order: { source: 0, route: routeKey, rule: ri } });
      return;
    }
    const action = compileAction(rule, rec, field, ctx, problem);
    const matches = listOf(rule, 'matches');
    const list: Array<Json | undefined> = matches.length ? matches : [undefined];
    list.forEach((m, mi) => {
      const match = kind === 'GRPCRoute' ? compileGrpcMatch(m, `${field}.matches[${mi}]`, problem) : compileHttpMatch(m, `${field}.matches[${mi}]`, problem);
      if (match && authority) match.authority = authority;
      if (match) out.http.push({ ref, match, action, order: { source: 0, route: routeKey, rule: ri, match: mi } });
    });
  });
  return out;
}

/** The request's Host (its port ignored) is matched by one of `hostnames`. */
function hostnamesTest(hostnames: string[]): StringTest {
  return (authority) => {
    const host = hostOf(authority);
    return hostnames.some((h) => hostnameMatches(h, host));
  };
}

// --- Attachment ---

function attachmentsOf(rec: AttachedResourceRecord, ctx: CompileContext, problem: (f: string, r: string) => void): Attachment[] {
  const keys = rec.services.length ? rec.services : ctx.services.map((s) => s.key);
  const parents = listOf(rec.spec as Json, 'parentRefs');
  const out: Attachment[] = [];
  for (const key of keys) {
    const svc = ctx.byKey.get(key);
    if (!svc) {
      problem('spec.parentRefs', `service ${key} is not bound to this waypoint`);
      continue;
    }
    const mine = parents
      .map((p, i) => ({ p, i }))
      .filter(({ p }) => (strOf(p, 'kind') ?? 'Gateway') === svc.kind && strOf(p, 'name') === svc.name && (strOf(p, 'namespace') ?? rec.namespace) === svc.namespace);
    // Attached through the waypoint Gateway (or a parentRef we cannot tell apart): every port.
    if (!mine.length || mine.some(({ p }) => numOf(p, 'port') === undefined && strOf(p, 'sectionName') === undefined)) {
      out.push({ key });
      continue;
    }
    const ports = new Set<number>();
    for (const { p, i } of mine) {
      const port = numOf(p, 'port');
      const section = strOf(p, 'sectionName');
      if (port !== undefined) {
        if (!svc.ports.some((sp) => sp.port === port)) problem(`spec.parentRefs[${i}].port`, `${svc.kind} ${svc.namespace}/${svc.name} has no port ${port}`);
        ports.add(port);
      } else if (section !== undefined) {
        const sp = svc.ports.find((x) => x.name === section);
        if (sp) ports.add(sp.port);
        else problem(`spec.parentRefs[${i}].sectionName`, `${svc.kind} ${svc.namespace}/${svc.name} has no port named ${JSON.stringify(section)}`);
      }
    }
    out.push({ key, ports });
  }
  return out;
}

// --- Matches ---

function compileHttpMatch(m: Json | undefined, field: string, problem: (f: string, r: string) => void): CompiledMatch | undefined {
  const match: CompiledMatch = { pathKind: 'prefix', pathValue: '/', headers: [], query: [], hasMethod: false };
  const path = objOf(m, 'path');
  const type = strOf(path, 'type') ?? 'PathPrefix';
  const value = strOf(path, 'value') ?? '/';
  if (type === 'Exact') {
    match.pathKind = 'exact';
    match.pathValue = value;
    match.pathTest = exactTest(value);
  } else if (type === 'RegularExpression') {
    const re = compileRe2(value);
    if (!(re instanceof RegExp)) {
      problem(`${field}.path.value`, `regular expression cannot be evaluated (${re.error}); the match is skipped`);
      return undefined;
    }
    match.pathKind = 'regex';
    match.pathValue = value;
    match.pathTest = regexTest(re);
  } else {
    const norm = normalizePrefix(value);
    match.pathValue = norm;
    if (norm !== '/') match.pathTest = (v) => segmentPrefixMatches(v, norm);
  }
  if (!valueMatches(m, 'headers', `${field}.headers`, true, match.headers, problem)) return undefined;
  if (!valueMatches(m, 'queryParams', `${field}.queryParams`, false, match.query, problem)) return undefined;
  const method = strOf(m, 'method');
  if (method) {
    match.method = exactTest(method);
    match.hasMethod = true;
  }
  return match;
}

/** Header / query value matches (Exact or RegularExpression); only the first entry per name counts. */
function valueMatches(
  m: Json | undefined,
  key: string,
  field: string,
  lowerNames: boolean,
  into: Array<{ name: string; test?: (v: string) => boolean }>,
  problem: (f: string, r: string) => void,
): boolean {
  const seen = new Set<string>();
  let ok = true;
  listOf(m, key).forEach((h, i) => {
    const raw = strOf(h, 'name') ?? '';
    const name = lowerNames ? raw.toLowerCase() : raw;
    if (seen.has(name)) return;
    seen.add(name);
    const value = strOf(h, 'value') ?? '';
    if ((strOf(h, 'type') ?? 'Exact') === 'RegularExpression') {
      const re = compileRe2(value);
      if (!(re instanceof RegExp)) {
        problem(`${field}[${i}].value`, `regular expression cannot be evaluated (${re.error}); the match is skipped`);
        ok = false;
        return;
      }
      into.push({ name, test: regexTest(re) });
    } else into.push({ name, test: exactTest(value) });
  });
  return ok;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * GRPCRoute method match as a path match on `/<service>/<method>`: both exact → Exact path; service only →
 * PathPrefix `/<service>`; method only or regex → RegularExpression. Precedence then follows the HTTP rules,
 * which orders service+method before service before method as GRPCRoute asks.
 */
function compileGrpcMatch(m: Json | undefined, field: string, problem: (f: string, r: string) => void): CompiledMatch | undefined {
  const match: CompiledMatch = { pathKind: 'prefix', pathValue: '/', headers: [], query: [], hasMethod: false };
  const method = objOf(m, 'method');
  if (method) {
    const svc = strOf(method, 'service');
    const meth = strOf(method, 'method');
    const regex = (strOf(method, 'type') ?? 'Exact') === 'RegularExpression';
    if (!regex && svc !== undefined && meth !== undefined) {
      match.pathKind = 'exact';
      match.pathValue = `/${svc}/${meth}`;
      match.pathTest = exactTest(match.pathValue);
    } else if (!regex && svc !== undefined) {
      match.pathValue = `/${svc}`;
      const norm = match.pathValue;
      match.pathTest = (v) => segmentPrefixMatches(v, norm) && v.length > norm.length + 1;
    } else {
      const s = svc === undefined ? '[^/]+' : regex ? `(?:${svc})` : escapeRe(svc);
      const mm = meth === undefined ? '[^/]+' : regex ? `(?:${meth})` : escapeRe(meth);
      const re = compileRe2(`/${s}/${mm}`);
      if (!(re instanceof RegExp)) {
        problem(`${field}.method`, `regular expression cannot be evaluated (${re.error}); the match is skipped`);
        return undefined;
      }
      match.pathKind = 'regex';
      match.pathValue = `/${svc ?? ''}/${meth ?? ''}`;
      match.pathTest = regexTest(re);
    }
  }
  if (!valueMatches(m, 'headers', `${field}.headers`, true, match.headers, problem)) return undefined;
  return match;
}

// --- Actions ---

function headerEdits(mod: Json | undefined): HeaderEdits {
  const e = emptyEdits();
  for (const h of listOf(mod, 'set')) e.set.push({ name: (strOf(h, 'name') ?? '').toLowerCase(), value: strOf(h, 'value') ?? '' });
  for (const h of listOf(mod, 'add')) e.add.push({ name: (strOf(h, 'name') ?? '').toLowerCase(), value: strOf(h, 'value') ?? '' });
  for (const n of strsOf(mod, 'remove')) e.remove.push(n.toLowerCase());
  return e;
}

function pathModifier(p: Json | undefined): PathRewrite | undefined {
  if (!p) return undefined;
  const type = strOf(p, 'type') === 'ReplacePrefixMatch' ? 'ReplacePrefixMatch' : 'ReplaceFullPath';
  const out: PathRewrite = { type };
  const full = strOf(p, 'replaceFullPath');
  const prefix = strOf(p, 'replacePrefixMatch');
  if (full !== undefined) out.replaceFullPath = full;
  if (prefix !== undefined) out.replacePrefixMatch = prefix;
  return out;
}

function sumWeights(bs: CompiledBackend[]): number {
  return bs.reduce((n, b) => n + b.weight, 0);
}

/** Resolves a Gateway API backendRef; port 0 on the result means "the port the request came in on". */
function resolveBackendRef(
  ref: Json,
  rec: AttachedResourceRecord,
  field: string,
  ctx: CompileContext,
  problem: (f: string, r: string) => void,
): { backend?: Backend; unresolved?: string } {
  const kind = strOf(ref, 'kind') ?? 'Service';
  const name = strOf(ref, 'name') ?? '';
  const ns = strOf(ref, 'namespace') ?? rec.namespace;
  const port = numOf(ref, 'port');
  if (kind !== 'Service' && kind !== 'ServiceEntry') return { unresolved: `backend kind ${kind} is not supported` };
  if (ns !== rec.namespace) {
    problem(`${field}.namespace`, 'cross-namespace backendRef: ReferenceGrants are not part of the waypoint config, so the waypoint does not check them');
  }
  let hostname: string | undefined;
  let backendPort = port ?? 0;
  if (ctx.resolveBackend) {
    const r = ctx.resolveBackend({ kind, namespace: ns, name, ...(port !== undefined ? { port } : {}) });
    if (!r) return { unresolved: `${kind} ${ns}/${name}${port !== undefined ? ` port ${port}` : ''} not found` };
    hostname = r.hostname;
  } else {
    const bound = ctx.byName.get(`${kind}/${ns}/${name}`);
    if (bound?.length) {
      const svc = bound[0]!;
      if (port !== undefined && !svc.ports.some((p) => p.port === port)) return { unresolved: `${kind} ${ns}/${name} has no port ${port}` };
      if (port === undefined && svc.ports.length === 1) backendPort = svc.ports[0]!.port;
      hostname = svc.hostname;
    } else if (kind === 'ServiceEntry') {
      return { unresolved: `ServiceEntry ${ns}/${name} is not known to this waypoint` };
    } else hostname = `${name}.${ns}.svc.${ctx.clusterDomain}`;
  }
  const backend: Backend = { namespace: ns, hostname, port: backendPort };
  const key = `${ns}/${hostname}`;
  if (ctx.byKey.has(key)) backend.serviceKey = key;
  return { backend };
}

function compileBackend(
  b: Json,
  rec: AttachedResourceRecord,
  field: string,
  ctx: CompileContext,
  problem: (f: string, r: string) => void,
  withFilters: boolean,
): CompiledBackend {
  const r = resolveBackendRef(b, rec, field, ctx, problem);
  if (r.unresolved) problem(field, `${r.unresolved}: its share of requests gets HTTP 500`);
  const out: CompiledBackend = { weight: numOf(b, 'weight') ?? 1, requestHeaders: emptyEdits(), responseHeaders: emptyEdits() };
  if (r.backend) out.backend = r.backend;
  else out.unresolved = r.unresolved!;
  if (withFilters) {
    listOf(b, 'filters').forEach((f, fi) => {
      const type = strOf(f, 'type');
      if (type === 'RequestHeaderModifier') out.requestHeaders = mergeEdits(out.requestHeaders, headerEdits(objOf(f, 'requestHeaderModifier')));
      else if (type === 'ResponseHeaderModifier') out.responseHeaders = mergeEdits(out.responseHeaders, headerEdits(objOf(f, 'responseHeaderModifier')));
      else problem(`${field}.filters[${fi}]`, `backend-level ${type} filter is not implemented (only header modifiers are)`);
    });
  }
  return out;
}

function compileAction(rule: Json, rec: AttachedResourceRecord, field: string, ctx: CompileContext, problem: (f: string, r: string) => void): CompiledAction {
  const action: CompiledAction = {
    backends: [],
    totalWeight: 0,
    requestHeaders: emptyEdits(),
    responseHeaders: emptyEdits(),
    mirrors: [],
    timeouts: {},
    retry: defaultRetry(),
  };
  listOf(rule, 'filters').forEach((f, fi) => {
    const ff = `${field}.filters[${fi}]`;
    switch (strOf(f, 'type')) {
      case 'RequestHeaderModifier':
        action.requestHeaders = mergeEdits(action.requestHeaders, headerEdits(objOf(f, 'requestHeaderModifier')));
        break;
      case 'ResponseHeaderModifier':
        action.responseHeaders = mergeEdits(action.responseHeaders, headerEdits(objOf(f, 'responseHeaderModifier')));
        break;
      case 'RequestRedirect': {
        const r = objOf(f, 'requestRedirect');
        action.redirect = { statusCode: numOf(r, 'statusCode') ?? 302 };
        const scheme = strOf(r, 'scheme');
        const hostname = strOf(r, 'hostname');
        const port = numOf(r, 'port');
        const path = pathModifier(objOf(r, 'path'));
        if (scheme !== undefined) action.redirect.scheme = scheme;
        if (hostname !== undefined) action.redirect.hostname = hostname;
        if (port !== undefined) action.redirect.port = port;
        if (path) action.redirect.path = path;
        break;
      }
      case 'URLRewrite': {
        const r = objOf(f, 'urlRewrite');
        const hostname = strOf(r, 'hostname');
        const path = pathModifier(objOf(r, 'path'));
        if (hostname !== undefined) action.rewriteHost = hostname;
        if (path) action.rewritePath = path;
        break;
      }
      case 'RequestMirror': {
        const m = objOf(f, 'requestMirror');
        const r = resolveBackendRef(objOf(m, 'backendRef') ?? {}, rec, `${ff}.requestMirror.backendRef`, ctx, problem);
        if (r.unresolved) problem(`${ff}.requestMirror.backendRef`, `${r.unresolved}: nothing is mirrored`);
        const fraction = objOf(m, 'fraction');
        const percent = numOf(m, 'percent') ?? (fraction ? (100 * (numOf(fraction, 'numerator') ?? 0)) / (numOf(fraction, 'denominator') ?? 100) : 100);
        action.mirrors.push({ ...(r.backend ? { backend: r.backend } : {}), percent });
        break;
      }
      case 'CORS':
        problem(ff, 'the CORS filter is not implemented: requests pass through without CORS handling');
        break;
      default:
        // Gateway API: an unsupported filter must not be skipped; the requests it would handle get an error.
        problem(ff, `filter ${strOf(f, 'type')} is not supported: requests matching this rule get HTTP 500`);
        action.direct = { status: 500, body: `filter ${strOf(f, 'type')} is not supported`, flag: 'NC' };
    }
  });
  action.backends = listOf(rule, 'backendRefs').map((b, bi) => compileBackend(b, rec, `${field}.backendRefs[${bi}]`, ctx, problem, true));
  action.totalWeight = sumWeights(action.backends);
  if (!action.backends.length && !action.redirect && !action.direct) {
    action.direct = { status: 500, body: 'route rule has no backendRefs', flag: 'NC' };
  }
  const timeouts = objOf(rule, 'timeouts');
  const request = strOf(timeouts, 'request');
  const backendRequest = strOf(timeouts, 'backendRequest');
  if (request !== undefined) {
    const ms = parseGatewayDurationMs(request);
    if (ms) action.timeouts.requestMs = ms;
  }
  if (backendRequest !== undefined) {
    const ms = parseGatewayDurationMs(backendRequest);
    if (ms) action.timeouts.backendRequestMs = ms;
  }
  const retry = objOf(rule, 'retry');
  if (retry) {
    const codes = Array.isArray(retry['codes']) ? (retry['codes'] as unknown[]).filter((c): c is number => typeof c === 'number') : [503];
    const backoff = strOf(retry, 'backoff');
    action.retry = { attempts: numOf(retry, 'attempts') ?? 2, retryOn: [...DEFAULT_RETRY_ON], codes, backoffMs: (backoff && parseGatewayDurationMs(backoff)) || 25 };
  }
  if (action.timeouts.backendRequestMs) action.retry.perTryTimeoutMs = action.timeouts.backendRequestMs;
  return action;
}
