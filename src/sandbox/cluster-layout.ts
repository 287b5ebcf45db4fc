// A sandbox cluster's names and addresses, derived from its name, its slot and its node count (pure).
//
// Naming: every netns of cluster C is called `C.<something>` — `C.fabric`, `C.node1`…, and pods
// `C.<namespace>.<pod>` (or `C.p-<hash>` when that exceeds 63 characters). Cluster and namespace names are
// DNS labels (no dots), so names of different clusters can never collide, and `C.` finds everything of C.
// Addresses: a host-wide registry hands each live cluster a slot s (0-15, the lowest free; the first cluster
// gets 0); slot s owns nodes 10.10.s.0/24, pods 10.(244-s).N.0/24 for node N, services 10.(96+s).0.0/16.
// Slot 0 is exactly ARCHITECTURE.md's suggestion. Ranges of two live clusters never overlap.
// The "outside world" (hosts beyond the cluster, e.g. api.example.test) lives in 198.18.s.0/24 — RFC 2544's
// benchmarking range, which no real network routes — behind the fabric, in netns `C.outside`.
import { createHash } from 'node:crypto';
import { MeshError } from '../lib/errors.js';

export const MAX_SLOTS = 16;
const MAX_NODES = 32;
const CLUSTER_NAME = /^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$/;

export class ClusterConfigError extends MeshError {
  constructor(message: string) {
    super('SANDBOX_CONFIG', message);
  }
}

export interface NodeLayout {
  /** Node object name: `node1`, `node2`, … */
  name: string;
  index: number;
  netns: string;
  /** The node's address on the fabric. */
  ip: string;
  /** Interface name of the node's link inside the fabric netns (the node side is `eth0`). */
  fabricPort: string;
  /** 10.(244-s).N.0/24 */
  podCidr: string;
  /** Pod-facing address of the node (every pod's default gateway). */
  podGateway: string;
}

export interface ClusterLayout {
  name: string;
  slot: number;
  fabricNetns: string;
  /** The bridge in the fabric netns every node is plugged into. */
  bridge: string;
  /** The fabric's own address (the control plane runs there). */
  fabricIp: string;
  fabricCidr: string;
  nodes: NodeLayout[];
  serviceCidr: string;
  /** The resolv.conf nameserver (the mesh DNS proxy answers it for enrolled pods). */
  dnsIp: string;
  clusterDomain: string;
  outside: OutsideLayout;
}

/** A host of the sandbox's outside world: a DNS name the sandbox's nameserver answers, served over HTTP and HTTPS. */
interface OutsideHost {
  name: string;
  ip: string;
}

interface OutsideLayout {
  netns: string;
  cidr: string;
  /** The fabric's address on the outside link (the outside world's default gateway). */
  gatewayIp: string;
  hosts: OutsideHost[];
}

/**
 * The outside world's host names. `api.example.test` is the one examples list in a ServiceEntry;
 * `unlisted.example.test` is a second host no example names (what REGISTRY_ONLY refuses).
 */
const OUTSIDE_HOST_NAMES = ['api.example.test', 'unlisted.example.test'] as const;

export function checkClusterName(name: string): string {
  if (!CLUSTER_NAME.test(name)) {
    throw new ClusterConfigError(`cluster name "${name}" is invalid: use 1-20 lowercase letters, digits and '-', starting with a letter`);
  }
  return name;
}

export function clusterLayout(name: string, slot: number, nodeCount: number): ClusterLayout {
  checkClusterName(name);
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_SLOTS) throw new ClusterConfigError(`slot ${slot} is out of range (0-${MAX_SLOTS - 1})`);
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_NODES) {
    throw new ClusterConfigError(`--nodes must be a whole number from 1 to ${MAX_NODES}, got ${nodeCount}`);
  }
  const podOctet = 244 - slot;
  const nodes: NodeLayout[] = [];
  for (let i = 1; i <= nodeCount; i++) {
    nodes.push({
      name: `node${i}`,
      index: i,
      netns: `${name}.node${i}`,
      ip: `10.10.${slot}.${10 + i}`,
      fabricPort: `n${i}`,
      podCidr: `10.${podOctet}.${i}.0/24`,
      podGateway: `10.${podOctet}.${i}.1`,
    });
  }
  return {
    name,
    slot,
    fabricNetns: `${name}.fabric`,
    bridge: 'br0',
    fabricIp: `10.10.${slot}.1`,
    fabricCidr: `10.10.${slot}.0/24`,
    nodes,
    serviceCidr: `10.${96 + slot}.0.0/16`,
    dnsIp: `10.${96 + slot}.0.10`,
    clusterDomain: 'cluster.local',
    outside: {
      netns: `${name}.outside`,
      cidr: `198.18.${slot}.0/24`,
      gatewayIp: `198.18.${slot}.1`,
      hosts: OUTSIDE_HOST_NAMES.map((host, i) => ({ name: host, ip: `198.18.${slot}.${10 + i}` })),
    },
  };
}

/** The netns of a pod: `C.<ns>.<name>` when it fits in 63 characters, else `C.p-<hash of uid>`. */
export function podNetnsName(cluster: string, namespace: string, name: string, uid: string): string {
  const plain = `${cluster}.${namespace}.${name}`;
  if (plain.length <= 63 && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(plain)) return plain;
  return `${cluster}.p-${createHash('sha256').update(uid).digest('hex').slice(0, 16)}`;
}

/** The node-side interface of a pod's veth (15 characters at most, unique per node). */
export function podVethName(uid: string): string {
  return `v${createHash('sha256').update(uid).digest('hex').slice(0, 11)}`;
}

/** The pod address number `host` (2-254) inside a node's pod range. */
export function podIpOf(node: NodeLayout, host: number): string {
  return node.podGateway.replace(/\.1$/, `.${host}`);
}

/** True when `netns` belongs to cluster `name` (every netns it creates starts with `name.`). */
export function belongsToCluster(name: string, netns: string): boolean {
  return netns.startsWith(`${name}.`);
}

/** Service VIP number `n` (1-based, skipping .0.0, .0.1 and the DNS address .0.10) in the service range. */
export function serviceIpOf(layout: ClusterLayout, n: number): string {
  const base = 96 + layout.slot;
  const offset = n + 1 + (n + 1 >= 10 ? 1 : 0); // 2..9, then 11…
  return `10.${base}.${Math.floor(offset / 256)}.${offset % 256}`;
}

/** True when the IPv4 address `ip` lies inside `cidr`. */
export function ipInCidr(ip: string, cidr: string): boolean {
  const [net, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const toNum = (a: string) => a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const block = 2 ** (32 - bits);
  return Math.floor(toNum(ip) / block) === Math.floor(toNum(net!) / block);
}
