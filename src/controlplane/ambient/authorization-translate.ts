// AuthorizationPolicy and PeerAuthentication → istio.security.Authorization (ISTIO-API.md §3–4, PROTOCOLS.md §5):
// scope from selector/namespace, the L4 subset ztunnel can enforce, and the reduction of HTTP-only fields (an ALLOW
// rule using one is dropped, a DENY rule loses it) reported in a `ZtunnelAccepted` condition. PeerAuthentication
// STRICT becomes a DENY of connections without a peer identity, resolved mesh → namespace → workload → port.
import type { KubeObject } from '../../api/meta.js';
import { matchLabels } from '../../api/labels.js';
import { parseCidr } from '../../lib/xds/ip-bytes.js';
import type {
  AuthorizationRecord,
  ClauseRecord,
  IpPrefixRecord,
  MatchRecord,
  RuleRecord,
  ServiceAccountMatchRecord,
  StringMatchRecord,
} from '../../lib/xds/workload-records.js';
import { bindWaypoint, bindingTargetOf } from './waypoint-binding.js';
import { annotationsOf, isRecord, matchLabelsOf, nsOf, oldestFirst, rec, recs, specOf, str, strs, type IndexReader, type Json } from './index-reader.js';
import { WAYPOINT_GATEWAY_CLASS } from '../../lib/mesh-contract.js';
import { SPIFFE_SCHEME } from '../../lib/certs/spiffe-id.js';
import { MESH_CONFIG_KEY, MESH_CONFIG_NAME } from '../../api/mesh-config.js';
import { meshProviders } from './mesh-providers.js';

export const ZTUNNEL_ACCEPTED_CONDITION = 'ZtunnelAccepted';
export const WAYPOINT_ACCEPTED_CONDITION = 'WaypointAccepted';
/** Name of the mesh-wide policy that denies plaintext where STRICT mTLS is inherited from the mesh or namespace. */
const STATIC_STRICT_POLICY = 'istio_converted_static_strict';
const CONVERTED_PA_PREFIX = 'converted_peer_authentication_';

interface PolicyCondition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

interface PolicyTranslation {
  /** Absent when ztunnel gets nothing from this policy. */
  authorization?: AuthorizationRecord;
  condition: PolicyCondition;
}

/** targetRefs (or the deprecated single targetRef) of a policy spec. */
export function targetRefsOf(spec: Json): Json[] {
  const many = recs(spec, 'targetRefs');
  if (many.length) return many;
  return isRecord(spec['targetRef']) ? [spec['targetRef']] : [];
}

/** Whether ztunnel receives this AuthorizationPolicy as a WORKLOAD_SELECTOR policy selecting `labels`. */
function selectsWorkload(ap: KubeObject, labels: Record<string, string>): boolean {
  const spec = specOf(ap);
  if (targetRefsOf(spec).length) return false;
  const action = str(spec, 'action') ?? 'ALLOW';
  if (action !== 'ALLOW' && action !== 'DENY') return false;
  const sel = matchLabelsOf(spec['selector']);
  return !!sel && matchLabels(sel, labels);
}

/** Istio's string form: `*` any non-empty, `*x` suffix, `x*` prefix, else exact. */
function stringMatch(v: string): StringMatchRecord {
  if (v === '*') return { presence: {} };
  if (v.startsWith('*')) return { suffix: v.slice(1) };
  if (v.endsWith('*')) return { prefix: v.slice(0, -1) };
  return { exact: v };
}

const principalMatch = (v: string): StringMatchRecord => stringMatch(v.startsWith(SPIFFE_SCHEME) ? v.slice(SPIFFE_SCHEME.length) : v);

function prefixes(values: string[]): IpPrefixRecord[] {
  return values.map(parseCidr).filter((x): x is IpPrefixRecord => !!x);
}

function serviceAccounts(values: string[], policyNs: string): ServiceAccountMatchRecord[] {
  return values.map((v) => {
    const slash = v.indexOf('/');
    return slash < 0 ? { namespace: policyNs, serviceAccount: v } : { namespace: v.slice(0, slash), serviceAccount: v.slice(slash + 1) };
  });
}

/** Numeric ports in 1..65535; anything else is dropped (and reported). */
function ports(values: string[], path: string, notes: string[]): number[] {
  const out: number[] = [];
  for (const v of values) {
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (n >= 1 && n <= 65535) out.push(n);
    else notes.push(`${path}: '${v}' is not a port number`);
  }
  return out;
}

