// Wiring of the DNS proxy into the in-pod workload manager: a PodServiceStarter that opens a pod's DNS listeners
// (127.0.0.1:15053 UDP+TCP inside its netns, marked 0x539) after its TCP listeners and closes them with the pod.
//
// Upstream nameservers are the pod's own: the netns fd from the node agent is matched by inode against the named
// netns under /var/run/netns, whose /etc/netns/<name>/resolv.conf is what `ip netns exec` shows the pod; without
// one, ztunnel's own /etc/resolv.conf is used (as Istio's ztunnel does). Read once when the pod is added.
import { fstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { NETNS_DIR } from '../../platform/index.js';
import type { PodServiceStarter, PodSidecarService } from '../inpod/workload-manager.js';
import type { ProxyState } from '../state/proxy-state.js';
import type { LocalPod } from '../proxy/proxy-inputs.js';
import type { DnsMetrics } from './dns-metrics.js';
import { DnsProxy, type DnsRequester } from './dns-proxy.js';
import { NetnsDnsSockets } from './dns-sockets.js';
import { parseResolvConf, type Nameserver } from './dns-upstream.js';
import { PORT_DNS, ZTUNNEL_MARK } from '../../lib/mesh-contract.js';

interface PodDnsOptions {
  state: ProxyState;
  metrics: DnsMetrics;
  /** This node (the pod's xDS workload is looked up among those on it). */
  node: string;
  /** The network assumed for a pod xDS has not described yet. */
  network: string;
  clusterDomain: string;
  log: Logger;
  port?: number;
  upstreamTimeoutMs?: number;
  /** Where named netns and their /etc files live (tests point these elsewhere). */
  netnsDir?: string;
  etcNetnsDir?: string;
  hostResolvConf?: string;
}

/** The requester view of `pod`: its namespace from the node agent, network and canonical labels from xDS when known. */
function podRequester(state: ProxyState, pod: LocalPod, node: string, defaultNetwork: string): DnsRequester {
  const w = state.findLocalWorkload(pod.info, node);
  return {
    namespace: pod.info.namespace,
    network: w?.network ?? defaultNetwork,
    canonicalService: w?.canonicalName ?? '',
    canonicalRevision: w?.canonicalRevision ?? '',
  };
}

/** The name under `netnsDir` of the netns `netnsFd` refers to, if it has one. */
function netnsNameOf(netnsFd: number, netnsDir: string = NETNS_DIR): string | undefined {
  const inode = fstatSync(netnsFd).ino;
  let names: string[];
  try {
    names = readdirSync(netnsDir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    try {
      if (statSync(join(netnsDir, name)).ino === inode) return name;
    } catch {
      // removed meanwhile
    }
  }
  return undefined;
}

/** The pod's upstream nameservers (see the header); empty when no resolv.conf names any. */
function podNameservers(netnsFd: number, opts: Pick<PodDnsOptions, 'netnsDir' | 'etcNetnsDir' | 'hostResolvConf'> = {}): { nameservers: Nameserver[]; source: string } {
  const name = netnsNameOf(netnsFd, opts.netnsDir);
  const candidates = [
    ...(name ? [join(opts.etcNetnsDir ?? '/etc/netns', name, 'resolv.conf')] : []),
    opts.hostResolvConf ?? '/etc/resolv.conf',
  ];
  for (const file of candidates) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    return { nameservers: parseResolvConf(text).nameservers, source: file };
  }
  return { nameservers: [], source: 'none' };
}

/** The starter the workload manager runs for every pod after its TCP listeners are up. */
export function podDnsStarter(opts: PodDnsOptions): PodServiceStarter {
  return async (pod, sockets): Promise<PodSidecarService> => {
    const log = opts.log.child({ pod: `${pod.info.namespace}/${pod.info.name}` });
    let upstream: { nameservers: Nameserver[]; source: string };
    try {
      upstream = podNameservers(sockets.netnsFd, opts);
    } catch (err) {
      log.warn({ err: describeError(err) }, 'cannot read the pod\'s resolv.conf: unknown names get SERVFAIL');
      upstream = { nameservers: [], source: 'none' };
    }
    const proxy = await DnsProxy.start({
      state: opts.state,
      requester: () => podRequester(opts.state, pod, opts.node, opts.network),
      sockets: new NetnsDnsSockets(sockets.netnsFd, sockets.mark ?? ZTUNNEL_MARK),
      nameservers: () => upstream.nameservers,
      clusterDomain: opts.clusterDomain,
      port: opts.port ?? PORT_DNS,
      metrics: opts.metrics,
      log,
      ...(opts.upstreamTimeoutMs === undefined ? {} : { upstreamTimeoutMs: opts.upstreamTimeoutMs }),
    });
    log.debug({ udp: proxy.udpAddress.port, upstreams: upstream.nameservers.map((n) => n.ip), from: upstream.source }, 'DNS proxy started');
    return { stop: () => proxy.stop() };
  };
}
