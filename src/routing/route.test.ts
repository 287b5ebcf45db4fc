// Unit tests of the decision engine: helpers (paths, redirects, headers, regexes), attachment, problems, sampling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttachedResourceRecord, WaypointConfigRecord } from '../lib/xds/waypoint-records.js';
import { CONFORMANCE_BOUND_SERVICES, conformanceServiceKey, seededRandom as seeded } from './conformance-cases.js';
import { applyHeaderEdits, compileRoutes, decideGrpc, decideHttp, decideTcp, redirectLocation, rewritePath, type CompileExtras, type HttpDecision } from './index.js';
import { compileRe2, normalizePath } from './match.js';

const NS = 'gateway-conformance-mesh';
const ECHO = { serviceKey: conformanceServiceKey('echo'), port: 80 };

function rec(kind: string, name: string, spec: Record<string, unknown>, services: string[] = [ECHO.serviceKey], namespace = NS): AttachedResourceRecord {
  return { kind, namespace, name, resourceVersion: '1', spec: spec as never, services };
}

function config(routes: AttachedResourceRecord[]): WaypointConfigRecord {
  return { name: 'waypoint', namespace: NS, trafficType: 'service', trustDomain: 'cluster.local', hbonePort: 15008, services: CONFORMANCE_BOUND_SERVICES, workloadUids: [], routes, authorizationPolicies: [], requestAuthentications: [] };
}

const get = (path: string, headers: Record<string, string> = {}) => ({ method: 'GET', authority: 'echo', path, headers });
const host = (d: HttpDecision) => (d.action === 'forward' ? d.backend.hostname.split('.')[0] : `${d.action}:${d.status}`);
const table = (routes: AttachedResourceRecord[], extras?: CompileExtras) => compileRoutes(config(routes), extras);
const route = (rules: unknown[], parentRefs: unknown[] = [{ group: '', kind: 'Service', name: 'echo' }]) => ({ parentRefs, rules });
const backend = (name: string, extra: Record<string, unknown> = {}) => ({ name, port: 80, ...extra });

// --- Helpers ---

