// `ambit cluster create --kubernetes`: the sandbox becomes the kubelet of a real Kubernetes control plane.
//
// The supervisor starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler on the host's loopback
// (KubeControlPlane), relays `<fabric IP>:6443` inside the sandbox to it (so the control plane and node agents in
// their netns reach it the way pods reach a real API server), installs Ambit's CRDs, registers one Node per sandbox
// node (capacity, Ready condition, a Lease renewed every 10 s as kubelets do), and writes two admin kubeconfigs:
// `<data dir>/kubeconfig` for the user's kubectl on the host, `<data dir>/kube/cluster.kubeconfig` for Ambit's roles.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTROL_PLANE_NAME, customResourceDefinitions, DEFAULT_INSTALL, installObjects, KINDS, type KubeObject } from '../../api/index.js';
import { ApiClient, ClientError, applyInstall } from '../../controlplane/client/index.js';
import { describeError, MeshError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { POD_NETNS_ANNOTATION } from '../../lib/mesh-contract.js';
import { connectFromNetns, listenInNetns, runCommand } from '../../platform/index.js';
import type { ClusterLayout } from '../cluster-layout.js';
import { startClusterEgress } from './cluster-egress.js';
import { KubeControlPlane, renderKubeconfig } from './kube-control-plane.js';
import { createKubeletApi, KUBELET_PORT, type KubeletPod } from './kubelet-server.js';

/** The port the API server is reached at inside the sandbox (Kubernetes' usual secure port). */
const SANDBOX_APISERVER_PORT = 6443;
/** How often each sandbox node renews its Lease (the kubelet's default). */
const LEASE_RENEW_MS = 10_000;
const LEASE_DURATION_S = 40;
/**
 * The image of the node components' DaemonSets: the sandbox runs any `ambit/ambit` image as this very build (its
 * only image), so the tag says only where it came from.
 */
const SANDBOX_IMAGE = 'ambit/ambit:sandbox';
/** Namespace of the node components (Istio's). */
const MESH_NAMESPACE = DEFAULT_INSTALL.namespace;
/** The DaemonSets every node runs a pod of, by their pods' `app` label. */
const NODE_COMPONENTS = ['ambit-nodeagent', 'ztunnel'];

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
  /** Where pods reach the API server (the relay inside the sandbox). */
  readonly apiServerInside: { host: string; port: number };
  /**
   * Serves each node's kubelet API (logs, port-forward) at `<node IP>:10250` inside its netns, for the pods the
   * runner reports; stopped with the cluster.
   */
  serveKubelets(pods: { findPod(namespace: string, name: string): KubeletPod | undefined; logPath(pod: KubeletPod, container: string): string }): Promise<void>;
  stop(): Promise<void>;
}

/** How long the kubelet waits for a pod's port to accept a forwarded connection. */
const PORT_FORWARD_DIAL_MS = 5_000;

