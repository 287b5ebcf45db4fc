// Path 2, Ambit L4: the client/server pair in a namespace labelled istio.io/dataplane-mode=ambient, so the node
// agent redirects both pods' traffic into ztunnel (HBONE between the nodes). The client addresses the server pod
// directly; capture is transparent. Runs only when the sandbox runs ztunnel (pid files <dataDir>/run/ztunnel-*.pid).
import type { BenchPath } from '../bench-path.js';
import type { BenchCluster, WorkloadPair } from '../bench-cluster.js';

export const AMBIENT_NAMESPACE = 'bench-ambient';
const REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';

/** Waits until the node agent reports redirection enabled on both pods of the pair (throws after `timeoutMs`). */
export async function waitForRedirection(cluster: BenchCluster, pair: WorkloadPair, timeoutMs = 30_000): Promise<void> {
  for (const pod of ['bench-client', 'bench-server']) {
    await cluster.fixture.waitFor(`redirection enabled on ${pair.namespace}/${pod}`, async () =>
      (await cluster.fixture.pod(pair.namespace, pod)).metadata.annotations?.[REDIRECTION_ANNOTATION] === 'enabled', timeoutMs);
  }
}

/** Why Ambit paths cannot run in this sandbox, or undefined when ztunnel runs on the nodes. */
export function ztunnelMissing(cluster: BenchCluster): string | undefined {
  if (cluster.sandboxProcesses('ztunnel-').length > 0) return undefined;
  return `the sandbox runs no ztunnel (no live ${cluster.runDir}/ztunnel-*.pid): was the cluster created with --without-ztunnel?`;
}

export const ambitL4Path: BenchPath = {
  id: 'ambit-l4',
  title: 'Ambit L4 (ztunnel HBONE)',
  layer: 'L4',
  peer: 'stunnel',
  async prepare({ cluster }) {
    const missing = ztunnelMissing(cluster);
    if (missing) return { notAvailable: missing };
    const pair = await cluster.deployPair(AMBIENT_NAMESPACE, { 'istio.io/dataplane-mode': 'ambient' });
    await waitForRedirection(cluster, pair);
    const ztunnels = cluster.sandboxProcesses('ztunnel-');
    return {
      clientNetns: pair.clientNetns,
      targets: pair.direct,
      proxies: ztunnels,
      description: [
        `client pod ${pair.clientIp} (node1, enrolled) → ztunnel node1 ⇒ HBONE (mTLS + HTTP/2 CONNECT) ⇒ ztunnel node2 → server pod ${pair.serverIp}`,
        `proxy cost = ${ztunnels.map((z) => `${z.name} (pid ${z.pid})`).join(' + ')}`,
      ],
      close: async () => undefined,
    };
  },
};
