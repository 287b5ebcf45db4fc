// The cluster record in the data dir (`cluster.json`) and the paths a cluster uses under it.
import { mkdirSync, readFileSync } from 'node:fs';
import { writeFileDurableSync } from '../lib/durable-file.js';
import { join } from 'node:path';
import { ClusterConfigError, clusterLayout, type ClusterLayout } from './cluster-layout.js';

export interface ClusterRecord {
  name: string;
  slot: number;
  nodes: number;
  createdAt: string;
  /** The data dir did not exist before `cluster create`: delete removes it whole, whatever the roles wrote. */
  ownsDataDir?: boolean;
  /**
   * Start no ztunnel on the nodes: enrolled pods stay `pending` and fail closed. For tests of the node agent's
   * own contract (and of what happens when ztunnel is absent); never the default.
   */
  withoutZtunnel?: boolean;
  /** ztunnel's `--termination-grace-period` (open connections after a stop or restart); absent = its default. */
  ztunnelGracePeriodSeconds?: number;
  /** A real Kubernetes control plane holds the config; the sandbox is its kubelet (`cluster create --kubernetes`). */
  kubernetes?: boolean;
  /** `--ingress-port`: host loopback ports carried to the ingress gateway's Service (src/sandbox/ingress-forward.ts). */
  ingressPorts?: Array<{ host: number; gateway: number }>;
}

interface ClusterPaths {
  record: string;
  logs: string;
  run: string;
  socket: string;
  supervisorPid: string;
  supervisorLog: string;
  /** Written by the supervisor once the control plane, node agents and pod runner are up. */
  ready: string;
}

/** Entries of the data dir the cluster creates (and `cluster delete` removes). */
export const CLUSTER_DATA_ENTRIES = ['cluster.json', 'store', 'logs', 'run', 'nodes', 'ca', 'ambit.sock', 'controlplane.json', 'kube', 'kubeconfig', 'cni', 'pods', 'outside'];

export function clusterPaths(dataDir: string): ClusterPaths {
  const run = join(dataDir, 'run');
  const logs = join(dataDir, 'logs');
  return {
    record: join(dataDir, 'cluster.json'),
    logs,
    run,
    socket: join(dataDir, 'ambit.sock'),
    supervisorPid: join(run, 'supervisor.pid'),
    supervisorLog: join(logs, 'supervisor.log'),
    ready: join(run, 'ready'),
  };
}

export function readClusterRecord(dataDir: string): ClusterRecord | undefined {
  let text: string;
  try {
    text = readFileSync(clusterPaths(dataDir).record, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const r = JSON.parse(text) as ClusterRecord;
    if (typeof r.name !== 'string' || !Number.isInteger(r.slot) || !Number.isInteger(r.nodes)) throw new Error('missing fields');
    return r;
  } catch (err) {
    throw new ClusterConfigError(`${clusterPaths(dataDir).record} is damaged (${(err as Error).message}); delete the cluster with --name to clean up`);
  }
}

export function writeClusterRecord(dataDir: string, record: ClusterRecord): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = clusterPaths(dataDir).record;
  writeFileDurableSync(path, `${JSON.stringify(record, null, 2)}\n`);
}

export function layoutOf(record: ClusterRecord): ClusterLayout {
  return clusterLayout(record.name, record.slot, record.nodes);
}

/** The pid in a pid file if that process is alive. */
export function livePid(pidFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}
