// The ambient index: turns stored objects into the data-plane view (Address, Authorization, WaypointConfig
// resources) incrementally. Every output is a pure function of the objects it read through a recording reader; a
// changed object recomputes only the outputs rooted at it or that read it (directly, or through a list whose filter
// matched its old or new state). Outputs never read other outputs, so one pass over the dirty set is enough.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../api/meta.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, MESH_SETTINGS_TYPE_URL, WAYPOINT_TYPE_URL } from '../../lib/xds/type-urls.js';
import { MESH_SETTINGS_NAME, type MeshSettingsRecord } from '../../lib/xds/mesh-settings.js';
import { addressResourceName, authorizationResourceName, type AddressRecord, type AuthorizationRecord } from '../../lib/xds/workload-records.js';
import { waypointResourceName, type WaypointConfigRecord } from '../../lib/xds/waypoint-records.js';
import { translatePod, translateService, translateServiceEntry, translateWorkloadEntry } from './address-translate.js';
import {
  WAYPOINT_ACCEPTED_CONDITION,
  ZTUNNEL_ACCEPTED_CONDITION,
  anyInheritableStrict,
  convertWorkloadPeerAuthentication,
  inheritedMtlsMode,
  peerAuthenticationHasSelector,
  staticStrictPolicy,
  translateAuthorizationPolicy,
} from './authorization-translate.js';
import { DEFAULT_INDEX_CONFIG, nsOf, type IndexConfig, type IndexReader } from './index-reader.js';
import { WAYPOINT_BOUND_CONDITION } from './waypoint-binding.js';
import { meshSettings } from './mesh-providers.js';
import { translateWaypointConfig } from './waypoint-config-translate.js';
import { translateIngressConfig } from './ingress-config-translate.js';

/** The kinds the index reads. */
export const INDEXED_KINDS = [
  'Namespace',
  'Pod',
  'Service',
  'ServiceEntry',
  'WorkloadEntry',
  'Gateway',
  'GatewayClass',
  'AuthorizationPolicy',
  'PeerAuthentication',
  'RequestAuthentication',
  'HTTPRoute',
  'GRPCRoute',
  'TCPRoute',
  'VirtualService',
  'DestinationRule',
  // The mesh config (ConfigMap istio in the root namespace): the CUSTOM policies' extension providers.
  'ConfigMap',
  // Ingress gateways' certificates (kubernetes.io/tls Secrets their HTTPS listeners name).
  'Secret',
  // Tracing for waypoints (Telemetry `tracing`).
  'Telemetry',
] as const;

// The part of a status the translation reads, per kind: a Pod's phase/IP/readiness, a waypoint Gateway's addresses,
// a ServiceEntry's auto-allocated VIPs (src/controlplane/ip-allocator; not its conditions). For other kinds a
// status-only change (e.g. the conditions this index writes) is not a change at all.
const STATUS_INPUT: Record<string, (status: Record<string, unknown>) => unknown> = {
  Pod: (s) => s,
  Gateway: (s) => s,
  ServiceEntry: (s) => s['addresses'],
};

type IndexEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface IndexEvent {
  type: IndexEventType;
  object: KubeObject;
}

/** One resource as served: the record, its content version, and its canonical JSON. */
interface IndexedResource<T = unknown> {
  name: string;
  version: string;
  record: T;
}

/** What changed for one type URL in one batch. */
export interface IndexChange {
  typeUrl: string;
  updated: string[];
  removed: string[];
}

interface DesiredCondition {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/** A condition the index wants on an object (`condition` undefined: remove that type). */
export interface StatusUpdate {
  kind: string;
  namespace: string;
  name: string;
  type: string;
  condition?: DesiredCondition;
}

interface OutputResult {
  addresses: AddressRecord[];
  authorizations: AuthorizationRecord[];
  waypoints: WaypointConfigRecord[];
  /** At most one (the static mesh-settings output's); absent = defaults. */
  meshSettings: MeshSettingsRecord[];
  conditions: Array<{ type: string; condition?: DesiredCondition }>;
}

type Predicate = ((o: KubeObject) => boolean) | undefined;

interface OutputDeps {
  exact: string[];
  collections: Array<[string, Predicate]>;
}

const STATIC_STRICT_OUTPUT = 'static/strict-peer-authentication';
const STATIC_MESH_SETTINGS_OUTPUT = 'static/mesh-settings';

const objKey = (kind: string, ns: string, name: string) => `${kind}|${ns}|${name}`;

function version(json: string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, 16);
}

