// Endpoint choice at the waypoint: round robin, subsets by version label, consistent hash, least request, the
// connection-pool limit (UO with the DestinationRule named), outlier ejection after consecutive 5xx, and TLS
// origination (DestinationRule SIMPLE) to a name endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CertificateManager } from '../lib/certs/certificate-manager.js';
import { silentLogger } from '../lib/log.js';
import type { AddressRecord, WorkloadRecord } from '../lib/xds/workload-records.js';
import { MeshView, type Endpoint } from './mesh-view.js';
import type { Backend, UpstreamPolicy } from '../routing/index.js';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createLocalCa } from '../lib/certs/local-ca.js';
import { tlsOriginationOf, Upstreams } from './upstream.js';

const KEY = 'shop/echo.shop.svc.cluster.local';

function pod(i: number, version: string): WorkloadRecord {
  return {
    uid: `Kubernetes//Pod/shop/echo-${i}`, name: `echo-${i}`, namespace: 'shop', addresses: [`10.244.1.${10 + i}`], network: '', tunnelProtocol: 'HBONE',
    trustDomain: 'cluster.local', serviceAccount: 'echo', canonicalName: 'echo', canonicalRevision: version, workloadType: 'POD', workloadName: `echo-${i}`,
    services: { [KEY]: [{ servicePort: 80, targetPort: 8080 }] }, authorizationPolicies: [], status: 'HEALTHY', clusterId: 'Kubernetes', networkMode: 'STANDARD',
  };
}

function setup(now = { t: 0 }) {
  const addresses: AddressRecord[] = [
    { service: { name: 'echo', namespace: 'shop', hostname: 'echo.shop.svc.cluster.local', addresses: [{ network: '', address: '10.96.0.9' }], ports: [{ servicePort: 80, targetPort: 8080 }], subjectAltNames: [], ipFamilies: 'IPV4_ONLY', canonical: true, visibility: 'PUBLIC' } },
    { workload: pod(1, 'v1') }, { workload: pod(2, 'v1') }, { workload: pod(3, 'v2') },
  ];
  const view = new MeshView(addresses, undefined);
  let r = 0;
  const up = new Upstreams({ view: () => view, certs: {} as CertificateManager, identity: 'spiffe://cluster.local/ns/shop/sa/waypoint', connectTimeoutMs: 1000, log: silentLogger(), random: () => ((r = (r * 9301 + 49297) % 233280) / 233280), now: () => now.t });
  return { up, now };
}

const backend: Backend = { namespace: 'shop', hostname: 'echo.shop.svc.cluster.local', port: 80 };
const none = new Set<string>();
const ip = (e: Endpoint | { flag: string }) => ('flag' in e ? e.flag : e.ip);

test('round robin over the healthy endpoints; subsets by version label', () => {
  const { up } = setup();
  const seen = Array.from({ length: 6 }, () => ip(up.pick(backend, undefined, undefined, none)));
  assert.deepEqual(new Set(seen), new Set(['10.244.1.11', '10.244.1.12', '10.244.1.13']));
  assert.equal(seen[0] !== seen[1] && seen[1] !== seen[2], true, 'consecutive picks differ');
  const v2 = { ...backend, subset: { name: 'v2', labels: { version: 'v2' } } };
  for (let i = 0; i < 5; i++) assert.equal(ip(up.pick(v2, undefined, undefined, none)), '10.244.1.13');
  const v3 = { ...backend, subset: { name: 'v3', labels: { version: 'v3' } } };
  const empty = up.pick(v3, undefined, undefined, none);
  assert.ok('flag' in empty && empty.flag === 'UH' && /subset v3/.test(empty.reason));
  const retryElsewhere = up.pick(backend, undefined, undefined, new Set(['10.244.1.11:8080', '10.244.1.12:8080']));
  assert.equal(ip(retryElsewhere), '10.244.1.13', 'a retry goes to an endpoint that has not failed this request');
});

test('consistent hash: one key, one endpoint', () => {
  const { up } = setup();
  const policy: UpstreamPolicy = { destinationRule: 'shop/echo', loadBalancer: { policy: 'CONSISTENT_HASH', on: 'header', key: 'alice' } };
  const first = ip(up.pick(backend, policy, 'alice', none));
  for (let i = 0; i < 10; i++) assert.equal(ip(up.pick(backend, policy, 'alice', none)), first);
  const keys = new Set(['bob', 'carol', 'dave', 'erin', 'frank', 'grace'].map((k) => ip(up.pick(backend, policy, k, none))));
  assert.ok(keys.size > 1, 'different keys spread over endpoints');
});

test('least request prefers the idle endpoint', () => {
  const { up } = setup();
  const policy: UpstreamPolicy = { destinationRule: 'shop/echo', loadBalancer: { policy: 'LEAST_REQUEST' } };
  const busy = up.pick(backend, undefined, undefined, none) as Endpoint;
  const done: Array<() => void> = [];
  for (let i = 0; i < 5; i++) done.push(up.begin(backend, busy));
  const picks = Array.from({ length: 30 }, () => ip(up.pick(backend, policy, undefined, none)));
  assert.ok(picks.filter((p) => p === busy.ip).length < 5, `the busy endpoint is mostly avoided: ${picks.join(',')}`);
  for (const d of done) d();
});

