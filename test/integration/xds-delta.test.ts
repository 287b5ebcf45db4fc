// Delta ADS over real gRPC + TLS on loopback, backed by a real file store: initial state, incremental add and
// removal after store changes, a NACK that blocks nothing, reconnect with initial_resource_versions receiving only
// what changed, authentication, the client library's reconnect, and the `protoc --decode` wire check.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary } from '@bufbuild/protobuf';
import { Registry } from 'prom-client';
import type { KubeObject } from '../../src/api/meta.js';
import { openFileStore } from '../../src/controlplane/store/file-store.js';
import type { Store } from '../../src/controlplane/store/store.js';
import type { XdsServer } from '../../src/controlplane/xds/xds-server.js';
import { startIndexedXds } from './helpers/indexed-xds.js';
import { silentLogger } from '../../src/lib/log.js';
import { x509, ECDSA_SHA256 } from '../../src/lib/certs/x509.js';
import { generateP256KeyPair, privateKeyToPem } from '../../src/lib/certs/proxy-x509.js';
import { aggregatedDiscoveryServiceDefinition, DeltaDiscoveryRequestSchema, DeltaDiscoveryResponseSchema, DELTA_ADS_PATH, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse } from '../../src/lib/xds/ads-service.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, WAYPOINT_TYPE_URL } from '../../src/lib/xds/type-urls.js';
import { decodeAddress, decodeAuthorization } from '../../src/lib/xds/workload-codec.js';
import { XdsClient } from '../../src/lib/xds/xds-client.js';
import type { AddressRecord } from '../../src/lib/xds/workload-records.js';
import { NodeSchema } from '../../proto/gen/envoy/config/core/v3/base_pb.js';
import { xdsDebugRoutes } from '../../src/controlplane/xds/debug-routes.js';
import { renderProxyStatus } from '../../src/cli/proxy-status.js';
import type { IncomingMessage } from 'node:http';

const TOKEN = 'node-1-token';

async function selfSigned(): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateP256KeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=ambit-controlplane',
    keys,
    signingAlgorithm: ECDSA_SHA256,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }])],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await privateKeyToPem(keys.privateKey) };
}

const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'istio.io/dataplane-mode': 'ambient' } } });
const pod = (name: string, ip: string, labels: Record<string, string> = { app: 'web' }): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels },
  spec: { nodeName: 'node-1', serviceAccountName: 'web', containers: [{ name: 'app', command: ['sleep', '1'], ports: [{ name: 'http', containerPort: 8080 }] }] },
  status: { phase: 'Running', podIP: ip },
});
const service: KubeObject = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'default' },
  spec: { selector: { app: 'web' }, clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
};
const policy: KubeObject = {
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'allow-ns', namespace: 'default' },
  spec: { action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['default'] } }] }] },
};

interface Env {
  dir: string;
  store: Store;
  xds: XdsServer;
  registry: Registry;
  certPem: string;
  port: number;
}

async function setup(t: TestContext, objects: KubeObject[], port = 0, existing?: { dir: string; store: Store; certPem: string; keyPem: string }): Promise<Env & { keyPem: string }> {
  const dir = existing?.dir ?? (await mkdtemp(join(tmpdir(), 'ambit-xds-')));
  const store = existing?.store ?? (await openFileStore(join(dir, 'store')));
  for (const o of objects) await store.create(o);
  const { certPem, keyPem } = existing ?? (await selfSigned());
  const registry = new Registry();
  const xds = await startIndexedXds({
    source: store,
    log: silentLogger(),
    metrics: registry,
    listen: { host: '127.0.0.1', port, credentials: grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(keyPem), cert_chain: Buffer.from(certPem) }], false) },
    nodeTokens: { authenticate: async (tok) => (tok === TOKEN ? { kind: 'node', node: 'node-1' } : undefined) },
    debounceMs: 10,
    maxDebounceMs: 50,
  });
  if (!existing) {
    t.after(async () => {
      await store.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    });
  }
  t.after(() => xds.close());
  return { dir, store, xds, registry, certPem, keyPem, port: xds.port! };
}

