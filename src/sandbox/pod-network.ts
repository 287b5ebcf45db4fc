// A pod's network: its netns, a veth to its node (a /32 address, the node's gateway address on the node side),
// and the /etc/netns/<netns>/ files. Teardown removes all of it.
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createNetns, createVethPair, deleteNetns, ipIn } from '../platform/index.js';
import { ETC_NETNS } from './topology.js';
import type { NodeLayout } from './cluster-layout.js';

interface PodNetwork {
  netns: string;
  ip: string;
  node: NodeLayout;
  vethName: string;
}

/** Creates the netns and link (replacing a half-built one of the same name). */
export async function createPodNetwork(net: PodNetwork): Promise<void> {
  await deleteNetns(net.netns, { ignoreMissing: true });
  await createNetns(net.netns);
  try {
    await createVethPair({ netns: net.netns, name: 'eth0', addresses: [`${net.ip}/32`] }, { netns: net.node.netns, name: net.vethName });
    await ipIn(net.netns, ['route', 'add', net.node.podGateway, 'dev', 'eth0', 'scope', 'link']);
    await ipIn(net.netns, ['route', 'add', 'default', 'via', net.node.podGateway, 'dev', 'eth0']);
    await ipIn(net.node.netns, ['addr', 'add', `${net.node.podGateway}/32`, 'dev', net.vethName]);
    await ipIn(net.node.netns, ['route', 'add', `${net.ip}/32`, 'dev', net.vethName, 'src', net.node.podGateway]);
  } catch (err) {
    await deleteNetns(net.netns, { ignoreMissing: true });
    throw err;
  }
}

/**
 * Writes a file in /etc/netns/<netns>/ only when its content changed. In place (not write-and-rename): running
 * processes see it through a bind mount of the original inode.
 */
export function writeNetnsFile(netns: string, file: 'hosts' | 'resolv.conf', content: string): boolean {
  const dir = `${ETC_NETNS}/${netns}`;
  const path = `${dir}/${file}`;
  if (existsSync(path) && readFileSync(path, 'utf8') === content) return false;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(path, content);
  return true;
}

/** Deletes the netns (its veth goes with it) and its /etc/netns directory. */
export async function deletePodNetwork(netns: string): Promise<void> {
  await deleteNetns(netns, { ignoreMissing: true });
  rmSync(`${ETC_NETNS}/${netns}`, { recursive: true, force: true });
}
