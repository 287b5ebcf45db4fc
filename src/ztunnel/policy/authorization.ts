// L4 authorization (RBAC) with the exact semantics of PROTOCOLS.md §5: which policies apply to a workload, how a
// policy matches a connection, and the decision with the reason string users see in access logs.
//
// Decision order: dry-run policies only produce notes; any matching DENY ⇒ deny; no ALLOW policy ⇒ allow; any
// matching ALLOW ⇒ allow; otherwise deny. Structure: policy = ANY rule (no rules ⇒ never); rule = ALL clauses
// (none ⇒ true); clause = ANY non-empty Match (no matches ⇒ true; only empty Matches ⇒ false); Match = ALL populated
// field types; positive list = ANY element, `not*` list = NONE.
import { splitSpiffeId } from '../../lib/certs/spiffe-id.js';
import { ipBytes, prefixContains, type IpPrefix } from '../../lib/ip-address.js';
import {
  authorizationKey, type Authorization, type Match, type Rule, type ServiceAccountMatch, type StringMatch,
} from '../state/types.js';

/** The peer identity as RBAC sees it (from the first parsable SPIFFE URI SAN of the peer certificate). */
interface PeerIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

/** What RBAC knows about one connection. `dstPort` is the target port after service-port translation. */
export interface ConnectionFacts {
  srcIp: string;
  dstIp: string;
  dstPort: number;
  /** Full `spiffe://…` id of the mTLS peer; absent for plaintext. */
  srcIdentity?: string;
}

export type AuthorizationDecision =
  | { allowed: true; dryRunNotes: string[] }
  | { allowed: false; reason: string; policy?: string; dryRunNotes: string[] };

export const REASON_NOT_ALLOWED = 'allow policies exist, but none allowed';

/** `explicitly denied by ns/name`: the reason logged when a DENY policy matched. */
function explicitlyDeniedReason(key: string): string {
  return `explicitly denied by ${key}`;
}

// --- Policy selection ---

/**
 * An immutable index of authorizations by scope. Built once per xDS update ("snapshot, then swap"); connections
 * read whichever snapshot is current.
 */
export class PolicySet {
  readonly #byKey = new Map<string, Authorization>();
  readonly #byNamespace = new Map<string, Authorization[]>();
  readonly #global: Authorization[] = [];

  constructor(policies: Iterable<Authorization>) {
    for (const p of policies) {
      const key = authorizationKey(p);
      this.#byKey.set(key, p);
    }
    for (const p of this.#byKey.values()) {
      if (p.scope === 'GLOBAL') this.#global.push(p);
      else if (p.scope === 'NAMESPACE') {
        const list = this.#byNamespace.get(p.namespace);
        if (list) list.push(p);
        else this.#byNamespace.set(p.namespace, [p]);
      }
    }
  }

  get size(): number {
    return this.#byKey.size;
  }

  get(key: string): Authorization | undefined {
    return this.#byKey.get(key);
  }

