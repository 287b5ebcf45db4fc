// DestinationRules → per-backend upstream policy (load balancing, connection pool, outlier detection, TLS, subsets).
import { parseIstioDurationMs } from '../api/kinds/checks.js';
import type { AttachedResourceRecord } from '../lib/xds/waypoint-records.js';
import { headerValue, parseQuery, splitPath } from './match.js';
import { expandHost, hostCovers, isObj, listOf, numOf, objOf, strOf, strsOf, type CompileContext, type Json } from './model.js';
import type { Backend, ConnectionPoolLimits, LoadBalancerHint, OutlierDetectionSettings, UpstreamPolicy } from './types.js';

type HashOn = { on: 'header' | 'cookie' | 'queryParameter' | 'sourceIp'; name: string };

interface Policy {
  lb?: { simple: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'PASSTHROUGH' } | { hash: HashOn };
  connectionPool?: ConnectionPoolLimits;
  outlierDetection?: OutlierDetectionSettings;
  tls?: UpstreamPolicy['tls'];
}

interface PolicyLevel {
  policy: Policy;
  ports: Map<number, Policy>;
}

interface CompiledRule {
  ref: string;
  host: string;
  top: PolicyLevel;
  subsets: Map<string, { labels: Record<string, string>; level: PolicyLevel }>;
}

/** The DestinationRules of a waypoint, looked up by backend host (exact host first, then the longest wildcard). */
export class DestinationRuleIndex {
  #rules: CompiledRule[] = [];

  constructor(records: AttachedResourceRecord[], ctx: CompileContext) {
    for (const rec of records) {
      const rule = compileRule(rec, ctx);
      if (rule) this.#rules.push(rule);
    }
    // Exact hosts before wildcards, longer wildcards first; then by namespace/name for determinism.
    this.#rules.sort((a, b) => rank(a.host) - rank(b.host) || a.ref.localeCompare(b.ref));
  }

  #find(hostname: string): CompiledRule | undefined {
    return this.#rules.find((r) => hostCovers(r.host, hostname));
  }

  /** Subset labels, or undefined when no DestinationRule for the host defines the subset. */
  subsetLabels(hostname: string, subset: string): Record<string, string> | undefined {
    return this.#find(hostname)?.subsets.get(subset)?.labels;
  }

  /** The upstream policy for a chosen backend, with the consistent-hash key computed from the request. */
  upstream(backend: Backend, req?: { path: string; headers: Record<string, string | string[] | undefined> }): UpstreamPolicy | undefined {
    const rule = this.#find(backend.hostname);
    if (!rule) return undefined;
    let p = merge(rule.top.policy, rule.top.ports.get(backend.port));
    const sub = backend.subset ? rule.subsets.get(backend.subset.name) : undefined;
    if (sub) p = merge(merge(p, sub.level.policy), sub.level.ports.get(backend.port));
    const out: UpstreamPolicy = { destinationRule: rule.ref };
    if (p.lb) out.loadBalancer = 'simple' in p.lb ? { policy: p.lb.simple } : hashHint(p.lb.hash, req);
    if (p.connectionPool) out.connectionPool = p.connectionPool;
    if (p.outlierDetection) out.outlierDetection = p.outlierDetection;
    if (p.tls) out.tls = p.tls;
    return out;
  }
}

function rank(host: string): number {
  return host.startsWith('*') ? 1_000_000 - host.length : 0;
}

function merge(base: Policy, over: Policy | undefined): Policy {
  return over ? { ...base, ...Object.fromEntries(Object.entries(over).filter(([, v]) => v !== undefined)) } : base;
}

function hashHint(h: HashOn, req?: { path: string; headers: Record<string, string | string[] | undefined> }): LoadBalancerHint {
  const hint: LoadBalancerHint = { policy: 'CONSISTENT_HASH', on: h.on };
  if (!req) return hint;
  let key: string | undefined;
  if (h.on === 'header') key = headerValue(req.headers, h.name);
  else if (h.on === 'queryParameter') key = parseQuery(splitPath(req.path).query).get(h.name);
  else if (h.on === 'cookie') key = cookieValue(headerValue(req.headers, 'cookie'), h.name);
  if (key !== undefined) hint.key = key;
  return hint;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/[;,]/)) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const ms = (o: Json | undefined, k: string): number | undefined => {
  const v = strOf(o, k);
  return v === undefined ? undefined : parseIstioDurationMs(v);
};