test('rewritePath: ReplacePrefixMatch follows the Gateway API table', () => {
  const rows: Array<[string, string, string, string]> = [
    ['/foo/bar', '/foo', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz/', '/xyz/bar'],
    ['/foo', '/foo', '/xyz', '/xyz'],
    ['/foo/', '/foo', '/xyz', '/xyz/'],
    ['/foo/bar', '/foo', '', '/bar'],
    ['/foo/', '/foo', '', '/'],
    ['/foo', '/foo', '', '/'],
    ['/foo/', '/foo', '/', '/'],
    ['/foo', '/foo', '/', '/'],
  ];
  for (const [path, prefix, repl, want] of rows) {
    assert.equal(rewritePath(path, prefix, { type: 'ReplacePrefixMatch', replacePrefixMatch: repl }), want, `${path} ${prefix} ${repl}`);
  }
  assert.equal(rewritePath('/foo/bar?x=1&y', '/foo', { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' }), '/v2/bar?x=1&y');
  assert.equal(rewritePath('/anything?q', undefined, { type: 'ReplaceFullPath', replaceFullPath: '/fixed' }), '/fixed?q');
  assert.equal(rewritePath('/a/b', '/', { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' }), '/v2/a/b');
});

test('redirectLocation: scheme, host, port rules and default ports left out', () => {
  const req = { scheme: 'http', authority: 'echo:80', path: '/p?q=1' };
  assert.equal(redirectLocation(req, 80, { statusCode: 302 }, undefined), 'http://echo/p?q=1');
  assert.equal(redirectLocation(req, 8080, { statusCode: 302 }, undefined), 'http://echo:8080/p?q=1');
  assert.equal(redirectLocation(req, 8080, { scheme: 'https', statusCode: 302 }, undefined), 'https://echo/p?q=1');
  assert.equal(redirectLocation(req, 8080, { scheme: 'http', statusCode: 302 }, undefined), 'http://echo/p?q=1');
  assert.equal(redirectLocation(req, 80, { scheme: 'https', port: 8443, statusCode: 302 }, undefined), 'https://echo:8443/p?q=1');
  assert.equal(redirectLocation({ ...req, authority: '[fd00::1]:80' }, 80, { statusCode: 302 }, undefined), 'http://[fd00::1]/p?q=1');
});

test('applyHeaderEdits: set, then add, then remove', () => {
  const h = applyHeaderEdits({ a: '1', b: ['x', 'y'], c: '3' }, { set: [{ name: 'a', value: 'new' }], add: [{ name: 'b', value: 'z' }, { name: 'd', value: '4' }], remove: ['c', 'd'] });
  assert.deepEqual(h, { a: 'new', b: ['x', 'y', 'z'] });
});

test('compileRe2: full match, leading flags, RE2-only syntax, refusals', () => {
  const re = (s: string) => compileRe2(s) as RegExp;
  assert.ok(re('/a/[0-9]+').test('/a/12'));
  assert.ok(!re('/a/[0-9]+').test('/a/12/b'));
  assert.ok(re('(?i)abc').test('ABC'));
  assert.ok(re('(?P<v>v[0-9])').test('v1'));
  assert.ok(re('\\Afoo\\z').test('foo'));
  assert.ok('error' in compileRe2('(?=x)'));
  assert.ok('error' in compileRe2('(a)\\1'));
});

test('normalizePath resolves dot segments; decisions match and forward the normalized path', () => {
  assert.equal(normalizePath('/a/./b/../c'), '/a/c');
  assert.equal(normalizePath('/a/b/..'), '/a/');
  assert.equal(normalizePath('/..'), '/');
  assert.equal(normalizePath('/.well-known/x'), '/.well-known/x');
  const t = table([rec('HTTPRoute', 'r', route([{ matches: [{ path: { type: 'PathPrefix', value: '/admin' } }], backendRefs: [backend('echo-v1')] }, { backendRefs: [backend('echo-v2')] }]))]);
  const d = decideHttp(t, ECHO, get('/public/../admin/x?y=1'));
  assert.equal(host(d), 'echo-v1');
  assert.equal(d.action === 'forward' && d.rewritePath, '/admin/x?y=1');
  const plain = decideHttp(t, ECHO, get('/admin/x'));
  assert.equal(plain.action === 'forward' && plain.rewritePath, undefined);
});

// --- Attachment ---

test('a route attached to the whole waypoint (services empty) applies to every bound service', () => {
  const t = table([rec('HTTPRoute', 'all', { parentRefs: [{ name: 'waypoint' }], rules: [{ backendRefs: [backend('echo-v1')] }] }, [])]);
  assert.equal(host(decideHttp(t, ECHO, get('/'))), 'echo-v1');
  assert.equal(host(decideHttp(t, { serviceKey: conformanceServiceKey('grpc-echo'), port: 9000 }, get('/'))), 'echo-v1');
});

test('parentRef sectionName selects the named service port', () => {
  const t = table([rec('HTTPRoute', 'by-name', route([{ backendRefs: [backend('echo-v1')] }], [{ group: '', kind: 'Service', name: 'echo', sectionName: 'http-alt' }]))]);
  assert.equal(host(decideHttp(t, { ...ECHO, port: 8080 }, get('/'))), 'echo-v1');
  assert.equal(host(decideHttp(t, ECHO, get('/'))), 'echo');
});

test('routes on several parentRef ports apply to those ports only', () => {
  const t = table([rec('HTTPRoute', 'ports', route([{ backendRefs: [backend('echo-v2')] }], [{ group: '', kind: 'Service', name: 'echo', port: 8080 }]))]);
  assert.equal(host(decideHttp(t, { ...ECHO, port: 8080 }, get('/'))), 'echo-v2');
  assert.equal(host(decideHttp(t, ECHO, get('/'))), 'echo');
});

test('a custom resolveBackend decides what exists', () => {
  const t = table([rec('HTTPRoute', 'r', route([{ backendRefs: [backend('missing')] }, { matches: [{ path: { type: 'PathPrefix', value: '/ok' } }], backendRefs: [backend('echo-v1')] }]))], {
    resolveBackend: (ref) => (ref.name === 'missing' ? undefined : { hostname: `${ref.name}.${ref.namespace}.svc.example.internal` }),
  });
  const d = decideHttp(t, ECHO, get('/'));
  assert.equal(d.action === 'respond' && d.status, 500);
  const ok = decideHttp(t, ECHO, get('/ok'));
  assert.equal(ok.action === 'forward' && ok.backend.hostname, `echo-v1.${NS}.svc.example.internal`);
});

// --- Sampling ---

test('weighted split: 10,000 seeded decisions land within ±1 pt of 90/10', () => {
  const t = table([rec('HTTPRoute', 'split', route([{ backendRefs: [backend('echo-v1', { weight: 90 }), backend('echo-v2', { weight: 10 })] }]))]);
  const rand = seeded(2026);
  let v2 = 0;
  for (let i = 0; i < 10_000; i++) if (host(decideHttp(t, ECHO, get('/'), rand)) === 'echo-v2') v2++;
  assert.ok(Math.abs(v2 / 10_000 - 0.1) <= 0.01, `${v2 / 100}% to v2`);
});

test('fault abort and mirror percentages are sampled per request', () => {
  const vs = rec('VirtualService', 'faults', {
    hosts: ['echo'],
    http: [{ fault: { abort: { httpStatus: 500, percentage: { value: 50 } } }, mirrors: [{ destination: { host: 'echo-v2' }, percentage: { value: 25 } }], route: [{ destination: { host: 'echo-v1' } }] }],
  }, []);
  const t = table([], { virtualServices: [vs] });
  const rand = seeded(5);
  let aborted = 0;
  let mirrored = 0;
  for (let i = 0; i < 10_000; i++) {
    const d = decideHttp(t, ECHO, get('/'), rand);
    if (d.action === 'respond') {
      assert.equal(d.flag, 'FI');
      aborted++;
    } else if (d.action === 'forward' && d.mirrors.length) mirrored++;
  }
  assert.ok(Math.abs(aborted / 10_000 - 0.5) <= 0.02, `aborted ${aborted}`);
  assert.ok(Math.abs(mirrored / 5_000 - 0.25) <= 0.03, `mirrored ${mirrored}`);
});

test('gRPC: a fault abort with grpcStatus answers 200 with that grpc-status', () => {
  const vs = rec('VirtualService', 'grpc-fault', { hosts: ['grpc-echo'], http: [{ fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 100 } } }, route: [{ destination: { host: 'grpc-echo' } }] }] }, []);
  const t = table([], { virtualServices: [vs] });
  const d = decideGrpc(t, { serviceKey: conformanceServiceKey('grpc-echo'), port: 9000 }, { service: 'a.B', method: 'C', authority: 'grpc-echo:9000', headers: {} });
  assert.deepEqual(d.action === 'respond' && [d.status, d.grpcStatus, d.flag], [200, 14, 'FI']);
});

test('TCP: all-zero weights reject; no TCPRoute forwards to the service', () => {
  const tcp = { serviceKey: conformanceServiceKey('tcp-echo'), port: 9090 };
  const t = table([rec('TCPRoute', 'zero', { parentRefs: [{ group: '', kind: 'Service', name: 'tcp-echo' }], rules: [{ backendRefs: [{ name: 'tcp-echo-v1', port: 9090, weight: 0 }] }] }, [tcp.serviceKey])]);
  assert.equal(decideTcp(t, tcp).action, 'reject');
  const d = decideTcp(table([]), tcp);
  assert.equal(d.action === 'forward' && d.backend.port, 9090);
});

test('HTTP on a port governed only by a TCPRoute is carried to the TCPRoute backend', () => {
  const t = table([rec('TCPRoute', 'tcp', { parentRefs: [{ group: '', kind: 'Service', name: 'echo', port: 80 }], rules: [{ backendRefs: [backend('echo-v3')] }] })]);
  const d = decideHttp(t, ECHO, get('/'));
  assert.equal(host(d), 'echo-v3');
  assert.equal(d.route?.kind, 'TCPRoute');
});

// --- Problems: nothing unsupported is silently ignored ---

test('unsupported-but-valid Gateway API fields are reported', () => {
  const t = table([
    rec('HTTPRoute', 'odd', {
      parentRefs: [{ group: '', kind: 'Service', name: 'echo' }],
      hostnames: ['echo.example.com'],
      rules: [
        {
          filters: [{ type: 'CORS', cors: { allowOrigins: ['*'] } }],
          backendRefs: [backend('echo-v1', { filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'x.org' } }] }), { name: 'other', namespace: 'elsewhere', port: 80 }],
          sessionPersistence: { type: 'Cookie' },
        },
      ],
    }),
    rec('TCPRoute', 'tcp-a', { parentRefs: [{ group: '', kind: 'Service', name: 'tcp-echo' }], rules: [{ backendRefs: [{ name: 'tcp-echo-v1', port: 9090 }] }] }, [conformanceServiceKey('tcp-echo')]),
    rec('TCPRoute', 'tcp-b', { parentRefs: [{ group: '', kind: 'Service', name: 'tcp-echo' }], rules: [{ backendRefs: [{ name: 'tcp-echo-v2', port: 9090 }] }] }, [conformanceServiceKey('tcp-echo')]),
    rec('Telemetry', 'not-a-route', {}),
  ]);
  const fields = t.problems.map((p) => `${p.kind}/${p.name} ${p.field}`);
  assert.deepEqual(fields.sort(), [
    'HTTPRoute/odd spec.hostnames',
    'HTTPRoute/odd spec.rules[0].backendRefs[0].filters[0]',
    'HTTPRoute/odd spec.rules[0].backendRefs[1].namespace',
    'HTTPRoute/odd spec.rules[0].filters[0]',
    'HTTPRoute/odd spec.rules[0].sessionPersistence',
    'TCPRoute/tcp-b spec.rules[0]',
    'Telemetry/not-a-route kind',
  ]);
  assert.ok(t.problems.every((p) => p.reason.length > 10));
});

test('VirtualService and DestinationRule fields the waypoint does not enforce are reported', () => {
  const t = table([rec('HTTPRoute', 'wins', route([{ backendRefs: [backend('echo-v1')] }]))], {
    virtualServices: [
      rec('VirtualService', 'mixed', { hosts: ['echo'], http: [{ route: [{ destination: { host: 'echo-v2' } }] }] }, []),
      rec('VirtualService', 'gw-only', { hosts: ['echo'], gateways: ['istio-ingress/gw'], http: [{ route: [{ destination: { host: 'echo-v2' } }] }] }, []),
      rec('VirtualService', 'elsewhere', { hosts: ['unbound.example.com'], http: [{ route: [{ destination: { host: 'x' } }] }] }, []),
      rec('VirtualService', 'details', {
        hosts: ['grpc-echo'],
        http: [{
          match: [{ sourceLabels: { app: 'a' } }],
          fault: { delay: { fixedDelay: '1s' }, abort: { http2Error: 'x', percentage: { value: 1 } } },
          corsPolicy: {},
          route: [{ destination: { host: 'grpc-echo', subset: 'nope' } }],
        }],
      }, []),
    ],
    destinationRules: [
      rec('DestinationRule', 'dr', {
        host: 'echo-v1',
        trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: 'c', ttl: '0s' } }, localityLbSetting: {} }, tls: { mode: 'MUTUAL', credentialName: 's' }, outlierDetection: { consecutiveLocalOriginFailures: 2 } },
      }, []),
    ],
  });
  const fields = t.problems.map((p) => `${p.name} ${p.field}`).sort();
  assert.deepEqual(fields, [
    'details spec.http[0].corsPolicy',
    'details spec.http[0].fault.abort.http2Error',
    'details spec.http[0].fault.delay.percentage',
    'details spec.http[0].match[0].sourceLabels',
    'details spec.http[0].route[0].destination',
    'dr spec.trafficPolicy.loadBalancer.consistentHash.httpCookie',
    'dr spec.trafficPolicy.loadBalancer.localityLbSetting',
    'dr spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures',
    'dr spec.trafficPolicy.tls.credentialName',
    'dr spec.trafficPolicy.tls.mode',
    'elsewhere spec.hosts',
    'gw-only spec.gateways',
    'mixed spec.http',
  ]);
  // The HTTPRoute keeps the service; the undefined subset answers 503 like a missing Envoy cluster.
  assert.equal(host(decideHttp(t, ECHO, get('/'))), 'echo-v1');
  const d = decideHttp(t, { serviceKey: conformanceServiceKey('grpc-echo'), port: 9000 }, get('/'));
  assert.deepEqual(d.action === 'respond' && [d.status, d.flag], [503, 'NC']);
});

