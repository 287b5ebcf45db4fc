// AuthorizationPolicy at L7, as the waypoint enforces it and `ambit x authz check` explains it: Istio's semantics
// (ISTIO-API.md §3) evaluated on one request's facts, with the policy and rule that decided.
//
// Order: CUSTOM → DENY → (no ALLOW policy ⇒ allow) → any ALLOW matches ⇒ allow → deny. AUDIT never changes the
// decision; matching AUDIT policies are reported for the access log. A policy matches if any rule does (no rules:
// never); a rule if any `from` AND any `to` AND every `when` matches (an absent list passes); inside one source or
// operation every set field must match, a field's values are ORed and a `not*` list passes when none matches.
// Strings match exactly, by prefix `abc*`, suffix `*abc` or presence `*`; paths also take `{*}` (one segment) and
// `{**}` (the rest) after normalization (query dropped, dot segments resolved, unreserved escapes decoded).
//
// Fail closed where a fact is missing or a field cannot be judged: an unknown `when` key, or an HTTP field on a TCP
// stream, makes an ALLOW rule fail and a DENY rule match (it denies more, never less). CUSTOM (external
// authorization) has no provider yet: a matching CUSTOM policy denies, saying so.
import { splitSpiffeId } from '../lib/certs/spiffe-id.js';
import { ipBytes, parseIpPrefix, prefixContains } from '../lib/ip-address.js';

type PolicyAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

interface SourceSpec {
  principals?: string[]; notPrincipals?: string[];
  requestPrincipals?: string[]; notRequestPrincipals?: string[];
  namespaces?: string[]; notNamespaces?: string[];
  serviceAccounts?: string[]; notServiceAccounts?: string[];
  ipBlocks?: string[]; notIpBlocks?: string[];
  remoteIpBlocks?: string[]; notRemoteIpBlocks?: string[];
  trustDomains?: string[]; notTrustDomains?: string[];
}

interface OperationSpec {
  hosts?: string[]; notHosts?: string[];
  ports?: string[]; notPorts?: string[];
  methods?: string[]; notMethods?: string[];
  paths?: string[]; notPaths?: string[];
}

interface RuleSpec {
  from?: Array<{ source?: SourceSpec }>;
  to?: Array<{ operation?: OperationSpec }>;
  when?: Array<{ key: string; values?: string[]; notValues?: string[] }>;
}

/** The part of an AuthorizationPolicy spec the engine reads (validated by the control plane before it gets here). */
export interface AuthorizationPolicySpec {
  action?: PolicyAction;
  provider?: { name?: string };
  rules?: RuleSpec[];
}

export interface L7Policy {
  namespace: string;
  name: string;
  spec: AuthorizationPolicySpec;
}

/** The identity a validated JWT gave the request (RequestAuthentication). */
export interface RequestAuth {
  /** `<iss>/<sub>`. */
  principal: string;
  audiences: string[];
  presenter?: string;
  claims: Record<string, unknown>;
}

/** What the policy can see of one request (or of one TCP stream: `http` absent). */
export interface RequestFacts {
  /** The mTLS peer's SPIFFE id (`spiffe://td/ns/x/sa/y`); absent for plaintext. */
  sourceIdentity?: string;
  sourceIp: string;
  /** The original client (X-Forwarded-For with trusted proxies); the source IP otherwise. */
  remoteIp?: string;
  destinationIp: string;
  destinationPort: number;
  sni?: string;
  http?: {
    host: string;
    method: string;
    path: string;
    headers: Record<string, string | string[] | undefined>;
  };
  auth?: RequestAuth;
}

export interface L7Decision {
  allowed: boolean;
  /** `ns/name` of the policy that decided (absent: no policy applies, or no ALLOW matched). */
  policy?: string;
  /** Index of the rule that matched. */
  rule?: number;
  /** One line for the access log and `x authz check`. */
  reason: string;
  /** `ns/name` of each AUDIT policy that matched. */
  audit: string[];
}

/** The text a denied HTTP caller gets (Envoy's RBAC filter), with status 403 (gRPC: PERMISSION_DENIED). */
export const ACCESS_DENIED_BODY = 'RBAC: access denied';

