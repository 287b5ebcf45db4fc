// Table vectors for L7 AuthorizationPolicy (ISTIO-API.md §3): every source, operation and `when` field with its
// `not` form, Istio's string and path matching, the evaluation order, and fail-closed handling of what a TCP stream
// or an unknown key cannot tell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateL7, normalizePath, type AuthorizationPolicySpec, type L7Policy, type RequestFacts } from './l7-policy.js';

const CLIENT = 'spiffe://cluster.local/ns/shop/sa/client';

function req(over: Partial<RequestFacts> & { method?: string; path?: string; host?: string; headers?: Record<string, string | string[]> } = {}): RequestFacts {
  const { method, path, host, headers, ...rest } = over;
  return {
    sourceIdentity: CLIENT, sourceIp: '10.244.1.5', destinationIp: '10.96.0.20', destinationPort: 80,
    http: { host: host ?? 'echo.shop.svc.cluster.local', method: method ?? 'GET', path: path ?? '/', headers: headers ?? {} },
    ...rest,
  };
}

const tcp = (over: Partial<RequestFacts> = {}): RequestFacts => ({ sourceIdentity: CLIENT, sourceIp: '10.244.1.5', destinationIp: '10.96.0.20', destinationPort: 9000, ...over });

const policy = (spec: AuthorizationPolicySpec, name = 'p', namespace = 'shop'): L7Policy => ({ namespace, name, spec });
const allowFrom = (source: object) => policy({ rules: [{ from: [{ source }] }] });
const allowTo = (operation: object) => policy({ rules: [{ to: [{ operation }] }] });
const allowWhen = (key: string, values?: string[], notValues?: string[]) => policy({ rules: [{ when: [{ key, ...(values ? { values } : {}), ...(notValues ? { notValues } : {}) }] }] });
const JWT = { principal: 'https://issuer.test/alice', audiences: ['shop', 'web'], presenter: 'web-app', claims: { iss: 'https://issuer.test', sub: 'alice', groups: ['admins', 'dev'], scope: ['read', 'write'], org: { team: 'payments', level: 3 } } };

interface Vector {
  name: string;
  policies: L7Policy[];
  facts: RequestFacts;
  allowed: boolean;
  by?: string;
}

