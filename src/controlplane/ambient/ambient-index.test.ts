// Unit tests of the ambient index's incrementality: a change recomputes only the outputs that depend on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/meta.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, MESH_SETTINGS_TYPE_URL, WAYPOINT_TYPE_URL } from '../../lib/xds/type-urls.js';
import type { WaypointConfigRecord } from '../../lib/xds/waypoint-records.js';
import type { AddressRecord, AuthorizationRecord } from '../../lib/xds/workload-records.js';
import { AmbientIndex } from './ambient-index.js';

const ns = (name: string, labels: Record<string, string> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const pod = (name: string, ip: string, labels: Record<string, string>, namespace = 'default'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels },
  spec: { containers: [{ name: 'app', command: ['sleep'] }] },
  status: { phase: 'Running', podIP: ip },
});
const svc = (name: string, selector: Record<string, string>, namespace = 'default'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace },
  spec: { selector, clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080 }] },
});

function world(pods: number): { index: AmbientIndex; objects: KubeObject[] } {
  const objects: KubeObject[] = [ns('default', { 'istio.io/dataplane-mode': 'ambient' }), ns('other')];
  for (let i = 0; i < pods; i++) objects.push(pod(`p${i}`, `10.244.0.${i + 1}`, { app: `a${i % 5}` }));
  for (let i = 0; i < 5; i++) objects.push(svc(`s${i}`, { app: `a${i}` }));
  objects.push(pod('elsewhere', '10.244.1.1', { app: 'a0' }, 'other'));
  const index = new AmbientIndex();
  index.apply(objects.map((object) => ({ type: 'ADDED', object })));
  return { index, objects };
}

test('changing one pod recomputes only that pod', () => {
  const { index } = world(50);
  const changes = index.apply([{ type: 'MODIFIED', object: pod('p7', '10.244.0.8', { app: 'a2', version: 'v9' }) }]);
  assert.deepEqual(index.stats().lastBatch, ['Pod/default/p7']);
  assert.deepEqual(changes, [{ typeUrl: ADDRESS_TYPE_URL, updated: ['Kubernetes//Pod/default/p7'], removed: [] }]);
  const w = index.resources<AddressRecord>(ADDRESS_TYPE_URL).get('Kubernetes//Pod/default/p7')!.record.workload!;
  assert.equal(w.canonicalRevision, 'v9');
});

test('a status-only change of a Service recomputes nothing', () => {
  const { index } = world(10);
  const s = svc('s1', { app: 'a1' });
  s.status = { conditions: [{ type: 'istio.io/WaypointBound', status: 'False', reason: 'X', message: 'y' }] };
  const changes = index.apply([{ type: 'MODIFIED', object: s }]);
  assert.deepEqual(index.stats().lastBatch, []);
  assert.deepEqual(changes, []);
});

test('changing a Service selector recomputes the service and the pods it selected before or selects now', () => {
  const { index } = world(50);
  index.apply([{ type: 'MODIFIED', object: svc('s1', { app: 'a2' }) }]);
  const batch = index.stats().lastBatch;
  const pods = batch.filter((o) => o.startsWith('Pod/'));
  // 10 pods had app=a1 and 10 have app=a2; nothing else (not the other namespace, not other services).
  assert.equal(pods.length, 20);
  assert.ok(batch.includes('Service/default/s1'));
  assert.equal(batch.length, 21);
});

test('a namespace label change recomputes that namespace’s workloads only', () => {
  const { index } = world(20);
  index.apply([{ type: 'MODIFIED', object: ns('other', { 'istio.io/dataplane-mode': 'ambient' }) }]);
  assert.deepEqual(index.stats().lastBatch, ['Pod/other/elsewhere']);
  const w = index.resources<AddressRecord>(ADDRESS_TYPE_URL).get('Kubernetes//Pod/other/elsewhere')!.record.workload!;
  assert.equal(w.tunnelProtocol, 'HBONE');
});

