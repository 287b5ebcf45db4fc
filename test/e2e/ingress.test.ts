// e2e (root): an ingress gateway in the sandbox, reached from the host through `cluster create --ingress-port`.
// A Gateway of class `ambit` (Istio's `istio`, aliased) with an HTTP listener and an HTTPS listener for
// shop.example.test (certificate from a kubernetes.io/tls Secret, routes allowed from labelled namespaces); an
// HTTPRoute in the enrolled namespace with a header match and a 90/10 split. From the host: HTTPS with SNI reaches
// the pod, whose ztunnel sees the gateway's SPIFFE identity (HBONE from the gateway); the header match and the split
// hold over real requests; an unknown SNI is refused with the TLS alert unrecognized_name; a Host no route serves
// gets 404. Status: Programmed with the Service address, listeners' attachedRoutes and ResolvedRefs (a missing
// Secret is InvalidCertificateRef), a route from a namespace the listener does not allow is NotAllowedByListeners.
// A Service labelled istio.io/ingress-use-waypoint=true is reached through its waypoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { createLocalCa } from '../../src/lib/certs/local-ca.js';
import { SandboxFixture } from '../../src/sandbox/testing/sandbox-fixture.js';

const REPO = join(import.meta.dirname, '..', '..', '..');
const ECHO = join(REPO, 'examples', 'apps', 'echo-http.mjs');
const HOST = 'shop.example.test';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