test('DestinationRule: port-level settings and subset policies override the top level', () => {
  const dr = rec('DestinationRule', 'echo-v1', {
    host: `echo-v1.${NS}.svc.cluster.local`,
    trafficPolicy: {
      loadBalancer: { simple: 'RANDOM' },
      connectionPool: { tcp: { maxConnections: 10, connectTimeout: '250ms' } },
      portLevelSettings: [{ port: { number: 80 }, loadBalancer: { simple: 'LEAST_CONN' } }],
    },
  }, []);
  const t = table([rec('HTTPRoute', 'r', route([{ backendRefs: [backend('echo-v1')] }]))], { destinationRules: [dr] });
  const d = decideHttp(t, ECHO, get('/'));
  assert.ok(d.action === 'forward' && d.upstream);
  assert.deepEqual(d.upstream.loadBalancer, { policy: 'LEAST_REQUEST' });
  assert.deepEqual(d.upstream.connectionPool, { maxConnections: 10, connectTimeoutMs: 250 });
});

test('decisions are read-only views of the compiled table', () => {
  const t = table([rec('HTTPRoute', 'r', route([{ retry: { attempts: 1 }, backendRefs: [backend('echo-v1')] }]))]);
  const d = decideHttp(t, ECHO, get('/'));
  assert.ok(d.action === 'forward');
  assert.throws(() => {
    (d.retry as { attempts: number }).attempts = 9;
  });
  const dflt = decideHttp(table([]), ECHO, get('/'));
  assert.ok(dflt.action === 'forward' && Object.isFrozen(dflt.retry));
});
