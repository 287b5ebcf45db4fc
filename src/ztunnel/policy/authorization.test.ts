// Unit tests: L4 authorization semantics, every test vector of PROTOCOLS.md §5 (23) plus StringMatch edges.
import { test } from 'node:test';
import { splitSpiffeId } from '../../lib/certs/spiffe-id.js';
import assert from 'node:assert/strict';
import {
  PolicySet, authorize, evaluatePolicies, policyMatches, stringMatches, REASON_NOT_ALLOWED,
  type ConnectionFacts,
} from './authorization.js';
import { emptyMatch, type Authorization, type Match, type Rule } from '../state/types.js';
import { parseIpPrefix } from '../../lib/ip-address.js';

const P: ConnectionFacts = { srcIp: '127.0.0.1', dstIp: '127.0.0.2', dstPort: 8080 };
const T: ConnectionFacts = { ...P, srcIdentity: 'spiffe://td/ns/namespace/sa/account' };
const A: ConnectionFacts = { srcIp: '127.0.0.3', dstIp: '127.0.0.4', dstPort: 9090, srcIdentity: 'spiffe://td-alt/ns/ns-alt/sa/sa=alt' };

function match(fields: Partial<Match>): Match {
  return { ...emptyMatch(), ...fields };
}
function prefixes(...texts: string[]) {
  return texts.map((t) => parseIpPrefix(t)!);
}
function policy(rules: Rule[], extra: Partial<Authorization> = {}): Authorization {
  return { name: 'p', namespace: 'ns', scope: 'NAMESPACE', action: 'ALLOW', rules, dryRun: false, ...extra };
}
function oneMatch(m: Match): Authorization {
  return policy([{ clauses: [{ matches: [m] }] }]);
}

const exact = (value: string) => ({ kind: 'exact' as const, value });

// Vectors 1–15: single ALLOW policy; expected [P, T, A].
const singleVectors: Array<[number, string, Authorization, [boolean, boolean, boolean]]> = [
  [1, 'namespaces exact', oneMatch(match({ namespaces: [exact('namespace')] })), [false, true, false]],
  [2, 'not_namespaces exact', oneMatch(match({ notNamespaces: [exact('namespace')] })), [true, false, true]],
  [3, 'service_accounts', oneMatch(match({ serviceAccounts: [{ namespace: 'namespace', serviceAccount: 'account' }] })), [false, true, false]],
  [4, 'not_service_accounts', oneMatch(match({ notServiceAccounts: [{ namespace: 'namespace', serviceAccount: 'account' }] })), [true, false, true]],
  [5, 'principals exact', oneMatch(match({ principals: [exact('td/ns/namespace/sa/account')] })), [false, true, false]],
  [6, 'not_principals exact', oneMatch(match({ notPrincipals: [exact('td/ns/namespace/sa/account')] })), [true, false, true]],
  [7, 'source_ips', oneMatch(match({ sourceIps: prefixes('127.0.0.1/32') })), [true, true, false]],
  [8, 'not_source_ips', oneMatch(match({ notSourceIps: prefixes('127.0.0.1/32') })), [false, false, true]],
  [9, 'destination_ips /32', oneMatch(match({ destinationIps: prefixes('127.0.0.2/32') })), [true, true, false]],
  [10, 'destination_ips /24', oneMatch(match({ destinationIps: prefixes('127.0.0.1/24') })), [true, true, true]],
  [11, 'destination_ports', oneMatch(match({ destinationPorts: [8080] })), [true, true, false]],
  [12, 'not_destination_ports', oneMatch(match({ notDestinationPorts: [8080] })), [false, false, true]],
  [13, 'rules=[]', policy([]), [false, false, false]],
  [14, 'rules=[[ ]] (rule without clauses)', policy([{ clauses: [] }]), [true, true, true]],
  [14, 'rules=[[ [] ]] (clause without matches)', policy([{ clauses: [{ matches: [] }] }]), [true, true, true]],
  [15, 'rules=[[ [ {} ] ]] (one empty Match)', policy([{ clauses: [{ matches: [emptyMatch()] }] }]), [false, false, false]],
];

