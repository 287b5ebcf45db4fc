// The index feed depends only on the narrow ConfigSource (get, list, watch, write status): an in-memory source that is
// not the file store drives it through the initial list, live events, and a relist after the source ends a watch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/meta.js';
import { silentLogger } from '../../lib/log.js';
import { ADDRESS_TYPE_URL } from '../../lib/xds/type-urls.js';
import { StoreError, type ConfigSource, type ListFilter, type WatchEvent, type WatchOptions } from '../store/store.js';
import { AmbientIndex, type IndexChange } from './ambient-index.js';
import { syncIndexWithSource } from './source-sync.js';

/** Objects in memory with one watcher per kind, which the test drives (what an informer set would do). */
class MemorySource implements ConfigSource {
  readonly objects = new Map<string, KubeObject>();
  readonly watchers = new Map<string, { onEvent: (ev: WatchEvent) => void; opts?: WatchOptions }>();
  lists = 0;
  #rv = 1;
  get(key: { kind: string; namespace?: string; name: string }): KubeObject | undefined {
    return this.objects.get(`${key.kind}/${key.namespace ?? ''}/${key.name}`);
  }
  list(filter: ListFilter) {
    this.lists++;
    return { items: [...this.objects.values()].filter((o) => o.kind === filter.kind), resourceVersion: String(this.#rv) };
  }
  watch(filter: ListFilter, onEvent: (ev: WatchEvent) => void, _from?: string, opts?: WatchOptions) {
    this.watchers.set(filter.kind, { onEvent, opts });
    return { close: () => this.watchers.delete(filter.kind) };
  }
  async updateStatus(obj: KubeObject): Promise<KubeObject> {
    this.objects.set(`${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`, obj);
    return obj;
  }
  put(obj: KubeObject, type: WatchEvent['type'] = 'ADDED', notify = true): void {
    const key = `${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    if (type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, obj);
    this.#rv++;
    if (notify) this.watchers.get(obj.kind)?.onEvent({ type, object: obj });
  }
}

const ambientNs: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'istio.io/dataplane-mode': 'ambient' } } };
const pod = (name: string, ip: string): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop', labels: { app: name } },
  spec: { nodeName: 'node1', containers: [{ name: 'app', command: ['sleep'] }] }, status: { phase: 'Running', podIP: ip },
});
const addressNames = (index: AmbientIndex) => [...index.resources(ADDRESS_TYPE_URL).keys()].sort();

test('a ConfigSource that is not the file store feeds the index: initial list, live events, relist after STORE_GONE', async (t) => {
  const source = new MemorySource();
  source.put(ambientNs);
  source.put(pod('web', '10.244.1.2'));
  const index = new AmbientIndex();
  const changes: IndexChange[] = [];
  const sync = syncIndexWithSource({ source, index, log: silentLogger(), onChanges: (c) => changes.push(...c), writeStatus: false });
  t.after(() => sync.close());
  assert.deepEqual(addressNames(index), ['Kubernetes//Pod/shop/web'], 'the initial list is applied before the call returns');

  source.put(pod('api', '10.244.1.3'));
  await sync.settled();
  assert.deepEqual(addressNames(index), ['Kubernetes//Pod/shop/api', 'Kubernetes//Pod/shop/web']);
  assert.ok(changes.some((c) => c.typeUrl === ADDRESS_TYPE_URL && c.updated.includes('Kubernetes//Pod/shop/api')), 'the change is announced');

  // The source loses its history (an informer's 410 Gone): web is deleted unseen, the feed relists Pods.
  const listsBefore = source.lists;
  source.put(pod('web', '10.244.1.2'), 'DELETED', false);
  source.watchers.get('Pod')!.opts!.onClose!(new StoreError('STORE_GONE', 'too old'));
  await sync.settled();
  assert.equal(source.lists, listsBefore + 1, 'exactly the ended kind is listed again');
  assert.deepEqual(addressNames(index), ['Kubernetes//Pod/shop/api'], 'what the relist no longer has is removed');
});
