// The dashboard served by a real control plane on loopback: decisions reported over DecisionService (gRPC, TLS,
// node token) reach /api/decisions; a caller without valid credentials is refused and nothing it sent is kept;
// the certificate view lists what the CA issued; the app's assets are served, writes and path tricks refused;
// the metrics source is switched only through the control plane's API, with a clear error for a bad URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { runControlPlane } from '../../src/controlplane/index.js';
import { ApiClient } from '../../src/controlplane/client/index.js';
import { createCaClient } from '../../src/lib/certs/ca-client.js';
import { CertificateManager } from '../../src/lib/certs/certificate-manager.js';
import { readNodeToken } from '../../src/lib/certs/node-token.js';
import { silentLogger } from '../../src/lib/log.js';
import { kindByName } from '../../src/api/registry.js';
import { DecisionReporter } from '../../src/lib/telemetry/decision-reporter.js';
import { XdsClient } from '../../src/lib/xds/xds-client.js';
import { ADDRESS_TYPE_URL } from '../../src/lib/xds/type-urls.js';
import { decodeAddress } from '../../src/lib/xds/workload-codec.js';
import { pollUntil } from '../../src/sandbox/testing/poll.js';

/** Polls every 50 ms until `probe` yields a value. */
const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> => pollUntil(what, probe, timeoutMs, 50);

/** A request to the dashboard's Unix socket: status, content type and body. */
function viaSocket(socketPath: string, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject).end();
  });
}