/** A raw Delta ADS stream with an awaitable response queue. */
function rawStream(t: TestContext, env: { port: number; certPem: string }, token = TOKEN) {
  const Ctor = grpc.makeGenericClientConstructor(aggregatedDiscoveryServiceDefinition, 'ADS');
  const client = new Ctor(`127.0.0.1:${env.port}`, grpc.credentials.createSsl(Buffer.from(env.certPem)), { 'grpc.ssl_target_name_override': 'localhost' });
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  md.set('clusterid', 'Kubernetes');
  const call = (client as unknown as { DeltaAggregatedResources(md: grpc.Metadata): grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> }).DeltaAggregatedResources(md);
  const queue: DeltaDiscoveryResponse[] = [];
  const waiters: Array<(r: DeltaDiscoveryResponse) => void> = [];
  let error: grpc.ServiceError | undefined;
  const errorWaiters: Array<(e: grpc.ServiceError) => void> = [];
  call.on('data', (r: DeltaDiscoveryResponse) => {
    const w = waiters.shift();
    if (w) w(r);
    else queue.push(r);
  });
  call.on('error', (e: grpc.ServiceError) => {
    error = e;
    for (const w of errorWaiters.splice(0)) w(e);
  });
  t.after(() => {
    call.cancel();
    client.close();
  });
  return {
    call,
    send(req: Partial<DeltaDiscoveryRequest>) {
      call.write(create(DeltaDiscoveryRequestSchema, req as DeltaDiscoveryRequest));
    },
    next(timeoutMs = 3000): Promise<DeltaDiscoveryResponse> {
      const r = queue.shift();
      if (r) return Promise.resolve(r);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no xDS response within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((resp) => {
          clearTimeout(timer);
          resolve(resp);
        });
      });
    },
    /** Asserts nothing arrives for `ms`. */
    async quiet(ms = 200) {
      await new Promise((r) => setTimeout(r, ms));
      assert.equal(queue.length, 0, `unexpected response: ${JSON.stringify(queue[0]?.resources.map((x) => x.name))}`);
    },
    error(): Promise<grpc.ServiceError> {
      return error ? Promise.resolve(error) : new Promise((resolve) => errorWaiters.push(resolve));
    },
  };
}