const V: Vector[] = [
  // Evaluation order and rule structure.
  { name: 'no policy: allowed', policies: [], facts: req(), allowed: true },
  { name: 'ALLOW with no rules: denies everything', policies: [policy({})], facts: req(), allowed: false },
  { name: 'ALLOW with an empty rule: allows everything', policies: [policy({ rules: [{}] })], facts: req(), allowed: true, by: 'shop/p' },
  { name: 'DENY with no rules: never matches', policies: [policy({ action: 'DENY' })], facts: req(), allowed: true },
  { name: 'DENY before ALLOW when both match', policies: [policy({ rules: [{}] }, 'a'), policy({ action: 'DENY', rules: [{}] }, 'd')], facts: req(), allowed: false, by: 'shop/d' },
  { name: 'AUDIT never changes the decision', policies: [policy({ action: 'AUDIT', rules: [{}] })], facts: req(), allowed: true },
  { name: 'CUSTOM without a provider fails closed', policies: [policy({ action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] })], facts: req(), allowed: false, by: 'shop/p' },
  { name: 'CUSTOM that does not match: no effect', policies: [policy({ action: 'CUSTOM', provider: { name: 'opa' }, rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] })], facts: req(), allowed: true },
  { name: 'any of several ALLOW policies', policies: [allowTo({ methods: ['POST'] }), policy({ rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }, 'q')], facts: req(), allowed: true, by: 'shop/q' },
  { name: 'from AND to: both must match', policies: [policy({ rules: [{ from: [{ source: { namespaces: ['shop'] } }], to: [{ operation: { methods: ['POST'] } }] }] })], facts: req(), allowed: false },
  { name: 'any of several from entries', policies: [policy({ rules: [{ from: [{ source: { namespaces: ['other'] } }, { source: { namespaces: ['shop'] } }] }] })], facts: req(), allowed: true },
  { name: 'every when must match', policies: [policy({ rules: [{ when: [{ key: 'request.headers[x-a]', values: ['1'] }, { key: 'request.headers[x-b]', values: ['2'] }] }] })], facts: req({ headers: { 'x-a': '1' } }), allowed: false },
  { name: 'fields within one source are ANDed', policies: [allowFrom({ namespaces: ['shop'], principals: ['cluster.local/ns/shop/sa/other'] })], facts: req(), allowed: false },

  // Source fields.
  { name: 'principals exact', policies: [allowFrom({ principals: ['cluster.local/ns/shop/sa/client'] })], facts: req(), allowed: true },
  { name: 'principals written with spiffe://', policies: [allowFrom({ principals: ['spiffe://cluster.local/ns/shop/sa/client'] })], facts: req(), allowed: true },
  { name: 'principals prefix', policies: [allowFrom({ principals: ['cluster.local/ns/shop/*'] })], facts: req(), allowed: true },
  { name: 'principals suffix', policies: [allowFrom({ principals: ['*/sa/client'] })], facts: req(), allowed: true },
  { name: 'principals other', policies: [allowFrom({ principals: ['cluster.local/ns/shop/sa/web'] })], facts: req(), allowed: false },
  { name: 'principals * needs an mTLS peer', policies: [allowFrom({ principals: ['*'] })], facts: req({ sourceIdentity: undefined }), allowed: false },
  { name: 'principals * with a peer', policies: [allowFrom({ principals: ['*'] })], facts: req(), allowed: true },
  { name: 'notPrincipals excludes', policies: [allowFrom({ notPrincipals: ['cluster.local/ns/shop/sa/client'] })], facts: req(), allowed: false },
  { name: 'notPrincipals lets others in', policies: [allowFrom({ notPrincipals: ['cluster.local/ns/shop/sa/web'] })], facts: req(), allowed: true },
  { name: 'DENY notPrincipals catches plaintext', policies: [policy({ action: 'DENY', rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }] })], facts: req({ sourceIdentity: undefined }), allowed: false },
  { name: 'namespaces', policies: [allowFrom({ namespaces: ['shop'] })], facts: req(), allowed: true },
  { name: 'namespaces prefix', policies: [allowFrom({ namespaces: ['sh*'] })], facts: req(), allowed: true },
  { name: 'namespaces other', policies: [allowFrom({ namespaces: ['dev'] })], facts: req(), allowed: false },
  { name: 'notNamespaces', policies: [allowFrom({ notNamespaces: ['shop'] })], facts: req(), allowed: false },
  { name: 'serviceAccounts ns/sa', policies: [allowFrom({ serviceAccounts: ['shop/client'] })], facts: req(), allowed: true },
  { name: 'serviceAccounts bare = policy namespace', policies: [allowFrom({ serviceAccounts: ['client'] })], facts: req(), allowed: true },
  { name: 'serviceAccounts bare in another namespace', policies: [policy({ rules: [{ from: [{ source: { serviceAccounts: ['client'] } }] }] }, 'p', 'other')], facts: req(), allowed: false },
  { name: 'notServiceAccounts', policies: [allowFrom({ notServiceAccounts: ['shop/client'] })], facts: req(), allowed: false },
  { name: 'trustDomains', policies: [allowFrom({ trustDomains: ['cluster.local'] })], facts: req(), allowed: true },
  { name: 'notTrustDomains', policies: [allowFrom({ notTrustDomains: ['cluster.local'] })], facts: req(), allowed: false },
  { name: 'ipBlocks CIDR', policies: [allowFrom({ ipBlocks: ['10.244.0.0/16'] })], facts: req(), allowed: true },
  { name: 'ipBlocks single IP', policies: [allowFrom({ ipBlocks: ['10.244.1.5'] })], facts: req(), allowed: true },
  { name: 'ipBlocks outside', policies: [allowFrom({ ipBlocks: ['192.168.0.0/16'] })], facts: req(), allowed: false },
  { name: 'ipBlocks matches an IPv4-mapped source', policies: [allowFrom({ ipBlocks: ['10.244.1.0/24'] })], facts: req({ sourceIp: '::ffff:10.244.1.5' }), allowed: true },
  { name: 'notIpBlocks', policies: [allowFrom({ notIpBlocks: ['10.244.1.0/24'] })], facts: req(), allowed: false },
  { name: 'remoteIpBlocks uses the remote IP', policies: [allowFrom({ remoteIpBlocks: ['203.0.113.0/24'] })], facts: req({ remoteIp: '203.0.113.9' }), allowed: true },
  { name: 'remoteIpBlocks defaults to the source IP', policies: [allowFrom({ remoteIpBlocks: ['10.244.1.5/32'] })], facts: req(), allowed: true },
  { name: 'notRemoteIpBlocks', policies: [allowFrom({ notRemoteIpBlocks: ['203.0.113.0/24'] })], facts: req({ remoteIp: '203.0.113.9' }), allowed: false },
  { name: 'requestPrincipals', policies: [allowFrom({ requestPrincipals: ['https://issuer.test/alice'] })], facts: req({ auth: JWT }), allowed: true },
  { name: 'requestPrincipals * needs a token', policies: [allowFrom({ requestPrincipals: ['*'] })], facts: req(), allowed: false },
  { name: 'requestPrincipals * with a token', policies: [allowFrom({ requestPrincipals: ['*'] })], facts: req({ auth: JWT }), allowed: true },
  { name: 'requestPrincipals issuer prefix', policies: [allowFrom({ requestPrincipals: ['https://issuer.test/*'] })], facts: req({ auth: JWT }), allowed: true },
  { name: 'notRequestPrincipals', policies: [allowFrom({ notRequestPrincipals: ['https://issuer.test/alice'] })], facts: req({ auth: JWT }), allowed: false },

  // Operation fields.
  { name: 'methods', policies: [allowTo({ methods: ['GET', 'HEAD'] })], facts: req(), allowed: true },
  { name: 'methods other', policies: [allowTo({ methods: ['GET'] })], facts: req({ method: 'DELETE' }), allowed: false },
  { name: 'notMethods', policies: [allowTo({ notMethods: ['DELETE'] })], facts: req({ method: 'DELETE' }), allowed: false },
  { name: 'paths exact', policies: [allowTo({ paths: ['/orders'] })], facts: req({ path: '/orders' }), allowed: true },
  { name: 'paths exact ignores the query', policies: [allowTo({ paths: ['/orders'] })], facts: req({ path: '/orders?id=7' }), allowed: true },
  { name: 'paths prefix', policies: [allowTo({ paths: ['/api/*'] })], facts: req({ path: '/api/v1/items' }), allowed: true },
  { name: 'paths suffix', policies: [allowTo({ paths: ['*.html'] })], facts: req({ path: '/docs/index.html' }), allowed: true },
  { name: 'paths are normalized (dot segments)', policies: [allowTo({ notPaths: ['/admin*'] })], facts: req({ path: '/public/../admin/users' }), allowed: false },
  { name: 'paths are normalized (escaped unreserved)', policies: [policy({ action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] })], facts: req({ path: '/%61dmin' }), allowed: false },
  { name: 'paths {*} is one segment', policies: [allowTo({ paths: ['/users/{*}/profile'] })], facts: req({ path: '/users/42/profile' }), allowed: true },
  { name: 'paths {*} is not two segments', policies: [allowTo({ paths: ['/users/{*}/profile'] })], facts: req({ path: '/users/4/2/profile' }), allowed: false },
  { name: 'paths {**} is the rest', policies: [allowTo({ paths: ['/files/{**}'] })], facts: req({ path: '/files/a/b/c.txt' }), allowed: true },
  { name: 'notPaths', policies: [allowTo({ notPaths: ['/private*'] })], facts: req({ path: '/private/x' }), allowed: false },
  { name: 'hosts case-insensitive', policies: [allowTo({ hosts: ['ECHO.shop.svc.cluster.local'] })], facts: req(), allowed: true },
  { name: 'hosts ignore the request port', policies: [allowTo({ hosts: ['echo.shop.svc.cluster.local'] })], facts: req({ host: 'echo.shop.svc.cluster.local:80' }), allowed: true },
  { name: 'hosts prefix wildcard', policies: [allowTo({ hosts: ['echo.*'] })], facts: req({ host: 'echo.shop' }), allowed: true },
  { name: 'hosts suffix wildcard', policies: [allowTo({ hosts: ['*.svc.cluster.local'] })], facts: req(), allowed: true },
  { name: 'notHosts', policies: [allowTo({ notHosts: ['echo.shop.svc.cluster.local'] })], facts: req(), allowed: false },
  { name: 'ports', policies: [allowTo({ ports: ['80'] })], facts: req(), allowed: true },
  { name: 'ports other', policies: [allowTo({ ports: ['8080'] })], facts: req(), allowed: false },
  { name: 'notPorts', policies: [allowTo({ notPorts: ['80'] })], facts: req(), allowed: false },

  // when keys, each with its notValues form.
  { name: 'request.headers value', policies: [allowWhen('request.headers[x-user]', ['alice'])], facts: req({ headers: { 'x-user': 'alice' } }), allowed: true },
  { name: 'request.headers name is case-insensitive', policies: [allowWhen('request.headers[X-User]', ['alice'])], facts: req({ headers: { 'x-user': 'alice' } }), allowed: true },
  { name: 'request.headers prefix', policies: [allowWhen('request.headers[user-agent]', ['curl/*'])], facts: req({ headers: { 'user-agent': 'curl/8.1' } }), allowed: true },
  { name: 'request.headers absent', policies: [allowWhen('request.headers[x-user]', ['*'])], facts: req(), allowed: false },
  { name: 'request.headers notValues', policies: [allowWhen('request.headers[x-user]', undefined, ['mallory'])], facts: req({ headers: { 'x-user': 'mallory' } }), allowed: false },
  { name: 'request.headers any of repeated values', policies: [allowWhen('request.headers[x-tag]', ['b'])], facts: req({ headers: { 'x-tag': ['a', 'b'] } }), allowed: true },
  { name: 'source.ip', policies: [allowWhen('source.ip', ['10.244.1.0/24'])], facts: req(), allowed: true },
  { name: 'source.ip notValues', policies: [allowWhen('source.ip', undefined, ['10.244.1.5'])], facts: req(), allowed: false },
  { name: 'remote.ip', policies: [allowWhen('remote.ip', ['203.0.113.9'])], facts: req({ remoteIp: '203.0.113.9' }), allowed: true },
  { name: 'source.namespace', policies: [allowWhen('source.namespace', ['shop'])], facts: req(), allowed: true },
  { name: 'source.namespace notValues', policies: [allowWhen('source.namespace', undefined, ['shop'])], facts: req(), allowed: false },
  { name: 'source.principal', policies: [allowWhen('source.principal', ['cluster.local/ns/shop/sa/client'])], facts: req(), allowed: true },
  { name: 'source.serviceAccount', policies: [allowWhen('source.serviceAccount', ['shop/client'])], facts: req(), allowed: true },
  { name: 'source.trustDomain', policies: [allowWhen('source.trustDomain', ['cluster.local'])], facts: req(), allowed: true },
  { name: 'destination.ip', policies: [allowWhen('destination.ip', ['10.96.0.0/16'])], facts: req(), allowed: true },
  { name: 'destination.port', policies: [allowWhen('destination.port', ['80'])], facts: req(), allowed: true },
  { name: 'destination.port notValues', policies: [allowWhen('destination.port', undefined, ['80'])], facts: req(), allowed: false },
  { name: 'connection.sni', policies: [allowWhen('connection.sni', ['*.example.com'])], facts: req({ sni: 'api.example.com' }), allowed: true },
  { name: 'request.auth.principal', policies: [allowWhen('request.auth.principal', ['https://issuer.test/alice'])], facts: req({ auth: JWT }), allowed: true },
  { name: 'request.auth.audiences', policies: [allowWhen('request.auth.audiences', ['web'])], facts: req({ auth: JWT }), allowed: true },
  { name: 'request.auth.audiences notValues', policies: [allowWhen('request.auth.audiences', undefined, ['shop'])], facts: req({ auth: JWT }), allowed: false },
  { name: 'request.auth.presenter', policies: [allowWhen('request.auth.presenter', ['web-app'])], facts: req({ auth: JWT }), allowed: true },
  { name: 'request.auth.claims list claim', policies: [allowWhen('request.auth.claims[groups]', ['admins'])], facts: req({ auth: JWT }), allowed: true },
  { name: 'request.auth.claims without a token', policies: [allowWhen('request.auth.claims[groups]', ['admins'])], facts: req(), allowed: false },
  { name: 'request.auth.claims nested', policies: [allowWhen('request.auth.claims[org][team]', ['payments'])], facts: req({ auth: JWT }), allowed: true },
  { name: 'request.auth.claims nested number', policies: [allowWhen('request.auth.claims[org][level]', ['3'])], facts: req({ auth: JWT }), allowed: true },
  { name: 'request.auth.claims scope (split on spaces by RequestAuthentication)', policies: [allowWhen('request.auth.claims[scope]', ['write'])], facts: req({ auth: JWT }), allowed: true },
  { name: 'request.auth.claims notValues', policies: [allowWhen('request.auth.claims[groups]', undefined, ['dev'])], facts: req({ auth: JWT }), allowed: false },

  // Fail closed.
  { name: 'unknown when key: an ALLOW rule fails', policies: [allowWhen('request.nonsense', ['x'])], facts: req(), allowed: false },
  { name: 'unknown when key: a DENY rule matches', policies: [policy({ action: 'DENY', rules: [{ when: [{ key: 'request.nonsense', values: ['x'] }] }] })], facts: req(), allowed: false },
  { name: 'TCP stream: an ALLOW rule with methods fails', policies: [allowTo({ methods: ['GET'] })], facts: tcp(), allowed: false },
  { name: 'TCP stream: an ALLOW rule with only L4 fields matches', policies: [policy({ rules: [{ from: [{ source: { namespaces: ['shop'] } }], to: [{ operation: { ports: ['9000'] } }] }] })], facts: tcp(), allowed: true },
  { name: 'TCP stream: a DENY rule with paths denies (more, never less)', policies: [policy({ action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] })], facts: tcp(), allowed: false },
  { name: 'TCP stream: a DENY with requestPrincipals denies', policies: [policy({ action: 'DENY', rules: [{ from: [{ source: { notRequestPrincipals: ['*'] } }] }] })], facts: tcp(), allowed: false },
  { name: 'TCP stream: request.headers in an ALLOW fails', policies: [allowWhen('request.headers[x]', ['1'])], facts: tcp(), allowed: false },
];