// Source fields ztunnel cannot check (need HTTP, a JWT or a trusted proxy chain). trustDomains is listed here rather
// than silently dropped so that an ALLOW never widens.
const SOURCE_HTTP_ONLY = ['requestPrincipals', 'notRequestPrincipals', 'remoteIpBlocks', 'notRemoteIpBlocks', 'trustDomains', 'notTrustDomains'];
const OPERATION_HTTP_ONLY = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'];

function sourceMatch(source: Json, path: string, policyNs: string, unsupported: string[], notes: string[]): MatchRecord {
  const m: MatchRecord = {};
  const set = <K extends keyof MatchRecord>(k: K, v: MatchRecord[K] & unknown[]) => {
    if (v.length) m[k] = v;
  };
  set('principals', strs(source, 'principals').map(principalMatch));
  set('notPrincipals', strs(source, 'notPrincipals').map(principalMatch));
  set('namespaces', strs(source, 'namespaces').map(stringMatch));
  set('notNamespaces', strs(source, 'notNamespaces').map(stringMatch));
  set('serviceAccounts', serviceAccounts(strs(source, 'serviceAccounts'), policyNs));
  set('notServiceAccounts', serviceAccounts(strs(source, 'notServiceAccounts'), policyNs));
  for (const f of ['ipBlocks', 'notIpBlocks'] as const) {
    const values = strs(source, f);
    const parsed = prefixes(values);
    if (parsed.length < values.length) notes.push(`${path}.${f}: malformed addresses dropped`);
    set(f === 'ipBlocks' ? 'sourceIps' : 'notSourceIps', parsed);
  }
  for (const f of SOURCE_HTTP_ONLY) if (source[f] !== undefined) unsupported.push(`${path}.${f}`);
  return m;
}

function operationMatch(op: Json, path: string, unsupported: string[], notes: string[]): MatchRecord {
  const m: MatchRecord = {};
  const p = ports(strs(op, 'ports'), `${path}.ports`, notes);
  if (p.length) m.destinationPorts = p;
  const np = ports(strs(op, 'notPorts'), `${path}.notPorts`, notes);
  if (np.length) m.notDestinationPorts = np;
  for (const f of OPERATION_HTTP_ONLY) if (op[f] !== undefined) unsupported.push(`${path}.${f}`);
  return m;
}

function conditionMatch(cond: Json, path: string, unsupported: string[], notes: string[]): MatchRecord {
  const key = str(cond, 'key') ?? '';
  const values = strs(cond, 'values');
  const notValues = strs(cond, 'notValues');
  const m: MatchRecord = {};
  switch (key) {
    case 'source.ip':
      if (values.length) m.sourceIps = prefixes(values);
      if (notValues.length) m.notSourceIps = prefixes(notValues);
      break;
    case 'destination.ip':
      if (values.length) m.destinationIps = prefixes(values);
      if (notValues.length) m.notDestinationIps = prefixes(notValues);
      break;
    case 'source.namespace':
      if (values.length) m.namespaces = values.map(stringMatch);
      if (notValues.length) m.notNamespaces = notValues.map(stringMatch);
      break;
    case 'source.principal':
      if (values.length) m.principals = values.map(principalMatch);
      if (notValues.length) m.notPrincipals = notValues.map(principalMatch);
      break;
    case 'destination.port': {
      const p = ports(values, `${path}.values`, notes);
      if (p.length) m.destinationPorts = p;
      const np = ports(notValues, `${path}.notValues`, notes);
      if (np.length) m.notDestinationPorts = np;
      break;
    }
    default:
      unsupported.push(`${path} (key ${key})`);
  }
  return m;
}

const isEmptyMatch = (m: MatchRecord) => Object.keys(m).length === 0;