for (const [n, name, p, [wantP, wantT, wantA]] of singleVectors) {
  test(`vector ${n}: ${name} matches P=${wantP} T=${wantT} A=${wantA}`, () => {
    assert.equal(policyMatches(p, P), wantP, 'P (plaintext)');
    assert.equal(policyMatches(p, T), wantT, 'T (td/namespace/account)');
    assert.equal(policyMatches(p, A), wantA, 'A (td-alt/ns-alt)');
    // As the only ALLOW policy the match result is the decision.
    assert.equal(evaluatePolicies([p], P).allowed, wantP);
    assert.equal(evaluatePolicies([p], T).allowed, wantT);
  });
}

// Vectors 16–18: a rule with clause1 = [ns a] OR [ns b], clause2 = [port 80].
const structural = policy([{
  clauses: [
    { matches: [match({ namespaces: [exact('a')] }), match({ namespaces: [exact('b')] })] },
    { matches: [match({ destinationPorts: [80] })] },
  ],
}], { namespace: 'ns1' });
const fromNs = (ns: string, port: number): ConnectionFacts => ({
  srcIp: '10.0.0.1', dstIp: '10.0.0.2', dstPort: port, srcIdentity: `spiffe://cluster.local/ns/${ns}/sa/default`,
});

test('vector 16: clause1 (ns a OR ns b) AND clause2 (port 80): ns b → :80 matches', () => {
  assert.equal(policyMatches(structural, fromNs('b', 80)), true);
  assert.equal(policyMatches(structural, fromNs('a', 80)), true);
});

test('vector 17: ns b → :12345 and ns "bad" → :80 do not match', () => {
  assert.equal(policyMatches(structural, fromNs('b', 12345)), false);
  assert.equal(policyMatches(structural, fromNs('bad', 80)), false);
});

test('vector 18: the destination network is not considered', () => {
  // ConnectionFacts carries no network at all: a "remote" dst network cannot change the result.
  const remote = { ...fromNs('b', 80), dstNetwork: 'remote' } as ConnectionFacts;
  assert.equal(policyMatches(structural, remote), true);
});