/** Retries `check` until it stops throwing (the server handles requests asynchronously). */
async function eventually(check: () => void | Promise<void>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

const names = (r: DeltaDiscoveryResponse) => r.resources.map((x) => x.name).sort();
const workloadOf = (r: DeltaDiscoveryResponse, name: string) => {
  const res = r.resources.find((x) => x.name === name)!;
  const d = decodeAddress(res.resource!.value);
  assert.ok(d.ok);
  return (d.value as AddressRecord).workload!;
};

test('delta ADS: initial state, add, removal, NACK, reconnect with initial_resource_versions', { timeout: 30_000 }, async (t) => {
  const env = await setup(t, [ns('default'), pod('web-1', '10.244.0.11'), service, policy]);
  const s = rawStream(t, env);
  s.send({ typeUrl: ADDRESS_TYPE_URL, node: create(NodeSchema, { id: 'ztunnel~10.10.0.2~ztunnel-abc.istio-system~istio-system.svc.cluster.local' }) });
  s.send({ typeUrl: AUTHORIZATION_TYPE_URL });
  s.send({ typeUrl: WAYPOINT_TYPE_URL });
  const held = new Map<string, string>();
  const record = (r: DeltaDiscoveryResponse) => {
    for (const x of r.resources) held.set(x.name, x.version);
    for (const n of r.removedResources) held.delete(n);
  };

  // 1. Initial state, one response per type, each acknowledged.
  const initial = new Map<string, DeltaDiscoveryResponse>();
  for (let i = 0; i < 3; i++) {
    const r = await s.next();
    initial.set(r.typeUrl, r);
  }
  const addr = initial.get(ADDRESS_TYPE_URL)!;
  assert.deepEqual(names(addr), ['Kubernetes//Pod/default/web-1', 'default/web.default.svc.cluster.local']);
  const w1 = workloadOf(addr, 'Kubernetes//Pod/default/web-1');
  assert.equal(w1.tunnelProtocol, 'HBONE');
  assert.deepEqual(w1.services, { 'default/web.default.svc.cluster.local': [{ servicePort: 80, targetPort: 8080, appProtocol: 'HTTP11' }] });
  const authz = initial.get(AUTHORIZATION_TYPE_URL)!;
  assert.deepEqual(names(authz), ['default/allow-ns']);
  const a = decodeAuthorization(authz.resources[0]!.resource!.value);
  assert.ok(a.ok && a.value.scope === 'NAMESPACE');
  assert.deepEqual(initial.get(WAYPOINT_TYPE_URL)!.resources, []);
  for (const r of initial.values()) {
    record(r);
    s.send({ typeUrl: r.typeUrl, responseNonce: r.nonce });
  }

  // 2. An added pod arrives alone.
  await env.store.create(pod('web-2', '10.244.0.12'));
  const add = await s.next();
  assert.equal(add.typeUrl, ADDRESS_TYPE_URL);
  assert.deepEqual(names(add), ['Kubernetes//Pod/default/web-2']);
  assert.deepEqual(add.removedResources, []);
  record(add);
  s.send({ typeUrl: ADDRESS_TYPE_URL, responseNonce: add.nonce });

  // 3. A deleted pod is removed by name.
  await env.store.delete({ group: '', kind: 'Pod', namespace: 'default', name: 'web-1' });
  const del = await s.next();
  assert.deepEqual(del.resources, []);
  assert.deepEqual(del.removedResources, ['Kubernetes//Pod/default/web-1']);
  record(del);
  s.send({ typeUrl: ADDRESS_TYPE_URL, responseNonce: del.nonce });

  // 4. NACK an update; a later change still arrives, and the NACK is visible.
  const web2Acked = held.get('Kubernetes//Pod/default/web-2')!;
  const web2 = env.store.get({ group: '', kind: 'Pod', namespace: 'default', name: 'web-2' })!;
  await env.store.update({ ...web2, metadata: { ...web2.metadata, labels: { app: 'web', version: 'v2' } } });
  const bad = await s.next();
  assert.deepEqual(names(bad), ['Kubernetes//Pod/default/web-2']);
  s.send({ typeUrl: ADDRESS_TYPE_URL, responseNonce: bad.nonce, errorDetail: { $typeName: 'envoy.service.discovery.v3.RpcStatus', code: 3, message: 'Kubernetes//Pod/default/web-2: test rejection', details: [] } });
  await env.store.create(pod('web-3', '10.244.0.13'));
  const after = await s.next();
  assert.deepEqual(names(after), ['Kubernetes//Pod/default/web-3']);
  record(after);
  s.send({ typeUrl: ADDRESS_TYPE_URL, responseNonce: after.nonce });
  await eventually(() => {
    const [client] = env.xds.clients();
    const addrStatus = client!.types.find((x) => x.type === 'Address')!;
    assert.equal(addrStatus.nacks, 1);
    assert.equal(addrStatus.lastNack!.message, 'Kubernetes//Pod/default/web-2: test rejection');
    assert.equal(addrStatus.lastAckedNonce, after.nonce);
    assert.equal(client!.kind, 'ztunnel');
    assert.equal(client!.caller, 'node/node-1');
  });
  assert.match(await env.registry.getSingleMetricAsString('pilot_total_xds_rejects'), /pilot_total_xds_rejects\{type="Address"\} 1/);
  assert.match(await env.registry.getSingleMetricAsString('pilot_xds_pushes'), /pilot_xds_pushes\{type="Address"\} [1-9]/);
  assert.match(await env.registry.getSingleMetricAsString('pilot_xds_push_time'), /pilot_xds_push_time_count\{type="Address"\} [1-9]/);
  // The debug routes and the proxy-status table read the same state.
  const routes = xdsDebugRoutes(env.xds);
  const clientsBody = (await routes.find((r) => r.path === '/debug/xds/clients')!.handler({} as IncomingMessage, Buffer.alloc(0))).body as { items: Parameters<typeof renderProxyStatus>[0] };
  // web-2 was NACKed, so the server no longer counts it as held: the client holds the service and web-3.
  const table = renderProxyStatus(clientsBody.items, Date.now(), true).split('\n');
  assert.match(table[0]!, /^NAME\s+KIND\s+CALLER\s+CONNECTED\s+ADDRESSES\s+AUTHORIZATIONS\s+WAYPOINT CONFIGS\s+LAST ACKED NONCE\s+NACKS\s+LAST PUSH\s+LAST NACK$/);
  assert.match(table[1]!, /^ztunnel~10\.10\.0\.2~\S+\s+ztunnel\s+node\/node-1\s+\d+s ago\s+2\s+1\s+0\s+c1-\d+\s+1\s+\d+s ago\s+Address: Kubernetes\/\/Pod\/default\/web-2: test rejection$/);
  const ambient = (await routes.find((r) => r.path === '/debug/ambient')!.handler({} as IncomingMessage, Buffer.alloc(0))).body as { addresses: Array<{ name: string }> };
  assert.deepEqual(ambient.addresses.map((a) => a.name).sort(), ['Kubernetes//Pod/default/web-2', 'Kubernetes//Pod/default/web-3', 'default/web.default.svc.cluster.local']);
  assert.match(await env.registry.getSingleMetricAsString('pilot_xds'), /pilot_xds 1/);

  // 5. Reconnect holding what was accepted (web-2 at its pre-NACK version); meanwhile web-3 goes and web-4 comes.
  s.call.cancel();
  await env.store.delete({ group: '', kind: 'Pod', namespace: 'default', name: 'web-3' });
  await env.store.create(pod('web-4', '10.244.0.14'));
  await env.xds.flush();
  held.set('Kubernetes//Pod/default/web-2', web2Acked);
  const s2 = rawStream(t, env);
  const addressHeld = Object.fromEntries([...held].filter(([n]) => !n.includes('/allow-ns')));
  s2.send({ typeUrl: ADDRESS_TYPE_URL, initialResourceVersions: addressHeld });
  const resumed = await s2.next();
  // Only what changed: web-2 (client holds the old version), web-4 (new); web-3 removed; the service is unchanged.
  assert.deepEqual(names(resumed), ['Kubernetes//Pod/default/web-2', 'Kubernetes//Pod/default/web-4']);
  assert.deepEqual(resumed.removedResources, ['Kubernetes//Pod/default/web-3']);
  s2.send({ typeUrl: ADDRESS_TYPE_URL, responseNonce: resumed.nonce });
  await s2.quiet();
});

test('delta ADS: explicit subscriptions, unsubscribe, and refused credentials', { timeout: 20_000 }, async (t) => {
  const env = await setup(t, [ns('default'), pod('web-1', '10.244.0.11'), pod('web-2', '10.244.0.12'), service]);
  const s = rawStream(t, env);
  s.send({ typeUrl: ADDRESS_TYPE_URL, resourceNamesSubscribe: ['Kubernetes//Pod/default/web-2', 'Kubernetes//Pod/default/missing'] });
  const first = await s.next();
  assert.deepEqual(names(first), ['Kubernetes//Pod/default/web-2']);
  assert.deepEqual(first.removedResources, ['Kubernetes//Pod/default/missing']);
  s.send({ typeUrl: ADDRESS_TYPE_URL, responseNonce: first.nonce });
  // A change to an unsubscribed resource is not sent.
  const web1 = env.store.get({ group: '', kind: 'Pod', namespace: 'default', name: 'web-1' })!;
  await env.store.update({ ...web1, metadata: { ...web1.metadata, labels: { app: 'web', version: 'x' } } });
  await s.quiet(300);
  // Subscribing later delivers the resource.
  s.send({ typeUrl: ADDRESS_TYPE_URL, resourceNamesSubscribe: ['Kubernetes//Pod/default/web-1'] });
  const sub = await s.next();
  assert.deepEqual(names(sub), ['Kubernetes//Pod/default/web-1']);
  // Wildcard via "*".
  s.send({ typeUrl: ADDRESS_TYPE_URL, resourceNamesSubscribe: ['*'] });
  const all = await s.next();
  assert.deepEqual(names(all), ['default/web.default.svc.cluster.local']);

  // The index writes its conditions back: a Service naming a missing waypoint says why it has none.
  await env.store.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'lonely', namespace: 'default', labels: { 'istio.io/use-waypoint': 'nope' } }, spec: { clusterIP: '10.96.0.30', ports: [{ port: 80 }] } });
  await eventually(async () => {
    await env.xds.flush();
    const cond = env.store.get({ group: '', kind: 'Service', namespace: 'default', name: 'lonely' })!.status?.conditions?.find((c) => c.type === 'istio.io/WaypointBound');
    assert.equal(cond?.reason, 'WaypointIsNotReady');
    assert.equal(cond?.status, 'False');
  });

  const bad = rawStream(t, env, 'wrong-token');
  bad.send({ typeUrl: ADDRESS_TYPE_URL });
  const err = await bad.error();
  assert.equal(err.code, grpc.status.UNAUTHENTICATED);
  assert.match(err.details, /not a valid node token/);
});

