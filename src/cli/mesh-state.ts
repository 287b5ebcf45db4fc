// Where the verbs that read live mesh state (proxy-status, ztunnel-config, x describe) read it from: the control
// plane's debug endpoints and each node's ztunnel admin `/config_dump`.
//
// - Sandbox (default): the control plane's Unix socket and the ztunnels' admin sockets under the data dir.
// - `--server`: the control plane over TCP; ztunnel admin is out of reach (it listens on node loopback only).
// - `--kubeconfig` / `--in-cluster`: port-forwards through the API server, as istioctl does: the ztunnel pods (label
//   app=ztunnel in istio-system) on their admin port 15000, the control plane pod (app=ambit-controlplane) on its
//   monitoring port 15014, where debug endpoints answer loopback callers, which port-forwards are. A control plane
//   that runs outside the cluster (the sandbox's own) has no pod: it is read from the data dir's socket instead.
import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CONTROL_PLANE_NAME, DEFAULT_INSTALL, kindByName, type KubeObject } from '../api/index.js';
import { ApiClient } from '../controlplane/client/index.js';
import { describeError } from '../lib/errors.js';
import { PORT_CONTROL_PLANE_MONITORING, PORT_PROXY_ADMIN } from '../lib/mesh-contract.js';
import { CliError, globalsOf, type CliContext } from './cli-context.js';
import { socketPathIn } from './data-dir.js';

/** The namespace Ambit's own components run in (Istio's). */
const MESH_NAMESPACE = DEFAULT_INSTALL.namespace;
const ZTUNNEL_APP = 'ztunnel';
const POD = kindByName('Pod')!;
const ADMIN_TIMEOUT_MS = 10_000;

export interface MeshState {
  /** How the state is reached, for messages: `the data dir`, `--server`, `Kubernetes`. */
  readonly via: string;
  /** A read-only control plane debug path (`/debug/xds/clients`, `/debug/ambient`), parsed JSON. */
  controlPlane(path: string): Promise<unknown>;
  /** The nodes whose ztunnel can be read, sorted. */
  ztunnelNodes(): Promise<string[]>;
  /** A node's ztunnel `/config_dump`. */
  ztunnelConfigDump(node: string): Promise<unknown>;
}

/** `<dataDir>/nodes/<node>/ztunnel-admin.sock` (written by `ambit ztunnel`). */
function adminSocketPath(dataDir: string, node: string): string {
  return join(dataDir, 'nodes', node, 'ztunnel-admin.sock');
}

/** GET `/config_dump` over a node ztunnel's admin Unix socket. */
function socketConfigDump(socketPath: string, node: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: '/config_dump', method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new CliError(`ztunnel on node ${node} answered ${res.statusCode}: ${body.trim()}`));
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new CliError(`ztunnel on node ${node} sent a config dump that is not JSON`));
        }
      });
    });
    req.setTimeout(ADMIN_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${ADMIN_TIMEOUT_MS} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(new CliError(
      err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
        ? `ztunnel admin for node ${node} is not reachable (${socketPath}: ${err.code}): is ztunnel running on ${node}?`
        : `ztunnel admin for node ${node}: ${err.message}`)));
    req.end();
  });
}

/** The sandbox's admin sockets; `serverApi` is the control plane client the global flags name. */
function dataDirState(dataDir: string, serverApi: ApiClient, overServer: boolean): MeshState {
  const nodesDir = join(dataDir, 'nodes');
  return {
    via: overServer ? '--server' : 'the data dir',
    controlPlane: (path) => serverApi.requestJson('GET', path),
    async ztunnelNodes() {
      if (overServer) throw new CliError('ztunnel admin is not reachable over --server (it listens on node loopback): run this on the cluster host, or use --kubeconfig');
      const nodes = existsSync(nodesDir) ? readdirSync(nodesDir).filter((n) => existsSync(adminSocketPath(dataDir, n))).sort() : [];
      if (!nodes.length) throw new CliError(`no ztunnel admin sockets under ${nodesDir}; is a sandbox cluster running with this --data-dir?`);
      return nodes;
    },
    ztunnelConfigDump(node) {
      if (overServer) return Promise.reject(new CliError('ztunnel admin is not reachable over --server (it listens on node loopback): run this on the cluster host, or use --kubeconfig'));
      return socketConfigDump(adminSocketPath(dataDir, node), node);
    },
  };
}

/** The Running pods of `app` in the mesh namespace, by node. */
async function runningPods(api: ApiClient, app: string): Promise<KubeObject[]> {
  const list = await api.list(POD, { namespace: MESH_NAMESPACE, labelSelector: `app=${app}` });
  return list.items.filter((p) => (p.status as { phase?: string } | undefined)?.phase === 'Running' && !p.metadata.deletionTimestamp);
}

function nodeOf(pod: KubeObject): string | undefined {
  return (pod.spec as { nodeName?: string } | undefined)?.nodeName;
}

/** Port-forwards through the API server of `api`; the control plane falls back to the data dir's socket. */
function kubernetesState(api: ApiClient, dataDir: string): MeshState {
  const ztunnelOn = async (node: string): Promise<KubeObject> => {
    const pod = (await runningPods(api, ZTUNNEL_APP)).find((p) => nodeOf(p) === node);
    if (!pod) throw new CliError(`no running ztunnel pod (app=${ZTUNNEL_APP} in ${MESH_NAMESPACE}) on node ${node}`);
    return pod;
  };
  return {
    via: 'Kubernetes',
    async controlPlane(path) {
      const pods = await runningPods(api, CONTROL_PLANE_NAME);
      if (pods.length) return api.podPortGetJson(MESH_NAMESPACE, pods[0]!.metadata.name, PORT_CONTROL_PLANE_MONITORING, path);
      const socket = socketPathIn(dataDir);
      if (existsSync(socket)) {
        const local = new ApiClient({ endpoint: { socketPath: socket } });
        try {
          return await local.requestJson('GET', path);
        } finally {
          local.close();
        }
      }
      throw new CliError(`no running control plane pod (app=${CONTROL_PLANE_NAME} in ${MESH_NAMESPACE}) and no local control plane socket at ${socket}: ` +
        'a control plane outside the cluster is read with --data-dir (its host) or --server');
    },
    async ztunnelNodes() {
      const nodes = [...new Set((await runningPods(api, ZTUNNEL_APP)).map(nodeOf).filter((n): n is string => !!n))].sort();
      if (!nodes.length) throw new CliError(`no running ztunnel pods (app=${ZTUNNEL_APP} in ${MESH_NAMESPACE}): is Ambit installed (ambit install)?`);
      return nodes;
    },
    async ztunnelConfigDump(node) {
      const pod = await ztunnelOn(node);
      try {
        return await api.podPortGetJson(MESH_NAMESPACE, pod.metadata.name, PORT_PROXY_ADMIN, '/config_dump');
      } catch (err) {
        throw new CliError(`ztunnel on node ${node} (pod ${pod.metadata.name}): ${describeError(err)}`, { cause: err });
      }
    },
  };
}

/** The mesh state the command's global flags point at. */
export function meshStateOf(ctx: CliContext, cmd: Command): MeshState {
  const g = globalsOf(cmd);
  const api = ctx.client(cmd);
  if (api.isKube) return kubernetesState(api, ctx.dataDir(cmd));
  return dataDirState(ctx.dataDir(cmd), api, !!g.server);
}
