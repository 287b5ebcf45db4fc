// e2e (root): egress in the sandbox, against its outside world (api.example.test and unlisted.example.test in netns
// C.outside, served over HTTP and HTTPS; the cluster nameserver answers them and NXDOMAIN for the rest at once).
// 1. An enrolled pod reaches api.example.test by name through a DNS ServiceEntry: ztunnel's DNS proxy answers the
//    entry's auto-allocated VIP (240.240.0.0/16) and ztunnel resolves the host when the connection comes.
// 2. With the entry bound to an egress waypoint and a DestinationRule `tls.mode: SIMPLE`, the app speaks plain HTTP
//    and the outside host sees TLS (SNI api.example.test) from the waypoint; an AuthorizationPolicy on the entry
//    denies POST (403); the waypoint's access log and istio_requests_total record the egress requests.
// 3. Outbound traffic policy: ALLOW_ANY lets an unlisted outside host through; REGISTRY_ONLY (mesh config) refuses
//    it with a log line naming the reason and a failed-connection metric against BlackHoleCluster, while the listed
//    host still works; back to ALLOW_ANY restores it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../../src/platform/index.js';
import { SandboxFixture } from '../../src/sandbox/testing/sandbox-fixture.js';

const NS = 'egress-apps';
const EGRESS = 'egress';

interface Echo {
  host: string;
  server: string;
  method: string;
  path: string;
  tls: boolean;
  sni?: string;
  headers: Record<string, string>;
}

