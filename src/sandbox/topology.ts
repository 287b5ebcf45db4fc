// Builds and tears down a cluster's network: the fabric netns with its bridge, one netns per node, their routes.
// Nothing gets a route to the host's networks: traffic stays inside the namespaces created here.
import { readdirSync, rmSync } from 'node:fs';
import { createNetns, createVethPair, deleteNetns, ipIn, listNetns, runCommand, runIn } from '../platform/index.js';
import { belongsToCluster, type ClusterLayout } from './cluster-layout.js';
import { writeNetnsFile } from './pod-network.js';

/** Per-netns files `ip netns exec` bind-mounts over /etc (hosts, resolv.conf). */
export const ETC_NETNS = '/etc/netns';

/** Progress lines for the CLI (`creating netns demo.node1`). */
type Progress = (line: string) => void;

/** sysctls set in a netns (`ip netns exec … sysctl -w`), e.g. forwarding on nodes. */
async function sysctls(netns: string, settings: Record<string, string>): Promise<void> {
  await runIn(netns, ['sysctl', '-q', '-w', ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)]);
}

/** True when every netns of the layout exists (the topology was built and not torn down). */
export async function topologyExists(layout: ClusterLayout): Promise<boolean> {
  const present = new Set(await listNetns());
  return present.has(layout.fabricNetns) && present.has(layout.outside.netns) && layout.nodes.every((n) => present.has(n.netns));
}

/** Creates fabric and nodes; the caller has removed any remnants first (see `destroyTopology`). */
export async function buildTopology(layout: ClusterLayout, progress: Progress): Promise<void> {
  progress(`creating fabric netns ${layout.fabricNetns} (${layout.fabricCidr})`);
  await createNetns(layout.fabricNetns);
  await ipIn(layout.fabricNetns, ['link', 'add', layout.bridge, 'type', 'bridge']);
  await ipIn(layout.fabricNetns, ['addr', 'add', `${layout.fabricIp}/24`, 'dev', layout.bridge]);
  await ipIn(layout.fabricNetns, ['link', 'set', layout.bridge, 'up']);
  for (const node of layout.nodes) {
    progress(`creating node ${node.name}: netns ${node.netns}, ${node.ip}, pods ${node.podCidr}`);
    await createNetns(node.netns);
    await createVethPair(
      { netns: node.netns, name: 'eth0', addresses: [`${node.ip}/24`] },
      { netns: layout.fabricNetns, name: node.fabricPort },
    );
    await ipIn(layout.fabricNetns, ['link', 'set', node.fabricPort, 'master', layout.bridge]);
    // Nodes route between their pods and the fabric; pod veths answer ARP for the gateway address themselves.
    await sysctls(node.netns, { 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.all.rp_filter': '0', 'net.ipv4.conf.default.rp_filter': '0' });
    for (const other of layout.nodes) {
      if (other === node) continue;
      await ipIn(node.netns, ['route', 'add', other.podCidr, 'via', other.ip, 'dev', 'eth0']);
    }
    // The fabric (where the control plane lives) reaches every pod through its node.
    await ipIn(layout.fabricNetns, ['route', 'add', node.podCidr, 'via', node.ip, 'dev', layout.bridge]);
    // The outside world and the nameserver are beyond the fabric. Node processes (ztunnel resolving DNS
    // ServiceEntry endpoints) use the cluster nameserver, as a node's pods do.
    // The service range gets a route too, so connections made on the node itself (the ingress port forwards) pass
    // the routing check before the node's Service DNAT sends them to a pod, as on a node with a default route.
    for (const dst of [layout.outside.cidr, `${layout.dnsIp}/32`, layout.serviceCidr]) await ipIn(node.netns, ['route', 'add', dst, 'via', layout.fabricIp, 'dev', 'eth0']);
    writeNetnsFile(node.netns, 'resolv.conf', `nameserver ${layout.dnsIp}\n`);
  }
  await buildOutsideWorld(layout, progress);
}

/**
 * The outside world: a netns behind the fabric holding every outside host's address and the cluster's nameserver
 * address (pods' resolv.conf names it), so one process there serves both (src/sandbox/outside-world.ts).
 */
async function buildOutsideWorld(layout: ClusterLayout, progress: Progress): Promise<void> {
  const out = layout.outside;
  progress(`creating the outside world: netns ${out.netns} (${out.cidr}: ${out.hosts.map((h) => h.name).join(', ')}), nameserver ${layout.dnsIp}`);
  await createNetns(out.netns);
  const prefix = out.cidr.split('/')[1];
  await createVethPair(
    { netns: out.netns, name: 'eth0', addresses: [...out.hosts.map((h) => `${h.ip}/${prefix}`), `${layout.dnsIp}/32`] },
    { netns: layout.fabricNetns, name: 'outside', addresses: [`${out.gatewayIp}/${prefix}`] },
  );
  await ipIn(out.netns, ['route', 'add', 'default', 'via', out.gatewayIp, 'dev', 'eth0']);
  await ipIn(layout.fabricNetns, ['route', 'add', `${layout.dnsIp}/32`, 'via', out.hosts[0]!.ip, 'dev', 'outside']);
  await sysctls(layout.fabricNetns, { 'net.ipv4.ip_forward': '1' });
}

/** Kills every process inside the cluster's namespaces (pods, node agents, the control plane). */
export async function killNetnsProcesses(clusterName: string): Promise<number> {
  let killed = 0;
  for (const ns of (await listNetns()).filter((n) => belongsToCluster(clusterName, n))) {
    const { stdout } = await runCommand(['ip', 'netns', 'pids', ns]).catch(() => ({ stdout: '' }));
    for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // exited meanwhile
      }
    }
  }
  return killed;
}

/**
 * Deletes every netns whose name starts with `<cluster>.` (pods first, then nodes, then the fabric; their veths go
 * with them) and every `/etc/netns/<cluster>.*` directory. Returns the names of the deleted namespaces.
 */
export async function destroyTopology(clusterName: string, progress: Progress): Promise<string[]> {
  const mine = (await listNetns()).filter((n) => belongsToCluster(clusterName, n));
  const rank = (n: string) => (n.endsWith('.fabric') ? 2 : /\.node\d+$/.test(n) ? 1 : 0);
  mine.sort((a, b) => rank(a) - rank(b));
  for (const ns of mine) {
    progress(`deleting netns ${ns}`);
    await deleteNetns(ns, { ignoreMissing: true });
  }
  let etcDirs: string[] = [];
  try {
    etcDirs = readdirSync(ETC_NETNS).filter((n) => belongsToCluster(clusterName, n));
  } catch {
    // no /etc/netns at all
  }
  for (const dir of etcDirs) rmSync(`${ETC_NETNS}/${dir}`, { recursive: true, force: true });
  return mine;
}
