// The sandbox as a container runtime invoking CNI (Kubernetes mode): a pod's network is built by running the node's
// primary conflist — Debian's `ptp` + `host-local` from containernetworking-plugins, with Ambit's `ambit-cni`
// chained after them by the node agent — exactly as the CNI spec has runtimes do: each plugin executed in the node's
// netns with CNI_COMMAND/CNI_CONTAINERID/CNI_NETNS/CNI_IFNAME/CNI_ARGS/CNI_PATH in its environment, the network
// config (with `name`, `cniVersion` and the previous plugin's `prevResult`) on stdin; DEL runs them in reverse order.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_PLUGIN_TYPE } from '../../lib/cni-report.js';
import { MeshError } from '../../lib/errors.js';
import { NETNS_DIR, runIn } from '../../platform/index.js';
import type { NodeLayout } from '../cluster-layout.js';
import { inNodeRunView, nodeHostPath } from './node-files.js';

/** Where Debian's containernetworking-plugins package puts ptp, host-local and loopback. */
const DEBIAN_CNI_DIR = '/usr/lib/cni';
const PRIMARY_PLUGINS = ['ptp', 'host-local', 'loopback'];
const NETWORK_NAME = 'ambit-sandbox';

class CniError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SANDBOX_CNI', message, options);
  }
}

/** A node's CNI directories: its /etc/cni/net.d and /opt/cni/bin among the node's own files (node-files.ts). */
export interface NodeCni {
  node: NodeLayout;
  dataDir: string;
  confDir: string;
  binDir: string;
}

function ipamDir(dataDir: string, node: NodeLayout): string {
  return join(dataDir, 'nodes', node.name, 'cni', 'ipam');
}

export function nodeCniOf(dataDir: string, node: NodeLayout): NodeCni {
  return { node, dataDir, confDir: nodeHostPath(dataDir, node.name, '/etc/cni/net.d'), binDir: nodeHostPath(dataDir, node.name, '/opt/cni/bin') };
}

/**
 * Writes the node's primary conflist (ptp + host-local over the node's pod CIDR) and links the Debian plugins into
 * the bin dir: what a cluster's network add-on would install. Existing files are kept (the node agent edits it).
 * host-local's leases are cleared: this runs as a supervisor starts, when no pod network survives (the new pod
 * runner removes every earlier pod netns and builds each pod again), so every lease left would only leak addresses.
 */
export function installPrimaryNetwork(cni: NodeCni, dataDir: string): void {
  rmSync(ipamDir(dataDir, cni.node), { recursive: true, force: true });
  for (const p of PRIMARY_PLUGINS) {
    if (!existsSync(join(DEBIAN_CNI_DIR, p))) throw new CniError(`${join(DEBIAN_CNI_DIR, p)} is missing: apt-get install -y containernetworking-plugins (setup.sh does)`);
  }
  mkdirSync(cni.confDir, { recursive: true, mode: 0o755 });
  mkdirSync(cni.binDir, { recursive: true, mode: 0o755 });
  for (const p of PRIMARY_PLUGINS) if (!existsSync(join(cni.binDir, p))) symlinkSync(join(DEBIAN_CNI_DIR, p), join(cni.binDir, p));
  const conflist = join(cni.confDir, '10-ambit-sandbox.conflist');
  if (existsSync(conflist)) return;
  writeFileSync(conflist, `${JSON.stringify({
    cniVersion: '1.0.0', name: NETWORK_NAME,
    plugins: [{
      type: 'ptp',
      ipam: {
        type: 'host-local', ranges: [[{ subnet: cni.node.podCidr, gateway: cni.node.podGateway }]], routes: [{ dst: '0.0.0.0/0' }],
        dataDir: ipamDir(dataDir, cni.node),
      },
    }],
  }, null, 2)}\n`);
}

interface Conflist {
  cniVersion: string;
  name: string;
  plugins: Array<Record<string, unknown> & { type: string }>;
}

