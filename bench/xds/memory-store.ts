// A minimal in-memory Store for the xDS benchmark: the file store's fsync per object would dominate the setup of
// 11,500 objects and measure the disk, not the index. Same contract: frozen snapshots, async ordered watch events.
import { randomUUID } from 'node:crypto';
import type { KubeObject } from '../../src/api/meta.js';
import { selectorMatches } from '../../src/api/labels.js';
import { StoreError, type ListFilter, type ListResult, type ObjectKey, type Store, type Watch, type WatchEvent, type WatchOptions } from '../../src/controlplane/store/store.js';
import { splitApiVersion } from '../../src/api/meta.js';

export class MemoryStore implements Store {
  #rv = 0;
  readonly #objects = new Map<string, KubeObject>();
  readonly #watchers = new Set<{ filter: ListFilter; fn: (ev: WatchEvent) => void }>();

  #key(k: ObjectKey): string {
    return `${k.group}|${k.kind}|${k.namespace ?? ''}|${k.name}`;
  }
  #keyOf(o: KubeObject): string {
    return this.#key({ group: splitApiVersion(o.apiVersion).group, kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name });
  }
  #emit(type: WatchEvent['type'], object: KubeObject): void {
    const group = splitApiVersion(object.apiVersion).group;
    for (const w of this.#watchers) {
      if (w.filter.kind !== object.kind || w.filter.group !== group) continue;
      if (w.filter.namespace !== undefined && w.filter.namespace !== object.metadata.namespace) continue;
      setImmediate(() => this.#watchers.has(w) && w.fn({ type, object }));
    }
  }
  #stamp(o: KubeObject, prev?: KubeObject): KubeObject {
    const next = structuredClone(o);
    next.metadata.resourceVersion = String(++this.#rv);
    next.metadata.uid = prev?.metadata.uid ?? randomUUID();
    next.metadata.generation = (prev?.metadata.generation ?? 0) + 1;
    next.metadata.creationTimestamp = prev?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    return Object.freeze(next);
  }
  async create(obj: KubeObject): Promise<KubeObject> {
    const k = this.#keyOf(obj);
    if (this.#objects.has(k)) throw new StoreError('STORE_ALREADY_EXISTS', `${k} exists`);
    const s = this.#stamp(obj);
    this.#objects.set(k, s);
    this.#emit('ADDED', s);
    return s;
  }
  async update(obj: KubeObject): Promise<KubeObject> {
    const k = this.#keyOf(obj);
    const prev = this.#objects.get(k);
    if (!prev) throw new StoreError('STORE_NOT_FOUND', `${k} not found`);
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== prev.metadata.resourceVersion) throw new StoreError('STORE_CONFLICT', `${k} changed`);
    const s = this.#stamp(obj, prev);
    this.#objects.set(k, s);
    this.#emit('MODIFIED', s);
    return s;
  }
  async updateStatus(obj: KubeObject): Promise<KubeObject> {
    const k = this.#keyOf(obj);
    const prev = this.#objects.get(k);
    if (!prev) throw new StoreError('STORE_NOT_FOUND', `${k} not found`);
    return this.update({ ...prev, status: obj.status, metadata: { ...prev.metadata } });
  }
  async delete(key: ObjectKey): Promise<KubeObject> {
    const k = this.#key(key);
    const prev = this.#objects.get(k);
    if (!prev) throw new StoreError('STORE_NOT_FOUND', `${k} not found`);
    this.#objects.delete(k);
    const gone = Object.freeze({ ...prev, metadata: { ...prev.metadata, resourceVersion: String(++this.#rv) } });
    this.#emit('DELETED', gone);
    return gone;
  }
  get(key: ObjectKey): KubeObject | undefined {
    return this.#objects.get(this.#key(key));
  }
  list(filter: ListFilter): ListResult {
    const items = [...this.#objects.values()].filter(
      (o) =>
        o.kind === filter.kind &&
        splitApiVersion(o.apiVersion).group === filter.group &&
        (filter.namespace === undefined || o.metadata.namespace === filter.namespace) &&
        (!filter.labelSelector || selectorMatches(filter.labelSelector, o.metadata.labels)),
    );
    return { items, resourceVersion: String(this.#rv) };
  }
  watch(filter: ListFilter, onEvent: (ev: WatchEvent) => void, _from?: string, _opts?: WatchOptions): Watch {
    const w = { filter, fn: onEvent };
    this.#watchers.add(w);
    return { close: () => this.#watchers.delete(w) };
  }
  resourceVersion(): string {
    return String(this.#rv);
  }
  async close(): Promise<void> {
    this.#watchers.clear();
  }
}