function compileRule(rec: AttachedResourceRecord, ctx: CompileContext): CompiledRule | undefined {
  const spec = rec.spec as Json;
  const problem = (field: string, reason: string) => ctx.problems.add(rec.kind, rec.namespace, rec.name, field, reason);
  const host = strOf(spec, 'host');
  if (!host) {
    problem('spec.host', 'missing host: the DestinationRule applies to nothing');
    return undefined;
  }
  if (spec['exportTo'] !== undefined) problem('spec.exportTo', 'visibility scoping is not implemented: the rule applies to every caller of this waypoint');
  if (spec['workloadSelector'] !== undefined) problem('spec.workloadSelector', 'workload-scoped DestinationRules are not applied by waypoints');
  const rule: CompiledRule = {
    ref: `${rec.namespace}/${rec.name}`,
    host: expandHost(host, rec.namespace, ctx.clusterDomain),
    top: level(objOf(spec, 'trafficPolicy'), 'spec.trafficPolicy', problem),
    subsets: new Map(),
  };
  listOf(spec, 'subsets').forEach((s, i) => {
    const labels: Record<string, string> = {};
    const l = objOf(s, 'labels');
    if (l) for (const [k, v] of Object.entries(l)) if (typeof v === 'string') labels[k] = v;
    rule.subsets.set(strOf(s, 'name') ?? '', { labels, level: level(objOf(s, 'trafficPolicy'), `spec.subsets[${i}].trafficPolicy`, problem) });
  });
  return rule;
}

function level(tp: Json | undefined, field: string, problem: (f: string, r: string) => void): PolicyLevel {
  const out: PolicyLevel = { policy: policy(tp, field, problem), ports: new Map() };
  listOf(tp, 'portLevelSettings').forEach((pl, i) => {
    const port = numOf(objOf(pl, 'port'), 'number');
    if (port !== undefined) out.ports.set(port, policy(pl, `${field}.portLevelSettings[${i}]`, problem));
  });
  return out;
}