/** Whether an ALLOW or a DENY is judging: decides which way an unjudgeable field falls (fail closed). */
type Mode = 'allow' | 'deny';

/** Istio's string match: exact, `prefix*`, `*suffix` or `*` (present and non-empty). */
export function stringMatches(pattern: string, value: string | undefined, caseInsensitive = false): boolean {
  if (value === undefined) return false;
  const p = caseInsensitive ? pattern.toLowerCase() : pattern;
  const v = caseInsensitive ? value.toLowerCase() : value;
  if (p === '*') return v.length > 0;
  if (p.endsWith('*')) return v.startsWith(p.slice(0, -1));
  if (p.startsWith('*')) return v.endsWith(p.slice(1));
  return v === p;
}

/** A positive list passes when any value matches; a `not*` list when none does. Absent lists pass. */
function field<T>(values: readonly T[] | undefined, notValues: readonly T[] | undefined, matches: (v: T) => boolean): boolean {
  if (values?.length && !values.some(matches)) return false;
  if (notValues?.length && notValues.some(matches)) return false;
  return true;
}

function ipMatches(block: string, ip: string | undefined): boolean {
  if (!ip) return false;
  const addr = ipBytes(ip.replace(/^::ffff:(?=\d+\.)/, ''));
  const prefix = parseIpPrefix(block);
  return addr !== undefined && prefix !== undefined && prefixContains(prefix, addr);
}

/** `cluster.local/ns/x/sa/y` of a SPIFFE id (what principals are written as). */
function principalOf(identity: string | undefined): string | undefined {
  return identity?.replace(/^spiffe:\/\//, '');
}

const stripSpiffe = (p: string) => p.replace(/^spiffe:\/\//, '');

/** RFC 3986 path normalization as Istio's default (BASE): no query, dot segments resolved, unreserved escapes decoded. */
export function normalizePath(raw: string): string {
  let path = raw.split(/[?#]/, 1)[0] ?? '';
  path = path.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase();
  });
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '.') {
      if (i === segments.length - 1) out.push('');
      continue;
    }
    if (s === '..') {
      if (out.length > 1) out.pop();
      if (i === segments.length - 1) out.push('');
      continue;
    }
    out.push(s);
  }
  const joined = out.join('/');
  return joined.startsWith('/') ? joined : `/${joined}`;
}