/** Translates one AuthorizationPolicy for ztunnel, with the condition that explains the result. */
export function translateAuthorizationPolicy(r: IndexReader, ap: KubeObject): PolicyTranslation {
  const spec = specOf(ap);
  const ns = nsOf(ap);
  const refs = targetRefsOf(spec);
  if (refs.length) return { condition: waypointAcceptance(r, ap, refs) };
  const action = str(spec, 'action') ?? 'ALLOW';
  if (action !== 'ALLOW' && action !== 'DENY') {
    return {
      condition: {
        type: ZTUNNEL_ACCEPTED_CONDITION,
        status: 'False',
        reason: 'UnsupportedValue',
        message: `ztunnel does not support the ${action} action, so this policy is not enforced; attach it to a waypoint with targetRefs`,
      },
    };
  }
  const hasSelector = !!matchLabelsOf(spec['selector']);
  const scope = hasSelector ? 'WORKLOAD_SELECTOR' : ns === r.config.rootNamespace ? 'GLOBAL' : 'NAMESPACE';
  const rules: RuleRecord[] = [];
  const dropped: string[] = [];
  const noEffect: string[] = [];
  const allUnsupported: string[] = [];
  const notes: string[] = [];
  recs(spec, 'rules').forEach((rule, i) => {
    const unsupported: string[] = [];
    const clauses: ClauseRecord[] = [];
    const from = recs(rule, 'from');
    if (from.length) clauses.push({ matches: from.map((f, j) => sourceMatch(rec(f, 'source'), `rules[${i}].from[${j}].source`, ns, unsupported, notes)) });
    const to = recs(rule, 'to');
    if (to.length) clauses.push({ matches: to.map((t, j) => operationMatch(rec(t, 'operation'), `rules[${i}].to[${j}].operation`, unsupported, notes)) });
    recs(rule, 'when').forEach((c, j) => clauses.push({ matches: [conditionMatch(c, `rules[${i}].when[${j}]`, unsupported, notes)] }));
    allUnsupported.push(...unsupported);
    if (unsupported.length && action === 'ALLOW') {
      dropped.push(`rules[${i}]`);
      return;
    }
    // A clause whose every match lost all its fields can never match at L4 (ztunnel skips empty matches), so the
    // stripped DENY rule is a no-op rather than a deny-everything.
    if (clauses.some((c) => c.matches.length > 0 && c.matches.every(isEmptyMatch))) noEffect.push(`rules[${i}]`);
    rules.push({ clauses });
  });
  const authorization: AuthorizationRecord = {
    name: ap.metadata.name,
    namespace: ns,
    scope,
    action,
    rules,
    dryRun: annotationsOf(ap)['istio.io/dry-run'] === 'true',
  };
  const dry = authorization.dryRun ? ' It is a dry run (istio.io/dry-run): ztunnel logs what it would do and enforces nothing.' : '';
  const noteText = notes.length ? ` Ignored: ${notes.join('; ')}.` : '';
  if (!allUnsupported.length) {
    const empty = action === 'ALLOW' && !rules.length ? ' It has no rules, so it matches nothing: every connection it applies to is denied unless another ALLOW policy matches.' : '';
    return { authorization, condition: { type: ZTUNNEL_ACCEPTED_CONDITION, status: 'True', reason: 'Accepted', message: `ztunnel enforces this policy (${scope} scope).${empty}${dry}${noteText}` } };
  }
  let message = `ztunnel cannot check HTTP attributes (${allUnsupported.join(', ')}). `;
  if (action === 'ALLOW') {
    message += `In an ALLOW policy a rule using them is dropped (${dropped.join(', ')}), so this policy allows less than written`;
    message += rules.length ? '.' : ': no rule is left, so it allows nothing and every connection it applies to is denied unless another ALLOW policy matches.';
  } else {
    message += 'In a DENY policy they are ignored and the rest of each rule is enforced, so this policy denies more than written.';
    if (noEffect.length) message += ` ${noEffect.join(', ')} keep nothing ztunnel can check and have no effect.`;
  }
  message += ` Bind a waypoint and use targetRefs to enforce HTTP rules.${dry}${noteText}`;
  return { authorization, condition: { type: ZTUNNEL_ACCEPTED_CONDITION, status: 'False', reason: 'UnsupportedValue', message } };
}

/** What the waypoint does with a CUSTOM policy: which authorizer it asks, or why every match is denied. */
function customProviderNote(r: IndexReader, ap: KubeObject): string {
  const name = str(specOf(ap)['provider'] as Json | undefined, 'name') ?? '';
  const where = `the mesh config (ConfigMap ${r.config.rootNamespace}/${MESH_CONFIG_NAME}, key ${MESH_CONFIG_KEY}, extensionProviders)`;
  const p = meshProviders(r).find((x) => x.name === name);
  if (!p) return `Provider ${JSON.stringify(name)} is not defined in ${where}: every request this policy matches is denied (fail closed).`;
  if (p.unsupported) return `Provider ${JSON.stringify(name)} is ${p.unsupported}, which is not an authorizer (envoyExtAuthzHttp or envoyExtAuthzGrpc): every request this policy matches is denied (fail closed).`;
  const h = (p.envoyExtAuthzHttp ?? p.envoyExtAuthzGrpc) as { service?: string; port?: number; failOpen?: boolean } | undefined;
  return `Matching requests are checked by ${JSON.stringify(name)} (${p.envoyExtAuthzHttp ? 'HTTP' : 'gRPC'} ${h?.service}:${h?.port}; ${h?.failOpen ? 'fail open' : 'fail closed'} when it cannot answer).`;
}

