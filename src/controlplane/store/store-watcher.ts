// One watch on the store: filters committed changes and delivers them asynchronously through a bounded buffer.
import type { Logger } from '../../lib/log.js';
import { describeError } from '../../lib/errors.js';
import { selectorMatches } from '../../api/labels.js';
import type { EventHistory, HistoryEntry } from './event-history.js';
import { StoreError, type ListFilter, type Watch, type WatchEvent, type WatchOptions } from './store.js';

/**
 * The event a watcher with `filter` sees for `entry`, or undefined. With a label selector, an object whose labels
 * move into the selection appears as ADDED and one that moves out as DELETED (as Kubernetes does).
 */
function eventForFilter(entry: HistoryEntry, filter: ListFilter): WatchEvent | undefined {
  const k = entry.key;
  if (k.kind !== filter.kind || k.group !== filter.group) return undefined;
  if (filter.namespace !== undefined && filter.namespace !== '' && k.namespace !== filter.namespace) return undefined;
  const sel = filter.labelSelector;
  if (!sel || sel.length === 0) return entry.event;
  const ev = entry.event;
  const nowMatches = selectorMatches(sel, ev.object.metadata.labels);
  if (ev.type !== 'MODIFIED') return nowMatches ? ev : undefined;
  const before = selectorMatches(sel, entry.prevLabels);
  if (before && nowMatches) return ev;
  if (nowMatches) return { type: 'ADDED', object: ev.object };
  if (before) return { type: 'DELETED', object: ev.object };
  return undefined;
}

/**
 * Buffers events for one consumer and hands them over on a later turn of the event loop, so the writer that
 * committed a change never runs consumer code. When more than `backlogLimit` events wait, the watch is ended with
 * `STORE_GONE` and the consumer resumes from the last version it saw.
 */
export class StoreWatcher {
  #queue: WatchEvent[] = [];
  #scheduled = false;
  #closed = false;

  readonly #onEvent: (ev: WatchEvent) => void;
  readonly #backlogLimit: number;
  readonly #log: Logger;
  readonly #onClose: ((err: StoreError) => void) | undefined;

  constructor(
    readonly filter: ListFilter,
    onEvent: (ev: WatchEvent) => void,
    backlogLimit: number,
    log: Logger,
    onClose?: (err: StoreError) => void,
  ) {
    this.#onEvent = onEvent;
    this.#backlogLimit = backlogLimit;
    this.#log = log;
    this.#onClose = onClose;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Queues the entry if it passes the filter. */
  offer(entry: HistoryEntry): void {
    if (this.#closed) return;
    const ev = eventForFilter(entry, this.filter);
    if (!ev) return;
    this.#queue.push(ev);
    if (this.#queue.length > this.#backlogLimit) {
      this.fail(new StoreError('STORE_GONE', `watch fell behind by more than ${this.#backlogLimit} events; resume from the last resourceVersion received`));
      return;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  /** Stops delivery without calling onClose (the consumer asked). */
  close(): void {
    this.#closed = true;
    this.#queue = [];
  }

  /** Ends the watch on the store's initiative and tells the consumer why. */
  fail(err: StoreError): void {
    if (this.#closed) return;
    this.close();
    try {
      this.#onClose?.(err);
    } catch (cbErr) {
      this.#log.error({ error: describeError(cbErr) }, 'watch close callback threw');
    }
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    for (const ev of batch) {
      if (this.#closed) return;
      try {
        this.#onEvent(ev);
      } catch (err) {
        this.#log.error({ error: describeError(err), kind: ev.object.kind, name: ev.object.metadata.name }, 'watch callback threw; event skipped for this watcher');
      }
    }
  }
}

/**
 * Starts a watcher on a store's `history` and live `watchers` set: replays every change after `from`, then live
 * ones. Replay and registration happen in one synchronous step, so no change can slip in between: neither a gap nor
 * a duplicate. The caller has checked `from` against the history.
 */
export function openStoreWatch(
  store: { history: EventHistory; watchers: Set<StoreWatcher>; backlogLimit: number; log: Logger },
  filter: ListFilter, onEvent: (ev: WatchEvent) => void, from: number, opts: WatchOptions,
): Watch {
  const watcher = new StoreWatcher(filter, onEvent, store.backlogLimit, store.log, (err) => {
    store.watchers.delete(watcher);
    opts.onClose?.(err);
  });
  for (const entry of store.history.since(from)) watcher.offer(entry);
  if (!watcher.isClosed) store.watchers.add(watcher);
  return {
    close: () => {
      watcher.close();
      store.watchers.delete(watcher);
    },
  };
}