test('connection-pool limit: overflow is refused with the DestinationRule named', () => {
  const { up } = setup();
  const policy: UpstreamPolicy = { destinationRule: 'shop/echo', connectionPool: { http2MaxRequests: 2 } };
  const a = up.pick(backend, policy, undefined, none) as Endpoint;
  const endA = up.begin(backend, a);
  const b = up.pick(backend, policy, undefined, none) as Endpoint;
  const endB = up.begin(backend, b);
  const over = up.pick(backend, policy, undefined, none);
  assert.ok('flag' in over && over.flag === 'UO', 'the third concurrent request overflows');
  assert.match((over as { reason: string }).reason, /2 requests in flight .* DestinationRule shop\/echo connectionPool limit/);
  endA();
  assert.ok(!('flag' in up.pick(backend, policy, undefined, none)), 'a finished request frees a slot');
  endB();
});

test('outlier detection ejects after consecutive 5xx, for the base ejection time', () => {
  const now = { t: 1000 };
  const { up } = setup(now);
  const od = { consecutive5xxErrors: 3, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 100, minHealthPercent: 0 };
  const policy: UpstreamPolicy = { destinationRule: 'shop/echo', outlierDetection: od };
  const bad: Endpoint = { workload: pod(1, 'v1'), ip: '10.244.1.11', port: 8080 };
  up.report(bad, od, 503);
  up.report(bad, od, 200);
  up.report(bad, od, 503);
  up.report(bad, od, 503);
  assert.ok(Array.from({ length: 9 }, () => ip(up.pick(backend, policy, undefined, none))).includes('10.244.1.11'), 'a success reset the count: not ejected');
  up.report(bad, od, 503);
  const picks = Array.from({ length: 12 }, () => ip(up.pick(backend, policy, undefined, none)));
  assert.ok(!picks.includes('10.244.1.11'), `ejected after 3 consecutive 5xx: ${picks.join(',')}`);
  now.t += 30_001;
  assert.ok(Array.from({ length: 9 }, () => ip(up.pick(backend, policy, undefined, none))).includes('10.244.1.11'), 'back after the ejection time');
});

test('TLS origination (DestinationRule SIMPLE): SNI from the backend host, certificate verified, failures name the reason', { timeout: 20_000 }, async () => {
  const ca = await createLocalCa('upstream-test-ca');
  const leaf = await ca.issue('CN=api.example.test', '1.3.6.1.5.5.7.3.1', [{ type: 'dns', value: 'api.example.test' }]);
  const seen: Array<string | false> = [];
  const server = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    seen.push((req.socket as TLSSocket).servername ?? false);
    res.end('over tls');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  // A DNS ServiceEntry's endpoint is its host name; `localhost` stands in for the outside host here.
  const external: WorkloadRecord = { ...pod(9, 'v1'), uid: 'se/api', addresses: [], hostname: 'localhost', tunnelProtocol: 'NONE', services: { 'egress/api.example.test': [{ servicePort: 80, targetPort: port }] } };
  const view = new MeshView([
    { service: { name: 'api', namespace: 'egress', hostname: 'api.example.test', addresses: [], ports: [{ servicePort: 80, targetPort: port }], subjectAltNames: [], ipFamilies: 'IPV4_ONLY', canonical: false, visibility: 'PUBLIC' } },
    { workload: external },
  ], undefined);
  const up = new Upstreams({ view: () => view, certs: {} as CertificateManager, identity: 'spiffe://cluster.local/ns/egress/sa/waypoint', connectTimeoutMs: 2000, log: silentLogger() });
  const get = (policy: UpstreamPolicy) => new Promise<string>((resolve, reject) => {
    const ep = up.pick({ namespace: 'egress', hostname: 'api.example.test', port: 80 }, policy, undefined, none) as Endpoint;
    assert.equal(ep.ip, 'localhost', 'a name endpoint is dialled by name');
    const req = http.request({ agent: up.h1Agent(ep, tlsOriginationOf(policy, 'api.example.test')), host: 'api.example.test', path: '/' }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
  try {
    // The test CA is no root of this process: verification fails, and says why.
    await assert.rejects(get({ destinationRule: 'egress/api', tls: { mode: 'SIMPLE' } }), /failed to connect to localhost:\d+ with TLS as api\.example\.test.*(self-signed|unable to (get|verify))/i);
    assert.equal(await get({ destinationRule: 'egress/api', tls: { mode: 'SIMPLE', insecureSkipVerify: true } }), 'over tls');
    assert.equal(await get({ destinationRule: 'egress/api', tls: { mode: 'SIMPLE', sni: 'other.example.test', insecureSkipVerify: true } }), 'over tls');
    assert.deepEqual(seen, ['api.example.test', 'other.example.test']);
    assert.equal(tlsOriginationOf({ destinationRule: 'x', tls: { mode: 'DISABLE' } }, 'h'), undefined);
  } finally {
    up.close();
    server.close();
  }
});
