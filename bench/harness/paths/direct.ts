// Path 1, the baseline every figure is divided by: client pod (node1) → server pod (node2), no proxy at all.
import type { BenchPath } from '../bench-path.js';

/** The namespace of the un-enrolled pair shared by the baseline paths (direct, stunnel, HAProxy). */
export const BASELINE_NAMESPACE = 'bench';

export const directPath: BenchPath = {
  id: 'direct',
  title: 'direct (no mesh)',
  layer: 'none',
  async prepare({ cluster }) {
    const pair = await cluster.deployPair(BASELINE_NAMESPACE);
    return {
      clientNetns: pair.clientNetns,
      targets: pair.direct,
      proxies: [],
      description: [`client pod ${pair.clientIp} (node1) → server pod ${pair.serverIp} (node2), routed by the nodes, no proxy`],
      close: async () => undefined,
    };
  },
};
