// Path 4, Ambit L7: an enrolled pair whose namespace uses a waypoint (Gateway class istio-waypoint, for all
// traffic), so requests go ztunnel ⇒ waypoint ⇒ ztunnel. Runs only when ztunnel runs and the control plane's waypoint
// controller brings up the waypoint pod; the waypoint's processes are the ones in that pod's netns.
import { readFileSync } from 'node:fs';
import type { BenchPath } from '../bench-path.js';
import type { ProxyProcess } from '../proc-stats.js';
import { runCommand } from '../../../src/platform/index.js';
import { waitForRedirection, ztunnelMissing } from './ambit-l4.js';

export const WAYPOINT_NAMESPACE = 'bench-waypoint';
const WAYPOINT_NAME = 'waypoint';
/** How long the waypoint controller gets to create the waypoint's Pod object, then the Pod to start its process. */
const WAYPOINT_POD_TIMEOUT_MS = 5_000;
const NAMESPACE_LABELS = { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': WAYPOINT_NAME };
const WAYPOINT_TIMEOUT_MS = 30_000;

export const ambitL7Path: BenchPath = {
  id: 'ambit-l7',
  title: 'Ambit L7 (ztunnel ⇒ waypoint ⇒ ztunnel)',
  layer: 'L7',
  peer: 'haproxy',
  async prepare({ cluster }) {
    const missing = ztunnelMissing(cluster);
    if (missing) return { notAvailable: missing };
    // The Gateway first: without a waypoint controller there is no point deploying the pair.
    try {
      await cluster.fixture.apply([
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: WAYPOINT_NAMESPACE, labels: NAMESPACE_LABELS } },
        { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway',
          metadata: { name: WAYPOINT_NAME, namespace: WAYPOINT_NAMESPACE, labels: { 'istio.io/waypoint-for': 'all' } },
          spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] } },
      ]);
    } catch (err) {
      return { notAvailable: `the waypoint Gateway was refused: ${(err as Error).message}` };
    }
    // The controller names the pod `<gateway>-<hash>` and labels it with the Gateway's name.
    const waypointPod = async (): Promise<string | undefined> => {
      const list = JSON.parse((await cluster.fixture.cli(['get', 'pods', '-n', WAYPOINT_NAMESPACE, '-o', 'json'])).stdout) as { items: Array<{ metadata: { name: string; labels?: Record<string, string> } }> };
      return list.items.find((p) => p.metadata.labels?.['gateway.networking.k8s.io/gateway-name'] === WAYPOINT_NAME)?.metadata.name;
    };
    const podName = await cluster.fixture.waitFor('the waypoint pod object', waypointPod, WAYPOINT_POD_TIMEOUT_MS).catch(() => undefined);
    if (!podName) {
      return { notAvailable: `no waypoint pod for Gateway ${WAYPOINT_NAMESPACE}/${WAYPOINT_NAME} within ${WAYPOINT_POD_TIMEOUT_MS / 1000} s (is the control plane's waypoint controller running?)` };
    }
    let waypoints: ProxyProcess[] = [];
    try {
      await cluster.fixture.running(WAYPOINT_NAMESPACE, podName);
      waypoints = await cluster.fixture.waitFor('a waypoint process', async () => {
        const netns = await cluster.fixture.netnsOf(WAYPOINT_NAMESPACE, podName);
        // Only the waypoint processes: a readiness probe (curl in the pod's netns) may be running there too.
        const pids = (await runCommand(['ip', 'netns', 'pids', netns])).stdout.split(/\s+/).filter(Boolean).map(Number)
          .filter((pid) => isWaypointProcess(pid));
        return pids.length ? pids.map((pid, i) => ({ name: `waypoint-${i + 1}`, pid })) : undefined;
      }, WAYPOINT_TIMEOUT_MS);
    } catch {
      return { notAvailable: `no waypoint came up for Gateway ${WAYPOINT_NAMESPACE}/${WAYPOINT_NAME} within ${WAYPOINT_TIMEOUT_MS / 1000} s` };
    }
    const pair = await cluster.deployPair(WAYPOINT_NAMESPACE, NAMESPACE_LABELS);
    await waitForRedirection(cluster, pair);
    const ztunnels = cluster.sandboxProcesses('ztunnel-');
    const proxies = [...ztunnels, ...waypoints];
    return {
      clientNetns: pair.clientNetns,
      targets: pair.direct,
      proxies,
      description: [
        `client pod ${pair.clientIp} (node1) → ztunnel ⇒ HBONE ⇒ waypoint ${WAYPOINT_NAMESPACE}/${podName} ⇒ HBONE ⇒ ztunnel → server pod ${pair.serverIp}`,
        `proxy cost = ${proxies.map((p) => `${p.name} (pid ${p.pid})`).join(' + ')}`,
      ],
      close: async () => undefined,
    };
  },
};

/** Whether `pid` runs `ambit … waypoint run` (false once it is gone). */
function isWaypointProcess(pid: number): boolean {
  try {
    return /\0waypoint\0run\0/.test(`\0${readFileSync(`/proc/${pid}/cmdline`, 'latin1')}`);
  } catch {
    return false;
  }
}