test('dashboard API on a real control plane: decisions over gRPC, refused reporters, certificates, assets, metrics source', { timeout: 60_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'ambit-dash-'));
  const cp = await runControlPlane({
    dataDir, grpc: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', log: silentLogger(),
    dashboard: { tcp: { host: '127.0.0.1', port: 0 } },
  });
  const api = new ApiClient({ endpoint: { socketPath: cp.socketPath } });
  t.after(async () => {
    api.close();
    await cp.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const socket = join(dataDir, 'dashboard.sock');
  await api.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' } });
  await api.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec: { nodeName: 'node-a', serviceAccountName: 'web', containers: [{ name: 'web', command: ['sleep', '1000'] }] } });
  const web = await api.get(kindByName('Pod')!, 'default', 'web');
  await api.updateStatus({ ...web, status: { phase: 'Running', podIP: '10.244.1.5', podIPs: [{ ip: '10.244.1.5' }] } });
  const token = await waitFor('node token', () => readNodeToken(dataDir, 'node-a'));
  const bundle = await readFile(join(dataDir, 'ca', 'root-cert.pem'), 'utf8');
  const channelOptions = { 'grpc.ssl_target_name_override': 'ambit-controlplane', 'grpc.default_authority': 'ambit-controlplane' };

  // Decisions from a node-token caller arrive; a forged token's never do.
  const good = new DecisionReporter({ address: `127.0.0.1:${cp.ports.grpc}`, credentials: grpc.credentials.createSsl(Buffer.from(bundle)), token: () => token, proxy: 'ztunnel~10.0.0.1~ztunnel-node-a', log: silentLogger(), channelOptions });
  const forged = new DecisionReporter({ address: `127.0.0.1:${cp.ports.grpc}`, credentials: grpc.credentials.createSsl(Buffer.from(bundle)), token: () => 'not-a-token', proxy: 'forged', log: silentLogger(), channelOptions });
  t.after(() => {
    good.close();
    forged.close();
  });
  const base = { timeMs: Date.now(), reporter: 'destination' as const, protocol: 'tcp' as const, durationMs: 1, mutualTls: true, source: { address: '10.244.1.9:1234', workload: 'client', namespace: 'default' }, destination: { address: '10.244.1.5:80', workload: 'web', namespace: 'default' } };
  forged.record({ ...base, verdict: 'allowed' });
  good.record({ ...base, verdict: 'denied', policy: 'default/deny-client', reason: 'explicitly denied by default/deny-client' });
  const page = await waitFor('the denied decision', async () => {
    const r = JSON.parse((await viaSocket(socket, '/api/decisions?after=0')).body) as { items: Array<{ proxy: string; verdict: string; policy?: string }> };
    return r.items.length ? r : undefined;
  });
  await new Promise((r) => setTimeout(r, 600));
  const all = JSON.parse((await viaSocket(socket, '/api/decisions?after=0')).body) as { items: Array<{ proxy: string; verdict: string; policy?: string }> };
  assert.deepEqual(all.items.map((d) => [d.proxy, d.verdict, d.policy]), [['ztunnel~10.0.0.1~ztunnel-node-a', 'denied', 'default/deny-client']], `only the authenticated report is kept (first page ${JSON.stringify(page.items)})`);
  assert.deepEqual(JSON.parse((await viaSocket(socket, '/api/decisions?after=0&verdict=allowed')).body).items, []);

  // A certificate the CA issues shows in the security view with its holder and expiry.
  const ca = createCaClient({ address: `127.0.0.1:${cp.ports.grpc}`, rootCertPem: bundle, token });
  const certs = new CertificateManager({ signer: ca.signer });
  t.after(() => {
    certs.close();
    ca.close();
  });
  await certs.fetch('spiffe://cluster.local/ns/default/sa/web');
  const security = JSON.parse((await viaSocket(socket, '/api/security')).body) as { certificates: Array<{ holder: string; identity: string; expiresInSeconds: number }>; pods: Array<{ name: string; enrolled: boolean; why: string }> };
  const cert = security.certificates.find((c) => c.identity === 'spiffe://cluster.local/ns/default/sa/web');
  assert.equal(cert?.holder, 'node/node-a');
  assert.ok(cert!.expiresInSeconds > 3600, `expires in ${cert?.expiresInSeconds} s`);
  assert.deepEqual(security.pods.map((p) => [p.name, p.enrolled]), [['web', false]]);

  // A connected ztunnel is a scrape target (its xDS peer address, port 15020), in Prometheus HTTP SD format.
  const xds = new XdsClient({
    address: `127.0.0.1:${cp.ports.grpc}`, credentials: grpc.credentials.createSsl(Buffer.from(bundle)), token: () => token,
    node: { id: 'ztunnel~127.0.0.1~ztunnel-node-a.istio-system~istio-system.svc.cluster.local' }, types: [{ typeUrl: ADDRESS_TYPE_URL, decode: decodeAddress }], channelOptions,
  });
  t.after(() => xds.close());
  xds.start();
  await xds.synchronized();
  const targets = JSON.parse((await viaSocket(socket, '/api/prometheus/targets')).body) as Array<{ targets: string[]; labels: Record<string, string> }>;
  assert.deepEqual(targets.map((x) => [x.targets, x.labels.ambit_proxy_kind, x.labels.__metrics_path__]), [[['127.0.0.1:15020'], 'ztunnel', '/stats/prometheus']]);

  // The app: its page and bundle are served (also on TCP), writes and paths outside the assets are not.
  const settings = (await api.requestJson('GET', '/ambit/v1/dashboard')) as { port: number; metricsSource: string };
  assert.equal(settings.metricsSource, 'embedded');
  const index = await fetch(`http://127.0.0.1:${settings.port}/`);
  assert.equal(index.status, 200);
  assert.match(await index.text(), /<title>Ambit mesh dashboard<\/title>/);
  const bundleJs = await viaSocket(socket, '/assets/app.js');
  assert.equal(bundleJs.status, 200);
  assert.match(bundleJs.type, /javascript/);
  assert.ok(bundleJs.body.length > 100_000, 'Cytoscape is bundled in, not fetched from a CDN');
  assert.doesNotMatch((await viaSocket(socket, '/')).body, /https?:\/\/(?!www\.w3\.org)/, 'the page loads nothing from elsewhere');
  assert.equal((await viaSocket(socket, '/assets/../../package.json')).status, 404);
  assert.equal((await viaSocket(socket, '/assets/%2e%2e%2fpackage.json')).status, 404);
  assert.equal((await viaSocket(socket, '/api/graph', 'POST')).status, 405);

  // The metrics source changes through the API only; a bad URL is refused naming the field.
  await assert.rejects(api.requestJson('PUT', '/ambit/v1/dashboard', { prometheus: 'ftp://x' }), /prometheus: 'ftp:\/\/x' must be an http:\/\/ or https:\/\/ URL/);
  const switched = (await api.requestJson('PUT', '/ambit/v1/dashboard', { prometheus: 'http://127.0.0.1:1' })) as { metricsSource: string };
  assert.equal(switched.metricsSource, 'prometheus http://127.0.0.1:1');
  const graph = JSON.parse((await viaSocket(socket, '/api/graph')).body) as { metricsSource: string; metricsError?: string; nodes: Array<{ id: string }> };
  assert.equal(graph.metricsSource, 'prometheus http://127.0.0.1:1');
  assert.match(graph.metricsError ?? '', /Prometheus at http:\/\/127\.0\.0\.1:1 did not answer/);
  assert.ok(graph.nodes.some((n) => n.id === 'wl:default/web'), 'the structure is still drawn without metrics');
  assert.equal(((await api.requestJson('PUT', '/ambit/v1/dashboard', { prometheus: null })) as { metricsSource: string }).metricsSource, 'embedded');
});
