// The embedded config store: one JSON file per object, written atomically, with an in-memory index and watch history.
//
// Layout under the store directory:
//   objects/<group or "core">/<Kind>/<namespace or "_cluster">/<name>.json   one object each
//   resource-version                                                          high-water mark (decimal)
//   lock                                                                      pid of the owning process
//
// Invariants:
// - An acknowledged write (its promise resolved) is on disk: the object file was written to a temp file, fsynced,
//   renamed over the target, and the directory fsynced, before the promise resolves.
// - resourceVersions strictly increase across restarts: at open the counter resumes from the highest version found
//   in any object file or in `resource-version`. A batch that deletes makes the high-water mark durable *before*
//   any unlink, so removing the object that held the highest version can never lower that maximum.
// - Readers (get, list, watch) only see committed (durable) changes; a write in flight is invisible.
// - Writes are serialized. Concurrent writes are grouped into one batch whose file writes run in parallel and
//   whose directory fsyncs are shared (group commit); every write in a batch is acknowledged after the batch is
//   durable.
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join, dirname } from 'node:path';
import { splitApiVersion, type KubeObject } from '../../api/meta.js';
import { selectorMatches } from '../../api/labels.js';
import { describeError } from '../../lib/errors.js';
import { silentLogger, type Logger } from '../../lib/log.js';
import { StoreError, type ListFilter, type ListResult, type ObjectKey, type Store, type Watch, type WatchEvent, type WatchEventType, type WatchOptions } from './store.js';
import { CLUSTER_SCOPE_DIR, CORE_GROUP_DIR, checkKey, dirOfKey, fileOfKey, keyOfObject, refOfKey } from './object-key.js';
import { deepFreeze, specChanged } from './object-diff.js';
import { isTempFile, replaceFile, syncDir } from '../../lib/durable-file.js';
import { forEachLimit } from './for-each-limit.js';
import { EventHistory, type HistoryEntry } from './event-history.js';
import { openStoreWatch, type StoreWatcher } from './store-watcher.js';
import { lockStoreDir } from './store-lock.js';

interface FileStoreOptions {
  /** Events kept for watchers that resume (default 10,000). */
  historyLimit?: number;
  /** Bytes (objects as JSON) the kept events may hold together, whatever their count (default 32 MiB). */
  historyBytes?: number;
  log?: Logger;
  /** Events a watcher may have waiting before it is ended with STORE_GONE (default historyLimit + 10,000). */
  watchBacklogLimit?: number;
}

const OBJECTS_DIR = 'objects';
const HWM_FILE = 'resource-version';
const DEFAULT_HISTORY_LIMIT = 10_000;
/**
 * 10,000 events of a typical object (a few KiB as JSON) stay well under 32 MiB, so for ordinary objects the count
 * still decides the resume window; large objects shorten it instead of growing memory (issue: 200 patches of a
 * 2.8 MB annotation pinned 700 MiB). At the 1.5 MiB object limit about 20 versions stay resumable.
 */
const DEFAULT_HISTORY_BYTES = 32 * 1024 * 1024;
/** Writes grouped into one commit at most (bounds memory and the temp files in flight). */
const MAX_BATCH = 512;
/** File operations in flight at once (libuv runs them on its thread pool). */
const IO_CONCURRENCY = 32;
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/** The embedded store: the `Store` contract plus what only it has. */
interface FileStoreHandle extends Store {
  /** What the watch history holds now: events, their objects' bytes as JSON, and the oldest resumable version. */
  historyStats(): { events: number; bytes: number; completeAfter: number };
}

/** Opens (creating if needed) the store in `dir`. Fails with a clear error naming any corrupt file. */
export async function openFileStore(dir: string, opts: FileStoreOptions = {}): Promise<FileStoreHandle> {
  const store = new FileStore(dir, opts);
  await store.load();
  return store;
}

type WriteOp =
  | { type: 'create'; obj: KubeObject }
  | { type: 'update'; obj: KubeObject }
  | { type: 'updateStatus'; obj: KubeObject }
  | { type: 'delete'; key: ObjectKey; resourceVersion?: string };