test('egress: a ServiceEntry reached by name, TLS origination and policy at an egress waypoint, REGISTRY_ONLY', { timeout: 300_000 }, async (t) => {
  const fx = await SandboxFixture.create(t, 1);
  /** curl in the client pod: the status code, then the body. */
  const curl = async (url: string, ...args: string[]): Promise<{ status: number; body: string; code: number }> => {
    const r = await fx.cli(['exec', 'client', '-n', NS, '--', 'curl', '-s', '-m', '10', '-o', '-', '-w', '\n%{http_code}', ...args, url], { allowFail: true, timeoutMs: 30_000 });
    const lines = r.stdout.trimEnd().split('\n');
    return { status: Number(lines.pop()), body: lines.join('\n'), code: r.code };
  };
  const echoOf = (body: string): Echo => JSON.parse(body) as Echo;
  const ztunnelMetrics = async () => (await runCommand(['ip', 'netns', 'exec', `${fx.name}.node1`, 'curl', '-s', 'http://127.0.0.1:15020/stats/prometheus'])).stdout;
  const ztunnelLog = () => readFileSync(join(fx.dataDir, 'logs', 'ztunnel-node1.log'), 'utf8');
  const meshConfig = (mode: string) => ({
    apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' },
    data: { mesh: `outboundTrafficPolicy:\n  mode: ${mode}\n` },
  });
  const serviceEntry = (viaWaypoint: boolean) => ({
    apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry',
    metadata: { name: 'api', namespace: EGRESS, ...(viaWaypoint ? { labels: { 'istio.io/use-waypoint': 'egress-waypoint' } } : {}) },
    spec: {
      hosts: ['api.example.test'],
      // Through the waypoint the app's port 80 goes to the host's 443, where the waypoint speaks TLS.
      ports: [{ number: 80, name: 'http', protocol: 'HTTP', ...(viaWaypoint ? { targetPort: 443 } : {}) }],
      resolution: 'DNS',
      location: 'MESH_EXTERNAL',
    },
  });

  await fx.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'istio.io/dataplane-mode': 'ambient' } } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: EGRESS } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: NS, labels: { app: 'client' } }, spec: { nodeName: 'node1', containers: [{ name: 'app', command: ['sleep', 'infinity'] }] } },
    serviceEntry(false),
  ]);
  await fx.running(NS, 'client');

  // 1. By name through the ServiceEntry, no waypoint: the name resolves to the allocated VIP; ztunnel resolves the host.
  const vip = await fx.waitFor('the DNS proxy answers the entry\'s VIP', async () => {
    const r = await fx.cli(['exec', 'client', '-n', NS, '--', 'getent', 'ahostsv4', 'api.example.test'], { allowFail: true });
    return /^(240\.240\.\d+\.\d+)\s/m.exec(r.stdout)?.[1];
  }, 30_000, 300);
  const plain = await curl('http://api.example.test/hello');
  assert.equal(plain.status, 200, JSON.stringify(plain));
  const plainEcho = echoOf(plain.body);
  assert.equal(plainEcho.server, 'api.example.test');
  assert.equal(plainEcho.tls, false);
  // ztunnel attributes the connection to the entry and dialled the address the host resolved to.
  await fx.waitFor('ztunnel\'s access log line for the entry', async () => ztunnelLog().split('\n').some((l) =>
    l.includes('"connection complete"') && l.includes('"dst.service":"api.example.test"') && /"dst\.addr":"198\.18\.\d+\.10:80"/.test(l)), 10_000, 200);
  assert.match(vip, /^240\.240\./);
  // Names the sandbox does not serve fail at once (NXDOMAIN), not after a resolver timeout.
  const t0 = Date.now();
  const unknown = await fx.cli(['exec', 'client', '-n', NS, '--', 'getent', 'ahostsv4', 'nowhere.example.test'], { allowFail: true });
  assert.notEqual(unknown.code, 0);
  assert.ok(Date.now() - t0 < 1500, `an unknown name failed in ${Date.now() - t0} ms`);

  // ALLOW_ANY (the default): an outside host no entry lists passes through.
  const unlistedBefore = await curl('http://unlisted.example.test/');
  assert.equal(unlistedBefore.status, 200, JSON.stringify(unlistedBefore));
  assert.equal(echoOf(unlistedBefore.body).server, 'unlisted.example.test');

  // 2. Egress waypoint: TLS origination, a policy denying POST, telemetry.
  const wp = await fx.cli(['waypoint', 'apply', '-n', EGRESS, '--name', 'egress-waypoint', '--wait', '--waypoint-timeout', '60s'], { timeoutMs: 90_000 });
  assert.match(wp.stdout, /waypoint egress\/egress-waypoint applied/);
  await fx.apply([
    serviceEntry(true),
    {
      apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'api-tls', namespace: EGRESS },
      spec: { host: 'api.example.test', trafficPolicy: { tls: { mode: 'SIMPLE' } } },
    },
    {
      apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'api-no-post', namespace: EGRESS },
      spec: { targetRefs: [{ group: 'networking.istio.io', kind: 'ServiceEntry', name: 'api' }], action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST'] } }] }] },
    },
  ]);
  const originated = await fx.waitFor('the outside host sees TLS from the waypoint', async () => {
    const r = await curl('http://api.example.test/through-waypoint');
    return r.status === 200 && echoOf(r.body).tls ? echoOf(r.body) : undefined;
  }, 45_000, 500);
  assert.equal(originated.sni, 'api.example.test');
  assert.equal(originated.host, 'api.example.test');
  assert.equal(originated.path, '/through-waypoint');
  const post = await curl('http://api.example.test/orders', '-X', 'POST', '-d', 'x=1');
  assert.equal(post.status, 403, JSON.stringify(post));
  assert.equal(post.body, 'RBAC: access denied');
  const wpPod = JSON.parse((await fx.cli(['get', 'pods', '-n', EGRESS, '-o', 'json'])).stdout).items.find((p: { metadata: { name: string } }) => p.metadata.name.startsWith('egress-waypoint')) as { metadata: { name: string } };
  const wpMetrics = (await fx.cli(['exec', wpPod.metadata.name, '-n', EGRESS, '--', 'curl', '-s', 'localhost:15020/stats/prometheus'])).stdout;
  const egressLines = wpMetrics.split('\n').filter((l) => l.startsWith('istio_requests_total{') && l.includes('destination_service="api.example.test"'));
  assert.ok(egressLines.some((l) => l.includes('response_code="200"')), `istio_requests_total counts the egress 200s:\n${egressLines.join('\n')}`);
  assert.ok(egressLines.some((l) => l.includes('response_code="403"')), 'and the denied POST');
  const podLogDir = join(fx.dataDir, 'logs', 'pods', `${EGRESS}_${wpPod.metadata.name}`);
  const wpLog = readdirSync(podLogDir).map((f) => readFileSync(join(podLogDir, f), 'utf8')).join('\n');
  assert.ok(wpLog.split('\n').some((l) => l.includes('/through-waypoint') && l.includes('api.example.test')), 'the waypoint access log records the egress request');

  // 3. REGISTRY_ONLY refuses the unlisted host (clear log line, BlackHoleCluster metric) and keeps the listed one.
  await fx.apply([meshConfig('REGISTRY_ONLY')]);
  const refused = await fx.waitFor('REGISTRY_ONLY reaches ztunnel', async () => {
    const r = await curl('http://unlisted.example.test/');
    return r.status === 0 ? r : undefined;
  }, 30_000, 500);
  assert.notEqual(refused.code, 0, 'curl reports the refused connection');
  assert.match(ztunnelLog(), /198\.18\.\d+\.11:80 is not in the mesh registry \(no Service, workload or ServiceEntry\) and the outbound traffic policy is REGISTRY_ONLY/);
  assert.ok((await ztunnelMetrics()).split('\n').some((l) => l.startsWith('istio_tcp_connections_failed_total{') && l.includes('destination_service="BlackHoleCluster"')), 'the refusal is counted against BlackHoleCluster');
  const listed = await curl('http://api.example.test/still-listed');
  assert.equal(listed.status, 200, JSON.stringify(listed));
  assert.equal(echoOf(listed.body).tls, true);

  await fx.apply([meshConfig('ALLOW_ANY')]);
  await fx.waitFor('ALLOW_ANY again lets the unlisted host through', async () => (await curl('http://unlisted.example.test/')).status === 200, 30_000, 500);
});
