// The file store against its contract: metadata, concurrency errors, generation, list order, persistence, watch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileStore } from '../../src/controlplane/store/file-store.js';
import { StoreError, type Store, type WatchEvent } from '../../src/controlplane/store/store.js';
import type { KubeObject } from '../../src/api/meta.js';
import { parseLabelSelector } from '../../src/api/labels.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function open(t: { after: (fn: () => Promise<void>) => void }, dir: string, historyLimit?: number): Promise<Store> {
  const store = await openFileStore(dir, historyLimit === undefined ? {} : { historyLimit });
  t.after(() => store.close());
  return store;
}

function svc(name: string, ns = 'default', extra: Partial<KubeObject> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { ports: [{ port: 80 }] }, ...extra };
}

const SVC = { group: '', kind: 'Service' };
const key = (name: string, namespace = 'default') => ({ ...SVC, namespace, name });

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (re) assert.match(err.message, re);
    return true;
  });
}

/** Collects watch events; `until(n)` resolves when n have arrived. */
function collector() {
  const events: WatchEvent[] = [];
  let waiter: (() => void) | undefined;
  let want = Infinity;
  return {
    events,
    onEvent: (ev: WatchEvent) => {
      events.push(ev);
      if (events.length >= want) waiter?.();
    },
    until(n: number, ms = 5000): Promise<void> {
      if (events.length >= n) return Promise.resolve();
      want = n;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${events.length} of ${n} events after ${ms} ms`)), ms);
        waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test('create sets server-owned metadata and replaces what the caller sent', async (t) => {
  const store = await open(t, await tempDir(t));
  const created = await store.create(svc('a', 'default', { metadata: { name: 'a', namespace: 'default', uid: 'mine', resourceVersion: '999', generation: 7, creationTimestamp: 'yesterday' } }));
  assert.match(created.metadata.uid!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(created.metadata.uid, 'mine');
  assert.equal(created.metadata.resourceVersion, '1');
  assert.equal(created.metadata.generation, 1);
  assert.match(created.metadata.creationTimestamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(Math.abs(Date.parse(created.metadata.creationTimestamp!) - Date.now()) < 5000);
  assert.deepEqual(store.get(key('a')), created);
  assert.equal(store.resourceVersion(), '1');
  assert.ok(Object.isFrozen(created) && Object.isFrozen(created.metadata), 'stored objects are frozen snapshots');
  const second = await store.create(svc('b'));
  assert.equal(second.metadata.resourceVersion, '2');
  assert.notEqual(second.metadata.uid, created.metadata.uid);
});

test('already-exists, not-found and conflict errors', async (t) => {
  const store = await open(t, await tempDir(t));
  const a = await store.create(svc('a'));
  await rejectsWith(store.create(svc('a')), 'STORE_ALREADY_EXISTS', /Service\/default\/a already exists/);
  await rejectsWith(store.update(svc('nope')), 'STORE_NOT_FOUND', /Service\/default\/nope not found/);
  await rejectsWith(store.updateStatus(svc('nope')), 'STORE_NOT_FOUND');
  await rejectsWith(store.delete(key('nope')), 'STORE_NOT_FOUND');
  const a2 = await store.update({ ...a, metadata: { ...a.metadata, labels: { x: 'y' } } });
  assert.equal(a2.metadata.resourceVersion, '2');
  // Stale version: the message names both.
  await rejectsWith(store.update({ ...a, metadata: { ...a.metadata } }), 'STORE_CONFLICT', /resourceVersion 1 given, stored is 2/);
  await rejectsWith(store.updateStatus({ ...a, status: { x: 1 } }), 'STORE_CONFLICT', /1 given, stored is 2/);
  await rejectsWith(store.delete(key('a'), { resourceVersion: '1' }), 'STORE_CONFLICT', /1 given, stored is 2/);
  // Without a version the update is unconditional.
  const a3 = await store.update(svc('a'));
  assert.equal(a3.metadata.resourceVersion, '3');
  assert.equal(a3.metadata.uid, a.metadata.uid, 'uid survives updates');
  assert.equal(a3.metadata.creationTimestamp, a.metadata.creationTimestamp);
  const gone = await store.delete(key('a'), { resourceVersion: '3' });
  assert.equal(gone.metadata.resourceVersion, '4', 'the deleted object carries the deletion version');
  assert.equal(store.get(key('a')), undefined);
  // Unsafe names never reach the file system.
  await rejectsWith(store.create(svc('../../etc')), 'STORE_INVALID');
  await rejectsWith(store.create(svc('a', '../x')), 'STORE_INVALID');
});

test('generation moves only when something outside metadata and status changes', async (t) => {
  const store = await open(t, await tempDir(t));
  const a = await store.create(svc('a'));
  const labelled = await store.update({ ...a, metadata: { ...a.metadata, labels: { app: 'x' } } });
  assert.equal(labelled.metadata.generation, 1);
  const withStatus = await store.update({ ...labelled, status: { phase: 'x' } });
  assert.equal(withStatus.metadata.generation, 1);
  const respec = await store.update({ ...withStatus, spec: { ports: [{ port: 81 }] } });
  assert.equal(respec.metadata.generation, 2);
  const v1beta = await store.update({ ...respec, apiVersion: 'v1' });
  assert.equal(v1beta.metadata.generation, 2);
  // updateStatus replaces status only: spec and labels from the caller are ignored, generation stays.
  const st = await store.updateStatus({ ...respec, metadata: { ...v1beta.metadata, labels: {} }, spec: { changed: true }, status: { conditions: [] } });
  assert.equal(st.metadata.generation, 2);
  assert.deepEqual(st.spec, { ports: [{ port: 81 }] });
  assert.deepEqual(st.metadata.labels, { app: 'x' });
  assert.deepEqual(st.status, { conditions: [] });
  const cleared = await store.updateStatus({ ...st, status: undefined });
  assert.equal(cleared.status, undefined);
});

test('list is sorted by namespace then name, filters by namespace and labels, covers cluster scope', async (t) => {
  const store = await open(t, await tempDir(t));
  await Promise.all([
    store.create(svc('b', 'zeta', { metadata: { name: 'b', namespace: 'zeta', labels: { app: 'web' } } })),
    store.create(svc('a', 'zeta')),
    store.create(svc('c', 'alpha', { metadata: { name: 'c', namespace: 'alpha', labels: { app: 'web', tier: 'x' } } })),
    store.create(svc('a', 'alpha')),
    store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'zeta' } }),
    store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'alpha' } }),
    store.create({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'a', namespace: 'alpha' }, spec: {} }),
  ]);
  const names = (items: KubeObject[]) => items.map((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  const all = store.list(SVC);
  assert.deepEqual(names(all.items), ['alpha/a', 'alpha/c', 'zeta/a', 'zeta/b']);
  assert.equal(all.resourceVersion, '7');
  assert.deepEqual(names(store.list({ ...SVC, namespace: 'zeta' }).items), ['zeta/a', 'zeta/b']);
  const sel = parseLabelSelector('app=web,tier');
  assert.ok(sel.ok);
  assert.deepEqual(names(store.list({ ...SVC, labelSelector: sel.requirements }).items), ['alpha/c']);
  const notWeb = parseLabelSelector('app!=web');
  assert.ok(notWeb.ok);
  assert.deepEqual(names(store.list({ ...SVC, labelSelector: notWeb.requirements }).items), ['alpha/a', 'zeta/a']);
  assert.deepEqual(names(store.list({ group: '', kind: 'Namespace' }).items), ['/alpha', '/zeta']);
  assert.deepEqual(names(store.list({ group: 'security.istio.io', kind: 'AuthorizationPolicy' }).items), ['alpha/a']);
  assert.deepEqual(store.list({ group: 'x', kind: 'Nothing' }).items, []);
});

test('restart keeps objects and versions; the version survives deleting the newest object', async (t) => {
  const dir = await tempDir(t);
  let store = await openFileStore(dir);
  const a = await store.create(svc('a'));
  const ns = await store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } });
  await store.create(svc('b'));
  const deleted = await store.delete(key('b'));
  assert.equal(deleted.metadata.resourceVersion, '4');
  await store.close();
  await rejectsWith(store.create(svc('late')), 'STORE_CLOSED');
  assert.throws(() => store.get(key('a')), /closed/);
  store = await openFileStore(dir);
  t.after(() => store.close());
  assert.equal(store.resourceVersion(), '4', 'high-water mark persisted with the delete');
  assert.deepEqual(store.get(key('a')), a);
  assert.deepEqual(store.get({ group: '', kind: 'Namespace', name: 'x' }), ns);
  assert.equal(store.get(key('b')), undefined);
  const c = await store.create(svc('c'));
  assert.equal(c.metadata.resourceVersion, '5');
  const files = await readdir(join(dir, 'objects', 'core', 'Service', 'default'));
  assert.deepEqual(files.sort(), ['a.json', 'c.json']);
  assert.deepEqual(await readdir(join(dir, 'objects', 'core', 'Namespace', '_cluster')), ['x.json']);
});

test('open removes temp files, refuses corrupt files by name, and refuses a second owner', async (t) => {
  const dir = await tempDir(t);
  let store = await openFileStore(dir);
  await store.create(svc('a'));
  // A second open while the first is live is refused.
  await rejectsWith(openFileStore(dir), 'STORE_LOCKED');
  await store.close();
  const nsDir = join(dir, 'objects', 'core', 'Service', 'default');
  await writeFile(join(nsDir, '.tmp-deadbeef'), '{"half":');
  await writeFile(join(dir, '.tmp-cafe'), '12');
  store = await openFileStore(dir);
  assert.deepEqual((await readdir(nsDir)).sort(), ['a.json']);
  assert.ok(!(await readdir(dir)).includes('.tmp-cafe'));
  await store.close();
  // A corrupt object file (impossible through the store) is a startup error naming the file.
  await writeFile(join(nsDir, 'b.json'), '{"apiVersion":"v1","kind":"Serv');
  await assert.rejects(openFileStore(dir), (err: unknown) => {
    assert.ok(err instanceof StoreError && err.code === 'STORE_INVALID');
    assert.match(err.message, /corrupt object file .*objects\/core\/Service\/default\/b\.json: not valid JSON/);
    return true;
  });
  await writeFile(join(nsDir, 'b.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'other', namespace: 'default', resourceVersion: '1' } }));
  await assert.rejects(openFileStore(dir), /b\.json: metadata\.name 'other' does not match the file name/);
  await rm(join(nsDir, 'b.json'));
  await mkdir(join(dir, 'objects', 'core', 'Service', 'default', 'sub'));
  await assert.rejects(openFileStore(dir), /unexpected entry .*sub/);
  await rm(join(nsDir, 'sub'), { recursive: true });
  // The failed opens released the lock.
  store = await openFileStore(dir);
  t.after(() => store.close());
  assert.equal(store.list(SVC).items.length, 1);
});

test('concurrent writes are grouped, all acknowledged, all durable', async (t) => {
  const dir = await tempDir(t);
  let store = await openFileStore(dir);
  const results = await Promise.all(Array.from({ length: 300 }, (_, i) => store.create(svc(`s${i}`))));
  const rvs = results.map((r) => Number(r.metadata.resourceVersion));
  assert.deepEqual(rvs, Array.from({ length: 300 }, (_, i) => i + 1), 'versions follow call order');
  // Same key twice in one batch: the second sees the first.
  const [u1, u2] = await Promise.all([store.update({ ...results[0]!, spec: { n: 1 } }), store.update({ ...results[0]!, spec: { n: 2 } }).catch((e: unknown) => e)]);
  assert.equal((u1 as KubeObject).metadata.resourceVersion, '301');
  assert.ok(u2 instanceof StoreError && u2.code === 'STORE_CONFLICT', 'the second update used a stale version');
  const [, d] = await Promise.all([store.create(svc('tmp')), store.delete(key('tmp'))]);
  assert.equal(d.metadata.resourceVersion, '303');
  await store.close();
  store = await openFileStore(dir);
  t.after(() => store.close());
  assert.equal(store.list(SVC).items.length, 300);
  assert.equal(store.resourceVersion(), '303');
  assert.deepEqual(store.get(key('s0'))?.spec, { n: 1 });
});

test('watch replays from a version, then streams live, without gaps or duplicates under concurrent writes', async (t) => {
  const store = await open(t, await tempDir(t));
  const writes: Array<Promise<KubeObject>> = [];
  const watchers: Array<{ from: number; c: ReturnType<typeof collector> }> = [];
  // Start watchers at many points while 400 writes are in flight, some from the current version, some from older ones.
  for (let i = 0; i < 400; i++) {
    writes.push(store.create(svc(`w${i}`)));
    if (i % 50 === 0) {
      await tick();
      const c = collector();
      const from = Math.max(0, Number(store.resourceVersion()) - (i % 100 === 0 ? 7 : 0));
      store.watch(SVC, c.onEvent, String(from));
      watchers.push({ from, c });
    }
  }
  await Promise.all(writes);
  for (const { from, c } of watchers) {
    await c.until(400 - from);
    const rvs = c.events.map((e) => Number(e.object.metadata.resourceVersion));
    assert.deepEqual(rvs, Array.from({ length: 400 - from }, (_, i) => from + 1 + i), `watcher from ${from}`);
    assert.ok(c.events.every((e) => e.type === 'ADDED'));
  }
  // Without a version: live only.
  const live = collector();
  store.watch(SVC, live.onEvent);
  await store.update(svc('w0'));
  await store.delete(key('w1'));
  await live.until(2);
  assert.deepEqual(live.events.map((e) => [e.type, e.object.metadata.name, e.object.metadata.resourceVersion]), [
    ['MODIFIED', 'w0', '401'],
    ['DELETED', 'w1', '402'],
  ]);
});

test('watch filters by namespace and label selector, turning moves in and out of the selection into ADDED/DELETED', async (t) => {
  const store = await open(t, await tempDir(t));
  const sel = parseLabelSelector('app=web');
  assert.ok(sel.ok);
  const c = collector();
  store.watch({ ...SVC, namespace: 'prod', labelSelector: sel.requirements }, c.onEvent);
  const other = collector();
  store.watch({ group: '', kind: 'Namespace' }, other.onEvent);
  const a = await store.create(svc('a', 'prod'));
  await store.create(svc('b', 'dev', { metadata: { name: 'b', namespace: 'dev', labels: { app: 'web' } } }));
  const a2 = await store.update({ ...a, metadata: { ...a.metadata, labels: { app: 'web' } } });
  const a3 = await store.update({ ...a2, spec: { x: 1 } });
  const a4 = await store.update({ ...a3, metadata: { ...a3.metadata, labels: { app: 'db' } } });
  await store.update({ ...a4, spec: { x: 2 } });
  const b = await store.create(svc('c', 'prod', { metadata: { name: 'c', namespace: 'prod', labels: { app: 'web' } } }));
  await store.delete(key('c', 'prod'), { resourceVersion: b.metadata.resourceVersion! });
  await store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } });
  await c.until(5);
  await other.until(1);
  await tick();
  assert.deepEqual(c.events.map((e) => `${e.type} ${e.object.metadata.name}@${e.object.metadata.resourceVersion}`), [
    'ADDED a@3',
    'MODIFIED a@4',
    'DELETED a@5',
    'ADDED c@7',
    'DELETED c@8',
  ]);
  assert.deepEqual(other.events.map((e) => e.object.metadata.name), ['prod']);
});

test('watch versions: too old is STORE_GONE, current is fine, garbage and future are invalid, restart forgets', async (t) => {
  const dir = await tempDir(t);
  let store = await openFileStore(dir, { historyLimit: 5 });
  for (let i = 0; i < 10; i++) await store.create(svc(`s${i}`));
  assert.throws(() => store.watch(SVC, () => undefined, '4'), (err: unknown) => err instanceof StoreError && err.code === 'STORE_GONE' && /too old/.test(err.message));
  const c = collector();
  store.watch(SVC, c.onEvent, '5'); // the oldest kept event is 6: resuming from 5 misses nothing
  await c.until(5);
  assert.equal(c.events[0]!.object.metadata.resourceVersion, '6');
  store.watch(SVC, () => undefined, '10').close();
  assert.throws(() => store.watch(SVC, () => undefined, 'abc'), (err: unknown) => err instanceof StoreError && err.code === 'STORE_INVALID');
  assert.throws(() => store.watch(SVC, () => undefined, '11'), (err: unknown) => err instanceof StoreError && err.code === 'STORE_INVALID');
  await store.close();
  store = await openFileStore(dir, { historyLimit: 5 });
  t.after(() => store.close());
  assert.throws(() => store.watch(SVC, () => undefined, '9'), (err: unknown) => err instanceof StoreError && err.code === 'STORE_GONE');
  const after = collector();
  store.watch(SVC, after.onEvent, '10');
  await store.create(svc('new'));
  await after.until(1);
  assert.equal(after.events[0]!.object.metadata.resourceVersion, '11');
});

test('a watcher that falls behind is ended with STORE_GONE; close ends watchers with STORE_CLOSED; close() stops delivery', async (t) => {
  const dir = await tempDir(t);
  const store = await openFileStore(dir, { historyLimit: 100, watchBacklogLimit: 10 });
  let slowErr: StoreError | undefined;
  const slow = collector();
  // Replaying 20 events into a 10-event buffer overflows it at once.
  await Promise.all(Array.from({ length: 20 }, (_, i) => store.create(svc(`s${i}`))));
  store.watch(SVC, slow.onEvent, '0', { onClose: (err) => (slowErr = err) });
  assert.equal(slowErr?.code, 'STORE_GONE');
  assert.match(slowErr!.message, /fell behind/);
  await tick();
  assert.equal(slow.events.length, 0);
  const stopped = collector();
  const w = store.watch(SVC, stopped.onEvent);
  w.close();
  w.close();
  let closedErr: StoreError | undefined;
  store.watch(SVC, () => undefined, undefined, { onClose: (err) => (closedErr = err) });
  await store.create(svc('x'));
  await tick();
  assert.equal(stopped.events.length, 0);
  await store.close();
  assert.equal(closedErr?.code, 'STORE_CLOSED');
});
