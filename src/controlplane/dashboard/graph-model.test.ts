// The service graph from a mesh snapshot and metric series: one edge per pair (waypoint for requests, source ztunnel
// before destination for bytes and connections), mTLS vs plaintext, structural edges, pruned outside nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/meta.js';
import type { ServiceRecord, WorkloadRecord } from '../../lib/xds/workload-records.js';
import { buildGraph } from './graph-model.js';
import type { MeshSnapshot } from './mesh-snapshot.js';
import type { MetricsSource, QuantileQuery, RateQuery, SeriesValue } from './traffic-queries.js';

const ns = (name: string, labels: Record<string, string> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const pod = (namespace: string, name: string, labels: Record<string, string> = {}): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels, annotations: { 'ambient.istio.io/redirection': 'enabled' } }, spec: { nodeName: 'node1', serviceAccountName: name } });

function workload(namespace: string, name: string, services: string[] = []): WorkloadRecord {
  return {
    uid: `u/${namespace}/${name}`, name, namespace, addresses: ['10.0.0.1'], network: '', tunnelProtocol: 'HBONE', trustDomain: 'cluster.local', serviceAccount: name,
    node: 'node1', canonicalName: name, canonicalRevision: 'latest', workloadType: 'POD', workloadName: name,
    services: Object.fromEntries(services.map((s) => [s, []])), authorizationPolicies: [], status: 'HEALTHY', clusterId: 'Kubernetes', networkMode: 'STANDARD',
  } as WorkloadRecord;
}

function service(namespace: string, name: string, waypoint?: string): ServiceRecord {
  return {
    name, namespace, hostname: `${name}.${namespace}.svc.cluster.local`, addresses: [{ network: '', address: '10.96.0.10' }], ports: [{ servicePort: 80, targetPort: 8080 }],
    subjectAltNames: [], ipFamilies: 'IPV4_ONLY', canonical: true, visibility: 'PUBLIC',
    ...(waypoint ? { waypoint: { hostname: { namespace, hostname: `${waypoint}.${namespace}.svc.cluster.local` }, hboneMtlsPort: 15008 } } : {}),
  } as ServiceRecord;
}

const snapshot: MeshSnapshot = {
  objects: (kind) => ({
    Namespace: [ns('demo', { 'istio.io/dataplane-mode': 'ambient' }), ns('legacy')],
    Pod: [pod('demo', 'client'), pod('demo', 'echo-v1'), pod('demo', 'waypoint-abc', { 'gateway.istio.io/managed': 'istio.io-mesh-controller', 'gateway.networking.k8s.io/gateway-name': 'waypoint' }), pod('legacy', 'old')],
    Node: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node1' } }],
  } as Record<string, KubeObject[]>)[kind] ?? [],
  workloads: () => [workload('demo', 'client'), workload('demo', 'echo-v1', ['demo/echo.demo.svc.cluster.local']), workload('demo', 'waypoint-abc'), { ...workload('legacy', 'old'), tunnelProtocol: 'NONE' }],
  services: () => [service('demo', 'echo', 'waypoint'), service('demo', 'waypoint')],
  proxies: () => [{ kind: 'ztunnel', nodeId: 'ztunnel~10.10.0.11~ztunnel-node1.istio-system~istio-system.svc.cluster.local', ip: '10.10.0.11', connectedAt: '2026-01-01T00:00:00Z' }],
  certificates: () => [{ identity: 'spiffe://cluster.local/ns/demo/sa/client', caller: 'node/node1', issuedAt: '2026-01-01T00:00:00Z', notAfter: '2026-01-02T00:00:00Z' }],
};

const edge = (reporter: string, src: string, srcNs: string, dst: Partial<Record<string, string>>, mtls = true) => ({
  reporter, source_workload: src, source_workload_namespace: srcNs, destination_service: 'unknown', destination_service_namespace: 'unknown',
  destination_workload: 'unknown', destination_workload_namespace: 'unknown', connection_security_policy: mtls ? 'mutual_tls' : 'unknown', ...dst,
});
const toEcho = { destination_service: 'echo.demo.svc.cluster.local', destination_service_namespace: 'demo', destination_workload: 'echo-v1', destination_workload_namespace: 'demo' };

