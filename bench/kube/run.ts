// Benchmark of the control plane's Kubernetes config source at the scale: 500 pods across two nodes (and 50
// services) in a real kube-apiserver, indexed and pushed over Delta xDS to one ztunnel-like client. The baseline is
// the same mesh in the embedded file store, side by side, so the ratio shows what the informers cost.
//   node dist/bench/kube/run.js [pods] [services] [churn]     (defaults 500 50 100)
// Prints: time from control-plane start to every workload indexed, to the client holding every address, and for
// `churn` pods added afterwards (each written and given its IP as a kubelet does), to the client holding them too.
import { performance } from 'node:perf_hooks';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { customResourceDefinitions, type KubeObject } from '../../src/api/index.js';
import { ApiClient } from '../../src/controlplane/client/index.js';
import { runControlPlane } from '../../src/controlplane/controlplane.js';
import { openFileStore } from '../../src/controlplane/store/file-store.js';
import { CA_SERVER_NAME } from '../../src/lib/certs/ca-client.js';
import { readNodeToken } from '../../src/lib/certs/node-token.js';
import { silentLogger } from '../../src/lib/log.js';
import { XdsClient } from '../../src/lib/xds/xds-client.js';
import { decodeAddress } from '../../src/lib/xds/workload-codec.js';
import { ADDRESS_TYPE_URL } from '../../src/lib/xds/type-urls.js';
import { runCommand } from '../../src/platform/index.js';
import { KubeControlPlane } from '../../src/sandbox/kube/kube-control-plane.js';

const PODS = Number(process.argv[2] ?? 500);
const SERVICES = Math.min(Number(process.argv[3] ?? 50), 200);
const CHURN = Number(process.argv[4] ?? 100);
const NAMESPACES = 5;
const BUILD_SCRIPT = fileURLToPath(new URL('../../../scripts/kube/build.sh', import.meta.url));
const out = (line: string) => process.stdout.write(`${line}\n`);

function mesh(): { base: KubeObject[]; pods: KubeObject[] } {
  const base: KubeObject[] = [];
  for (const node of ['node1', 'node2']) base.push({ apiVersion: 'v1', kind: 'Node', metadata: { name: node }, spec: {} });
  for (let n = 0; n < NAMESPACES; n++) base.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns${n}`, labels: { 'istio.io/dataplane-mode': 'ambient' } } });
  for (let s = 0; s < SERVICES; s++) {
    base.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc${s}`, namespace: `ns${s % NAMESPACES}` },
      // A fixed VIP inside the API server's default service range, so both sources hold identical Services.
      spec: { selector: { app: `app${s}` }, clusterIP: `10.0.0.${10 + s}`, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
  }
  const pods: KubeObject[] = [];
  for (let p = 0; p < PODS + CHURN; p++) pods.push(pod(p));
  return { base, pods };
}

function pod(p: number): KubeObject {
  const s = p % SERVICES;
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `pod${p}`, namespace: `ns${s % NAMESPACES}`, labels: { app: `app${s}` } },
    spec: { nodeName: `node${(p % 2) + 1}`, containers: [{ name: 'app', image: 'app', command: ['app'] }] },
    status: { phase: 'Running', podIP: `10.${244 + (p % 2)}.${Math.floor(p / 250)}.${(p % 250) + 2}` },
  };
}