interface PendingWrite {
  op: WriteOp;
  resolve: (obj: KubeObject) => void;
  reject: (err: unknown) => void;
}

/** A prepared change: what the batch will write and then publish. */
interface Change {
  key: ObjectKey;
  ks: string;
  type: WatchEventType;
  /** New state, or for DELETED the last state carrying the deletion's resourceVersion. Frozen. */
  object: KubeObject;
  /** `object` as JSON: written to disk, and its length charged to the watch history. */
  json: string;
  prev: KubeObject | undefined;
  rv: number;
}

function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function parseRv(text: string, what: string): number {
  if (!DECIMAL.test(text)) throw new StoreError('STORE_INVALID', `${what}: resourceVersion '${text}' is not a decimal number`);
  return Number(text);
}

class FileStore implements FileStoreHandle {
  readonly #objectsDir: string;
  readonly #historyLimit: number;
  readonly #historyBytes: number;
  readonly #backlogLimit: number;
  readonly #log: Logger;
  /** Committed objects: `group|kind` → namespace ('' for cluster scope) → name → object. */
  readonly #index = new Map<string, Map<string, Map<string, KubeObject>>>();
  #history!: EventHistory;
  readonly #watchers = new Set<StoreWatcher>();
  /** Highest version handed to a prepared change (may be ahead of committedRv while a batch is in flight). */
  #assignedRv = 0;
  /** Highest version that is durable and visible. */
  #committedRv = 0;
  readonly #knownDirs = new Set<string>();
  #queue: PendingWrite[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;
  /** Set when a write to disk failed: memory and disk may disagree, so the store refuses further writes. */
  #failure: StoreError | undefined;
  #releaseLock: (() => Promise<void>) | undefined;

  readonly #dir: string;

  constructor(dir: string, opts: FileStoreOptions) {
    this.#dir = dir;
    this.#objectsDir = join(dir, OBJECTS_DIR);
    this.#historyLimit = opts.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    this.#historyBytes = opts.historyBytes ?? DEFAULT_HISTORY_BYTES;
    this.#backlogLimit = opts.watchBacklogLimit ?? this.#historyLimit + 10_000;
    this.#log = opts.log ?? silentLogger();
  }

  // --- Opening ---

