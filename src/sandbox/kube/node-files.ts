// A sandbox node's own files, for what Kubernetes keeps per node: hostPath volumes and the CNI directories live under
// `<data dir>/nodes/<node>/root` (the node's /var/run is `root/run`), so two sandbox nodes on one machine never share
// a socket or a conflist. The one exception is /run/netns: pods' network namespaces are machine-wide names, and the
// node agent and CNI plugins open them there, as on a real node.
import { join } from 'node:path';
import { NETNS_DIR } from '../../platform/index.js';

function nodeRoot(dataDir: string, node: string): string {
  return join(dataDir, 'nodes', node, 'root');
}

/** /var/run is /run, as on Debian. */
const runPath = (p: string) => p.replace(/\/+$/, '').replace(/^\/var\/run(?=\/|$)/, '/run');
const MACHINE_NETNS = runPath(NETNS_DIR);

/** Where a node-absolute path (a hostPath volume, a CNI dir) lives on the machine. */
export function nodeHostPath(dataDir: string, node: string, path: string): string {
  const p = runPath(path);
  if (p === MACHINE_NETNS || p.startsWith(`${MACHINE_NETNS}/`)) return p;
  return join(nodeRoot(dataDir, node), p);
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * argv that runs `argv` with the node's /run in place of the machine's (inside the mount namespace `ip netns exec`
 * made, a slave of the machine's, so nothing leaks out): what a CNI plugin sees on its node. The machine's netns
 * directory is bound into it first, recursively, so namespaces made later still show.
 */
export function inNodeRunView(dataDir: string, node: string, argv: readonly string[]): string[] {
  const run = join(nodeRoot(dataDir, node), 'run');
  const lines = [
    'set -e',
    `mkdir -p ${shellQuote(`${run}/netns`)}`,
    `mount --rbind ${MACHINE_NETNS} ${shellQuote(`${run}/netns`)}`,
    `mount --rbind ${shellQuote(run)} /run`,
    'exec "$@"',
  ];
  return ['sh', '-c', lines.join('\n'), 'sh', ...argv];
}

/**
 * argv that runs a container with its volumes: a fresh tmpfs becomes its /run, each volume bound (recursively, so a
 * netns directory keeps its mounts) at its mountPath inside it, read-only unless writable. The tmpfs is assembled at
 * `stageDir` first, while the machine's /run is still visible as a source. Only mountPaths under /run or /var/run are
 * possible without touching the machine's filesystem.
 */
export function withPodRun(argv: readonly string[], stageDir: string, mounts: ReadonlyArray<{ source: string; target: string; writable: boolean }>): string[] {
  const lines = ['set -e', `mkdir -p ${shellQuote(stageDir)}`, `mount -t tmpfs -o mode=0755 ambit-pod-run ${shellQuote(stageDir)}`];
  for (const m of mounts) {
    const at = join(stageDir, m.target.replace(/^\/(var\/)?run\//, ''));
    lines.push(`mkdir -p ${shellQuote(at)}`, `mount --rbind ${shellQuote(m.source)} ${shellQuote(at)}`);
    if (!m.writable) lines.push(`mount -o remount,bind,ro ${shellQuote(at)}`);
  }
  lines.push(`mount --rbind ${shellQuote(stageDir)} /run`, 'exec "$@"');
  return ['sh', '-c', lines.join('\n'), 'sh', ...argv];
}