/** Waits (polling every 5 ms) for `cond`; every wait is bounded, a stuck run fails naming what it waited for. */
async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function parallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** Starts a control plane (file store or Kubernetes) and measures its start → indexed → pushed, then a churn. */
async function measure(label: string, opts: {
  kubeconfig?: Parameters<typeof runControlPlane>[0]['kube'];
  dataDir: string;
  addPod: (p: KubeObject) => Promise<void>;
  /** The client's bearer token: a node bootstrap token in the embedded store, a service-account token on Kubernetes. */
  token: () => Promise<string | undefined>;
}): Promise<Record<string, number>> {
  const t0 = performance.now();
  const cp = await runControlPlane({ dataDir: opts.dataDir, grpc: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', log: silentLogger(), kube: opts.kubeconfig });
  const started = performance.now() - t0;
  const workloads = () => cp.xds.index.stats().resources[ADDRESS_TYPE_URL] ?? 0;
  const expected = PODS + SERVICES;
  await until(() => workloads() >= expected, `${label}: ${expected} addresses indexed`);
  const indexed = performance.now() - t0;
  let token: string | undefined;
  await until(async () => Boolean(token = await opts.token()), `${label}: a token for the xDS client`);
  const client = new XdsClient({
    address: `127.0.0.1:${cp.ports.grpc}`,
    credentials: grpc.credentials.createSsl(Buffer.from(readFileSync(join(opts.dataDir, 'ca', 'root-cert.pem')))),
    token: () => token!,
    node: { id: 'ztunnel~10.10.0.11~ztunnel-node1.istio-system~istio-system.svc.cluster.local', metadata: { NODE_NAME: 'node1' } },
    types: [{ typeUrl: ADDRESS_TYPE_URL, decode: decodeAddress }],
    channelOptions: { 'grpc.ssl_target_name_override': CA_SERVER_NAME, 'grpc.default_authority': CA_SERVER_NAME },
  });
  const c0 = performance.now();
  client.start();
  const held = () => client.snapshot().resources(ADDRESS_TYPE_URL).size;
  // The client also receives the API server's own `kubernetes` Service on Kubernetes: count at least.
  await until(() => held() >= expected, `${label}: ${expected} addresses at the client`);
  const pushed = performance.now() - c0;
  const before = held();
  const w0 = performance.now();
  await parallel(Array.from({ length: CHURN }, (_, i) => pod(PODS + i)), 16, opts.addPod);
  const written = performance.now() - w0;
  await until(() => held() >= before + CHURN, `${label}: the churn at the client`);
  const churned = performance.now() - w0;
  client.close();
  await cp.close();
  out(`${label.padEnd(26)} start ${started.toFixed(0).padStart(6)} ms  indexed ${indexed.toFixed(0).padStart(6)} ms  full push ${pushed.toFixed(0).padStart(5)} ms  ` +
    `+${CHURN} pods: written ${written.toFixed(0).padStart(5)} ms, at the client ${churned.toFixed(0).padStart(5)} ms`);
  return { started, indexed, pushed, written, churned };
}

async function main(): Promise<void> {
  out(`Ambit control plane, Kubernetes source vs embedded store: ${PODS} pods on 2 nodes, ${SERVICES} services, +${CHURN} pods of churn`);
  const { base, pods } = mesh();
  const initial = pods.slice(0, PODS);

  // Baseline: the embedded file store, filled before the control plane starts.
  const fileDir = mkdtempSync(join(tmpdir(), 'ambit-bench-kube-file-'));
  const store = await openFileStore(join(fileDir, 'store'), { log: silentLogger() });
  for (const o of [...base, ...initial]) await store.create(o);
  await store.close();
  // The control plane holds the store: pods are added through its REST API, as the sandbox pod runner would.
  const fileApi = new ApiClient({ endpoint: { socketPath: join(fileDir, 'ambit.sock') } });
  const file = await measure('embedded store (baseline)', {
    dataDir: fileDir,
    token: () => readNodeToken(fileDir, 'node1'),
    addPod: async (p) => {
      const created = await fileApi.create({ ...p, status: undefined } as KubeObject);
      await fileApi.updateStatus({ ...created, status: p.status } as KubeObject);
    },
  });
  fileApi.close();
  rmSync(fileDir, { recursive: true, force: true });

  // Kubernetes: a real API server (built by scripts/kube/build.sh), the same objects written through its API.
  const binDir = (await runCommand([BUILD_SCRIPT, '--print-dir'])).stdout.trim();
  const kcp = await KubeControlPlane.start({ binDir });
  try {
    const api = new ApiClient({ endpoint: { kube: { server: kcp.apiServerUrl, caPem: kcp.caCertPem, token: kcp.adminToken } } });
    for (const crd of customResourceDefinitions()) await api.requestJson('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
    const addPod = async (p: KubeObject) => {
      await api.create({ ...p, status: undefined } as KubeObject);
      await api.requestJson('PATCH', `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/status`, { status: p.status }, 'application/merge-patch+json');
    };
    for (const o of base) await api.create(o);
    // Pods need their namespace's default ServiceAccount (the controller manager makes it).
    for (let n = 0; n < NAMESPACES; n++) {
      for (let i = 0; i < 200; i++) {
        const sas = await api.requestJson('GET', `/api/v1/namespaces/ns${n}/serviceaccounts`) as { items: unknown[] };
        if (sas.items.length) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const w0 = performance.now();
    await parallel(initial, 16, addPod);
    out(`(writing ${PODS} pods with their status to the API server took ${(performance.now() - w0).toFixed(0)} ms)`);
    const kubeDir = mkdtempSync(join(tmpdir(), 'ambit-bench-kube-k8s-'));
    try {
      // A service-account token for audience istio-ca: the control plane reviews it (TokenReview) like a waypoint's.
      const token = async () => ((await api.requestJson('POST', '/api/v1/namespaces/ns0/serviceaccounts/default/token', {
        apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: ['istio-ca'], expirationSeconds: 3600 },
      })) as { status: { token: string } }).status.token;
      const kube = await measure('kube-apiserver informers', { dataDir: kubeDir, kubeconfig: { server: kcp.apiServerUrl, caPem: kcp.caCertPem, token: kcp.adminToken }, addPod, token });
      const ratio = (k: string) => `${(kube[k]! / Math.max(file[k]!, 0.001)).toFixed(2)}×`;
      out(`ratio kube / embedded: start→indexed ${ratio('indexed')}, full push ${ratio('pushed')}, churn at the client ${ratio('churned')}`);
    } finally {
      rmSync(kubeDir, { recursive: true, force: true });
      api.close();
    }
  } finally {
    await kcp.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`bench kube: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
