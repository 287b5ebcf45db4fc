// Loopback integration: ztunnel's admin (config_dump without keys, logging, quitquitquit), stats and readiness servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { pino } from 'pino';
import { CertificateManager } from '../../src/lib/certs/certificate-manager.js';
import { createTestCa } from '../../src/ztunnel/testing/test-ca.js';
import { match, policy, service, workload } from '../../src/ztunnel/testing/builders.js';
import { ProxyState } from '../../src/ztunnel/state/proxy-state.js';
import { ZtunnelMetrics } from '../../src/ztunnel/metrics.js';
import { ConnectionManager } from '../../src/ztunnel/proxy/connection-manager.js';
import { startAdminServer, type AdminSources } from '../../src/ztunnel/admin.js';
import { portOf, startReadinessServer, startStatsServer } from '../../src/lib/proxy-endpoints.js';

function request(port: number, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

test('admin, stats and readiness endpoints', { timeout: 20_000 }, async (t) => {
  const ca = await createTestCa();
  const certs = new CertificateManager({ signer: ca.signer });
  t.after(() => certs.close());
  const identity = 'spiffe://cluster.local/ns/app/sa/web';
  await certs.fetch(identity);
  const state = new ProxyState();
  state.apply({
    workloads: [workload({ name: 'web', namespace: 'app', serviceAccount: 'web', addresses: ['10.244.0.5'], services: { 'app/web.app.svc.cluster.local': [{ servicePort: 80, targetPort: 8080 }] } })],
    services: [service({ name: 'web', namespace: 'app', vips: ['10.96.0.5'], ports: [{ servicePort: 80, targetPort: 8080 }] })],
    policies: [policy({ name: 'allow-ns', namespace: 'app' }, [[match({ namespaces: [{ kind: 'exact', value: 'app' }], sourceIps: ['10.0.0.0/8'] })]])],
  });
  const connections = new ConnectionManager(state);
  t.after(() => connections.close());
  connections.register({ direction: 'inbound', podUid: 'pod-1', src: '10.244.0.9:5555', originalDst: '10.244.0.5:8080', actualDst: '10.244.0.5:8080', protocol: 'HBONE', revoke: () => undefined });
  const loggers = { default: pino({ level: 'info' }, { write: () => undefined }), access: pino({ level: 'info' }, { write: () => undefined }) };
  let quits = 0;
  let ready = false;
  const metrics = new ZtunnelMetrics({ buildTag: 'test' });
  const src: AdminSources = {
    state, connections, metrics, loggers,
    certificates: () => certs.dump(),
    pods: () => [{ uid: 'pod-1', state: 'Up', info: { name: 'web', namespace: 'app', serviceAccount: 'web' } }],
    config: { network: '', node: 'node-a' },
    notReadyReasons: () => (ready ? [] : ['xDS not synced']),
    quit: () => void quits++,
  };
  const admin = await startAdminServer(src, '127.0.0.1', 0);
  const stats = await startStatsServer(() => metrics.render(), '127.0.0.1', 0);
  const readiness = await startReadinessServer(src.notReadyReasons, '127.0.0.1', 0);
  t.after(() => {
    admin.close();
    stats.close();
    readiness.close();
  });

  const memory = await request(portOf(admin), 'GET', '/memory');
  assert.equal(memory.status, 200);
  const mem = JSON.parse(memory.body) as { rss: number; rssAnon: number; rssFile: number; heapUsed: number; heapSpaces: Record<string, { size: number; used: number }> };
  assert.ok(mem.rssAnon > 0 && mem.rssFile > 0 && mem.rssAnon + mem.rssFile <= mem.rss + 4096 * 1024, `RssAnon/RssFile from /proc: ${memory.body}`);
  assert.ok(mem.heapSpaces.old_space!.used > 0 && mem.heapUsed > 0);
  const dump = await request(portOf(admin), 'GET', '/config_dump');
  assert.equal(dump.status, 200);
  assert.doesNotMatch(dump.body, /PRIVATE KEY/);
  const doc = JSON.parse(dump.body);
  assert.equal(doc.workloads[0].name, 'web');
  assert.deepEqual(doc.workloads[0].workloadIps, ['10.244.0.5']);
  assert.equal(doc.workloads[0].protocol, 'HBONE');
  assert.deepEqual(doc.services[0].vips, ['/10.96.0.5']);
  assert.deepEqual(doc.services[0].ports, { 80: 8080 });
  assert.deepEqual(Object.keys(doc.services[0].endpoints), ['Kubernetes//Pod/app/web']);
  assert.deepEqual(doc.policies[0].rules, [[[{ namespaces: [{ kind: 'exact', value: 'app' }], sourceIps: ['10.0.0.0/8'] }]]]);
  assert.equal(doc.certificates[0].identity, identity);
  assert.equal(doc.certificates[0].state, 'Available');
  assert.match(doc.certificates[0].certChain[0].expirationTime, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(doc.workloadState['pod-1'].connections.inbound, [{ src: '10.244.0.9:5555', originalDst: '10.244.0.5:8080', actualDst: '10.244.0.5:8080', protocol: 'HBONE' }]);
  assert.equal(doc.workloadState['pod-1'].state, 'Up');

  assert.equal((await request(portOf(admin), 'GET', '/logging?level=debug')).status, 405);
  const set = await request(portOf(admin), 'POST', '/logging?level=access=debug');
  assert.equal(set.status, 200);
  assert.equal(loggers.access.level, 'debug');
  assert.equal(loggers.default.level, 'info');
  const bad = await request(portOf(admin), 'POST', '/logging?level=loud');
  assert.equal(bad.status, 400);
  assert.match(bad.body, /'loud' is not one of/);
  await request(portOf(admin), 'POST', '/logging?reset');
  assert.equal(loggers.access.level, 'info');

  assert.equal((await request(portOf(admin), 'POST', '/quitquitquit')).status, 200);
  await new Promise((r) => setImmediate(r));
  assert.equal(quits, 1);

  const notReady = await request(portOf(readiness), 'GET', '/healthz/ready');
  assert.equal(notReady.status, 500);
  assert.match(notReady.body, /xDS not synced/);
  ready = true;
  assert.equal((await request(portOf(readiness), 'GET', '/healthz/ready')).status, 200);

  const scrape = await request(portOf(stats), 'GET', '/stats/prometheus');
  assert.equal(scrape.status, 200);
  assert.match(scrape.body, /istio_build\{component="ztunnel",tag="test"\} 1/);
  assert.match(scrape.body, /# TYPE istio_tcp_connections_opened_total counter/);
  assert.equal((await request(portOf(stats), 'GET', '/metrics')).status, 200);
});