function policy(tp: Json | undefined, field: string, problem: (f: string, r: string) => void): Policy {
  const p: Policy = {};
  if (!tp) return p;
  const lb = objOf(tp, 'loadBalancer');
  if (lb) {
    const simple = strOf(lb, 'simple');
    const ch = objOf(lb, 'consistentHash');
    if (simple) p.lb = { simple: simple === 'LEAST_CONN' ? 'LEAST_REQUEST' : simple === 'UNSPECIFIED' ? 'ROUND_ROBIN' : (simple as 'ROUND_ROBIN') };
    else if (ch) {
      const cookie = objOf(ch, 'httpCookie');
      if (strOf(ch, 'httpHeaderName')) p.lb = { hash: { on: 'header', name: strOf(ch, 'httpHeaderName')!.toLowerCase() } };
      else if (cookie) {
        p.lb = { hash: { on: 'cookie', name: strOf(cookie, 'name') ?? '' } };
        problem(`${field}.loadBalancer.consistentHash.httpCookie`, 'the cookie is hashed when present, but never generated (no Set-Cookie for new clients)');
      } else if (strOf(ch, 'httpQueryParameterName')) p.lb = { hash: { on: 'queryParameter', name: strOf(ch, 'httpQueryParameterName')! } };
      else if (ch['useSourceIp'] === true) p.lb = { hash: { on: 'sourceIp', name: '' } };
      for (const k of ['ringHash', 'maglev', 'minimumRingSize']) {
        if (ch[k] !== undefined) problem(`${field}.loadBalancer.consistentHash.${k}`, 'hash table tuning is not implemented (a fixed consistent-hash ring is used)');
      }
    }
    for (const k of ['localityLbSetting', 'warmupDurationSecs', 'warmup']) {
      if (lb[k] !== undefined) problem(`${field}.loadBalancer.${k}`, k === 'localityLbSetting' ? 'locality-aware load balancing is not implemented' : 'slow-start warmup is not implemented');
    }
  }
  const cp = objOf(tp, 'connectionPool');
  if (cp) {
    const tcp = objOf(cp, 'tcp');
    const http = objOf(cp, 'http');
    const c: ConnectionPoolLimits = {};
    const set = <K extends keyof ConnectionPoolLimits>(k: K, v: number | undefined) => {
      if (v !== undefined) c[k] = v;
    };
    set('maxConnections', numOf(tcp, 'maxConnections'));
    set('connectTimeoutMs', ms(tcp, 'connectTimeout'));
    set('maxConnectionDurationMs', ms(tcp, 'maxConnectionDuration'));
    set('tcpIdleTimeoutMs', ms(tcp, 'idleTimeout'));
    set('http1MaxPendingRequests', numOf(http, 'http1MaxPendingRequests'));
    set('http2MaxRequests', numOf(http, 'http2MaxRequests'));
    set('maxRequestsPerConnection', numOf(http, 'maxRequestsPerConnection'));
    set('maxRetries', numOf(http, 'maxRetries'));
    set('httpIdleTimeoutMs', ms(http, 'idleTimeout'));
    set('maxConcurrentStreams', numOf(http, 'maxConcurrentStreams'));
    if (tcp?.['tcpKeepalive'] !== undefined) problem(`${field}.connectionPool.tcp.tcpKeepalive`, 'TCP keepalive tuning is not implemented');
    for (const k of ['h2UpgradePolicy', 'useClientProtocol']) {
      if (http?.[k] !== undefined) problem(`${field}.connectionPool.http.${k}`, 'the upstream protocol follows the service port, not this setting');
    }
    p.connectionPool = c;
  }
  const od = objOf(tp, 'outlierDetection');
  if (od) {
    // Istio defaults: 5 consecutive 5xx, 10 s interval, 30 s base ejection, at most 10% ejected.
    const o: OutlierDetectionSettings = {
      intervalMs: ms(od, 'interval') ?? 10_000,
      baseEjectionTimeMs: ms(od, 'baseEjectionTime') ?? 30_000,
      maxEjectionPercent: numOf(od, 'maxEjectionPercent') ?? 10,
      minHealthPercent: numOf(od, 'minHealthPercent') ?? 0,
    };
    const c5 = numOf(od, 'consecutive5xxErrors') ?? numOf(od, 'consecutiveErrors');
    const gw = numOf(od, 'consecutiveGatewayErrors');
    if (c5 !== undefined) {
      if (c5 > 0) o.consecutive5xxErrors = c5;
    } else if (gw === undefined) o.consecutive5xxErrors = 5;
    if (gw !== undefined && gw > 0) o.consecutiveGatewayErrors = gw;
    for (const k of ['splitExternalLocalOriginErrors', 'consecutiveLocalOriginFailures']) {
      if (od[k] !== undefined) problem(`${field}.outlierDetection.${k}`, 'local-origin failures are counted with 5xx errors (no separate tracking)');
    }
    p.outlierDetection = o;
  }
  const tls = objOf(tp, 'tls');
  if (tls) {
    const mode = (strOf(tls, 'mode') ?? 'DISABLE') as NonNullable<UpstreamPolicy['tls']>['mode'];
    const t: NonNullable<UpstreamPolicy['tls']> = { mode };
    const sni = strOf(tls, 'sni');
    if (sni) t.sni = sni;
    if (strsOf(tls, 'subjectAltNames').length) t.subjectAltNames = strsOf(tls, 'subjectAltNames');
    if (tls['insecureSkipVerify'] === true) t.insecureSkipVerify = true;
    if (mode === 'MUTUAL') problem(`${field}.tls.mode`, 'MUTUAL TLS origination (client certificates) is not implemented');
    if (mode === 'ISTIO_MUTUAL') problem(`${field}.tls.mode`, 'ISTIO_MUTUAL has no effect: mesh traffic is always HBONE mTLS');
    for (const k of ['clientCertificate', 'privateKey', 'caCertificates', 'credentialName', 'caCrl']) {
      if (tls[k] !== undefined) problem(`${field}.tls.${k}`, 'certificates from files or secrets are not available to the waypoint');
    }
    p.tls = t;
  }
  for (const k of ['tunnel', 'proxyProtocol']) {
    if (isObj(tp[k])) problem(`${field}.${k}`, k === 'tunnel' ? 'tunneling to the destination is not implemented' : 'PROXY protocol to the destination is not implemented');
  }
  return p;
}