/** Starts the Kubernetes side of a sandbox cluster; resolves once CRDs are served and Nodes are registered Ready. */
export async function startKubeCluster(opts: { dataDir: string; layout: ClusterLayout; log: Logger; xdsAddress: string; withoutZtunnel?: boolean }): Promise<KubeCluster> {
  const { layout, log } = opts;
  const workDir = join(opts.dataDir, 'kube');
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  // The API server's way to kubelets and pods (logs, port-forward, pod proxy): before it starts, so it never lacks it.
  const egress = await startClusterEgress(join(workDir, 'cluster-egress.sock'), layout, log.child({ sub: 'egress' }));
  const stops: Array<() => Promise<void> | void> = [() => egress.close()];
  const stop = async () => {
    for (const s of stops.reverse()) await Promise.resolve(s()).catch((err) => log.warn({ err: describeError(err) }, 'kubernetes shutdown step failed'));
  };
  let cp: KubeControlPlane;
  try {
    cp = await KubeControlPlane.start({
      binDir: await kubeBinDir(),
      workDir,
      serviceClusterIpRange: layout.serviceCidr,
      extraAddresses: [layout.fabricIp],
      kubelets: { addresses: layout.nodes.map((n) => n.ip), egressSocket: egress.socketPath },
    });
  } catch (err) {
    await stop();
    throw err;
  }
  stops.push(() => cp.stop());
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
    await installNodeComponents(api, opts.xdsAddress, opts.withoutZtunnel === true);
    log.info({ apiServer: cp.apiServerUrl, inside: `${layout.fabricIp}:${SANDBOX_APISERVER_PORT}` }, 'kubernetes control plane ready');
    const serveKubelets: KubeCluster['serveKubelets'] = async (pods) => {
      for (const node of layout.nodes) {
        const server = createKubeletApi({
          node: node.name,
          findPod: pods.findPod,
          logPath: pods.logPath,
          dialPod: (pod, port) => connectFromNetns(pod.netns, { host: '127.0.0.1', port, timeoutMs: PORT_FORWARD_DIAL_MS }),
          tls: { caPem: cp.caCertPem, ...cp.kubeletServing },
          log: log.child({ sub: 'kubelet', node: node.name }),
        });
        const listener = await listenInNetns(node.netns, { host: node.ip, port: KUBELET_PORT }, (sock) => server.emit('connection', sock));
        stops.push(() => new Promise<void>((r) => {
          server.closeAllConnections();
          listener.close(() => r());
        }));
      }
    };
    return { cp, api, stop, serveKubelets, apiServerInside: { host: layout.fabricIp, port: SANDBOX_APISERVER_PORT } };
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
      // The API server calls the kubelet here (logs, port-forward); the field's JSON name is capitalised.
      daemonEndpoints: { kubeletEndpoint: { Port: KUBELET_PORT } },
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

/**
 * The node components exactly as `ambit install` (and the Helm chart) has them — their ServiceAccounts, RBAC and the
 * node agent and ztunnel DaemonSets — for the real controller manager and scheduler to place on the sandbox nodes.
 * The control plane stays a supervisor process in the fabric netns (an external control plane, as Istio allows), so
 * ztunnel is pointed at its address instead of the in-cluster Service.
 */
async function installNodeComponents(api: ApiClient, xdsAddress: string, withoutZtunnel: boolean): Promise<void> {
  const objects = installObjects({ ...DEFAULT_INSTALL, image: SANDBOX_IMAGE, xdsAddress })
    .filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'DaemonSet'].includes(o.kind) && o.metadata.name !== CONTROL_PLANE_NAME)
    .filter((o) => !(withoutZtunnel && o.kind === 'DaemonSet' && o.metadata.name === 'ztunnel'));
  await applyInstall(api, MESH_NAMESPACE, objects);
}

/** Waits until every node runs a Ready pod of each node component DaemonSet (placed by the real scheduler). */
export async function waitForNodeComponents(api: ApiClient, layout: ClusterLayout, withoutZtunnel: boolean, timeoutMs: number): Promise<void> {
  const apps = NODE_COMPONENTS.filter((a) => !(withoutZtunnel && a === 'ztunnel'));
  const deadline = Date.now() + timeoutMs;
  let missing: string[] = [];
  while (Date.now() < deadline) {
    const list = (await api.requestJson('GET', `/api/v1/namespaces/${MESH_NAMESPACE}/pods`).catch(() => ({ items: [] }))) as { items: KubeObject[] };
    const ready = new Set(list.items
      .filter((p) => ((p.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'))
      .map((p) => `${p.metadata.labels?.['app']}@${(p.spec as { nodeName?: string }).nodeName}`));
    missing = layout.nodes.flatMap((n) => apps.filter((a) => !ready.has(`${a}@${n.name}`)).map((a) => `${a} on ${n.name}`));
    if (!missing.length) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new KubeClusterError(`the node components' DaemonSet pods were not Ready within ${timeoutMs} ms: ${missing.join(', ')} (see kubectl get pods -n ${MESH_NAMESPACE} -o wide and <data dir>/logs/pods/)`);
}

/** POSTs an object; an existing one (409) is fine. */
async function createIfMissing(api: ApiClient, path: string, obj: object): Promise<void> {
  try {
    await api.requestJson('POST', path, obj);
  } catch (err) {
    if (!(err instanceof ClientError && err.status === 409)) throw err;
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