test('a selector policy recomputes the policy and the workloads it selects', () => {
  const { index } = world(25);
  const ap: KubeObject = {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'p', namespace: 'default' },
    spec: { selector: { matchLabels: { app: 'a3' } }, rules: [{}] },
  };
  const changes = index.apply([{ type: 'ADDED', object: ap }]);
  const batch = index.stats().lastBatch;
  assert.equal(batch.filter((o) => o.startsWith('Pod/')).length, 5);
  assert.ok(batch.includes('AuthorizationPolicy/default/p'));
  const authz = changes.find((c) => c.typeUrl === AUTHORIZATION_TYPE_URL)!;
  assert.deepEqual(authz.updated, ['default/p']);
  const a = index.resources<AuthorizationRecord>(AUTHORIZATION_TYPE_URL).get('default/p')!.record;
  assert.equal(a.scope, 'WORKLOAD_SELECTOR');
  // Deleting it removes the resource and the references.
  const del = index.apply([{ type: 'DELETED', object: ap }]);
  assert.deepEqual(del.find((c) => c.typeUrl === AUTHORIZATION_TYPE_URL)!.removed, ['default/p']);
  const w = index.resources<AddressRecord>(ADDRESS_TYPE_URL).get('Kubernetes//Pod/default/p3')!.record.workload!;
  assert.deepEqual(w.authorizationPolicies, []);
});

test('deleting a pod removes its workload and emits a status update for nothing', () => {
  const { index } = world(5);
  const statuses: unknown[] = [];
  index.onStatus((u) => statuses.push(...u));
  const changes = index.apply([{ type: 'DELETED', object: pod('p1', '10.244.0.2', { app: 'a1' }) }]);
  assert.deepEqual(changes, [{ typeUrl: ADDRESS_TYPE_URL, updated: [], removed: ['Kubernetes//Pod/default/p1'] }]);
  assert.deepEqual(statuses, []);
});

test('versions are content hashes: an unchanged recomputation keeps the version', () => {
  const { index } = world(5);
  const before = index.resources(ADDRESS_TYPE_URL).get('Kubernetes//Pod/default/p1')!.version;
  // Same content, different annotation on an unrelated key → recomputed but identical record.
  const p = pod('p1', '10.244.0.2', { app: 'a1' });
  p.metadata.annotations = { note: 'x' };
  const changes = index.apply([{ type: 'MODIFIED', object: p }]);
  assert.deepEqual(index.stats().lastBatch, ['Pod/default/p1']);
  assert.deepEqual(changes, []);
  assert.equal(index.resources(ADDRESS_TYPE_URL).get('Kubernetes//Pod/default/p1')!.version, before);
});

test('a change of the mesh config (ConfigMap data) reaches the waypoint config of a CUSTOM policy', () => {
  const index = new AmbientIndex();
  const cm = (failOpen: boolean): KubeObject => ({
    apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' },
    data: { mesh: `extensionProviders:\n- name: opa\n  envoyExtAuthzHttp: { service: opa.p.svc.cluster.local, port: 8181, failOpen: ${failOpen} }\n` },
  } as KubeObject);
  index.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' } } },
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'waypoint', namespace: 'shop' },
      spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] }, status: { addresses: [{ type: 'IPAddress', value: '10.96.0.9' }] } },
    { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'ext', namespace: 'shop' },
      spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' }], action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] } },
    cm(false),
  ].map((object) => ({ type: 'ADDED' as const, object: object as KubeObject })));
  const providers = () => [...index.resources(WAYPOINT_TYPE_URL).values()].map((r) => (r.record as WaypointConfigRecord).extensionProviders);
  assert.deepEqual(providers(), [[{ name: 'opa', envoyExtAuthzHttp: { service: 'opa.p.svc.cluster.local', port: 8181, failOpen: false } }]]);
  assert.ok(index.apply([{ type: 'MODIFIED', object: cm(true) }]).length > 0, 'a data change is a change');
  assert.deepEqual(providers(), [[{ name: 'opa', envoyExtAuthzHttp: { service: 'opa.p.svc.cluster.local', port: 8181, failOpen: true } }]]);
});

test('mesh settings: served only while the mesh config sets REGISTRY_ONLY; changes and deletion reach ztunnels', () => {
  const index = new AmbientIndex();
  const cm = (mesh: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh } } as KubeObject);
  const served = () => [...index.resources(MESH_SETTINGS_TYPE_URL).values()].map((r) => [r.name, r.record]);
  index.apply([]);
  assert.deepEqual(served(), [], 'no mesh config: nothing served, ztunnels keep the defaults');
  index.apply([{ type: 'ADDED', object: cm('outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n') }]);
  assert.deepEqual(served(), [['mesh', { outboundTrafficMode: 'REGISTRY_ONLY' }]]);
  const changes = index.apply([{ type: 'MODIFIED', object: cm('outboundTrafficPolicy:\n  mode: ALLOW_ANY\n') }]);
  assert.deepEqual(changes.find((c) => c.typeUrl === MESH_SETTINGS_TYPE_URL), { typeUrl: MESH_SETTINGS_TYPE_URL, updated: [], removed: ['mesh'] });
  index.apply([{ type: 'MODIFIED', object: cm('outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n') }, { type: 'DELETED', object: cm('') }]);
  assert.deepEqual(served(), []);
});