// Vectors 19–22: ns1 has ALLOW principal …/sa/defaultacct and DENY principal …/sa/denyacct.
const allowDefault = policy([{ clauses: [{ matches: [match({ principals: [exact('cluster.local/ns/default/sa/defaultacct')] })] }] }], { name: 'allow', namespace: 'ns1' });
const denyDeny = policy([{ clauses: [{ matches: [match({ principals: [exact('cluster.local/ns/default/sa/denyacct')] })] }] }], { name: 'deny', namespace: 'ns1', action: 'DENY' });
const set = new PolicySet([allowDefault, denyDeny]);
const fromSa = (sa: string): ConnectionFacts => ({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', dstPort: 80, srcIdentity: `spiffe://cluster.local/ns/default/sa/${sa}` });
const ns1Workload = { namespace: 'ns1', authorizationPolicies: [] };

test('vector 19: defaultacct is allowed', () => {
  assert.deepEqual(authorize(set, ns1Workload, fromSa('defaultacct')), { allowed: true, dryRunNotes: [] });
});

test('vector 20: not-defaultacct is denied: allow policies exist, but none allowed', () => {
  const d = authorize(set, ns1Workload, fromSa('not-defaultacct'));
  assert.equal(d.allowed, false);
  assert.equal(!d.allowed && d.reason, REASON_NOT_ALLOWED);
  assert.equal(REASON_NOT_ALLOWED, 'allow policies exist, but none allowed');
});

test('vector 21: denyacct is explicitly denied by ns1/deny', () => {
  const d = authorize(set, ns1Workload, fromSa('denyacct'));
  assert.equal(d.allowed, false);
  assert.equal(!d.allowed && d.reason, 'explicitly denied by ns1/deny');
  assert.equal(!d.allowed && d.policy, 'ns1/deny');
});

test('vector 22: a workload in ns2 is not governed by ns1 policies', () => {
  assert.equal(authorize(set, { namespace: 'ns2', authorizationPolicies: [] }, fromSa('not-defaultacct')).allowed, true);
});

test('vector 23: dry-run ALLOW and DENY only ⇒ allowed, with dry-run notes', () => {
  const wildcardRule: Rule[] = [{ clauses: [] }];
  const dryAllow = policy(wildcardRule, { name: 'dry-allow', dryRun: true });
  const dryDeny = policy(wildcardRule, { name: 'dry-deny', action: 'DENY', dryRun: true });
  const d = evaluatePolicies([dryAllow, dryDeny], T);
  assert.equal(d.allowed, true);
  assert.deepEqual(d.dryRunNotes, ['dry-run: ALLOW policy ns/dry-allow matched', 'dry-run: DENY policy ns/dry-deny matched']);
  assert.equal(evaluatePolicies([dryDeny], P).allowed, true);
});

test('StringMatch edges: exact/prefix/suffix/presence', () => {
  assert.equal(stringMatches(exact('foo'), ''), false);
  assert.equal(stringMatches({ kind: 'prefix', value: 'foo' }, 'notfoo'), false);
  assert.equal(stringMatches({ kind: 'prefix', value: 'foo' }, 'foobar'), true);
  assert.equal(stringMatches({ kind: 'suffix', value: 'foo' }, 'foonot'), false);
  assert.equal(stringMatches({ kind: 'suffix', value: 'foo' }, 'barfoo'), true);
  assert.equal(stringMatches({ kind: 'presence' }, ''), false);
  assert.equal(stringMatches({ kind: 'presence' }, 'foo'), true);
});

test('policy selection: NAMESPACE by namespace, GLOBAL everywhere, WORKLOAD_SELECTOR by listed key only', () => {
  const g = policy([], { name: 'g', namespace: 'istio-system', scope: 'GLOBAL' });
  const n = policy([], { name: 'n', namespace: 'ns1', scope: 'NAMESPACE' });
  const s = policy([], { name: 's', namespace: 'ns1', scope: 'WORKLOAD_SELECTOR' });
  const ps = new PolicySet([g, n, s]);
  const keys = (sel: { policies: Authorization[] }) => sel.policies.map((p) => `${p.namespace}/${p.name}`).sort();
  assert.deepEqual(keys(ps.select({ namespace: 'ns1', authorizationPolicies: [] })), ['istio-system/g', 'ns1/n']);
  assert.deepEqual(keys(ps.select({ namespace: 'ns1', authorizationPolicies: ['ns1/s'] })), ['istio-system/g', 'ns1/n', 'ns1/s']);
  assert.deepEqual(keys(ps.select({ namespace: 'ns2', authorizationPolicies: [] })), ['istio-system/g']);
  assert.deepEqual(ps.select({ namespace: 'ns2', authorizationPolicies: ['ns1/missing'] }).unknownKeys, ['ns1/missing']);
  // A selector policy is never applied by namespace alone.
  assert.deepEqual(keys(ps.select({ namespace: 'ns1', authorizationPolicies: ['ns1/n'] })), ['istio-system/g', 'ns1/n']);
});

test('DENY wins over a matching ALLOW; no ALLOW at all ⇒ allow', () => {
  const all: Rule[] = [{ clauses: [] }];
  assert.equal(evaluatePolicies([policy(all), policy(all, { name: 'd', action: 'DENY' })], T).allowed, false);
  assert.equal(evaluatePolicies([policy([], { action: 'DENY' })], T).allowed, true);
  assert.equal(evaluatePolicies([], P).allowed, true);
});

test('principal prefix matches the identity with spiffe:// stripped; malformed ids are no identity', () => {
  const p = oneMatch(match({ principals: [{ kind: 'prefix', value: 'cluster.local/ns/foo/' }] }));
  assert.equal(policyMatches(p, { ...P, srcIdentity: 'spiffe://cluster.local/ns/foo/sa/x' }), true);
  assert.equal(policyMatches(p, { ...P, srcIdentity: 'spiffe://cluster.local/ns/bar/sa/x' }), false);
  assert.equal(splitSpiffeId('spiffe://td/ns/a/sa/b/extra'), undefined);
  assert.equal(splitSpiffeId('https://td/ns/a/sa/b'), undefined);
  assert.deepEqual(splitSpiffeId('spiffe://td-alt/ns/ns-alt/sa/sa=alt'), { trustDomain: 'td-alt', namespace: 'ns-alt', serviceAccount: 'sa=alt' });
});

test('IPv6 prefixes match IPv6 sources only', () => {
  const p = oneMatch(match({ sourceIps: prefixes('fd00::/8') }));
  assert.equal(policyMatches(p, { ...P, srcIp: 'fd00::1' }), true);
  assert.equal(policyMatches(p, { ...P, srcIp: 'fe80::1' }), false);
  assert.equal(policyMatches(p, P), false);
});