/** For targetRefs policies: whether each target reaches a waypoint (they are never sent to ztunnel). */
function waypointAcceptance(r: IndexReader, ap: KubeObject, refs: Json[]): PolicyCondition {
  const ns = nsOf(ap);
  const problems: string[] = [];
  const bound: string[] = [];
  for (const ref of refs) {
    const kind = str(ref, 'kind') ?? '';
    const name = str(ref, 'name') ?? '';
    if (kind === 'Gateway') {
      const gw = r.get('Gateway', ns, name);
      if (!gw) problems.push(`Gateway ${ns}/${name} does not exist`);
      else if (str(specOf(gw), 'gatewayClassName') !== WAYPOINT_GATEWAY_CLASS) problems.push(`Gateway ${ns}/${name} is not a waypoint`);
      else bound.push(`Gateway ${ns}/${name}`);
    } else if (kind === 'GatewayClass') {
      if (r.get('GatewayClass', '', name)) bound.push(`GatewayClass ${name}`);
      else problems.push(`GatewayClass ${name} does not exist`);
    } else if (kind === 'Service' || kind === 'ServiceEntry') {
      const target = r.get(kind, ns, name);
      if (!target) problems.push(`${kind} ${ns}/${name} does not exist`);
      else {
        const binding = bindWaypoint(r, bindingTargetOf(target), 'service');
        if (binding.gatewayKey) bound.push(`${kind} ${ns}/${name} (waypoint ${binding.gatewayKey})`);
        else problems.push(`${kind} ${ns}/${name} is not bound to a waypoint${binding.condition ? ` (${binding.condition.reason})` : ''}`);
      }
    } else problems.push(`targetRef kind ${kind} is not supported`);
  }
  if (problems.length) {
    return {
      type: WAYPOINT_ACCEPTED_CONDITION,
      status: 'False',
      reason: bound.length ? 'PartiallyInvalid' : 'TargetNotFound',
      message: `${problems.join('; ')}. ztunnel never enforces targetRefs policies, so traffic not passing a waypoint is not checked by this policy.`,
    };
  }
  const custom = str(specOf(ap), 'action') === 'CUSTOM' ? ` ${customProviderNote(r, ap)}` : '';
  const dry = annotationsOf(ap)['istio.io/dry-run'] === 'true' ? ' It is a dry run (istio.io/dry-run): the waypoint logs what it would decide and enforces nothing.' : '';
  return { type: WAYPOINT_ACCEPTED_CONDITION, status: 'True', reason: 'Accepted', message: `enforced by the waypoint of ${bound.join(', ')}${custom || dry ? `.${custom}${dry}` : ''}` };
}

// ---- PeerAuthentication ----

type MtlsMode = 'STRICT' | 'PERMISSIVE';

/** The mode a PeerAuthentication sets, or undefined when it inherits (UNSET/absent). DISABLE counts as PERMISSIVE. */
function modeOf(pa: KubeObject | undefined): MtlsMode | undefined {
  const mode = str(rec(specOf(pa), 'mtls'), 'mode');
  if (mode === 'STRICT') return 'STRICT';
  if (mode === 'PERMISSIVE' || mode === 'DISABLE') return 'PERMISSIVE';
  return undefined;
}

const hasSelector = (pa: KubeObject) => !!matchLabelsOf(specOf(pa)['selector']);

/** The mode a workload in `namespace` inherits from its namespace's, else the mesh's, PeerAuthentication. */
export function inheritedMtlsMode(r: IndexReader, namespace: string): MtlsMode {
  const nsPa = r.list('PeerAuthentication', namespace, (p) => !hasSelector(p)).sort(oldestFirst)[0];
  const meshPa = r.list('PeerAuthentication', r.config.rootNamespace, (p) => !hasSelector(p)).sort(oldestFirst)[0];
  return modeOf(nsPa) ?? modeOf(meshPa) ?? 'PERMISSIVE';
}