/** The parts of an object the translation can see; equal fingerprints mean nothing relevant changed. */
function fingerprint(o: KubeObject): string {
  const m = o.metadata;
  return JSON.stringify([
    m.labels ?? null,
    m.annotations ?? null,
    m['ownerReferences'] ?? null,
    m['deletionTimestamp'] ?? null,
    m.creationTimestamp ?? null,
    o.spec ?? null,
    (o.status && STATUS_INPUT[o.kind]?.(o.status)) ?? null,
    // A ConfigMap's content is its `data` (the mesh config).
    (o as { data?: unknown }).data ?? null,
  ]);
}

interface AmbientIndexStats {
  /** Output recomputations since creation, by output kind (Pod, Service, AuthorizationPolicy, …). */
  recomputations: Record<string, number>;
  /** Output ids recomputed by the last batch. */
  lastBatch: string[];
  objects: number;
  resources: Record<string, number>;
}

export class AmbientIndex {
  readonly config: IndexConfig;
  readonly #objects = new Map<string, Map<string, Map<string, KubeObject>>>();
  readonly #exactDeps = new Map<string, Set<string>>();
  readonly #collectionDeps = new Map<string, Map<string, Predicate[]>>();
  readonly #outputDeps = new Map<string, OutputDeps>();
  readonly #outputs = new Map<string, OutputResult>();
  // typeUrl → name → outputId → record (several outputs may claim one name; the smallest output id wins).
  readonly #candidates = new Map<string, Map<string, Map<string, unknown>>>();
  readonly #served = new Map<string, Map<string, IndexedResource & { json: string }>>();
  readonly #conditions = new Map<string, Map<string, DesiredCondition>>();
  readonly #dirty = new Set<string>([STATIC_STRICT_OUTPUT, STATIC_MESH_SETTINGS_OUTPUT]);
  readonly #recomputations: Record<string, number> = {};
  #lastBatch: string[] = [];
  readonly #statusListeners: Array<(u: StatusUpdate[]) => void> = [];

  constructor(config: Partial<IndexConfig> = {}) {
    this.config = { ...DEFAULT_INDEX_CONFIG, ...config };
    for (const t of [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, WAYPOINT_TYPE_URL, MESH_SETTINGS_TYPE_URL]) {
      this.#candidates.set(t, new Map());
      this.#served.set(t, new Map());
    }
  }

  /** Called with every batch of condition changes on existing objects. */
  onStatus(listener: (updates: StatusUpdate[]) => void): void {
    this.#statusListeners.push(listener);
  }

  /** Applies a batch of object changes and returns what changed per type URL (types without changes omitted). */
  apply(events: readonly IndexEvent[]): IndexChange[] {
    for (const ev of events) this.#applyOne(ev);
    return this.#flush();
  }