function pathMatches(pattern: string, path: string): boolean {
  if (!pattern.includes('{')) return stringMatches(pattern, path);
  // URI templates: `{*}` one segment, `{**}` the rest of the path (must be last).
  const re = pattern.split(/(\{\*\*\}|\{\*\})/).map((part) => (part === '{**}' ? '.*' : part === '{*}' ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${re}$`).test(path);
}

/** The request's host without a port, unless the pattern names one. */
function hostMatches(pattern: string, host: string): boolean {
  const h = pattern.includes(':') ? host : host.replace(/:\d+$/, '');
  return stringMatches(pattern, h, true);
}

function headerValues(headers: Record<string, string | string[] | undefined>, name: string): string[] {
  const v = headers[name.toLowerCase()];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/**
 * `request.auth.claims[a][b]` → the claim's values as strings (arrays flattened). Space-delimited claims (`scope`,
 * `permission`, a rule's `spaceDelimitedClaims`) arrive split already: RequestAuthentication splits them.
 */
function claimValues(auth: RequestAuth | undefined, path: string[]): string[] | undefined {
  if (!auth) return undefined;
  let v: unknown = auth.claims;
  for (const p of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  const flat = (x: unknown): string[] => (Array.isArray(x) ? x.flatMap(flat) : typeof x === 'string' ? [x] : typeof x === 'number' || typeof x === 'boolean' ? [String(x)] : []);
  return v === undefined ? undefined : flat(v);
}

/**
 * The values a `when` key has for this request, how to compare them, or undefined when the key cannot be judged
 * here (unknown key, or an HTTP attribute of a TCP stream).
 */
function conditionFacts(key: string, f: RequestFacts): { values: string[]; match: (pattern: string, value: string) => boolean } | undefined {
  const id = f.sourceIdentity ? splitSpiffeId(f.sourceIdentity) : undefined;
  const str = (values: Array<string | undefined>) => ({ values: values.filter((v): v is string => v !== undefined), match: (p: string, v: string) => stringMatches(p, v) });
  const ip = (value: string | undefined) => ({ values: value ? [value] : [], match: (p: string, v: string) => ipMatches(p, v) });
  const header = /^request\.headers\[([^\]]+)\]$/.exec(key);
  if (header) return f.http ? str(headerValues(f.http.headers, header[1]!)) : undefined;
  const claims = /^request\.auth\.claims((?:\[[^\]]+\])+)$/.exec(key);
  if (claims) {
    if (!f.http) return undefined;
    const path = [...claims[1]!.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]!);
    return str(claimValues(f.auth, path) ?? []);
  }
  switch (key) {
    case 'source.ip': return ip(f.sourceIp);
    case 'remote.ip': return ip(f.remoteIp ?? f.sourceIp);
    case 'destination.ip': return ip(f.destinationIp);
    case 'destination.port': return str([String(f.destinationPort)]);
    case 'source.namespace': return str([id?.namespace]);
    case 'source.principal': return { values: id ? [principalOf(f.sourceIdentity)!] : [], match: (p, v) => stringMatches(stripSpiffe(p), v) };
    case 'source.serviceAccount': return str([id ? `${id.namespace}/${id.serviceAccount}` : undefined]);
    case 'source.trustDomain': return str([id?.trustDomain]);
    case 'connection.sni': return str([f.sni]);
    case 'request.auth.principal': return f.http ? str([f.auth?.principal]) : undefined;
    case 'request.auth.audiences': return f.http ? str(f.auth?.audiences ?? []) : undefined;
    case 'request.auth.presenter': return f.http ? str([f.auth?.presenter]) : undefined;
    default: return undefined;
  }
}

function sourceMatches(s: SourceSpec, f: RequestFacts, policyNamespace: string, mode: Mode): boolean {
  const id = f.sourceIdentity ? splitSpiffeId(f.sourceIdentity) : undefined;
  const principal = id ? principalOf(f.sourceIdentity) : undefined;
  const sa = (pattern: string) => {
    const want = pattern.includes('/') ? pattern : `${policyNamespace}/${pattern}`;
    return id !== undefined && `${id.namespace}/${id.serviceAccount}` === want;
  };
  // A request principal exists only on HTTP: on a TCP stream those fields cannot be judged.
  const requestPrincipals = s.requestPrincipals?.length || s.notRequestPrincipals?.length;
  if (requestPrincipals && !f.http) return mode === 'deny';
  return field(s.principals, s.notPrincipals, (p) => stringMatches(stripSpiffe(p), principal))
    && field(s.namespaces, s.notNamespaces, (p) => stringMatches(p, id?.namespace))
    && field(s.serviceAccounts, s.notServiceAccounts, sa)
    && field(s.trustDomains, s.notTrustDomains, (p) => stringMatches(p, id?.trustDomain))
    && field(s.ipBlocks, s.notIpBlocks, (p) => ipMatches(p, f.sourceIp))
    && field(s.remoteIpBlocks, s.notRemoteIpBlocks, (p) => ipMatches(p, f.remoteIp ?? f.sourceIp))
    && field(s.requestPrincipals, s.notRequestPrincipals, (p) => stringMatches(p, f.auth?.principal));
}

function operationMatches(o: OperationSpec, f: RequestFacts, mode: Mode): boolean {
  if (!field(o.ports, o.notPorts, (p) => p === String(f.destinationPort))) return false;
  const httpOnly = o.hosts?.length || o.notHosts?.length || o.methods?.length || o.notMethods?.length || o.paths?.length || o.notPaths?.length;
  if (!httpOnly) return true;
  if (!f.http) return mode === 'deny';
  const h = f.http;
  const path = normalizePath(h.path);
  return field(o.hosts, o.notHosts, (p) => hostMatches(p, h.host))
    && field(o.methods, o.notMethods, (p) => stringMatches(p, h.method))
    && field(o.paths, o.notPaths, (p) => pathMatches(p, path));
}

function ruleMatches(r: RuleSpec, f: RequestFacts, policyNamespace: string, mode: Mode): boolean {
  if (r.from?.length && !r.from.some((x) => sourceMatches(x.source ?? {}, f, policyNamespace, mode))) return false;
  if (r.to?.length && !r.to.some((x) => operationMatches(x.operation ?? {}, f, mode))) return false;
  for (const c of r.when ?? []) {
    const facts = conditionFacts(c.key, f);
    if (!facts) {
      if (mode === 'allow') return false;
      continue;
    }
    const any = (patterns: string[] | undefined) => (patterns ?? []).some((p) => facts.values.some((v) => facts.match(p, v)));
    if (c.values?.length && !any(c.values)) return false;
    if (c.notValues?.length && any(c.notValues)) return false;
  }
  return true;
}

/** Index of the first rule that matches, or -1. */
function matchingRule(p: L7Policy, f: RequestFacts, mode: Mode): number {
  return (p.spec.rules ?? []).findIndex((r) => ruleMatches(r, f, p.namespace, mode));
}

const keyOf = (p: L7Policy) => `${p.namespace}/${p.name}`;

/** Index of the first rule of `p` that matches (as its action judges unjudgeable fields), or -1: for explanations. */
export function policyMatch(p: L7Policy, f: RequestFacts): number {
  return matchingRule(p, f, (p.spec.action ?? 'ALLOW') === 'ALLOW' ? 'allow' : 'deny');
}

/** The CUSTOM policies whose rules match: their provider (the external authorizer) must be asked first. */
export function customMatches(policies: readonly L7Policy[], f: RequestFacts): Array<{ policy: string; provider: string; rule: number }> {
  return policies.filter((p) => p.spec.action === 'CUSTOM').flatMap((p) => {
    const rule = matchingRule(p, f, 'deny');
    return rule >= 0 ? [{ policy: keyOf(p), provider: p.spec.provider?.name ?? '', rule }] : [];
  });
}

/**
 * Decides one request against the policies that apply to its destination. `customChecked`: the external authorizer
 * of the matching CUSTOM policies was asked and allowed; without it a matching CUSTOM policy denies (fail closed).
 */
export function evaluateL7(policies: readonly L7Policy[], f: RequestFacts, opts: { customChecked?: boolean } = {}): L7Decision {
  const audit = policies.filter((p) => p.spec.action === 'AUDIT' && matchingRule(p, f, 'deny') >= 0).map(keyOf);
  for (const p of opts.customChecked ? [] : policies.filter((x) => x.spec.action === 'CUSTOM')) {
    const rule = matchingRule(p, f, 'deny');
    if (rule >= 0) {
      return { allowed: false, policy: keyOf(p), rule, audit, reason: `CUSTOM policy ${keyOf(p)} (provider ${p.spec.provider?.name ?? 'none'}) matched rule ${rule}: external authorization is not available, denied (fail closed)` };
    }
  }
  for (const p of policies.filter((x) => x.spec.action === 'DENY')) {
    const rule = matchingRule(p, f, 'deny');
    if (rule >= 0) return { allowed: false, policy: keyOf(p), rule, audit, reason: `denied by DENY policy ${keyOf(p)} rule ${rule}` };
  }
  const allows = policies.filter((x) => (x.spec.action ?? 'ALLOW') === 'ALLOW');
  if (!allows.length) return { allowed: true, audit, reason: 'no ALLOW policy applies: allowed' };
  for (const p of allows) {
    const rule = matchingRule(p, f, 'allow');
    if (rule >= 0) return { allowed: true, policy: keyOf(p), rule, audit, reason: `allowed by ALLOW policy ${keyOf(p)} rule ${rule}` };
  }
  return { allowed: false, audit, reason: `no rule of the ALLOW policies ${allows.map(keyOf).join(', ')} matched: denied` };
}