/** The oldest selector PeerAuthentication of the namespace selecting `labels` (root-namespace ones are ignored). */
function workloadPeerAuthentication(r: IndexReader, namespace: string, labels: Record<string, string>): KubeObject | undefined {
  if (namespace === r.config.rootNamespace) return undefined;
  return r
    .list('PeerAuthentication', namespace, (p) => {
      const sel = matchLabelsOf(specOf(p)['selector']);
      return !!sel && matchLabels(sel, labels);
    })
    .sort(oldestFirst)[0];
}

const noPeerIdentity: MatchRecord = { notPrincipals: [{ presence: {} }] };

/**
 * The DENY policy a selector PeerAuthentication becomes given the mode its workloads inherit, or undefined when it
 * denies nothing. Port keys are workload (target) ports.
 */
export function convertWorkloadPeerAuthentication(pa: KubeObject, inherited: MtlsMode): AuthorizationRecord | undefined {
  const spec = specOf(pa);
  const effective = modeOf(pa) ?? inherited;
  const permissivePorts: number[] = [];
  const strictPorts: number[] = [];
  for (const [port, cfg] of Object.entries(rec(spec, 'portLevelMtls'))) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535 || !isRecord(cfg)) continue;
    const m = str(cfg, 'mode');
    if (m === 'STRICT') strictPorts.push(n);
    else if (m === 'PERMISSIVE' || m === 'DISABLE') permissivePorts.push(n);
  }
  let clauses: ClauseRecord[];
  if (effective === 'STRICT') {
    clauses = [{ matches: [noPeerIdentity] }];
    if (permissivePorts.length) clauses.push({ matches: [{ notDestinationPorts: permissivePorts.sort((a, b) => a - b) }] });
  } else if (strictPorts.length) {
    clauses = [{ matches: [noPeerIdentity] }, { matches: [{ destinationPorts: strictPorts.sort((a, b) => a - b) }] }];
  } else return undefined;
  return { name: `${CONVERTED_PA_PREFIX}${pa.metadata.name}`, namespace: nsOf(pa), scope: 'WORKLOAD_SELECTOR', action: 'DENY', rules: [{ clauses }], dryRun: false };
}

/** The mesh-wide policy behind namespace- and mesh-level STRICT: deny connections without a peer identity. */
export function staticStrictPolicy(r: IndexReader): AuthorizationRecord {
  return { name: STATIC_STRICT_POLICY, namespace: r.config.rootNamespace, scope: 'WORKLOAD_SELECTOR', action: 'DENY', rules: [{ clauses: [{ matches: [noPeerIdentity] }] }], dryRun: false };
}

/**
 * Keys of every WORKLOAD_SELECTOR policy a workload must list: selector AuthorizationPolicies of its namespace and
 * of the root namespace, and the PeerAuthentication-derived policy that applies to it.
 */
export function workloadPolicyKeys(r: IndexReader, namespace: string, labels: Record<string, string>): string[] {
  const keys = new Set<string>();
  const select = (ap: KubeObject) => selectsWorkload(ap, labels);
  for (const ap of r.list('AuthorizationPolicy', namespace, select)) keys.add(`${namespace}/${ap.metadata.name}`);
  if (namespace !== r.config.rootNamespace) {
    for (const ap of r.list('AuthorizationPolicy', r.config.rootNamespace, select)) keys.add(`${r.config.rootNamespace}/${ap.metadata.name}`);
  }
  const inherited = inheritedMtlsMode(r, namespace);
  const own = workloadPeerAuthentication(r, namespace, labels);
  if (own) {
    if (convertWorkloadPeerAuthentication(own, inherited)) keys.add(`${namespace}/${CONVERTED_PA_PREFIX}${own.metadata.name}`);
  } else if (inherited === 'STRICT') keys.add(`${r.config.rootNamespace}/${STATIC_STRICT_POLICY}`);
  return [...keys].sort();
}

/** Whether any namespace- or mesh-level PeerAuthentication is STRICT (then the static strict policy is served). */
export function anyInheritableStrict(r: IndexReader): boolean {
  return r.list('PeerAuthentication', undefined, (p) => !hasSelector(p) && modeOf(p) === 'STRICT').length > 0;
}

export { hasSelector as peerAuthenticationHasSelector };