test('tracing reaches a waypoint from the most specific Telemetry (waypoint, then namespace, then root) with an OTLP/HTTP provider', () => {
  const index = new AmbientIndex();
  const mesh = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' },
    data: { mesh: 'extensionProviders:\n- name: otel\n  opentelemetry: { service: otel.obs.svc.cluster.local, port: 4318, http: { path: /v1/traces } }\n- name: otel-grpc\n  opentelemetry: { service: otel.obs, port: 4317 }\n' } };
  const telemetry = (name: string, namespace: string, tracing: object, targetRefs?: object[]) =>
    ({ apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name, namespace }, spec: { ...(targetRefs ? { targetRefs } : {}), tracing: [tracing] } });
  index.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' } } },
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'waypoint', namespace: 'shop' },
      spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] }, status: { addresses: [{ type: 'IPAddress', value: '10.96.0.9' }] } },
    mesh,
    telemetry('mesh-default', 'istio-system', { providers: [{ name: 'otel' }] }),
  ].map((object) => ({ type: 'ADDED' as const, object: object as KubeObject })));
  const tracing = () => [...index.resources(WAYPOINT_TYPE_URL).values()].map((r) => (r.record as WaypointConfigRecord).tracing)[0];
  assert.deepEqual(tracing(), { provider: { name: 'otel', opentelemetry: { service: 'otel.obs.svc.cluster.local', port: 4318, path: '/v1/traces' } }, randomSamplingPercentage: 1, telemetry: 'istio-system/mesh-default' });
  index.apply([{ type: 'ADDED', object: telemetry('ns', 'shop', { providers: [{ name: 'otel' }], randomSamplingPercentage: 25 }) as KubeObject }]);
  assert.equal(tracing()?.telemetry, 'shop/ns');
  assert.equal(tracing()?.randomSamplingPercentage, 25);
  index.apply([{ type: 'ADDED', object: telemetry('wp', 'shop', { providers: [{ name: 'otel' }], disableSpanReporting: true }, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' }]) as KubeObject }]);
  assert.equal(tracing(), undefined, 'the waypoint\'s own Telemetry turns spans off');
  index.apply([{ type: 'MODIFIED', object: telemetry('wp', 'shop', { providers: [{ name: 'otel-grpc' }] }, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' }]) as KubeObject }]);
  assert.equal(tracing(), undefined, 'an OTLP/gRPC provider is not one the waypoint can export to');
});

test('a Telemetry turns the waypoint\'s access log and metrics off; deleting it turns them back on', () => {
  const index = new AmbientIndex();
  index.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'istio.io/dataplane-mode': 'ambient' } } },
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'waypoint', namespace: 'shop' },
      spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] }, status: { addresses: [{ type: 'IPAddress', value: '10.96.0.9' }] } },
  ].map((object) => ({ type: 'ADDED' as const, object: object as KubeObject })));
  const off = () => [...index.resources(WAYPOINT_TYPE_URL).values()].map((r) => (r.record as WaypointConfigRecord).accessLoggingDisabled)[0];
  assert.equal(off(), undefined);
  const quiet = { apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 'quiet', namespace: 'shop' }, spec: {
    accessLogging: [{ disabled: true }],
    metrics: [{ overrides: [{ match: { metric: 'REQUEST_COUNT' }, disabled: true }, { match: { metric: 'TCP_SENT_BYTES', mode: 'CLIENT' }, disabled: true }] }],
  } } as KubeObject;
  index.apply([{ type: 'ADDED', object: quiet }]);
  assert.equal(off(), true);
  assert.deepEqual([...index.resources(WAYPOINT_TYPE_URL).values()].map((r) => (r.record as WaypointConfigRecord).disabledMetrics)[0], ['REQUEST_COUNT'], 'CLIENT-only overrides do not concern a waypoint');
  index.apply([{ type: 'DELETED', object: quiet }]);
  assert.equal(off(), undefined);
});
