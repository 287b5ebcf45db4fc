// The Kubernetes config source: a Store served from informer caches of a real kube-apiserver (list, then watch;
// relist after a 410 Gone, a dropped stream or an API-server restart), so the ambient index, the CA, the waypoint
// controller and Ambit's own REST API run unchanged on Kubernetes.
//
// Versions: objects keep the API server's resourceVersions (used for optimistic concurrency on writes), while
// `list`/`watch` versions are this process's own sequence over all kinds: watch streams of different kinds arrive
// in no common order, so only a local sequence lets a consumer list, then watch, and miss nothing. A relist is
// compared with the cache and becomes ADDED/MODIFIED/DELETED events: nothing is lost or delivered twice.
//
// Istio and Gateway API objects go through Ambit's validation as they arrive (the API server checks only the CRD
// schema): an object Ambit refuses is left out of the cache, logged, and counted, as istiod skips configs it
// cannot convert; the previous valid version is dropped too, never silently kept.
import type { KubeObject } from '../../api/meta.js';
import { validateObject } from '../../api/validate.js';
import { selectorMatches } from '../../api/labels.js';
import type { KindInfo } from '../../api/registry.js';
import type { ApiClient } from '../client/index.js';
import { ClientError } from '../client/client-error.js';
import { describeError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { STREAM_RETRY_BACKOFF, jitteredDelay } from '../../lib/control-plane-backoff.js';
import { EventHistory } from '../store/event-history.js';
import { openStoreWatch, type StoreWatcher } from '../store/store-watcher.js';
import { StoreError, type ListFilter, type ListResult, type ObjectKey, type Store, type Watch, type WatchEvent, type WatchOptions } from '../store/store.js';

const HISTORY_LIMIT = 20_000;
const WATCH_BACKLOG_LIMIT = 50_000;

interface KubeSourceOptions {
  api: ApiClient;
  /** The kinds to mirror; each must be served by the API server (built in, or a CRD from `ambit install --print-crds`). */
  kinds: readonly KindInfo[];
  /** Kinds mirrored from one namespace only (ConfigMap: the mesh config in the root namespace, not every ConfigMap). */
  namespaceOf?: Readonly<Record<string, string>>;
  log: Logger;
  /** Bound on the first full list of every kind (default 60 s). */
  syncTimeoutMs?: number;
}

function keyOf(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

function storeKey(obj: KubeObject): ObjectKey {
  const k: ObjectKey = { group: '', kind: obj.kind, name: obj.metadata.name };
  if (obj.metadata.namespace) k.namespace = obj.metadata.namespace;
  return k;
}

/** A numeric resourceVersion (etcd revision) for "is this newer" checks; 0 when not numeric. */
function rvNumber(obj: KubeObject | undefined): number {
  const n = Number(obj?.metadata.resourceVersion);
  return Number.isFinite(n) ? n : 0;
}

/** Maps the API server's error answers onto the Store's error codes. */
function storeErrorOf(err: unknown, what: string): unknown {
  if (!(err instanceof ClientError)) return err;
  const reason = err.reason;
  if (err.status === 404) return new StoreError('STORE_NOT_FOUND', `${what}: ${err.message}`, { cause: err });
  if (err.status === 409) return new StoreError(reason === 'AlreadyExists' ? 'STORE_ALREADY_EXISTS' : 'STORE_CONFLICT', `${what}: ${err.message}`, { cause: err });
  if (err.status === 422 || err.status === 400) return new StoreError('STORE_INVALID', `${what}: ${err.message}`, { cause: err });
  return err;
}

export class KubeSource implements Store {
  readonly #opts: KubeSourceOptions;
  readonly #cache = new Map<string, KubeObject>();
  readonly #history = new EventHistory(HISTORY_LIMIT, 0);
  readonly #watchers = new Set<StoreWatcher>();
  readonly #loops: Array<Promise<void>> = [];
  readonly #streams = new Set<{ close(): void }>();
  readonly #synced = new Set<string>();
  #seq = 0;
  #closed = false;
  /** Full lists made (one per kind at start, one more per 410 Gone) and watches that expired: for tests and logs. */
  readonly stats = { lists: 0, expired: 0 };
  /** Objects Ambit refused, by key → reason (for logs and tests). */
  readonly rejected = new Map<string, string>();

  private constructor(opts: KubeSourceOptions) {
    this.#opts = opts;
  }

  /** Starts one list-watch loop per kind; resolves once every kind was listed, or rejects naming the kinds that were not. */
  static async start(opts: KubeSourceOptions): Promise<KubeSource> {
    const src = new KubeSource(opts);
    for (const kind of opts.kinds) src.#loops.push(src.#run(kind));
    const deadline = Date.now() + (opts.syncTimeoutMs ?? 60_000);
    while (src.#synced.size < opts.kinds.length) {
      if (Date.now() > deadline) {
        const missing = opts.kinds.filter((k) => !src.#synced.has(k.kind)).map((k) => `${k.plural}.${k.group || 'core'}`);
        await src.close();
        throw new StoreError('STORE_CLOSED', `the Kubernetes API server at ${opts.api.target} did not list ${missing.join(', ')} in time: are Ambit's CRDs installed (ambit install --print-crds | kubectl apply -f -) and may this identity list them?`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return src;
  }

  // --- list + watch loops ---

  async #run(kind: KindInfo): Promise<void> {
    const { api, log } = this.#opts;
    let delay = 200;
    // The version to resume watching from: the last one seen. Unknown (first run, or after 410 Gone) = list first.
    let rv: string | undefined;
    while (!this.#closed) {
      try {
        if (rv === undefined) {
          const list = await api.list(kind, { namespace: this.#opts.namespaceOf?.[kind.kind] });
          if (this.#closed) return;
          this.stats.lists++;
          this.#replaceKind(kind, list.items);
          this.#synced.add(kind.kind);
          rv = list.metadata.resourceVersion;
        }
        const stream = api.watch(kind, { resourceVersion: rv, namespace: this.#opts.namespaceOf?.[kind.kind] });
        this.#streams.add(stream);
        try {
          for await (const ev of stream) {
            if (this.#closed) return;
            this.#apply(kind, ev.type, ev.object);
            if (ev.object.metadata.resourceVersion) rv = ev.object.metadata.resourceVersion;
            delay = 200;
          }
        } finally {
          this.#streams.delete(stream);
          stream.close();
        }
        // The server ended the stream (its watch timeout): resume from the last version seen.
        continue;
      } catch (err) {
        if (this.#closed) return;
        if (err instanceof ClientError && err.status === 410) {
          // The API server no longer has the changes since `rv` (compacted, or restarted): list again, diff the cache.
          this.stats.expired++;
          log.info({ kind: kind.kind, resourceVersion: rv }, 'watch expired (410 Gone); listing again');
          rv = undefined;
          continue;
        }
        log.warn({ kind: kind.kind, err: describeError(err) }, 'list/watch failed; retrying');
      }
      await new Promise((r) => setTimeout(r, jitteredDelay(delay)));
      delay = Math.min(delay * 2, STREAM_RETRY_BACKOFF.maxMs);
    }
  }

  /** A fresh list of `kind`: differences from the cache become events, in name order. */
  #replaceKind(kind: KindInfo, items: KubeObject[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(keyOf(kind.kind, item.metadata.namespace, item.metadata.name));
      this.#apply(kind, 'MODIFIED', item, true);
    }
    for (const [key, obj] of [...this.#cache]) {
      if (obj.kind === kind.kind && !seen.has(key)) this.#apply(kind, 'DELETED', obj);
    }
  }

  /** Applies one change to the cache and, when it changes what the cache holds, to the history and watchers. */
  #apply(kind: KindInfo, type: WatchEvent['type'], incoming: KubeObject, fromList = false): void {
    const key = keyOf(kind.kind, incoming.metadata.namespace, incoming.metadata.name);
    const old = this.#cache.get(key);
    if (type === 'DELETED') {
      this.rejected.delete(key);
      if (!old) return;
      this.#cache.delete(key);
      this.#record({ type: 'DELETED', object: Object.freeze({ ...incoming, kind: kind.kind }) as KubeObject }, old);
      return;
    }
    let obj = incoming.kind ? incoming : ({ ...incoming, kind: kind.kind } as KubeObject);
    // Same or older version than we hold (our own write, seen again on the watch): nothing new.
    if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
    if (old && !fromList && rvNumber(obj) > 0 && rvNumber(obj) < rvNumber(old)) return;
    if (kind.group !== '') {
      const v = validateObject(stripServerFields(obj));
      if (!v.ok) {
        const reason = v.errors.join('; ');
        if (this.rejected.get(key) !== reason) this.#opts.log.warn({ object: key, errors: v.errors }, 'object refused by Ambit validation; left out of the mesh config');
        this.rejected.set(key, reason);
        if (old) {
          this.#cache.delete(key);
          this.#record({ type: 'DELETED', object: old }, old);
        }
        return;
      }
      this.rejected.delete(key);
      obj = { ...v.object!, metadata: obj.metadata, status: obj.status } as KubeObject;
    }
    // Fresh from JSON (or from validation's copy): nobody else holds it, so it is frozen in place.
    const frozen = deepFreeze(obj);
    this.#cache.set(key, frozen);
    this.#record({ type: old ? 'MODIFIED' : 'ADDED', object: frozen }, old);
  }

  #record(event: WatchEvent, prev: KubeObject | undefined): void {
    const entry = { rv: ++this.#seq, key: storeKey(event.object), event, prevLabels: prev?.metadata.labels, bytes: 0 };
    this.#history.push(entry);
    for (const w of this.#watchers) w.offer(entry);
  }

  // --- reads ---

  get(key: ObjectKey): KubeObject | undefined {
    return this.#cache.get(keyOf(key.kind, key.namespace, key.name));
  }

  list(filter: ListFilter): ListResult {
    const items = [...this.#cache.values()].filter((o) =>
      o.kind === filter.kind
      && (!filter.namespace || o.metadata.namespace === filter.namespace)
      && (!filter.labelSelector?.length || selectorMatches(filter.labelSelector, o.metadata.labels)));
    items.sort((a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name));
    return { items, resourceVersion: String(this.#seq) };
  }

  watch(filter: ListFilter, onEvent: (ev: WatchEvent) => void, fromResourceVersion?: string, opts: WatchOptions = {}): Watch {
    if (this.#closed) throw new StoreError('STORE_CLOSED', 'the Kubernetes source is closed');
    let from = this.#seq;
    if (fromResourceVersion) {
      from = Number(fromResourceVersion);
      if (!Number.isInteger(from) || from > this.#seq) throw new StoreError('STORE_INVALID', `watch: resourceVersion ${fromResourceVersion} was not issued by this source`);
      if (from < this.#history.completeAfter) throw new StoreError('STORE_GONE', `too old resource version: ${from}; list again`);
    }
    // The filter's group is not compared: kinds are unique across groups in Ambit's registry.
    return openStoreWatch({ history: this.#history, watchers: this.#watchers, backlogLimit: WATCH_BACKLOG_LIMIT, log: this.#opts.log }, { ...filter, group: '' }, onEvent, from, opts);
  }

  resourceVersion(): string {
    return String(this.#seq);
  }

  // --- writes: straight to the API server; the answer is cached at once (read-your-writes), the watch repeats it ---

  async #write(what: string, op: () => Promise<KubeObject>, kind: string): Promise<KubeObject> {
    if (this.#closed) throw new StoreError('STORE_CLOSED', 'the Kubernetes source is closed');
    let out: KubeObject;
    try {
      out = await op();
    } catch (err) {
      throw storeErrorOf(err, what);
    }
    const info = this.#opts.kinds.find((k) => k.kind === kind);
    if (info) this.#apply(info, 'MODIFIED', out);
    return this.get(storeKey(out)) ?? out;
  }

  create(obj: KubeObject): Promise<KubeObject> {
    return this.#write(`create ${obj.kind}/${obj.metadata.name}`, () => this.#opts.api.create(obj), obj.kind);
  }

  update(obj: KubeObject): Promise<KubeObject> {
    return this.#write(`update ${obj.kind}/${obj.metadata.name}`, () => this.#opts.api.update(obj), obj.kind);
  }

  updateStatus(obj: KubeObject): Promise<KubeObject> {
    return this.#write(`update status of ${obj.kind}/${obj.metadata.name}`, () => this.#opts.api.updateStatus(obj), obj.kind);
  }

  async delete(key: ObjectKey, precondition?: { resourceVersion?: string }): Promise<KubeObject> {
    const info = this.#opts.kinds.find((k) => k.kind === key.kind);
    if (!info) throw new StoreError('STORE_NOT_FOUND', `${key.kind} is not mirrored from Kubernetes`);
    const current = this.get(key);
    if (precondition?.resourceVersion && current && current.metadata.resourceVersion !== precondition.resourceVersion) {
      throw new StoreError('STORE_CONFLICT', `delete ${key.kind}/${key.name}: resourceVersion ${precondition.resourceVersion} is not the current one`);
    }
    try {
      await this.#opts.api.delete(info, key.namespace, key.name);
    } catch (err) {
      throw storeErrorOf(err, `delete ${key.kind}/${key.name}`);
    }
    if (current) this.#apply(info, 'DELETED', current);
    return current ?? ({ kind: key.kind, apiVersion: '', metadata: { name: key.name, namespace: key.namespace } } as KubeObject);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#streams) s.close();
    for (const w of this.#watchers) w.fail(new StoreError('STORE_CLOSED', 'the Kubernetes source is closed'));
    this.#watchers.clear();
    await Promise.allSettled(this.#loops);
  }
}

/** Fields the API server adds that Ambit's validation does not know (managedFields and friends stay out of it). */
function stripServerFields(obj: KubeObject): KubeObject {
  const { managedFields: _m, selfLink: _s, ...metadata } = obj.metadata as KubeObject['metadata'] & { managedFields?: unknown; selfLink?: unknown };
  const { status: _status, ...rest } = obj;
  return { ...rest, metadata } as KubeObject;
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v as Record<string, unknown>)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
