// The waypoint's view of the mesh, rebuilt from each xDS snapshot: services by key and VIP, workloads by uid and
// address, the endpoints of each service, and this waypoint's own config (bound services, attached routes).
import { PORT_HBONE } from '../lib/mesh-contract.js';
import type { AddressRecord, ServiceRecord, WorkloadRecord } from '../lib/xds/workload-records.js';
import type { BoundServiceRecord, WaypointConfigRecord } from '../lib/xds/waypoint-records.js';

export interface Endpoint {
  workload: WorkloadRecord;
  /** The IP to dial, or the name for a DNS ServiceEntry endpoint (resolved when dialled, by the pod's resolver). */
  ip: string;
  /** The port to dial on the workload for the service port asked for. */
  port: number;
  /**
   * Reached through the service's waypoint (an ingress gateway and istio.io/ingress-use-waypoint): HBONE to this
   * waypoint pod, with `ip:port` (the service VIP and port) as the CONNECT authority; `workload` is the waypoint.
   */
  via?: { ip: string; port: number };
}

export class MeshView {
  readonly #services = new Map<string, ServiceRecord>();
  readonly #serviceByVip = new Map<string, ServiceRecord>();
  readonly #workloads = new Map<string, WorkloadRecord>();
  readonly #workloadByIp = new Map<string, WorkloadRecord>();
  readonly #endpoints = new Map<string, WorkloadRecord[]>();
  readonly #boundByVip = new Map<string, BoundServiceRecord>();
  readonly #boundWorkloads = new Set<string>();
  readonly config: WaypointConfigRecord | undefined;

  constructor(addresses: Iterable<AddressRecord>, config: WaypointConfigRecord | undefined) {
    this.config = config;
    for (const a of addresses) {
      if (a.service) {
        const key = `${a.service.namespace}/${a.service.hostname}`;
        this.#services.set(key, a.service);
        for (const addr of a.service.addresses) this.#serviceByVip.set(addr.address, a.service);
      } else {
        const w = a.workload;
        this.#workloads.set(w.uid, w);
        for (const ip of w.addresses) this.#workloadByIp.set(ip, w);
        for (const key of Object.keys(w.services)) {
          const list = this.#endpoints.get(key) ?? [];
          list.push(w);
          this.#endpoints.set(key, list);
        }
      }
    }
    for (const s of config?.services ?? []) for (const vip of s.vips) this.#boundByVip.set(vip, s);
    for (const uid of config?.workloadUids ?? []) this.#boundWorkloads.add(uid);
  }

  /** The bound service a CONNECT to `ip` is for, if this waypoint serves it. */
  boundServiceByVip(ip: string): BoundServiceRecord | undefined {
    return this.#boundByVip.get(ip);
  }

  /** The workload a CONNECT to `ip` is for, if pod-addressed traffic to it is bound to this waypoint. */
  boundWorkloadByIp(ip: string): WorkloadRecord | undefined {
    const w = this.#workloadByIp.get(ip);
    return w && this.#boundWorkloads.has(w.uid) ? w : undefined;
  }

  service(key: string): ServiceRecord | undefined {
    return this.#services.get(key);
  }

  /** The key of the mesh service named `host` (`name.ns.svc.<domain>`, or `name.ns` / `name` from `namespace`). */
  serviceKeyByHost(host: string, namespace: string): string | undefined {
    const h = host.toLowerCase().replace(/\.$/, '');
    for (const s of this.#services.values()) {
      const [name, ns] = [s.name, s.namespace];
      if (s.hostname === h || h === `${name}.${ns}` || h === `${name}.${ns}.svc` || (h === name && ns === namespace)) return `${s.namespace}/${s.hostname}`;
    }
    return undefined;
  }

  /**
   * The service's waypoint pods as endpoints for `servicePort` (see Endpoint.via), or undefined when the service
   * has no waypoint (or no VIP to name it by).
   */
  waypointEndpoints(key: string, servicePort: number): Endpoint[] | undefined {
    const svc = this.#services.get(key);
    const vip = svc?.addresses[0]?.address;
    const gw = svc?.waypoint;
    if (!svc || !vip || !gw) return undefined;
    const wpService = gw.address ? this.#serviceByVip.get(gw.address.address) : gw.hostname ? this.#services.get(`${gw.hostname.namespace}/${gw.hostname.hostname}`) : undefined;
    const wpKey = wpService ? `${wpService.namespace}/${wpService.hostname}` : undefined;
    const pods = wpKey ? (this.#endpoints.get(wpKey) ?? []) : gw.address ? [this.#workloadByIp.get(gw.address.address)].filter((w): w is WorkloadRecord => !!w) : [];
    return pods
      .filter((w) => w.status === 'HEALTHY' && w.tunnelProtocol === 'HBONE' && w.addresses[0])
      .map((w) => ({ workload: w, ip: vip, port: servicePort, via: { ip: w.addresses[0]!, port: gw.hboneMtlsPort || PORT_HBONE } }));
  }

  workloadByIp(ip: string): WorkloadRecord | undefined {
    return this.#workloadByIp.get(ip);
  }

  /**
   * Endpoints of service `key` able to take `servicePort`: healthy (unless the service allows all), with an
   * address (or, outside the mesh, a name) and a target port (the endpoint's own mapping wins over the service's numeric target port).
   */
  endpoints(key: string, servicePort: number): Endpoint[] {
    const svc = this.#services.get(key);
    if (!svc) return [];
    const allowUnhealthy = svc.loadBalancing?.healthPolicy === 'ALLOW_ALL';
    const out: Endpoint[] = [];
    for (const w of this.#endpoints.get(key) ?? []) {
      if (w.status !== 'HEALTHY' && !allowUnhealthy) continue;
      const ip = w.addresses[0] ?? (w.tunnelProtocol === 'HBONE' ? undefined : w.hostname);
      if (!ip) continue;
      const own = w.services[key]?.find((p) => p.servicePort === servicePort);
      const port = own?.targetPort || svc.ports.find((p) => p.servicePort === servicePort)?.targetPort;
      if (!port) continue;
      out.push({ workload: w, ip, port });
    }
    return out;
  }
}