/** Answers by metric name; the quantile query answers p99 for the waypoint edge. */
function metricsOf(series: Record<string, SeriesValue[]>): MetricsSource {
  return {
    description: 'test',
    rate: async (q: RateQuery) => (q.match ? series[`${q.metric}:errors`] : series[q.metric]) ?? [],
    quantile: async (_q: QuantileQuery) => series.p99 ?? [],
  };
}

test('buildGraph: nodes, structural edges and one traffic edge per pair with the right reporter', async () => {
  const g = await buildGraph(snapshot, metricsOf({
    istio_requests_total: [{ labels: edge('waypoint', 'client', 'demo', toEcho), value: 4 }],
    'istio_requests_total:errors': [{ labels: edge('waypoint', 'client', 'demo', toEcho), value: 1 }],
    istio_tcp_connections_opened_total: [
      { labels: edge('source', 'client', 'demo', toEcho), value: 2 },
      { labels: edge('destination', 'client', 'demo', toEcho), value: 7 },
      { labels: edge('destination', 'old', 'legacy', { destination_workload: 'echo-v1', destination_workload_namespace: 'demo' }, false), value: 0.5 },
      { labels: edge('source', 'client', 'demo', { destination_service: 'gone.example' }, true), value: 0 },
    ],
    istio_tcp_sent_bytes_total: [{ labels: edge('source', 'client', 'demo', toEcho), value: 100 }],
    istio_tcp_received_bytes_total: [{ labels: edge('destination', 'client', 'demo', toEcho), value: 999 }, { labels: edge('source', 'client', 'demo', toEcho), value: 50 }],
    p99: [{ labels: edge('waypoint', 'client', 'demo', toEcho), value: 12.5 }],
  }));
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  assert.equal(byId.get('ns:demo')?.enrolled, true);
  assert.equal(byId.get('ns:legacy')?.enrolled, false);
  assert.equal(byId.get('wp:demo/waypoint')?.kind, 'waypoint', 'the waypoint pod is drawn as its Gateway');
  assert.equal(byId.get('wl:legacy/old')?.enrolled, false);
  assert.equal(byId.get('zt:node1')?.details.connected, true);
  assert.equal(byId.get('wl:demo/client')?.details.certificateExpiry, '2026-01-02T00:00:00Z');
  assert.ok(!g.nodes.some((n) => n.kind === 'external'), 'an outside node without traffic is not drawn');
  const e = (id: string) => g.edges.find((x) => x.id === id);
  assert.deepEqual(e('wl:demo/client>svc:demo/echo.demo.svc.cluster.local'), {
    id: 'wl:demo/client>svc:demo/echo.demo.svc.cluster.local', source: 'wl:demo/client', target: 'svc:demo/echo.demo.svc.cluster.local', kind: 'traffic',
    requestRate: 4, errorRate: 0.25, p99Ms: 12.5, connectionRate: 2, bytesRate: 150, security: 'mtls',
  });
  assert.equal(e('wl:legacy/old>wl:demo/echo-v1')?.security, 'plaintext');
  assert.equal(e('svc:demo/echo.demo.svc.cluster.local>wl:demo/echo-v1')?.kind, 'selects');
  assert.equal(e('svc:demo/echo.demo.svc.cluster.local>wp:demo/waypoint')?.kind, 'waypoint');
  assert.equal(e('zt:node1>wl:demo/client')?.kind, 'captures');
  assert.equal(e('zt:node1>wl:legacy/old'), undefined, 'ztunnel captures enrolled workloads only');
});

test('buildGraph: a failing metrics source still gives the structure, and says why', async () => {
  const g = await buildGraph(snapshot, { description: 'prometheus http://x', rate: async () => Promise.reject(new Error('connection refused')), quantile: async () => [] });
  assert.equal(g.metricsError, 'connection refused');
  assert.ok(g.nodes.some((n) => n.id === 'svc:demo/echo.demo.svc.cluster.local'));
  assert.ok(!g.edges.some((x) => x.kind === 'traffic'));
});