test('xDS client library: validation, snapshot swap, reconnect with backoff', { timeout: 30_000 }, async (t) => {
  const env = await setup(t, [ns('default'), pod('web-1', '10.244.0.11'), service, policy]);
  const client = new XdsClient({
    address: `127.0.0.1:${env.port}`,
    credentials: grpc.credentials.createSsl(Buffer.from(env.certPem)),
    token: () => TOKEN,
    node: { id: 'ztunnel~10.10.0.2~ztunnel.istio-system~istio-system.svc.cluster.local' },
    types: [
      { typeUrl: ADDRESS_TYPE_URL, decode: (b) => {
        const d = decodeAddress(b);
        // Validation at the edge: this client refuses workloads on node-9 (a stand-in for any local rule).
        return d.ok && d.value.workload?.node === 'node-9' ? { ok: false, reason: 'node-9 is quarantined' } : d;
      } },
      { typeUrl: AUTHORIZATION_TYPE_URL, decode: decodeAuthorization },
    ],
    backoff: { initialMs: 20, maxMs: 200 },
    channelOptions: { 'grpc.ssl_target_name_override': 'localhost' },
  });
  t.after(() => client.close());
  client.start();
  await client.synchronized();
  const snap1 = client.snapshot();
  assert.deepEqual([...snap1.resources(ADDRESS_TYPE_URL).keys()].sort(), ['Kubernetes//Pod/default/web-1', 'default/web.default.svc.cluster.local']);
  assert.deepEqual([...snap1.resources(AUTHORIZATION_TYPE_URL).keys()], ['default/allow-ns']);

  const updated = new Promise<void>((resolve) => client.onUpdate((_s, u) => u.updated.includes('Kubernetes//Pod/default/web-5') && resolve()));
  const quarantined = pod('web-9', '10.244.0.19');
  (quarantined.spec as { nodeName: string }).nodeName = 'node-9';
  await env.store.create(quarantined);
  await env.store.create(pod('web-5', '10.244.0.15'));
  await updated;
  const snap2 = client.snapshot();
  assert.notEqual(snap2, snap1, 'a new snapshot object');
  assert.ok(!snap1.resources(ADDRESS_TYPE_URL).has('Kubernetes//Pod/default/web-5'), 'old snapshots never change');
  assert.ok(snap2.resources(ADDRESS_TYPE_URL).has('Kubernetes//Pod/default/web-5'));
  assert.ok(!snap2.resources(ADDRESS_TYPE_URL).has('Kubernetes//Pod/default/web-9'), 'rejected resource stays out');
  assert.ok(client.status().nacksSent >= 1);
  await eventually(() => assert.ok(env.xds.clients()[0]!.types.find((x) => x.type === 'Address')!.lastNack?.message.includes('node-9 is quarantined')));

  // Server goes away; the client retries; a new server on the same port with a changed store resyncs it.
  const port = env.port;
  await env.xds.close();
  await eventually(() => assert.equal(client.status().connected, false), 10_000);
  await env.store.create(pod('web-6', '10.244.0.16'));
  const resynced = new Promise<void>((resolve) => client.onUpdate((s) => s.resources(ADDRESS_TYPE_URL).has('Kubernetes//Pod/default/web-6') && resolve()));
  await setup(t, [], port, env);
  await resynced;
  assert.ok(client.status().reconnects >= 1);
  assert.ok(client.snapshot().resources(ADDRESS_TYPE_URL).has('Kubernetes//Pod/default/web-5'));
});