test(`L7 AuthorizationPolicy: ${V.length} table vectors`, () => {
  assert.ok(V.length >= 60);
  for (const v of V) {
    const d = evaluateL7(v.policies, v.facts);
    assert.equal(d.allowed, v.allowed, `${v.name}: ${d.reason}`);
    if (v.by) assert.equal(d.policy, v.by, `${v.name}: decided by ${d.policy}`);
  }
});

test('the decision names the policy and rule, and AUDIT matches are reported', () => {
  const d = evaluateL7([
    policy({ action: 'AUDIT', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] }, 'audit-deletes'),
    policy({ rules: [{ to: [{ operation: { methods: ['GET'] } }] }, { to: [{ operation: { methods: ['DELETE'] } }], from: [{ source: { namespaces: ['shop'] } }] }] }, 'writers'),
  ], req({ method: 'DELETE' }));
  assert.deepEqual(d, { allowed: true, policy: 'shop/writers', rule: 1, audit: ['shop/audit-deletes'], reason: 'allowed by ALLOW policy shop/writers rule 1' });
  const denied = evaluateL7([policy({ rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }, 'readers')], req({ method: 'DELETE' }));
  assert.equal(denied.reason, 'no rule of the ALLOW policies shop/readers matched: denied');
  const custom = evaluateL7([policy({ action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] }, 'ext')], req());
  assert.match(custom.reason, /^CUSTOM policy shop\/ext \(provider opa\) matched rule 0: external authorization is not available, denied \(fail closed\)$/);
});

test('path normalization: query and fragment dropped, dot segments resolved, unreserved escapes decoded', () => {
  assert.equal(normalizePath('/a/b?x=1#f'), '/a/b');
  assert.equal(normalizePath('/a/./b/../c'), '/a/c');
  assert.equal(normalizePath('/../../etc'), '/etc');
  assert.equal(normalizePath('/%7Euser/%2Fx'), '/~user/%2Fx');
  assert.equal(normalizePath('/a/b/..'), '/a/');
  assert.equal(normalizePath(''), '/');
});