function readConflist(cni: NodeCni): Conflist {
  const file = existsSync(cni.confDir) ? readdirSync(cni.confDir).filter((f) => f.endsWith('.conflist')).sort()[0] : undefined;
  if (!file) throw new CniError(`no CNI network config in ${cni.confDir}`);
  return JSON.parse(readFileSync(join(cni.confDir, file), 'utf8')) as Conflist;
}

/** Whether the node agent has chained ambit-cni into the node's network yet (before that, no pod may start). */
export function meshReady(cni: NodeCni): boolean {
  try {
    return readConflist(cni).plugins.some((p) => p.type === CNI_PLUGIN_TYPE);
  } catch {
    return false;
  }
}

interface CniPod {
  netns: string;
  namespace: string;
  name: string;
  uid: string;
}

async function invoke(cni: NodeCni, command: 'ADD' | 'DEL', pod: CniPod, plugin: Conflist['plugins'][number], conf: Conflist, prevResult: unknown): Promise<unknown> {
  const env = [
    `CNI_COMMAND=${command}`, `CNI_CONTAINERID=${pod.uid}`, `CNI_NETNS=${NETNS_DIR}/${pod.netns}`, 'CNI_IFNAME=eth0', `CNI_PATH=${cni.binDir}`,
    `CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.uid};K8S_POD_UID=${pod.uid}`,
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  ];
  const input = JSON.stringify({ ...plugin, name: conf.name, cniVersion: conf.cniVersion, ...(prevResult ? { prevResult } : {}) });
  // The exit status goes to stderr so a failing plugin's error JSON (on stdout) is still read.
  // Plugins run on their node: its netns, and its /run (where the node agent's report socket is).
  const argv = inNodeRunView(cni.dataDir, cni.node.name, ['sh', '-c', '"$@"; echo "cni-exit=$?" >&2', 'sh', 'env', '-i', ...env, join(cni.binDir, plugin.type)]);
  const r = await runIn(cni.node.netns, argv, { input, timeoutMs: 30_000 });
  const exit = Number(/cni-exit=(\d+)\s*$/.exec(r.stderr)?.[1] ?? '1');
  if (exit !== 0) {
    let msg = r.stdout.trim() || r.stderr.trim();
    try {
      const e = JSON.parse(r.stdout) as { code?: number; msg?: string; details?: string };
      msg = `${e.msg ?? ''}${e.details ? ` (${e.details})` : ''} [CNI error ${e.code}]`;
    } catch {
      // not JSON: keep the raw text
    }
    throw new CniError(`CNI ${command} of pod ${pod.namespace}/${pod.name}: plugin ${plugin.type} failed: ${msg}`);
  }
  return r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
}

/** Runs the chain's ADD; resolves with the pod's IPv4 address and the final result (kept for DEL). */
export async function cniAdd(cni: NodeCni, pod: CniPod): Promise<{ ip: string; result: unknown }> {
  const conf = readConflist(cni);
  let result: unknown;
  for (const plugin of conf.plugins) result = await invoke(cni, 'ADD', pod, plugin, conf, result);
  const ip = ((result as { ips?: Array<{ address?: string }> } | undefined)?.ips ?? []).map((i) => String(i.address ?? '').split('/')[0]).find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a!));
  if (!ip) {
    await cniDel(cni, pod, result).catch(() => undefined);
    throw new CniError(`CNI ADD of pod ${pod.namespace}/${pod.name} returned no IPv4 address`);
  }
  return { ip, result };
}

/** Runs the chain's DEL in reverse order (errors of one plugin do not stop the others; the first is thrown). */
export async function cniDel(cni: NodeCni, pod: CniPod, result: unknown): Promise<void> {
  const conf = readConflist(cni);
  let first: unknown;
  for (const plugin of [...conf.plugins].reverse()) {
    await invoke(cni, 'DEL', pod, plugin, conf, result).catch((err) => (first ??= err));
  }
  if (first) throw first;
}