type Json = Record<string, unknown>;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('ingress: HTTPS from the host into the mesh with the gateway\'s identity, route matches and split, SNI refusal, status', { timeout: 300_000 }, async (t) => {
  const [httpsPort, httpPort] = [await freePort(), await freePort()];
  const fx = await SandboxFixture.create(t, 2, { ingressPorts: [`${httpsPort}:443`, `${httpPort}:80`] });
  const ca = await createLocalCa('ingress-e2e-ca');
  const serving = await ca.issue(`CN=${HOST}`, SERVER_AUTH, [{ type: 'dns', value: HOST }]);
  const pod = (name: string, node: string, version: string) => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop', labels: { app: 'echo', version } },
    spec: { nodeName: node, serviceAccountName: 'echo', containers: [{ name: 'app', command: [process.execPath, ECHO], env: [{ name: 'VERSION', value: version }] }] },
  });
  const service = (name: string, selector: Json) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop' }, spec: { selector, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
  await fx.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'istio.io/dataplane-mode': 'ambient', 'shop.example.test/ingress': 'allowed' } } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'blog' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'edge' } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'echo', namespace: 'shop' } },
    pod('echo-v1', 'node1', 'v1'), pod('echo-v2', 'node2', 'v2'),
    service('echo-v1', { app: 'echo', version: 'v1' }), service('echo-v2', { app: 'echo', version: 'v2' }),
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'shop-cert', namespace: 'edge' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': serving.certPem, 'tls.key': serving.keyPem } },
    {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'public', namespace: 'edge' },
      spec: {
        gatewayClassName: 'ambit',
        listeners: [
          { name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } },
          {
            name: 'shop', port: 443, protocol: 'HTTPS', hostname: HOST, tls: { mode: 'Terminate', certificateRefs: [{ name: 'shop-cert' }] },
            allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { 'shop.example.test/ingress': 'allowed' } } } },
          },
          { name: 'broken', port: 8443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'no-such-secret' }] } },
        ],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'shop', namespace: 'shop' },
      spec: {
        parentRefs: [{ name: 'public', namespace: 'edge' }],
        hostnames: [HOST],
        rules: [
          { matches: [{ headers: [{ name: 'x-version', value: 'v2' }] }], backendRefs: [{ name: 'echo-v2', port: 80 }] },
          { backendRefs: [{ name: 'echo-v1', port: 80, weight: 90 }, { name: 'echo-v2', port: 80, weight: 10 }] },
        ],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'blog', namespace: 'blog' },
      spec: { parentRefs: [{ name: 'public', namespace: 'edge', sectionName: 'shop' }], rules: [{ backendRefs: [{ name: 'blog', port: 80 }] }] },
    },
  ]);
  for (const p of ['echo-v1', 'echo-v2']) await fx.running('shop', p);
  assert.match((await fx.cli(['cluster', 'info'])).stdout, new RegExp(`^ingress  127\\.0\\.0\\.1:${httpsPort} -> gateway port 443, 127\\.0\\.0\\.1:${httpPort} -> gateway port 80$`, 'm'));

  // Status: programmed with the Service's address; listener and route conditions as the Gateway API defines them.
  const gw = await fx.waitFor('the gateway is programmed', async () => {
    const g = JSON.parse((await fx.cli(['get', 'gateway', 'public', '-n', 'edge', '-o', 'json'])).stdout) as { status?: { conditions?: Json[]; addresses?: Json[]; listeners?: Json[] } };
    return g.status?.conditions?.some((c) => c['type'] === 'Programmed' && c['status'] === 'True') ? g : undefined;
  }, 60_000, 500);
  const svc = JSON.parse((await fx.cli(['get', 'service', 'public-istio', '-n', 'edge', '-o', 'json'])).stdout) as { spec: { clusterIP: string; ports: Json[] } };
  assert.deepEqual(gw.status!.addresses, [{ type: 'IPAddress', value: svc.spec.clusterIP }]);
  assert.deepEqual(svc.spec.ports.map((p) => p['port']), [80, 443, 8443, 15021]);
  const listener = (name: string) => gw.status!.listeners!.find((l) => l['name'] === name)!;
  const cond = (l: Json, type: string) => (l['conditions'] as Json[]).find((c) => c['type'] === type)!;
  assert.equal(listener('shop')['attachedRoutes'], 1);
  assert.equal(listener('http')['attachedRoutes'], 1);
  assert.equal(cond(listener('shop'), 'ResolvedRefs')['status'], 'True');
  assert.equal(cond(listener('broken'), 'ResolvedRefs')['reason'], 'InvalidCertificateRef');
  assert.match(String(cond(listener('broken'), 'ResolvedRefs')['message']), /Secret edge\/no-such-secret does not exist/);
  const blog = JSON.parse((await fx.cli(['get', 'httproute', 'blog', '-n', 'blog', '-o', 'json'])).stdout) as { status: { parents: Array<{ conditions: Json[] }> } };
  assert.equal(blog.status.parents[0]!.conditions.find((c) => c['type'] === 'Accepted')!['reason'], 'NotAllowedByListeners');

  // HTTPS from the host, with SNI, through the port mapping.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 8, ca: ca.certPem, servername: HOST });
  const get = (headers: Record<string, string> = {}) => new Promise<{ status: number; body: Json }>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: httpsPort, path: '/?format=json', headers: { host: HOST, ...headers }, agent, servername: HOST, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text.startsWith('{') ? JSON.parse(text) as Json : { text } }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
  t.after(() => agent.destroy());
  const first = await fx.waitFor('HTTPS through the ingress port reaches echo', async () => {
    const r = await get().catch(() => undefined);
    return r?.status === 200 ? r : undefined;
  }, 60_000, 500);
  assert.equal(first.body['namespace'], 'shop');
  assert.equal((first.body['headers'] as Json)['x-forwarded-proto'], 'https');
  // The pod's ztunnel took the connection over HBONE from the gateway, which presented its own identity.
  const gatewayId = 'spiffe://cluster.local/ns/edge/sa/public';
  await fx.waitFor('the destination ztunnel logs the gateway identity', async () => ['node1', 'node2'].some((n) => readFileSync(join(fx.dataDir, 'logs', `ztunnel-${n}.log`), 'utf8')
    .split('\n').some((l) => l.includes('"direction":"inbound"') && l.includes(`"src.identity":"${gatewayId}"`) && l.includes('"dst.namespace":"shop"'))), 10_000, 200);

  // Header match, then the 90/10 split over 400 requests.
  for (let i = 0; i < 10; i++) assert.equal((await get({ 'x-version': 'v2' })).body['version'], 'v2');
  const counts: Record<string, number> = {};
  for (let i = 0; i < 50; i++) {
    const batch = await Promise.all(Array.from({ length: 8 }, () => get()));
    for (const r of batch) counts[String(r.body['version'])] = (counts[String(r.body['version'])] ?? 0) + 1;
  }
  assert.equal((counts['v1'] ?? 0) + (counts['v2'] ?? 0), 400, JSON.stringify(counts));
  const v2Share = (counts['v2'] ?? 0) / 400;
  assert.ok(Math.abs(v2Share - 0.1) <= 0.04, `v2 got ${(v2Share * 100).toFixed(1)}% of 400 requests (want 10 ± 4)`);

  // An SNI no listener takes: the fatal TLS alert unrecognized_name (112).
  const refused = await new Promise<Error>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: httpsPort, servername: 'wrong.example.test', ca: ca.certPem });
    s.once('secureConnect', () => resolve(new Error('handshake succeeded')));
    s.once('error', resolve);
  });
  assert.match(`${(refused as NodeJS.ErrnoException).code} ${refused.message}`, /UNRECOGNIZED_NAME|unrecognized name/i);

  // The HTTP listener takes any Host, but only shop.example.test has a route.
  const plain = (host: string) => new Promise<number>((resolve, reject) => {
    const s = net.connect(httpPort, '127.0.0.1', () => s.end(`GET / HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`));
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0)));
    s.on('error', reject);
  });
  assert.equal(await plain(HOST), 200);
  assert.equal(await plain('other.example.test'), 404);

  // istio.io/ingress-use-waypoint=true on a Service with a waypoint: the gateway goes through that waypoint.
  const wp = await fx.cli(['waypoint', 'apply', '-n', 'shop', '--wait', '--waypoint-timeout', '60s'], { timeoutMs: 90_000 });
  assert.match(wp.stdout, /waypoint shop\/waypoint applied/);
  await fx.cli(['label', 'service', 'echo-v2', '-n', 'shop', 'istio.io/use-waypoint=waypoint', 'istio.io/ingress-use-waypoint=true']);
  const wpPod = JSON.parse((await fx.cli(['get', 'pods', '-n', 'shop', '-o', 'json'])).stdout).items.find((p: { metadata: { name: string } }) => p.metadata.name.startsWith('waypoint-')) as { status: { podIP: string } };
  await fx.waitFor('ingress traffic to echo-v2 crosses its waypoint', async () => {
    const r = await get({ 'x-version': 'v2' }).catch(() => undefined);
    return r?.status === 200 && String(r.body['caller']).includes(wpPod.status.podIP) ? true : undefined;
  }, 30_000, 500);
  // echo-v1 has no such label: still straight from the gateway.
  const direct = await fx.waitFor('an answer from echo-v1', async () => {
    const r = await get();
    return r.body['version'] === 'v1' ? r : undefined;
  }, 10_000, 50);
  assert.ok(!String(direct.body['caller']).includes(wpPod.status.podIP), JSON.stringify(direct.body));
});
