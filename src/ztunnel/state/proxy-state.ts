// ProxyState: ztunnel's indexed store of workloads, services and authorizations, fed by xDS (or tests).
//
// Indexes: workload by uid and by `network/IP` (HOST_NETWORK workloads are never indexed by IP), service by key
// and by `network/VIP` (CIDR VIPs in a separate longest-prefix list), endpoints by service key. Authorizations live
// in an immutable PolicySet that is rebuilt and swapped on every policy change, so an evaluation in flight always
// sees one consistent set. Listeners hear about every applied batch (policy revocation, readiness, waits).
import { EventEmitter } from 'node:events';
import { PolicySet } from '../policy/authorization.js';
import { ipBytes, parseIpPrefix, prefixContains, type IpPrefix } from '../../lib/ip-address.js';
import { authorizationKey, serviceKey, type Authorization, type Service, type Workload } from './types.js';
import { DEFAULT_MESH_SETTINGS, type MeshSettingsRecord } from '../../lib/xds/mesh-settings.js';

/** One batch of changes (an xDS response, or a test's edit). */
export interface StateUpdate {
  workloads?: Workload[];
  services?: Service[];
  policies?: Authorization[];
  removedWorkloads?: string[];
  /** Service keys `namespace/hostname`. */
  removedServices?: string[];
  /** Policy keys `namespace/name`. */
  removedPolicies?: string[];
  /** Mesh-wide settings; null when the resource was removed (back to the defaults). */
  meshSettings?: MeshSettingsRecord | null;
}

interface StateChange {
  workloadsChanged: boolean;
  servicesChanged: boolean;
  policiesChanged: boolean;
}

export interface LocalWorkloadInfo {
  name: string;
  namespace: string;
  serviceAccount: string;
}

interface CidrVip {
  prefix: IpPrefix;
  network: string;
  key: string;
}

export class ProxyState {
  readonly #workloads = new Map<string, Workload>();
  readonly #workloadByAddr = new Map<string, string>();
  readonly #services = new Map<string, Service>();
  readonly #serviceByVip = new Map<string, string[]>();
  #cidrVips: CidrVip[] = [];
  /** service key → uids of workloads that list it (endpoints arriving before their Service wait here too). */
  readonly #endpoints = new Map<string, Set<string>>();
  readonly #policies = new Map<string, Authorization>();
  #policySet = new PolicySet([]);
  readonly #events = new EventEmitter();
  #meshSettings: MeshSettingsRecord = DEFAULT_MESH_SETTINGS;

  constructor() {
    this.#events.setMaxListeners(0);
  }

  /** The current authorization snapshot. */
  get policies(): PolicySet {
    return this.#policySet;
  }

  /** Applies a batch atomically (indexes updated before listeners run). */
  /** Mesh-wide settings from the control plane (the defaults until it sends any). */
  get meshSettings(): MeshSettingsRecord {
    return this.#meshSettings;
  }

  apply(update: StateUpdate): StateChange {
    const change: StateChange = { workloadsChanged: false, servicesChanged: false, policiesChanged: false };
    if (update.meshSettings !== undefined) this.#meshSettings = update.meshSettings ?? DEFAULT_MESH_SETTINGS;
    for (const uid of update.removedWorkloads ?? []) change.workloadsChanged = this.#removeWorkload(uid) || change.workloadsChanged;
    for (const w of update.workloads ?? []) {
      this.#removeWorkload(w.uid);
      this.#addWorkload(w);
      change.workloadsChanged = true;
    }
    for (const key of update.removedServices ?? []) change.servicesChanged = this.#removeService(key) || change.servicesChanged;
    for (const s of update.services ?? []) {
      this.#removeService(serviceKey(s));
      this.#addService(s);
      change.servicesChanged = true;
    }
    let policies = false;
    for (const key of update.removedPolicies ?? []) policies = this.#policies.delete(key) || policies;
    for (const p of update.policies ?? []) {
      this.#policies.set(authorizationKey(p), p);
      policies = true;
    }
    if (policies) {
      this.#policySet = new PolicySet(this.#policies.values());
      change.policiesChanged = true;
    }
    if (change.workloadsChanged || change.servicesChanged || change.policiesChanged) this.#events.emit('change', change);
    return change;
  }

