// Feeds the ambient index from a config source (the file store, or Kubernetes informers: list, then watch from that
// version; resync on STORE_GONE) in batches, and writes the conditions the index wants back with `updateStatus` (other conditions are kept; a write is made
// only when something differs; conflicts are retried on the fresh object).
import type { Condition, KubeObject } from '../../api/meta.js';
import { kindByName } from '../../api/registry.js';
import { describeError, isCausedBy } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { StoreError, type ConfigSource, type Watch } from '../store/store.js';
import { INDEXED_KINDS, type AmbientIndex, type IndexChange, type IndexEvent, type StatusUpdate } from './ambient-index.js';

interface IndexSyncOptions {
  source: ConfigSource;
  index: AmbientIndex;
  log: Logger;
  /** Called after every applied batch that changed served resources. */
  onChanges: (changes: IndexChange[]) => void;
  /** Write `istio.io/WaypointBound`, `ZtunnelAccepted`, `WaypointAccepted` conditions back (default true). */
  writeStatus?: boolean;
  /** Clock for lastTransitionTime (tests). */
  now?: () => Date;
}

export interface IndexSync {
  /** Resolves when all queued status writes have finished (tests). */
  settled(): Promise<void>;
  close(): void;
}

const MAX_STATUS_ATTEMPTS = 4;

function filterFor(kind: string) {
  const info = kindByName(kind);
  return { group: info?.group ?? '', kind };
}

/** Replaces or removes condition `type`; undefined when nothing would change. */
function mergeCondition(obj: KubeObject, u: StatusUpdate, now: Date): Condition[] | undefined {
  const current = obj.status?.conditions ?? [];
  const existing = current.find((c) => c.type === u.type);
  if (!u.condition) return existing ? current.filter((c) => c.type !== u.type) : undefined;
  const generation = obj.metadata.generation;
  if (existing && existing.status === u.condition.status && existing.reason === u.condition.reason && existing.message === u.condition.message && existing.observedGeneration === generation) {
    return undefined;
  }
  const next: Condition = {
    type: u.type,
    status: u.condition.status,
    reason: u.condition.reason,
    message: u.condition.message,
    lastTransitionTime: existing && existing.status === u.condition.status && existing.lastTransitionTime ? existing.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  if (generation !== undefined) next.observedGeneration = generation;
  return existing ? current.map((c) => (c.type === u.type ? next : c)) : [...current, next];
}

/** Starts the sync; the initial state is applied (and `onChanges` called) before this returns. */
export function syncIndexWithSource(opts: IndexSyncOptions): IndexSync {
  const { source, index, log } = opts;
  const now = opts.now ?? (() => new Date());
  const watches = new Map<string, Watch>();
  let closed = false;
  let queue: IndexEvent[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    if (closed || !queue.length) return;
    const batch = queue;
    queue = [];
    const changes = index.apply(batch);
    if (changes.length) opts.onChanges(changes);
  };
  const enqueue = (ev: IndexEvent) => {
    queue.push(ev);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };

  // ---- status writer: one pending update set per object, written one object at a time ----
  const pending = new Map<string, { kind: string; namespace: string; name: string; updates: Map<string, StatusUpdate> }>();
  let writing: Promise<void> = Promise.resolve();
  const writeOne = async (kind: string, namespace: string, name: string, updates: StatusUpdate[]) => {
    const info = kindByName(kind);
    if (!info) return;
    for (let attempt = 1; attempt <= MAX_STATUS_ATTEMPTS; attempt++) {
      const obj = source.get({ group: info.group, kind, namespace: info.namespaced ? namespace : undefined, name });
      if (!obj) return;
      let conditions: Condition[] | undefined;
      let working = obj;
      for (const u of updates) {
        const merged = mergeCondition(working, u, now());
        if (merged) {
          conditions = merged;
          working = { ...working, status: { ...(working.status ?? {}), conditions: merged } };
        }
      }
      if (!conditions) return;
      try {
        await source.updateStatus({ ...obj, status: { ...(obj.status ?? {}), conditions } } as KubeObject);
        return;
      } catch (err) {
        if (isCausedBy(err, StoreError) && (err as StoreError).code === 'STORE_CONFLICT' && attempt < MAX_STATUS_ATTEMPTS) continue;
        if (isCausedBy(err, StoreError) && ['STORE_NOT_FOUND', 'STORE_CLOSED'].includes((err as StoreError).code)) return;
        log.warn({ object: `${kind}/${namespace}/${name}`, err: describeError(err) }, 'cannot write status condition');
        return;
      }
    }
  };
  if (opts.writeStatus !== false) {
    index.onStatus((updates) => {
      for (const u of updates) {
        const key = `${u.kind}/${u.namespace}/${u.name}`;
        let p = pending.get(key);
        if (!p) pending.set(key, (p = { kind: u.kind, namespace: u.namespace, name: u.name, updates: new Map() }));
        p.updates.set(u.type, u);
      }
      writing = writing.then(async () => {
        for (const [key, p] of [...pending]) {
          pending.delete(key);
          if (closed) return;
          await writeOne(p.kind, p.namespace, p.name, [...p.updates.values()]);
        }
      });
    });
  }

  // ---- list + watch ----
  const startKind = (kind: string, initial: boolean) => {
    const filter = filterFor(kind);
    const listed = source.list(filter);
    if (initial) for (const object of listed.items) queue.push({ type: 'ADDED', object });
    else {
      // Resync: everything listed is (re)applied; whatever the index holds that was not listed is gone.
      const seen = new Set(listed.items.map((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`));
      for (const object of listed.items) enqueue({ type: 'MODIFIED', object });
      for (const object of index.objectsOf(kind)) {
        if (!seen.has(`${object.metadata.namespace ?? ''}/${object.metadata.name}`)) enqueue({ type: 'DELETED', object });
      }
    }
    const w = source.watch(filter, (ev) => enqueue({ type: ev.type, object: ev.object }), listed.resourceVersion, {
      onClose: (err) => {
        if (closed || err.code !== 'STORE_GONE') return;
        log.warn({ kind }, 'index watch fell behind; resyncing from a fresh list');
        startKind(kind, false);
      },
    });
    watches.set(kind, w);
  };
  for (const kind of INDEXED_KINDS) startKind(kind, true);
  const first = queue;
  queue = [];
  const changes = index.apply(first);
  if (changes.length) opts.onChanges(changes);

  return {
    async settled() {
      await new Promise((r) => setImmediate(r));
      flush();
      let last: Promise<void>;
      do {
        last = writing;
        await last;
      } while (last !== writing);
    },
    close() {
      closed = true;
      for (const w of watches.values()) w.close();
      watches.clear();
    },
  };
}