  all(): Authorization[] {
    return [...this.#byKey.values()];
  }

  /**
   * Policies that apply to a destination workload: NAMESPACE-scope policies of its namespace, every GLOBAL policy,
   * and the WORKLOAD_SELECTOR policies it lists by key. Unknown keys are skipped (returned in `unknownKeys`).
   */
  select(workload: { namespace: string; authorizationPolicies: readonly string[] }): { policies: Authorization[]; unknownKeys: string[] } {
    const policies = [...(this.#byNamespace.get(workload.namespace) ?? []), ...this.#global];
    const unknownKeys: string[] = [];
    for (const key of workload.authorizationPolicies) {
      const p = this.#byKey.get(key);
      if (!p) unknownKeys.push(key);
      else if (p.scope === 'WORKLOAD_SELECTOR') policies.push(p);
    }
    return { policies, unknownKeys };
  }
}

// --- Matching ---

/** Facts prepared once per evaluation (parsed IPs, stripped principal). */
interface PreparedConnection {
  srcIp: Buffer | undefined;
  dstIp: Buffer | undefined;
  dstPort: number;
  identity: PeerIdentity | undefined;
  /** Identity without `spiffe://`, e.g. `td/ns/foo/sa/bar`. */
  principal: string | undefined;
}

function prepare(conn: ConnectionFacts): PreparedConnection {
  const identity = splitSpiffeId(conn.srcIdentity);
  return {
    srcIp: ipBytes(conn.srcIp),
    dstIp: ipBytes(conn.dstIp),
    dstPort: conn.dstPort,
    identity,
    principal: identity ? `${identity.trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}` : undefined,
  };
}

/** exact / prefix / suffix / presence (non-empty). An absent value never matches. */
export function stringMatches(m: StringMatch, value: string | undefined): boolean {
  if (value === undefined) return false;
  switch (m.kind) {
    case 'exact': return value === m.value;
    case 'prefix': return value.startsWith(m.value);
    case 'suffix': return value.endsWith(m.value);
    case 'presence': return value.length > 0;
  }
}

function anyString(list: StringMatch[], value: string | undefined): boolean {
  for (const m of list) if (stringMatches(m, value)) return true;
  return false;
}

function anyPrefix(list: IpPrefix[], ip: Buffer | undefined): boolean {
  if (!ip) return false;
  for (const p of list) if (prefixContains(p, ip)) return true;
  return false;
}

function anyServiceAccount(list: ServiceAccountMatch[], id: PeerIdentity | undefined): boolean {
  if (!id) return false;
  for (const m of list) if (m.namespace === id.namespace && m.serviceAccount === id.serviceAccount) return true;
  return false;
}

function isEmptyMatch(m: Match): boolean {
  return m.namespaces.length === 0 && m.notNamespaces.length === 0 && m.principals.length === 0 &&
    m.notPrincipals.length === 0 && m.sourceIps.length === 0 && m.notSourceIps.length === 0 &&
    m.destinationIps.length === 0 && m.notDestinationIps.length === 0 && m.destinationPorts.length === 0 &&
    m.notDestinationPorts.length === 0 && m.serviceAccounts.length === 0 && m.notServiceAccounts.length === 0;
}

/** Whether one non-empty Match passes: every populated field type must. */
function matchPasses(m: Match, c: PreparedConnection): boolean {
  // A plaintext peer matches no namespace value (so only `not_namespaces` can pass for it).
  const ns = c.identity?.namespace;
  if (m.namespaces.length && !anyString(m.namespaces, ns)) return false;
  if (m.notNamespaces.length && anyString(m.notNamespaces, ns)) return false;
  if (m.principals.length && !anyString(m.principals, c.principal)) return false;
  if (m.notPrincipals.length && anyString(m.notPrincipals, c.principal)) return false;
  if (m.sourceIps.length && !anyPrefix(m.sourceIps, c.srcIp)) return false;
  if (m.notSourceIps.length && anyPrefix(m.notSourceIps, c.srcIp)) return false;
  if (m.destinationIps.length && !anyPrefix(m.destinationIps, c.dstIp)) return false;
  if (m.notDestinationIps.length && anyPrefix(m.notDestinationIps, c.dstIp)) return false;
  if (m.destinationPorts.length && !m.destinationPorts.includes(c.dstPort)) return false;
  if (m.notDestinationPorts.length && m.notDestinationPorts.includes(c.dstPort)) return false;
  if (m.serviceAccounts.length && !anyServiceAccount(m.serviceAccounts, c.identity)) return false;
  if (m.notServiceAccounts.length && anyServiceAccount(m.notServiceAccounts, c.identity)) return false;
  return true;
}

function ruleMatches(rule: Rule, c: PreparedConnection): boolean {
  for (const clause of rule.clauses) {
    if (clause.matches.length === 0) continue; // a clause with no matches is true
    let any = false;
    for (const m of clause.matches) {
      if (isEmptyMatch(m)) continue; // skipped: a clause of only empty Matches is false
      if (matchPasses(m, c)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return true;
}

function policyMatchesPrepared(p: Authorization, c: PreparedConnection): boolean {
  for (const rule of p.rules) if (ruleMatches(rule, c)) return true;
  return false;
}

/** Whether `policy` matches `conn` (any rule matches); ignores action and dry-run. */
export function policyMatches(policy: Authorization, conn: ConnectionFacts): boolean {
  return policyMatchesPrepared(policy, prepare(conn));
}

/** The decision for `conn` under the `policies` that apply to its destination workload (see PolicySet.select). */
export function evaluatePolicies(policies: readonly Authorization[], conn: ConnectionFacts): AuthorizationDecision {
  const c = prepare(conn);
  const dryRunNotes: string[] = [];
  for (const p of policies) {
    if (!p.dryRun) continue;
    const matched = policyMatchesPrepared(p, c);
    dryRunNotes.push(`dry-run: ${p.action} policy ${authorizationKey(p)} ${matched ? 'matched' : 'did not match'}`);
  }
  for (const p of policies) {
    if (p.dryRun || p.action !== 'DENY') continue;
    if (policyMatchesPrepared(p, c)) {
      const key = authorizationKey(p);
      return { allowed: false, reason: explicitlyDeniedReason(key), policy: key, dryRunNotes };
    }
  }
  let anyAllow = false;
  for (const p of policies) {
    if (p.dryRun || p.action !== 'ALLOW') continue;
    anyAllow = true;
    if (policyMatchesPrepared(p, c)) return { allowed: true, dryRunNotes };
  }
  if (!anyAllow) return { allowed: true, dryRunNotes };
  return { allowed: false, reason: REASON_NOT_ALLOWED, dryRunNotes };
}

/** Selects the policies for `workload` from `set` and evaluates `conn` against them. */
export function authorize(
  set: PolicySet,
  workload: { namespace: string; authorizationPolicies: readonly string[] },
  conn: ConnectionFacts,
): AuthorizationDecision {
  return evaluatePolicies(set.select(workload).policies, conn);
}