test('wire check: protoc --decode reads the server bytes with our .proto files', { timeout: 20_000 }, async (t) => {
  const probe = spawnSync('protoc', ['--version'], { encoding: 'utf8' });
  assert.ok(!probe.error && probe.status === 0, 'protoc is missing: install it with `apt-get install -y protobuf-compiler` (Debian package protobuf-compiler)');
  const env = await setup(t, [ns('default'), pod('web-1', '10.244.0.11'), policy]);
  // A client whose deserializer keeps the raw bytes the server wrote.
  const rawDef = { DeltaAggregatedResources: { ...aggregatedDiscoveryServiceDefinition.DeltaAggregatedResources, path: DELTA_ADS_PATH, responseDeserialize: (b: Buffer) => b } };
  const Ctor = grpc.makeGenericClientConstructor(rawDef as unknown as grpc.ServiceDefinition, 'RawADS');
  const client = new Ctor(`127.0.0.1:${env.port}`, grpc.credentials.createSsl(Buffer.from(env.certPem)), { 'grpc.ssl_target_name_override': 'localhost' });
  t.after(() => client.close());
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${TOKEN}`);
  const call = (client as unknown as { DeltaAggregatedResources(md: grpc.Metadata): grpc.ClientDuplexStream<DeltaDiscoveryRequest, Buffer> }).DeltaAggregatedResources(md);
  t.after(() => call.cancel());
  const got = new Promise<Buffer[]>((resolve) => {
    const out: Buffer[] = [];
    call.on('data', (b: Buffer) => {
      out.push(b);
      if (out.length === 2) resolve(out);
    });
  });
  call.write(create(DeltaDiscoveryRequestSchema, { typeUrl: ADDRESS_TYPE_URL }));
  call.write(create(DeltaDiscoveryRequestSchema, { typeUrl: AUTHORIZATION_TYPE_URL }));
  const frames = await got;
  const byType = new Map(frames.map((b) => [fromBinary(DeltaDiscoveryResponseSchema, b).typeUrl, b]));
  const decode = (bytes: Uint8Array, message: string) => {
    const r = spawnSync(
      'protoc',
      ['-I', 'proto', '-I', '/usr/include', `--decode=${message}`, 'envoy/service/discovery/v3/discovery.proto', 'istio/workload/workload.proto', 'istio/security/authorization.proto'],
      { input: bytes, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, `protoc --decode=${message} failed: ${r.stderr}`);
    return r.stdout;
  };
  // protoc prints an Any's payload as escaped bytes: the envelope is compared with that line elided, and the
  // payload (the same bytes) is decoded on its own as the type it claims to be.
  const envelope = (bytes: Buffer) => decode(bytes, 'envoy.service.discovery.v3.DeltaDiscoveryResponse').replace(/^(\s*value: ).*$/m, '$1<payload>');
  const addrBytes = byType.get(ADDRESS_TYPE_URL)!;
  const addr = fromBinary(DeltaDiscoveryResponseSchema, addrBytes);
  assert.equal(
    envelope(addrBytes),
    `resources {
  version: "${addr.resources[0]!.version}"
  resource {
    type_url: "type.googleapis.com/istio.workload.Address"
    value: <payload>
  }
  name: "Kubernetes//Pod/default/web-1"
}
type_url: "type.googleapis.com/istio.workload.Address"
nonce: "${addr.nonce}"
`,
  );
  assert.equal(
    decode(addr.resources[0]!.resource!.value, 'istio.workload.Address'),
    `workload {
  name: "web-1"
  namespace: "default"
  addresses: "\\n\\364\\000\\013"
  tunnel_protocol: HBONE
  trust_domain: "cluster.local"
  service_account: "web"
  node: "node-1"
  canonical_name: "web"
  canonical_revision: "latest"
  workload_type: POD
  workload_name: "web-1"
  cluster_id: "Kubernetes"
  uid: "Kubernetes//Pod/default/web-1"
}
`,
  );
  const authBytes = byType.get(AUTHORIZATION_TYPE_URL)!;
  const auth = fromBinary(DeltaDiscoveryResponseSchema, authBytes);
  assert.match(envelope(authBytes), /type_url: "type.googleapis.com\/istio.security.Authorization"\n    value: <payload>\n  }\n  name: "default\/allow-ns"/);
  assert.equal(
    decode(auth.resources[0]!.resource!.value, 'istio.security.Authorization'),
    `name: "allow-ns"
namespace: "default"
scope: NAMESPACE
rules {
  clauses {
    matches {
      namespaces {
        exact: "default"
      }
    }
  }
}
`,
  );
});