  /** Calls `listener` after every applied batch; returns an unsubscribe function. */
  onChange(listener: (change: StateChange) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  workload(uid: string): Workload | undefined {
    return this.#workloads.get(uid);
  }

  workloads(): Workload[] {
    return [...this.#workloads.values()];
  }

  service(key: string): Service | undefined {
    return this.#services.get(key);
  }

  services(): Service[] {
    return [...this.#services.values()];
  }

  /** The workload owning `ip` on `network` (never a HOST_NETWORK one). */
  workloadByAddress(network: string, ip: string): Workload | undefined {
    const uid = this.#workloadByAddr.get(`${network}/${ip}`);
    return uid === undefined ? undefined : this.#workloads.get(uid);
  }

  /**
   * The Service whose VIP is `ip` on `network` as seen by a client in `clientNamespace`: exact VIP first, else the
   * longest CIDR VIP; NAMESPACE-visibility services are invisible to other namespaces; ties are ranked client's
   * namespace > canonical > first.
   */
  serviceByVip(network: string, ip: string, clientNamespace?: string): Service | undefined {
    let keys = this.#serviceByVip.get(`${network}/${ip}`) ?? [];
    if (keys.length === 0 && this.#cidrVips.length) {
      const bytes = ipBytes(ip);
      let best: CidrVip | undefined;
      if (bytes) {
        for (const c of this.#cidrVips) {
          if (c.network === network && prefixContains(c.prefix, bytes) && (!best || c.prefix.length > best.prefix.length)) best = c;
        }
      }
      keys = best ? [best.key] : [];
    }
    const candidates = keys.map((k) => this.#services.get(k)!).filter((s) => visibleTo(s, clientNamespace));
    return rankServices(candidates, clientNamespace)[0];
  }

  /** Services with `hostname`, visible to `clientNamespace`, best first. */
  servicesByHostname(hostname: string, clientNamespace?: string): Service[] {
    const lower = hostname.toLowerCase();
    const found = [...this.#services.values()].filter((s) => s.hostname.toLowerCase() === lower && visibleTo(s, clientNamespace));
    return rankServices(found, clientNamespace);
  }

  /** Workloads that are endpoints of service `key`. */
  endpoints(key: string): Workload[] {
    const uids = this.#endpoints.get(key);
    if (!uids) return [];
    const out: Workload[] = [];
    for (const uid of uids) {
      const w = this.#workloads.get(uid);
      if (w) out.push(w);
    }
    return out;
  }

  /** The local pod a proxy instance serves, by name/namespace/service account (optionally restricted to `node`). */
  findLocalWorkload(info: LocalWorkloadInfo, node?: string): Workload | undefined {
    for (const w of this.#workloads.values()) {
      if (w.name === info.name && w.namespace === info.namespace && w.serviceAccount === info.serviceAccount && (!node || !w.node || w.node === node)) return w;
    }
    return undefined;
  }

  /** Resolves with the local workload as soon as xDS has it, or undefined after `timeoutMs`. */
  waitForLocalWorkload(info: LocalWorkloadInfo, timeoutMs: number, node?: string): Promise<Workload | undefined> {
    const now = this.findLocalWorkload(info, node);
    if (now || timeoutMs <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(undefined);
      }, timeoutMs);
      const off = this.onChange((c) => {
        if (!c.workloadsChanged) return;
        const w = this.findLocalWorkload(info, node);
        if (w) {
          clearTimeout(timer);
          off();
          resolve(w);
        }
      });
    });
  }

  #addWorkload(w: Workload): void {
    this.#workloads.set(w.uid, w);
    if (!w.hostNetwork) for (const ip of w.addresses) this.#workloadByAddr.set(`${w.network}/${ip}`, w.uid);
    for (const key of Object.keys(w.services)) {
      let set = this.#endpoints.get(key);
      if (!set) this.#endpoints.set(key, (set = new Set()));
      set.add(w.uid);
    }
  }

  #removeWorkload(uid: string): boolean {
    const w = this.#workloads.get(uid);
    if (!w) return false;
    this.#workloads.delete(uid);
    for (const ip of w.addresses) {
      const k = `${w.network}/${ip}`;
      if (this.#workloadByAddr.get(k) === uid) this.#workloadByAddr.delete(k);
    }
    for (const key of Object.keys(w.services)) {
      const set = this.#endpoints.get(key);
      set?.delete(uid);
      if (set && set.size === 0) this.#endpoints.delete(key);
    }
    return true;
  }

  #addService(s: Service): void {
    const key = serviceKey(s);
    this.#services.set(key, s);
    for (const vip of s.vips) {
      const host = vip.address.includes(':') ? 128 : 32;
      if (vip.length !== undefined && vip.length !== host) {
        const prefix = parseIpPrefix(`${vip.address}/${vip.length}`);
        if (prefix) this.#cidrVips.push({ prefix, network: vip.network, key });
        continue;
      }
      const k = `${vip.network}/${vip.address}`;
      const list = this.#serviceByVip.get(k);
      if (list) list.push(key);
      else this.#serviceByVip.set(k, [key]);
    }
  }

  #removeService(key: string): boolean {
    const s = this.#services.get(key);
    if (!s) return false;
    this.#services.delete(key);
    for (const vip of s.vips) {
      const k = `${vip.network}/${vip.address}`;
      const list = this.#serviceByVip.get(k)?.filter((x) => x !== key);
      if (list && list.length) this.#serviceByVip.set(k, list);
      else this.#serviceByVip.delete(k);
    }
    this.#cidrVips = this.#cidrVips.filter((c) => c.key !== key);
    return true;
  }
}

function visibleTo(s: Service, clientNamespace: string | undefined): boolean {
  return !s.namespaceOnly || clientNamespace === undefined || s.namespace === clientNamespace;
}

/** client's namespace > canonical > the rest in arrival order. */
function rankServices(list: Service[], clientNamespace: string | undefined): Service[] {
  const score = (s: Service) => (s.namespace === clientNamespace ? 2 : 0) + (s.canonical ? 1 : 0);
  return list.map((s, i) => ({ s, i })).sort((a, b) => score(b.s) - score(a.s) || a.i - b.i).map((x) => x.s);
}
