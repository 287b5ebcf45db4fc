// Benchmark of the ambient index and the Delta ADS server at mesh scale: 10,000 pods / 1,000 services / 500
// policies (defaults; override with `node dist/bench/xds/run.js [pods] [services] [policies] [clients]`).
// Prints: index build time, one-pod incremental recompute, full push size and time to one client, and the latency
// from one pod change to all 50 connected clients having ACKed it (server-side view, debounce included).
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { Registry } from 'prom-client';
import type { KubeObject } from '../../src/api/meta.js';
import { AmbientIndex } from '../../src/controlplane/ambient/ambient-index.js';
import { startXdsServer } from '../../src/controlplane/xds/xds-server.js';
import { syncIndexWithSource } from '../../src/controlplane/ambient/source-sync.js';
import { silentLogger } from '../../src/lib/log.js';
import { x509, ECDSA_SHA256 } from '../../src/lib/certs/x509.js';
import { generateP256KeyPair, privateKeyToPem } from '../../src/lib/certs/proxy-x509.js';
import { aggregatedDiscoveryServiceDefinition, DeltaDiscoveryRequestSchema, DeltaDiscoveryResponseSchema, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse } from '../../src/lib/xds/ads-service.js';
import { toBinary } from '@bufbuild/protobuf';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../src/lib/xds/type-urls.js';
import { MemoryStore } from './memory-store.js';

const PODS = Number(process.argv[2] ?? 10_000);
const SERVICES = Number(process.argv[3] ?? 1_000);
const POLICIES = Number(process.argv[4] ?? 500);
const CLIENTS = Number(process.argv[5] ?? 50);
const NAMESPACES = 20;

const out = (line: string) => process.stdout.write(`${line}\n`);
const ms = (n: number) => `${n.toFixed(1)} ms`;
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MiB`;

function ip(i: number, base: number): string {
  return `10.${base + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`;
}

function mesh(): KubeObject[] {
  const objs: KubeObject[] = [];
  for (let n = 0; n < NAMESPACES; n++) objs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns${n}`, labels: { 'istio.io/dataplane-mode': 'ambient' } } });
  for (let s = 0; s < SERVICES; s++) {
    objs.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `svc${s}`, namespace: `ns${s % NAMESPACES}` },
      spec: { selector: { app: `app${s}` }, clusterIP: ip(s, 96), ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'grpc', port: 9090, targetPort: 9090 }] },
    });
  }
  for (let p = 0; p < PODS; p++) {
    const s = p % SERVICES;
    objs.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `pod${p}`, namespace: `ns${s % NAMESPACES}`, labels: { app: `app${s}`, version: `v${p % 3}` } },
      spec: { nodeName: `node${p % 100}`, serviceAccountName: `sa${s}`, containers: [{ name: 'app', command: ['app'], ports: [{ name: 'http', containerPort: 8080 }] }] },
      status: { phase: 'Running', podIP: ip(p, 244) },
    });
  }
  for (let a = 0; a < POLICIES; a++) {
    const selector = a % 2 === 0 ? { selector: { matchLabels: { app: `app${a % SERVICES}` } } } : {};
    objs.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: `policy${a}`, namespace: `ns${a % NAMESPACES}` },
      spec: { ...selector, action: a % 5 === 0 ? 'DENY' : 'ALLOW', rules: [{ from: [{ source: { principals: [`cluster.local/ns/ns${a % NAMESPACES}/sa/sa${a}`], namespaces: ['ns1'] } }], to: [{ operation: { ports: ['8080'] } }] }] },
    });
  }
  return objs;
}

async function selfSigned(): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateP256KeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=bench',
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }])],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await privateKeyToPem(keys.privateKey) };
}

const objects = mesh();
out(`ambit xDS benchmark: ${PODS} pods, ${SERVICES} services, ${POLICIES} policies, ${NAMESPACES} namespaces, ${CLIENTS} clients`);

// 1. Index build (pure, in memory).
{
  const index = new AmbientIndex();
  const t0 = performance.now();
  index.apply(objects.map((object) => ({ type: 'ADDED', object })));
  const build = performance.now() - t0;
  const st = index.stats();
  out(`index build: ${ms(build)} (${st.resources[ADDRESS_TYPE_URL]} addresses, ${st.resources[AUTHORIZATION_TYPE_URL]} authorizations)`);
  const pod = objects.find((o) => o.kind === 'Pod')!;
  const changed = { ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata.labels, version: 'v9' } } };
  const t1 = performance.now();
  index.apply([{ type: 'MODIFIED', object: changed }]);
  out(`one pod label change: ${ms(performance.now() - t1)}, ${index.stats().lastBatch.length} output(s) recomputed`);
  const svc = objects.find((o) => o.kind === 'Service')!;
  const t2 = performance.now();
  index.apply([{ type: 'MODIFIED', object: { ...svc, spec: { ...(svc.spec as object), selector: { app: 'app1' } } } }]);
  out(`one service selector change: ${ms(performance.now() - t2)}, ${index.stats().lastBatch.length} output(s) recomputed`);
}

