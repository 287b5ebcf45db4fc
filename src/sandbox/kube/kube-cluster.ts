// `ambit cluster create --kubernetes`: the sandbox becomes the kubelet of a real Kubernetes control plane.
//
// The supervisor starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler on the host's loopback
// (KubeControlPlane), relays `<fabric IP>:6443` inside the sandbox to it (so the control plane and node agents in
// their netns reach it the way pods reach a real API server), installs Ambit's CRDs, registers one Node per sandbox
// node (capacity, Ready condition, a Lease renewed every 10 s as kubelets do), and writes two admin kubeconfigs:
// `<data dir>/kubeconfig` for the user's kubectl on the host, `<data dir>/kube/cluster.kubeconfig` for Ambit's roles.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { writeFileDurableSync } from '../../lib/durable-file.js';
import { fileURLToPath } from 'node:url';
import { customResourceDefinitions, KINDS, type KubeObject } from '../../api/index.js';
import { ApiClient, ClientError } from '../../controlplane/client/index.js';
import { describeError, MeshError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { POD_NETNS_ANNOTATION } from '../../lib/mesh-contract.js';

/** Pods the supervisor runs itself (a node's ztunnel), recorded in the API so tokens can be bound to them. */
export const STATIC_ROLE_ANNOTATION = 'sandbox.ambit.dev/static-role';
import { listenInNetns, runCommand } from '../../platform/index.js';
import type { ClusterLayout } from '../cluster-layout.js';
import { KubeControlPlane, renderKubeconfig } from './kube-control-plane.js';

/** The port the API server is reached at inside the sandbox (Kubernetes' usual secure port). */
const SANDBOX_APISERVER_PORT = 6443;
/** How often each sandbox node renews its Lease (the kubelet's default). */
const LEASE_RENEW_MS = 10_000;
const LEASE_DURATION_S = 40;
/** Projected tokens are minted for an hour and replaced every 20 minutes (the kubelet refreshes at 80 % of life). */
const TOKEN_EXPIRATION_S = 3600;
const TOKEN_REFRESH_MS = 20 * 60_000;
/** Namespace and service account of the ztunnels' pods (Istio's): the CA trusts their tokens to act for a node. */
const ZTUNNEL_NAMESPACE = 'istio-system';
const ZTUNNEL_SERVICE_ACCOUNT = 'ztunnel';

/** scripts/kube/build.sh, from dist/src/sandbox/kube/ (the compiled location of this file). */
const BUILD_SCRIPT = fileURLToPath(new URL('../../../../scripts/kube/build.sh', import.meta.url));

class KubeClusterError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SANDBOX_KUBERNETES', message, options);
  }
}

/** The kubeconfig for the user's kubectl on the host (`<data dir>/kubeconfig`). */
export function hostKubeconfigPath(dataDir: string): string {
  return join(dataDir, 'kubeconfig');
}

/** The kubeconfig Ambit's roles inside the sandbox use (server `https://<fabric IP>:6443`). */
export function clusterKubeconfigPath(dataDir: string): string {
  return join(dataDir, 'kube', 'cluster.kubeconfig');
}

/** The projected service-account token (audience istio-ca) a node's ztunnel authenticates with. */
export function ztunnelTokenPath(dataDir: string, node: string): string {
  return join(dataDir, 'nodes', node, 'istio-token');
}

/** The directory of the built Kubernetes binaries; fails with the build command when they are not built yet. */
export async function kubeBinDir(): Promise<string> {
  const { stdout } = await runCommand([BUILD_SCRIPT, '--print-dir']);
  const dir = stdout.trim();
  if (!existsSync(join(dir, '.complete'))) {
    throw new KubeClusterError(`the Kubernetes binaries are not built in ${dir}: run ${BUILD_SCRIPT} (10–20 minutes once; setup.sh does it)`);
  }
  return dir;
}

interface KubeCluster {
  readonly cp: KubeControlPlane;
  /** An admin client for the host side (the pod runner, node registration). */
  readonly api: ApiClient;
  stop(): Promise<void>;
}