  /** The resources currently served for a type URL. */
  resources<T = unknown>(typeUrl: string): ReadonlyMap<string, IndexedResource<T>> {
    return (this.#served.get(typeUrl) ?? new Map()) as ReadonlyMap<string, IndexedResource<T>>;
  }

  /** Conditions the index wants, keyed `Kind/namespace/name` then condition type. */
  desiredConditions(): ReadonlyMap<string, ReadonlyMap<string, DesiredCondition>> {
    return this.#conditions;
  }

  /** The stored copy of an object the index knows. */
  object(kind: string, namespace: string, name: string): KubeObject | undefined {
    return this.#objects.get(kind)?.get(namespace)?.get(name);
  }

  /** Every stored object of a kind. */
  objectsOf(kind: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const m of this.#objects.get(kind)?.values() ?? []) out.push(...m.values());
    return out;
  }

  /** A JSON view of everything served and wanted (for `/debug/ambient`). */
  debugSnapshot(): unknown {
    const list = (typeUrl: string) => [...this.resources(typeUrl).values()].map((r) => ({ name: r.name, version: r.version, resource: r.record }));
    const conditions: Record<string, Record<string, DesiredCondition>> = {};
    for (const [ref, m] of this.#conditions) conditions[ref] = Object.fromEntries(m);
    const stats = this.stats();
    return {
      config: this.config,
      addresses: list(ADDRESS_TYPE_URL),
      authorizations: list(AUTHORIZATION_TYPE_URL),
      waypoints: list(WAYPOINT_TYPE_URL),
      meshSettings: list(MESH_SETTINGS_TYPE_URL),
      conditions,
      stats: { objects: stats.objects, resources: stats.resources, recomputations: stats.recomputations },
    };
  }

  stats(): AmbientIndexStats {
    let objects = 0;
    for (const byNs of this.#objects.values()) for (const m of byNs.values()) objects += m.size;
    const resources: Record<string, number> = {};
    for (const [t, m] of this.#served) resources[t] = m.size;
    return { recomputations: { ...this.#recomputations }, lastBatch: [...this.#lastBatch], objects, resources };
  }

  // ---- input side ----

  #applyOne(ev: IndexEvent): void {
    const o = ev.object;
    const kind = o.kind;
    if (!(INDEXED_KINDS as readonly string[]).includes(kind)) return;
    const ns = nsOf(o);
    const name = o.metadata.name;
    let byNs = this.#objects.get(kind);
    if (!byNs) this.#objects.set(kind, (byNs = new Map()));
    let byName = byNs.get(ns);
    if (!byName) byNs.set(ns, (byName = new Map()));
    const old = byName.get(name);
    let next: KubeObject | undefined;
    if (ev.type === 'DELETED') {
      byName.delete(name);
      if (!byName.size) byNs.delete(ns);
    } else {
      byName.set(name, o);
      next = o;
    }
    if (old && next && fingerprint(old) === fingerprint(next)) return;
    this.#markDirty(kind, ns, name, old, next);
  }

  #markDirty(kind: string, ns: string, name: string, old: KubeObject | undefined, next: KubeObject | undefined): void {
    if (['Pod', 'WorkloadEntry', 'Service', 'ServiceEntry', 'AuthorizationPolicy', 'PeerAuthentication', 'Gateway'].includes(kind)) {
      this.#dirty.add(`${kind}/${ns}/${name}`);
    }
    for (const out of this.#exactDeps.get(objKey(kind, ns, name)) ?? []) this.#dirty.add(out);
    for (const key of [`${kind}|${ns}`, `${kind}|*`]) {
      const deps = this.#collectionDeps.get(key);
      if (!deps) continue;
      for (const [out, preds] of deps) {
        if (this.#dirty.has(out)) continue;
        if (preds.some((p) => !p || (old !== undefined && p(old)) || (next !== undefined && p(next)))) this.#dirty.add(out);
      }
    }
  }

  #list(kind: string, namespace: string | undefined, pred: Predicate): KubeObject[] {
    const byNs = this.#objects.get(kind);
    if (!byNs) return [];
    const out: KubeObject[] = [];
    const scan = (m: Map<string, KubeObject> | undefined) => {
      if (m) for (const o of m.values()) if (!pred || pred(o)) out.push(o);
    };
    if (namespace !== undefined) scan(byNs.get(namespace));
    else for (const m of byNs.values()) scan(m);
    return out.sort((a, b) => {
      const ka = `${nsOf(a)}/${a.metadata.name}`;
      const kb = `${nsOf(b)}/${b.metadata.name}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
  }

  // ---- output side ----

  #flush(): IndexChange[] {
    const touched = new Map<string, Set<string>>();
    const statusUpdates: StatusUpdate[] = [];
    this.#lastBatch = [...this.#dirty].sort();
    const batch = this.#lastBatch;
    this.#dirty.clear();
    for (const out of batch) {
      const kind = out.slice(0, out.indexOf('/'));
      this.#recomputations[kind] = (this.#recomputations[kind] ?? 0) + 1;
      const deps: OutputDeps = { exact: [], collections: [] };
      const reader = this.#trackingReader(deps);
      const result = this.#compute(out, reader);
      this.#setDeps(out, deps);
      this.#setOutput(out, result, touched, statusUpdates);
    }
    const changes: IndexChange[] = [];
    for (const [typeUrl, names] of touched) {
      const change: IndexChange = { typeUrl, updated: [], removed: [] };
      for (const name of [...names].sort()) {
        const res = this.#select(typeUrl, name);
        if (res === 'removed') change.removed.push(name);
        else if (res === 'updated') change.updated.push(name);
      }
      if (change.updated.length || change.removed.length) changes.push(change);
    }
    if (statusUpdates.length) for (const l of this.#statusListeners) l(statusUpdates);
    return changes;
  }

  #trackingReader(deps: OutputDeps): IndexReader {
    return {
      config: this.config,
      get: (kind, namespace, name) => {
        deps.exact.push(objKey(kind, namespace, name));
        return this.object(kind, namespace, name);
      },
      list: (kind, namespace, matches) => {
        deps.collections.push([`${kind}|${namespace ?? '*'}`, matches]);
        return this.#list(kind, namespace, matches);
      },
    };
  }

  #setDeps(out: string, deps: OutputDeps): void {
    const prev = this.#outputDeps.get(out);
    if (prev) {
      for (const k of prev.exact) this.#exactDeps.get(k)?.delete(out);
      for (const [k] of prev.collections) this.#collectionDeps.get(k)?.delete(out);
    }
    if (!deps.exact.length && !deps.collections.length) {
      this.#outputDeps.delete(out);
      return;
    }
    this.#outputDeps.set(out, deps);
    for (const k of deps.exact) {
      let s = this.#exactDeps.get(k);
      if (!s) this.#exactDeps.set(k, (s = new Set()));
      s.add(out);
    }
    for (const [k, pred] of deps.collections) {
      let m = this.#collectionDeps.get(k);
      if (!m) this.#collectionDeps.set(k, (m = new Map()));
      const preds = m.get(out);
      if (preds) preds.push(pred);
      else m.set(out, [pred]);
    }
  }

  #compute(out: string, r: IndexReader): OutputResult {
    const result: OutputResult = { addresses: [], authorizations: [], waypoints: [], meshSettings: [], conditions: [] };
    if (out === STATIC_STRICT_OUTPUT) {
      if (anyInheritableStrict(r)) result.authorizations.push(staticStrictPolicy(r));
      return result;
    }
    if (out === STATIC_MESH_SETTINGS_OUTPUT) {
      const settings = meshSettings(r);
      if (settings) result.meshSettings.push(settings);
      return result;
    }
    const [kind, ns, name] = out.split('/') as [string, string, string];
    const obj = this.object(kind, ns, name);
    if (!obj) return result;
    switch (kind) {
      case 'Pod': {
        const w = translatePod(r, obj);
        if (w) result.addresses.push({ workload: w });
        break;
      }
      case 'WorkloadEntry': {
        const w = translateWorkloadEntry(r, obj);
        if (w) result.addresses.push({ workload: w });
        break;
      }
      case 'Service': {
        const t = translateService(r, obj);
        if (t) result.addresses.push({ service: t.service });
        result.conditions.push({ type: WAYPOINT_BOUND_CONDITION, condition: t?.binding.condition });
        break;
      }
      case 'ServiceEntry': {
        const t = translateServiceEntry(r, obj);
        for (const s of t.services) result.addresses.push({ service: s });
        for (const w of t.workloads) result.addresses.push({ workload: w });
        result.conditions.push({ type: WAYPOINT_BOUND_CONDITION, condition: t.binding.condition });
        break;
      }
      case 'AuthorizationPolicy': {
        const t = translateAuthorizationPolicy(r, obj);
        if (t.authorization) result.authorizations.push(t.authorization);
        const { type, ...condition } = t.condition;
        result.conditions.push({ type, condition });
        const other = type === ZTUNNEL_ACCEPTED_CONDITION ? WAYPOINT_ACCEPTED_CONDITION : ZTUNNEL_ACCEPTED_CONDITION;
        result.conditions.push({ type: other });
        break;
      }
      case 'PeerAuthentication': {
        if (peerAuthenticationHasSelector(obj) && ns !== this.config.rootNamespace) {
          const converted = convertWorkloadPeerAuthentication(obj, inheritedMtlsMode(r, ns));
          if (converted) result.authorizations.push(converted);
        }
        break;
      }
      case 'Gateway': {
        const w = translateWaypointConfig(r, obj) ?? translateIngressConfig(r, obj);
        if (w) result.waypoints.push(w);
        break;
      }
    }
    return result;
  }

  #setOutput(out: string, result: OutputResult, touched: Map<string, Set<string>>, statusUpdates: StatusUpdate[]): void {
    const prev = this.#outputs.get(out);
    const sets: Array<[string, Array<[string, unknown]>, Array<[string, unknown]>]> = [
      [ADDRESS_TYPE_URL, (prev?.addresses ?? []).map((a) => [addressResourceName(a), a]), result.addresses.map((a) => [addressResourceName(a), a])],
      [AUTHORIZATION_TYPE_URL, (prev?.authorizations ?? []).map((a) => [authorizationResourceName(a), a]), result.authorizations.map((a) => [authorizationResourceName(a), a])],
      [WAYPOINT_TYPE_URL, (prev?.waypoints ?? []).map((w) => [waypointResourceName(w), w]), result.waypoints.map((w) => [waypointResourceName(w), w])],
      [MESH_SETTINGS_TYPE_URL, (prev?.meshSettings ?? []).map((m) => [MESH_SETTINGS_NAME, m]), result.meshSettings.map((m) => [MESH_SETTINGS_NAME, m])],
    ];
    for (const [typeUrl, before, after] of sets) {
      const cands = this.#candidates.get(typeUrl)!;
      let t = touched.get(typeUrl);
      if (!t) touched.set(typeUrl, (t = new Set()));
      for (const [name] of before) {
        cands.get(name)?.delete(out);
        t.add(name);
      }
      for (const [name, rec] of after) {
        let m = cands.get(name);
        if (!m) cands.set(name, (m = new Map()));
        m.set(out, rec);
        t.add(name);
      }
    }
    if (result.addresses.length || result.authorizations.length || result.waypoints.length || result.meshSettings.length || result.conditions.length) this.#outputs.set(out, result);
    else this.#outputs.delete(out);
    // Conditions belong to the output's root object.
    const slash = out.indexOf('/');
    const kind = out.slice(0, slash);
    const [ns, name] = out.slice(slash + 1).split('/') as [string, string];
    const ref = `${kind}/${ns}/${name}`;
    const exists = this.object(kind, ns, name) !== undefined;
    if (!exists) {
      this.#conditions.delete(ref);
      return;
    }
    let desired = this.#conditions.get(ref);
    for (const { type, condition } of result.conditions) {
      const cur = desired?.get(type);
      if (condition) {
        if (cur && cur.status === condition.status && cur.reason === condition.reason && cur.message === condition.message) continue;
        if (!desired) this.#conditions.set(ref, (desired = new Map()));
        desired.set(type, condition);
        statusUpdates.push({ kind, namespace: ns, name, type, condition });
      } else {
        if (!cur) {
          // Still ask the writer to remove it: the object may carry a condition from an earlier run.
          if (!prev) statusUpdates.push({ kind, namespace: ns, name, type });
          continue;
        }
        desired!.delete(type);
        statusUpdates.push({ kind, namespace: ns, name, type });
      }
    }
    if (desired && !desired.size) this.#conditions.delete(ref);
  }

  /** Re-picks the served record for a name; reports whether it changed. */
  #select(typeUrl: string, name: string): 'updated' | 'removed' | 'same' {
    const served = this.#served.get(typeUrl)!;
    const cands = this.#candidates.get(typeUrl)!.get(name);
    if (!cands || !cands.size) {
      this.#candidates.get(typeUrl)!.delete(name);
      return served.delete(name) ? 'removed' : 'same';
    }
    const owner = [...cands.keys()].sort()[0]!;
    const record = cands.get(owner);
    const json = JSON.stringify(record);
    const cur = served.get(name);
    if (cur && cur.json === json) return 'same';
    served.set(name, { name, version: version(json), record, json });
    return 'updated';
  }
}