  async load(): Promise<void> {
    await mkdir(this.#objectsDir, { recursive: true, mode: 0o700 });
    this.#releaseLock = await lockStoreDir(this.#dir);
    try {
      let maxRv = 0;
      const removed = await this.#removeTempFiles(this.#dir);
      const hwmPath = join(this.#dir, HWM_FILE);
      const hwmText = await readFile(hwmPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (hwmText !== undefined) {
        const t = hwmText.trim();
        if (!DECIMAL.test(t)) throw new StoreError('STORE_INVALID', `corrupt store file ${hwmPath}: expected a decimal resourceVersion, found '${t.slice(0, 40)}'`);
        maxRv = Number(t);
      }
      const files = await this.#scanObjectFiles();
      let count = 0;
      await forEachLimit(files, IO_CONCURRENCY, async (f) => {
        if (isTempFile(f.name)) {
          await unlink(f.path);
          removed.add(dirname(f.path));
          return;
        }
        const obj = await this.#readObjectFile(f.path, f.group, f.kind, f.namespace, f.name);
        const rv = Number(obj.metadata.resourceVersion);
        if (rv > maxRv) maxRv = rv;
        this.#indexPut(keyOfObject(obj), deepFreeze(obj));
        count++;
      });
      // Make the removal of crash leftovers durable too (not needed for correctness, keeps later scans quiet).
      for (const d of removed) await syncDir(d);
      this.#assignedRv = this.#committedRv = maxRv;
      this.#history = new EventHistory(this.#historyLimit, maxRv, this.#historyBytes);
      this.#log.info({ dir: this.#dir, objects: count, resourceVersion: maxRv, tempFilesRemoved: removed.size > 0 }, 'store opened');
    } catch (err) {
      await this.#releaseLock();
      throw err;
    }
  }

  async #removeTempFiles(dir: string): Promise<Set<string>> {
    const dirs = new Set<string>();
    for (const name of await readdir(dir)) {
      if (isTempFile(name)) {
        await unlink(join(dir, name));
        dirs.add(dir);
      }
    }
    return dirs;
  }

  /** Every file under objects/, with the key parts its path implies. Unexpected entries are startup errors. */
  async #scanObjectFiles(): Promise<Array<{ path: string; name: string; group: string; kind: string; namespace: string | undefined }>> {
    const out: Array<{ path: string; name: string; group: string; kind: string; namespace: string | undefined }> = [];
    const subdirs = async (d: string): Promise<string[]> => {
      const names: string[] = [];
      for (const e of await readdir(d, { withFileTypes: true })) {
        if (e.isDirectory()) names.push(e.name);
        else if (isTempFile(e.name)) await unlink(join(d, e.name));
        else throw new StoreError('STORE_INVALID', `unexpected file ${join(d, e.name)} in the store (only directories belong at this level)`);
      }
      return names;
    };
    for (const g of await subdirs(this.#objectsDir)) {
      const gDir = join(this.#objectsDir, g);
      for (const kind of await subdirs(gDir)) {
        const kDir = join(gDir, kind);
        for (const ns of await subdirs(kDir)) {
          const nsDir = join(kDir, ns);
          this.#knownDirs.add(nsDir);
          for (const e of await readdir(nsDir, { withFileTypes: true })) {
            const path = join(nsDir, e.name);
            if (!e.isFile()) throw new StoreError('STORE_INVALID', `unexpected entry ${path} in the store (expected <name>.json files)`);
            if (!isTempFile(e.name) && !e.name.endsWith('.json')) {
              throw new StoreError('STORE_INVALID', `unexpected file ${path} in the store (expected <name>.json files)`);
            }
            out.push({
              path,
              name: isTempFile(e.name) ? e.name : e.name.slice(0, -'.json'.length),
              group: g === CORE_GROUP_DIR ? '' : g,
              kind,
              namespace: ns === CLUSTER_SCOPE_DIR ? undefined : ns,
            });
          }
        }
      }
    }
    return out;
  }

  async #readObjectFile(path: string, group: string, kind: string, namespace: string | undefined, name: string): Promise<KubeObject> {
    const corrupt = (why: string): StoreError =>
      new StoreError('STORE_INVALID', `corrupt object file ${path}: ${why}; move it away to start (the store never writes such a file)`);
    let obj: KubeObject;
    try {
      obj = JSON.parse(await readFile(path, 'utf8')) as KubeObject;
    } catch (err) {
      throw corrupt(`not valid JSON (${describeError(err)})`);
    }
    if (typeof obj !== 'object' || obj === null || typeof obj.metadata !== 'object' || obj.metadata === null) throw corrupt('not an object with metadata');
    if (typeof obj.apiVersion !== 'string' || splitApiVersion(obj.apiVersion).group !== group) throw corrupt(`apiVersion '${String(obj.apiVersion)}' does not belong to group '${group}'`);
    if (obj.kind !== kind) throw corrupt(`kind '${String(obj.kind)}' does not match its directory '${kind}'`);
    if (obj.metadata.name !== name) throw corrupt(`metadata.name '${String(obj.metadata.name)}' does not match the file name`);
    const ns = obj.metadata.namespace === '' ? undefined : obj.metadata.namespace;
    if (ns !== namespace) throw corrupt(`metadata.namespace '${String(ns)}' does not match its directory`);
    if (typeof obj.metadata.resourceVersion !== 'string' || !DECIMAL.test(obj.metadata.resourceVersion)) {
      throw corrupt(`metadata.resourceVersion '${String(obj.metadata.resourceVersion)}' is not a decimal number`);
    }
    return obj;
  }

  // --- Reads ---

  get(key: ObjectKey): KubeObject | undefined {
    this.#checkOpen();
    return this.#committed(key);
  }

  #committed(key: ObjectKey): KubeObject | undefined {
    return this.#index.get(`${key.group}|${key.kind}`)?.get(key.namespace || '')?.get(key.name);
  }

  list(filter: ListFilter): ListResult {
    this.#checkOpen();
    const byNs = this.#index.get(`${filter.group}|${filter.kind}`);
    const items: KubeObject[] = [];
    if (byNs) {
      const namespaces = filter.namespace !== undefined && filter.namespace !== '' ? [filter.namespace] : [...byNs.keys()].sort(compareStrings);
      for (const ns of namespaces) {
        const byName = byNs.get(ns);
        if (!byName) continue;
        for (const name of [...byName.keys()].sort(compareStrings)) {
          const obj = byName.get(name)!;
          if (filter.labelSelector && !selectorMatches(filter.labelSelector, obj.metadata.labels)) continue;
          items.push(obj);
        }
      }
    }
    return { items, resourceVersion: String(this.#committedRv) };
  }

  resourceVersion(): string {
    return String(this.#committedRv);
  }

  historyStats(): { events: number; bytes: number; completeAfter: number } {
    return { events: this.#history.length, bytes: this.#history.retainedBytes, completeAfter: this.#history.completeAfter };
  }

  watch(filter: ListFilter, onEvent: (ev: WatchEvent) => void, fromResourceVersion?: string, opts: WatchOptions = {}): Watch {
    this.#checkOpen();
    let from = this.#committedRv;
    if (fromResourceVersion !== undefined && fromResourceVersion !== '') {
      from = parseRv(fromResourceVersion, 'watch');
      if (from > this.#committedRv) {
        throw new StoreError('STORE_INVALID', `watch: resourceVersion ${from} is newer than the store's ${this.#committedRv}`);
      }
      if (from < this.#history.completeAfter) {
        throw new StoreError(
          'STORE_GONE',
          `too old resource version: ${from} (changes are kept after ${this.#history.completeAfter}); list again and watch from the list's resourceVersion`,
        );
      }
    }
    return openStoreWatch({ history: this.#history, watchers: this.#watchers, backlogLimit: this.#backlogLimit, log: this.#log }, filter, onEvent, from, opts);
  }

  // --- Writes ---

  // Objects are copied when the call is made: what the caller does with its object afterwards does not matter.

  create(obj: KubeObject): Promise<KubeObject> {
    return this.#enqueueCopy('create', obj);
  }

  update(obj: KubeObject): Promise<KubeObject> {
    return this.#enqueueCopy('update', obj);
  }

  updateStatus(obj: KubeObject): Promise<KubeObject> {
    return this.#enqueueCopy('updateStatus', obj);
  }

  #enqueueCopy(type: 'create' | 'update' | 'updateStatus', obj: KubeObject): Promise<KubeObject> {
    let copy: KubeObject;
    try {
      copy = structuredClone(obj);
    } catch (err) {
      return Promise.reject(new StoreError('STORE_INVALID', `object is not plain JSON data: ${describeError(err)}`, { cause: err }));
    }
    return this.#enqueue({ type, obj: copy });
  }

  delete(key: ObjectKey, precondition?: { resourceVersion?: string }): Promise<KubeObject> {
    const k: ObjectKey = { group: key.group, kind: key.kind, name: key.name };
    if (key.namespace) k.namespace = key.namespace;
    const op: WriteOp = { type: 'delete', key: k };
    if (precondition?.resourceVersion !== undefined) op.resourceVersion = precondition.resourceVersion;
    return this.#enqueue(op);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Writes accepted before close still complete.
    while (this.#draining) await this.#draining;
    for (const w of [...this.#watchers]) w.fail(new StoreError('STORE_CLOSED', 'the store was closed'));
    this.#watchers.clear();
    await this.#releaseLock?.();
    this.#log.info({ dir: this.#dir, resourceVersion: this.#committedRv }, 'store closed');
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreError('STORE_CLOSED', 'the store is closed');
  }

  #enqueue(op: WriteOp): Promise<KubeObject> {
    if (this.#closed) return Promise.reject(new StoreError('STORE_CLOSED', 'the store is closed'));
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      // Start on a microtask so that writes issued in the same turn share the first batch.
      if (!this.#draining) this.#draining = Promise.resolve().then(() => this.#drain());
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH);
        if (this.#failure) {
          for (const w of batch) w.reject(this.#failure);
          continue;
        }
        await this.#commitBatch(batch);
      }
    } finally {
      this.#draining = undefined;
    }
  }

  async #commitBatch(batch: PendingWrite[]): Promise<void> {
    // Prepare: check every write against the committed state plus the earlier writes of this batch.
    const overlay = new Map<string, KubeObject | null>();
    const accepted: Array<{ w: PendingWrite; change: Change }> = [];
    for (const w of batch) {
      try {
        const change = this.#prepare(w.op, overlay);
        overlay.set(change.ks, change.type === 'DELETED' ? null : change.object);
        accepted.push({ w, change });
      } catch (err) {
        w.reject(err);
      }
    }
    if (accepted.length === 0) return;
    const changes = accepted.map((a) => a.change);
    try {
      await this.#persist(changes, overlay);
    } catch (err) {
      this.#failure = new StoreError('STORE_CLOSED', `the store failed writing to disk (${describeError(err)}); restart the control plane to recover`, { cause: err });
      this.#log.error({ error: describeError(err), dir: this.#dir }, 'store write failed; refusing further writes');
      for (const a of accepted) a.w.reject(this.#failure);
      for (const watcher of [...this.#watchers]) watcher.fail(this.#failure);
      this.#watchers.clear();
      return;
    }
    // Publish: the batch is durable, make it visible in version order.
    for (const c of changes) {
      if (c.type === 'DELETED') this.#indexDelete(c.key);
      else this.#indexPut(c.key, c.object);
      this.#committedRv = c.rv;
      const entry: HistoryEntry = { rv: c.rv, key: c.key, event: { type: c.type, object: c.object }, bytes: Buffer.byteLength(c.json) };
      if (c.type === 'MODIFIED') entry.prevLabels = c.prev?.metadata.labels;
      this.#history.push(entry);
      for (const watcher of this.#watchers) watcher.offer(entry);
    }
    for (const a of accepted) a.w.resolve(a.change.object);
  }

  #lookup(ks: string, key: ObjectKey, overlay: Map<string, KubeObject | null>): KubeObject | undefined {
    const o = overlay.get(ks);
    if (o !== undefined) return o ?? undefined;
    return this.#committed(key);
  }

  #prepare(op: WriteOp, overlay: Map<string, KubeObject | null>): Change {
    const key = op.type === 'delete' ? (checkKey(op.key), op.key) : keyOfObject(op.obj);
    const ks = `${key.group}|${key.kind}|${key.namespace ?? ''}|${key.name}`;
    const ref = refOfKey(key);
    const existing = this.#lookup(ks, key, overlay);
    const checkVersion = (given: unknown): void => {
      if (given !== undefined && given !== '' && given !== existing!.metadata.resourceVersion) {
        throw new StoreError(
          'STORE_CONFLICT',
          `${ref}: the object has been modified (resourceVersion ${String(given)} given, stored is ${existing!.metadata.resourceVersion}); read it again and retry`,
        );
      }
    };
    if (op.type === 'create') {
      if (existing) throw new StoreError('STORE_ALREADY_EXISTS', `${ref} already exists`);
      const obj = op.obj;
      const rv = ++this.#assignedRv;
      obj.metadata.uid = randomUUID();
      obj.metadata.resourceVersion = String(rv);
      obj.metadata.generation = 1;
      obj.metadata.creationTimestamp = nowRfc3339();
      return { key, ks, type: 'ADDED', object: deepFreeze(obj), json: JSON.stringify(obj), prev: undefined, rv };
    }
    if (!existing) throw new StoreError('STORE_NOT_FOUND', `${ref} not found`);
    if (op.type === 'delete') {
      checkVersion(op.resourceVersion);
      const obj = structuredClone(existing);
      const rv = ++this.#assignedRv;
      obj.metadata.resourceVersion = String(rv);
      return { key, ks, type: 'DELETED', object: deepFreeze(obj), json: JSON.stringify(obj), prev: existing, rv };
    }
    checkVersion(op.obj.metadata.resourceVersion);
    let obj: KubeObject;
    if (op.type === 'update') {
      obj = op.obj;
      obj.metadata.generation = (existing.metadata.generation ?? 1) + (specChanged(existing, obj) ? 1 : 0);
    } else {
      obj = structuredClone(existing);
      if (op.obj.status === undefined) delete obj.status;
      else obj.status = op.obj.status;
    }
    const rv = ++this.#assignedRv;
    obj.metadata.uid = existing.metadata.uid;
    obj.metadata.creationTimestamp = existing.metadata.creationTimestamp;
    obj.metadata.generation ??= existing.metadata.generation;
    obj.metadata.resourceVersion = String(rv);
    return { key, ks, type: 'MODIFIED', object: deepFreeze(obj), json: JSON.stringify(obj), prev: existing, rv };
  }

  /**
   * Makes a batch durable. Phase 1 writes every surviving object (and, when the batch deletes, the high-water
   * mark) and fsyncs the directories; phase 2 unlinks deleted objects and fsyncs their directories.
   */
  async #persist(changes: Change[], overlay: Map<string, KubeObject | null>): Promise<void> {
    const writes: Array<{ key: ObjectKey; json: string }> = [];
    const unlinks: ObjectKey[] = [];
    const seen = new Set<string>();
    // The last change per key decides what is on disk after the batch.
    for (let i = changes.length - 1; i >= 0; i--) {
      const c = changes[i]!;
      if (seen.has(c.ks)) continue;
      seen.add(c.ks);
      if (overlay.get(c.ks)) writes.push({ key: c.key, json: c.json });
      else if (this.#committed(c.key)) unlinks.push(c.key);
    }
    const hasDelete = changes.some((c) => c.type === 'DELETED');
    const syncDirs = new Set<string>();
    for (const w of writes) await this.#ensureDir(dirOfKey(this.#objectsDir, w.key), syncDirs);
    await forEachLimit(writes, IO_CONCURRENCY, async (w) => {
      await replaceFile(fileOfKey(this.#objectsDir, w.key), `${w.json}\n`);
    });
    if (hasDelete) {
      await replaceFile(join(this.#dir, HWM_FILE), `${changes[changes.length - 1]!.rv}\n`);
      syncDirs.add(this.#dir);
    }
    for (const w of writes) syncDirs.add(dirOfKey(this.#objectsDir, w.key));
    await forEachLimit([...syncDirs], IO_CONCURRENCY, syncDir);
    if (unlinks.length === 0) return;
    const unlinkDirs = new Set<string>();
    await forEachLimit(unlinks, IO_CONCURRENCY, async (k) => {
      await unlink(fileOfKey(this.#objectsDir, k));
      unlinkDirs.add(dirOfKey(this.#objectsDir, k));
    });
    await forEachLimit([...unlinkDirs], IO_CONCURRENCY, syncDir);
  }

  /** Creates a directory chain; every directory that gained an entry is added to `syncDirs`. */
  async #ensureDir(d: string, syncDirs: Set<string>): Promise<void> {
    if (this.#knownDirs.has(d)) return;
    const first = await mkdir(d, { recursive: true, mode: 0o700 });
    if (first !== undefined) {
      // Each new directory's entry lives in its parent: fsync the parents from the first created one down.
      for (let p = d; p.length >= first.length; p = dirname(p)) syncDirs.add(dirname(p));
    }
    this.#knownDirs.add(d);
  }

  #indexPut(key: ObjectKey, obj: KubeObject): void {
    const gk = `${key.group}|${key.kind}`;
    let byNs = this.#index.get(gk);
    if (!byNs) this.#index.set(gk, (byNs = new Map()));
    const ns = key.namespace ?? '';
    let byName = byNs.get(ns);
    if (!byName) byNs.set(ns, (byName = new Map()));
    byName.set(key.name, obj);
  }

  #indexDelete(key: ObjectKey): void {
    const byNs = this.#index.get(`${key.group}|${key.kind}`);
    const ns = key.namespace ?? '';
    const byName = byNs?.get(ns);
    if (!byName) return;
    byName.delete(key.name);
    if (byName.size === 0) byNs!.delete(ns);
  }
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