// 2. Server: full push to one client, then one change to N clients.
const store = new MemoryStore();
for (const o of objects) await store.create(o);
const { certPem, keyPem } = await selfSigned();
const registry = new Registry();
const tServer = performance.now();
// Wired as controlplane.ts wires them: source → index → xDS.
const serverIndex = new AmbientIndex();
let pushTo: Awaited<ReturnType<typeof startXdsServer>> | undefined;
const sync = syncIndexWithSource({ source: store, index: serverIndex, log: silentLogger(), writeStatus: false, onChanges: (c) => pushTo?.indexChanged(c) });
const xds = await startXdsServer({
  index: serverIndex,
  log: silentLogger(),
  metrics: registry,
  listen: { host: '127.0.0.1', port: 0, credentials: grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(keyPem), cert_chain: Buffer.from(certPem) }], false) },
  nodeTokens: { authenticate: async () => ({ kind: 'node', node: 'bench-node' }) },
});
pushTo = xds;
out(`server start (store list + index build + listen): ${ms(performance.now() - tServer)}`);

const Ctor = grpc.makeGenericClientConstructor(aggregatedDiscoveryServiceDefinition, 'ADS');
type Call = grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
function open(): { call: Call; client: grpc.Client } {
  const client = new Ctor(`127.0.0.1:${xds.port}`, grpc.credentials.createSsl(Buffer.from(certPem)), { 'grpc.ssl_target_name_override': 'localhost', 'grpc.max_receive_message_length': 200 * 1024 * 1024 });
  const md = new grpc.Metadata();
  md.set('authorization', 'Bearer bench');
  const call = (client as unknown as { DeltaAggregatedResources(md: grpc.Metadata): Call }).DeltaAggregatedResources(md);
  // Cancelling at the end surfaces as an error event: expected.
  call.on('error', () => undefined);
  return { call, client };
}

{
  const { call, client } = open();
  let bytes = 0;
  let resources = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let got = 0;
    call.on('data', (r: DeltaDiscoveryResponse) => {
      bytes += toBinary(DeltaDiscoveryResponseSchema, r).length;
      resources += r.resources.length;
      call.write(create(DeltaDiscoveryRequestSchema, { typeUrl: r.typeUrl, responseNonce: r.nonce }));
      if (++got === 2) resolve();
    });
    call.write(create(DeltaDiscoveryRequestSchema, { typeUrl: ADDRESS_TYPE_URL }));
    call.write(create(DeltaDiscoveryRequestSchema, { typeUrl: AUTHORIZATION_TYPE_URL }));
  });
  out(`full push to one client: ${resources} resources, ${mib(bytes)} on the wire (protobuf), ${ms(performance.now() - t0)} from request to last byte`);
  call.cancel();
  client.close();
}

{
  const streams: Array<{ call: Call; client: grpc.Client }> = [];
  const synced: Array<Promise<void>> = [];
  for (let i = 0; i < CLIENTS; i++) {
    const s = open();
    streams.push(s);
    synced.push(
      new Promise<void>((resolve) => {
        let got = 0;
        s.call.on('data', (r: DeltaDiscoveryResponse) => {
          s.call.write(create(DeltaDiscoveryRequestSchema, { typeUrl: r.typeUrl, responseNonce: r.nonce }));
          if (++got === 2) resolve();
        });
      }),
    );
    s.call.write(create(DeltaDiscoveryRequestSchema, { typeUrl: ADDRESS_TYPE_URL }));
    s.call.write(create(DeltaDiscoveryRequestSchema, { typeUrl: AUTHORIZATION_TYPE_URL }));
  }
  const tSync = performance.now();
  await Promise.all(synced);
  out(`${CLIENTS} clients connected and fully synced in ${ms(performance.now() - tSync)}`);
  await new Promise((r) => setTimeout(r, 300));
  const samples: number[] = [];
  for (let round = 0; round < 5; round++) {
    const pod = store.get({ group: '', kind: 'Pod', namespace: 'ns0', name: 'pod0' })!;
    const before = new Map(xds.clients().map((c) => [c.connectionId, c.types.find((t) => t.type === 'Address')!.lastSentNonce]));
    const t0 = performance.now();
    await store.update({ ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata.labels, version: `r${round}` } } });
    // (The version label changes canonical_revision, so the workload record really changes.)
    // Done when every client has ACKed a nonce newer than the one it held before the change.
    for (;;) {
      if (performance.now() - t0 > 30_000) throw new Error('clients did not ACK the change within 30 s');
      const cs = xds.clients();
      const done = cs.every((c) => {
        const t = c.types.find((x) => x.type === 'Address')!;
        return t.lastAckedNonce !== undefined && t.lastAckedNonce !== before.get(c.connectionId) && t.lastAckedNonce === t.lastSentNonce;
      });
      if (done) break;
      await new Promise((r) => setImmediate(r));
    }
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  out(`one pod change → all ${CLIENTS} clients ACKed (debounce 100 ms included): median ${ms(samples[2]!)}, min ${ms(samples[0]!)}, max ${ms(samples[4]!)} over 5 rounds`);
  for (const s of streams) {
    s.call.cancel();
    s.client.close();
  }
}
await xds.close();
sync.close();
await store.close();
out(`heap used at end: ${mib(process.memoryUsage().heapUsed)}`);
process.exit(0);