/** Starts the Kubernetes side of a sandbox cluster; resolves once CRDs are served and Nodes are registered Ready. */
export async function startKubeCluster(opts: { dataDir: string; layout: ClusterLayout; log: Logger }): Promise<KubeCluster> {
  const { layout, log } = opts;
  const cp = await KubeControlPlane.start({
    binDir: await kubeBinDir(),
    workDir: join(opts.dataDir, 'kube'),
    serviceClusterIpRange: layout.serviceCidr,
    extraAddresses: [layout.fabricIp],
  });
  const stops: Array<() => Promise<void> | void> = [() => cp.stop()];
  const stop = async () => {
    for (const s of stops.reverse()) await Promise.resolve(s()).catch((err) => log.warn({ err: describeError(err) }, 'kubernetes shutdown step failed'));
  };
  try {
    const relay = await listenInNetns(layout.fabricNetns, { host: layout.fabricIp, port: SANDBOX_APISERVER_PORT }, (inside) => {
      const url = new URL(cp.apiServerUrl);
      const outside = net.connect(Number(url.port), url.hostname);
      inside.pipe(outside).pipe(inside);
      const end = () => {
        inside.destroy();
        outside.destroy();
      };
      inside.on('error', end).on('close', end);
      outside.on('error', end).on('close', end);
    });
    stops.push(() => new Promise<void>((r) => relay.close(() => r())));
    writeFileSync(hostKubeconfigPath(opts.dataDir), renderKubeconfig(cp.apiServerUrl, cp.caCertPem, 'ambit-admin', cp.adminToken), { mode: 0o600 });
    writeFileSync(clusterKubeconfigPath(opts.dataDir), renderKubeconfig(`https://${layout.fabricIp}:${SANDBOX_APISERVER_PORT}`, cp.caCertPem, 'ambit-admin', cp.adminToken), { mode: 0o600 });
    const api = new ApiClient({ endpoint: { kube: { server: cp.apiServerUrl, caPem: cp.caCertPem, token: cp.adminToken } }, userAgent: 'ambit-sandbox' });
    stops.push(() => api.close());
    await installCrds(api);
    await registerNodes(api, layout);
    const timer = setInterval(() => {
      void renewLeases(api, layout).catch((err) => log.warn({ err: describeError(err) }, 'node lease renewal failed; retrying'));
    }, LEASE_RENEW_MS);
    stops.push(() => clearInterval(timer));
    const ztunnelPods = await registerZtunnelPods(api, layout);
    const mint = () => mintZtunnelTokens(api, ztunnelPods, opts.dataDir);
    await mint();
    const tokenTimer = setInterval(() => {
      void mint().catch((err) => log.warn({ err: describeError(err) }, 'ztunnel token refresh failed; retrying'));
    }, TOKEN_REFRESH_MS);
    stops.push(() => clearInterval(tokenTimer));
    log.info({ apiServer: cp.apiServerUrl, inside: `${layout.fabricIp}:${SANDBOX_APISERVER_PORT}` }, 'kubernetes control plane ready');
    return { cp, api, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

/** Creates (or replaces) every CRD, then waits until each kind answers a list. */
async function installCrds(api: ApiClient): Promise<void> {
  for (const crd of customResourceDefinitions()) {
    try {
      await api.requestJson('POST', CRD_PATH, crd);
    } catch (err) {
      if (!(err instanceof ClientError && err.status === 409)) throw err;
      const current = (await api.requestJson('GET', `${CRD_PATH}/${crd.metadata.name}`)) as KubeObject;
      await api.requestJson('PUT', `${CRD_PATH}/${crd.metadata.name}`, { ...crd, metadata: { ...crd.metadata, resourceVersion: current.metadata.resourceVersion } });
    }
  }
  const deadline = Date.now() + 30_000;
  for (const kind of KINDS.filter((k) => k.group !== '')) {
    for (;;) {
      try {
        await api.list(kind);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new KubeClusterError(`the CRD of ${kind.kind} was not served in time: ${describeError(err)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

/** Node objects as a kubelet registers them: address, pod CIDR, capacity and a Ready condition. */
async function registerNodes(api: ApiClient, layout: ClusterLayout): Promise<void> {
  for (const node of layout.nodes) {
    await createIfMissing(api, '/api/v1/nodes', {
      apiVersion: 'v1', kind: 'Node',
      metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux', [POD_NETNS_ANNOTATION]: node.netns } },
      spec: { podCIDR: node.podCidr, podCIDRs: [node.podCidr] },
    });
    await postNodeStatus(api, node.name, node.ip);
  }
  await renewLeases(api, layout);
}

async function postNodeStatus(api: ApiClient, name: string, ip: string): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const resources = { cpu: '8', memory: '16Gi', pods: '110' };
  const condition = (type: string, status: string, reason: string) => ({ type, status, reason, message: reason, lastHeartbeatTime: now, lastTransitionTime: now });
  await api.requestJson('PATCH', `/api/v1/nodes/${name}/status`, {
    status: {
      addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }],
      capacity: resources,
      allocatable: resources,
      conditions: [
        condition('Ready', 'True', 'KubeletReady'),
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID'),
      ],
      nodeInfo: { kubeletVersion: 'ambit-sandbox', operatingSystem: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch, containerRuntimeVersion: 'ambit-sandbox://netns', kernelVersion: '', osImage: 'ambit sandbox', kubeProxyVersion: '', machineID: '', systemUUID: '', bootID: '' },
    },
  }, 'application/merge-patch+json');
}

/** Creates or renews each node's Lease in kube-node-lease: the node lifecycle controller's heartbeat. */
async function renewLeases(api: ApiClient, layout: ClusterLayout): Promise<void> {
  // A MicroTime: six fractional digits.
  const now = new Date().toISOString().replace(/Z$/, '000Z');
  for (const node of layout.nodes) {
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node.name}`;
    const spec = { holderIdentity: node.name, leaseDurationSeconds: LEASE_DURATION_S, renewTime: now };
    try {
      await api.requestJson('PATCH', path, { spec }, 'application/merge-patch+json');
    } catch (err) {
      if (!(err instanceof ClientError && err.status === 404)) throw err;
      await api.requestJson('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: node.name, namespace: 'kube-node-lease' }, spec,
      });
    }
  }
}

/** POSTs an object; an existing one (409) is fine. */
async function createIfMissing(api: ApiClient, path: string, obj: object): Promise<void> {
  try {
    await api.requestJson('POST', path, obj);
  } catch (err) {
    if (!(err instanceof ClientError && err.status === 409)) throw err;
  }
}

/**
 * One pod per node standing for its ztunnel (host network, service account istio-system/ztunnel), reported
 * Running: the supervisor runs the process itself (the pod runner leaves pods marked with STATIC_ROLE_ANNOTATION
 * alone), and the pod is what the ztunnel's token is bound to, so the API server vouches for its node.
 */
async function registerZtunnelPods(api: ApiClient, layout: ClusterLayout): Promise<Array<{ node: string; name: string; uid: string }>> {
  await createIfMissing(api, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ZTUNNEL_NAMESPACE } });
  await createIfMissing(api, `/api/v1/namespaces/${ZTUNNEL_NAMESPACE}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: ZTUNNEL_SERVICE_ACCOUNT, namespace: ZTUNNEL_NAMESPACE } });
  const out: Array<{ node: string; name: string; uid: string }> = [];
  for (const node of layout.nodes) {
    const name = `ztunnel-${node.name}`;
    const path = `/api/v1/namespaces/${ZTUNNEL_NAMESPACE}/pods`;
    // The service-account controller may not have made the namespace's default account yet: retry briefly.
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ZTUNNEL_NAMESPACE, labels: { app: 'ztunnel' }, annotations: { [STATIC_ROLE_ANNOTATION]: 'ztunnel' } },
      spec: { nodeName: node.name, hostNetwork: true, serviceAccountName: ZTUNNEL_SERVICE_ACCOUNT, automountServiceAccountToken: false,
        containers: [{ name: 'istio-proxy', image: 'ambit', command: ['ambit', 'ztunnel', '--node', node.name] }] } };
    for (let attempt = 0; ; attempt++) {
      try {
        await createIfMissing(api, path, pod);
        break;
      } catch (err) {
        if (attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const current = (await api.requestJson('GET', `${path}/${name}`)) as KubeObject;
    await api.requestJson('PATCH', `${path}/${name}/status`, { status: {
      phase: 'Running', podIP: node.ip, podIPs: [{ ip: node.ip }], hostIP: node.ip, hostIPs: [{ ip: node.ip }],
      conditions: kubeletPodConditions(true),
    } }, 'application/merge-patch+json');
    out.push({ node: node.name, name, uid: current.metadata.uid! });
  }
  return out;
}

/** Mints each ztunnel a token bound to its pod (TokenRequest) and writes it where `ztunnel --token-file` reads it. */
async function mintZtunnelTokens(api: ApiClient, pods: ReadonlyArray<{ node: string; name: string; uid: string }>, dataDir: string): Promise<void> {
  for (const p of pods) {
    const token = await requestPodToken(api, { namespace: ZTUNNEL_NAMESPACE, serviceAccount: ZTUNNEL_SERVICE_ACCOUNT, pod: p, audience: 'istio-ca', expirationSeconds: TOKEN_EXPIRATION_S });
    mkdirSync(dirname(ztunnelTokenPath(dataDir, p.node)), { recursive: true, mode: 0o700 });
    writeFileDurableSync(ztunnelTokenPath(dataDir, p.node), `${token}\n`, 0o600);
  }
}

/** A service-account token bound to a pod (TokenRequest), as a kubelet mints for projected token volumes. */
export async function requestPodToken(
  api: ApiClient,
  o: { namespace: string; serviceAccount: string; pod: { name: string; uid: string }; audience?: string; expirationSeconds: number },
): Promise<string> {
  const res = (await api.requestJson('POST', `/api/v1/namespaces/${o.namespace}/serviceaccounts/${o.serviceAccount}/token`, {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
    spec: { audiences: o.audience ? [o.audience] : [], expirationSeconds: o.expirationSeconds, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: o.pod.name, uid: o.pod.uid } },
  })) as { status?: { token?: string } };
  if (!res.status?.token) throw new KubeClusterError(`TokenRequest for ${o.namespace}/${o.serviceAccount} (pod ${o.pod.name}) returned no token`);
  return res.status.token;
}

/** The conditions a kubelet reports for a running pod on Kubernetes (EndpointSlices and kubectl read them). */
export function kubeletPodConditions(ready: boolean): Array<Record<string, string>> {
  const status = ready ? 'True' : 'False';
  return [{ type: 'PodScheduled', status: 'True' }, { type: 'Initialized', status: 'True' }, { type: 'ContainersReady', status }, { type: 'Ready', status }];
}
