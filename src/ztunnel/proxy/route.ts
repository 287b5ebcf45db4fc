// Outbound routing (PROTOCOLS.md §3): original destination → waypoint, service endpoint, workload or passthrough,
// with endpoint choice (healthy, locality-ranked, weighted random by capacity) and target-port resolution.
import { formatSpiffeId } from '../../lib/certs/spiffe-id.js';
import { NoHealthyUpstreamError, RegistryOnlyError } from '../../hbone/proxy-errors.js';
import { formatHostPort } from '../../lib/ip-address.js';
import type { ProxyState } from '../state/proxy-state.js';
import { serviceKey, type GatewayAddress, type LoadBalancingScope, type Service, type Workload } from '../state/types.js';
import { PORT_HBONE, PORT_INBOUND_PLAINTEXT, PORT_OUTBOUND } from '../../lib/mesh-contract.js';

/** Ports ztunnel itself listens on inside a pod: never a legitimate target (loops, HBONE-in-HBONE). */
export const ILLEGAL_PORTS: ReadonlySet<number> = new Set([PORT_OUTBOUND, PORT_INBOUND_PLAINTEXT, PORT_HBONE]);

export interface Target {
  ip: string;
  port: number;
}

export type Route =
  /** Unknown destination (or a PASSTHROUGH service): plain TCP to the original destination, no mTLS. */
  | { kind: 'passthrough'; target: Target; dstService?: Service }
  /**
   * A known workload without HBONE: plain TCP to its IP (VIP → pod translation still done). With `resolveHostname`
   * the workload is a name (a DNS ServiceEntry endpoint): `target.ip` is empty until the caller resolves it.
   */
  | { kind: 'tcp'; target: Target; dstWorkload: Workload; dstService?: Service; resolveHostname?: string }
  | {
    kind: 'hbone';
    /** Where the TLS connection goes (pod IP:15008 or the waypoint's address). */
    hboneAddr: Target;
    /** The CONNECT `:authority`. */
    authority: string;
    expectedIdentities: string[];
    /** The workload at the far end of the tunnel (the waypoint when `viaWaypoint`). */
    dstWorkload: Workload;
    dstService?: Service;
    viaWaypoint: boolean;
  };

/** `spiffe://<td>/ns/<ns>/sa/<sa>` of a workload. */
export function workloadIdentity(w: Pick<Workload, 'trustDomain' | 'namespace' | 'serviceAccount'>): string {
  return formatSpiffeId(w);
}

interface RouteInputs {
  state: ProxyState;
  /** The pod this proxy serves. */
  source: Workload;
  /** The source pod's IP the connection came from. */
  sourceIp: string;
  network: string;
  /** The port peers' HBONE listeners use (15008). */
  hbonePort?: number;
  /** Uniform [0,1) (injectable for tests). */
  random?: () => number;
}

/**
 * Decides where a captured outbound connection to `dst` goes. Throws NoHealthyUpstreamError, or RegistryOnlyError for
 * an unknown destination under REGISTRY_ONLY (unknown destinations otherwise pass through).
 */
export function routeOutbound(inputs: RouteInputs, dst: Target): Route {
  const { state, source, network } = inputs;
  const random = inputs.random ?? Math.random;
  const original = formatHostPort(dst.ip, dst.port);
  const service = state.serviceByVip(network, dst.ip, source.namespace);
  if (service) {
    if (service.waypoint) {
      const wp = resolveGateway(inputs, service.waypoint, random);
      if (wp && !isSelf(inputs, wp.workload)) return viaWaypoint(wp, original, service);
      if (!wp) throw new NoHealthyUpstreamError(`waypoint of ${serviceKey(service)}`);
    }
    if (service.loadBalancing?.mode === 'PASSTHROUGH') return { kind: 'passthrough', target: dst, dstService: service };
    const ep = pickEndpoint(inputs, service, dst.port, random);
    if (!ep) throw new NoHealthyUpstreamError(serviceKey(service));
    return direct(ep.workload, ep.ip, ep.port, service, inputs.hbonePort ?? PORT_HBONE);
  }
  const workload = state.workloadByAddress(network, dst.ip);
  if (workload) {
    if (workload.waypoint) {
      const wp = resolveGateway(inputs, workload.waypoint, random);
      // Loop avoidance: traffic from the waypoint itself goes straight to the pod.
      if (wp && !isSelf(inputs, wp.workload)) return viaWaypoint(wp, original, undefined);
      if (!wp) throw new NoHealthyUpstreamError(`waypoint of workload ${workload.namespace}/${workload.name}`);
    }
    return direct(workload, dst.ip, dst.port, undefined, inputs.hbonePort ?? PORT_HBONE);
  }
  if (state.meshSettings.outboundTrafficMode === 'REGISTRY_ONLY') throw new RegistryOnlyError(original);
  return { kind: 'passthrough', target: dst };
}

function direct(w: Workload, ip: string, port: number, service: Service | undefined, hbonePort: number): Route {
  if (w.tunnelProtocol === 'HBONE') {
    return {
      kind: 'hbone',
      hboneAddr: { ip, port: hbonePort },
      authority: formatHostPort(ip, port),
      expectedIdentities: uniq([workloadIdentity(w), ...(service?.subjectAltNames ?? [])]),
      dstWorkload: w,
      ...(service ? { dstService: service } : {}),
      viaWaypoint: false,
    };
  }
  return {
    kind: 'tcp', target: { ip, port }, dstWorkload: w, ...(service ? { dstService: service } : {}),
    ...(ip === '' && w.hostname ? { resolveHostname: w.hostname } : {}),
  };
}

interface ResolvedGateway {
  workload: Workload;
  ip: string;
  port: number;
  service?: Service;
}

function viaWaypoint(wp: ResolvedGateway, originalAuthority: string, dstService: Service | undefined): Route {
  return {
    kind: 'hbone',
    hboneAddr: { ip: wp.ip, port: wp.port },
    authority: originalAuthority,
    expectedIdentities: uniq([workloadIdentity(wp.workload), ...(wp.service?.subjectAltNames ?? [])]),
    dstWorkload: wp.workload,
    ...(dstService ? { dstService } : {}),
    viaWaypoint: true,
  };
}

/** A waypoint reference → a concrete waypoint pod to dial (by address: that workload or that VIP's endpoints). */
function resolveGateway(inputs: RouteInputs, gw: GatewayAddress, random: () => number): ResolvedGateway | undefined {
  const { state } = inputs;
  const port = gw.hbonePort || PORT_HBONE;
  let service: Service | undefined;
  if (gw.address) {
    const w = state.workloadByAddress(gw.address.network, gw.address.address);
    if (w) return { workload: w, ip: gw.address.address, port };
    service = state.serviceByVip(gw.address.network, gw.address.address);
  } else if (gw.hostname) {
    service = state.service(`${gw.hostname.namespace}/${gw.hostname.hostname}`);
  }
  if (!service) return undefined;
  const eps = eligible(inputs, service, undefined).filter((e) => e.workload.tunnelProtocol === 'HBONE');
  const ep = weightedPick(eps, random);
  return ep ? { workload: ep.workload, ip: ep.ip, port, service } : undefined;
}

function isSelf(inputs: RouteInputs, w: Workload): boolean {
  return workloadIdentity(w) === workloadIdentity(inputs.source) && w.addresses.includes(inputs.sourceIp);
}

interface Candidate {
  workload: Workload;
  ip: string;
  port: number;
}

/** Target port of endpoint `w` for `servicePort`: its own mapping > the service's numeric target port. */
export function targetPort(service: Service, w: Workload, servicePort: number): number | undefined {
  const own = w.services[serviceKey(service)]?.find((p) => p.servicePort === servicePort);
  if (own && own.targetPort) return own.targetPort;
  const svc = service.ports.find((p) => p.servicePort === servicePort);
  if (svc && svc.targetPort) return svc.targetPort;
  return undefined;
}

/** Endpoints that can take a connection on `servicePort` (any port when undefined, for waypoints). */
function eligible(inputs: RouteInputs, service: Service, servicePort: number | undefined): Candidate[] {
  const out: Candidate[] = [];
  for (const w of inputs.state.endpoints(serviceKey(service))) {
    if (!w.healthy && !service.loadBalancing?.allowUnhealthy) continue;
    // A name endpoint (no address) is dialled in plain TCP once resolved; it cannot be an HBONE peer.
    const ip = w.addresses.find((a) => a.includes(':') === inputs.sourceIp.includes(':')) ?? w.addresses[0] ?? (w.hostname && w.tunnelProtocol !== 'HBONE' && servicePort !== undefined ? '' : undefined);
    if (ip === undefined) continue;
    const port = servicePort === undefined ? 0 : targetPort(service, w, servicePort);
    if (port === undefined) continue;
    out.push({ workload: w, ip, port });
  }
  return out;
}

function pickEndpoint(inputs: RouteInputs, service: Service, servicePort: number, random: () => number): Candidate | undefined {
  let candidates = eligible(inputs, service, servicePort);
  const lb = service.loadBalancing;
  if (lb && (lb.mode === 'FAILOVER' || lb.mode === 'STRICT') && lb.routingPreference.length) {
    const ranked = candidates.map((c) => ({ c, rank: localityRank(inputs, lb.routingPreference, c.workload) }));
    const filtered = lb.mode === 'STRICT' ? ranked.filter((r) => r.rank.full) : ranked;
    const best = Math.max(-1, ...filtered.map((r) => r.rank.score));
    candidates = filtered.filter((r) => r.rank.score === best).map((r) => r.c);
  }
  return weightedPick(candidates, random);
}

/** Leading matching scopes; when NETWORK leads, same-network endpoints outrank every other-network one. */
function localityRank(inputs: RouteInputs, scopes: LoadBalancingScope[], w: Workload): { score: number; full: boolean } {
  const src = inputs.source;
  const same = (s: LoadBalancingScope): boolean => {
    switch (s) {
      case 'REGION': return w.locality.region === src.locality.region;
      case 'ZONE': return w.locality.zone === src.locality.zone;
      case 'SUBZONE': return w.locality.subzone === src.locality.subzone;
      case 'NODE': return w.node === src.node;
      case 'CLUSTER': return w.clusterId === src.clusterId;
      case 'NETWORK': return w.network === src.network;
    }
  };
  let score = 0;
  let i = 0;
  let bonus = 0;
  if (scopes[0] === 'NETWORK') {
    if (same('NETWORK')) bonus = scopes.length + 1;
    i = 1;
    score = 0;
  }
  let full = scopes[0] !== 'NETWORK' || bonus > 0;
  for (; i < scopes.length; i++) {
    if (!same(scopes[i]!)) {
      full = false;
      break;
    }
    score++;
  }
  return { score: score + bonus, full };
}

function weightedPick<T extends { workload: Workload }>(list: T[], random: () => number): T | undefined {
  if (list.length <= 1) return list[0];
  const total = list.reduce((n, c) => n + Math.max(0, c.workload.capacity), 0);
  if (total <= 0) return list[Math.floor(random() * list.length)];
  let r = random() * total;
  for (const c of list) {
    r -= Math.max(0, c.workload.capacity);
    if (r < 0) return c;
  }
  return list[list.length - 1];
}

function uniq(list: string[]): string[] {
  return [...new Set(list)];
}
