// The watch history: a ring of the most recent committed changes, bounded by count and by bytes, replayed to
// watchers that resume.
import type { ObjectKey, WatchEvent } from './store.js';

/** One committed change as watchers see it. */
export interface HistoryEntry {
  /** The change's resourceVersion (numeric form of `event.object.metadata.resourceVersion`). */
  rv: number;
  key: ObjectKey;
  event: WatchEvent;
  /** For MODIFIED: the labels before the change (label-selector watchers turn moves in/out into ADDED/DELETED). */
  prevLabels?: Readonly<Record<string, string>> | undefined;
  /** The object's size as JSON: what the entry is charged against the history's byte budget. */
  bytes: number;
}

/**
 * Keeps the last `limit` entries, fewer when their objects together exceed `maxBytes` (each entry holds its own copy
 * of an object version, so a count alone lets a few large objects pin hundreds of MiB). The newest entry is always
 * kept. Invariant: every change with rv > `completeAfter` is in the ring, so a watcher may resume from any version
 * >= `completeAfter`; older versions are gone (the watcher gets 410 Gone and lists again).
 */
export class EventHistory {
  readonly #ring: Array<HistoryEntry | undefined>;
  #head = 0; // index of the oldest entry
  #size = 0;
  #start: number;
  #bytes = 0;

  /** `startRv`: the store's version when the history began (a restart forgets everything before it). */
  constructor(
    readonly limit: number,
    startRv: number,
    readonly maxBytes = Infinity,
  ) {
    this.#ring = new Array<HistoryEntry | undefined>(Math.max(0, limit));
    this.#start = startRv;
  }

  /** The oldest version a watcher can resume from. */
  get completeAfter(): number {
    return this.#start;
  }

  /** Entries kept now. */
  get length(): number {
    return this.#size;
  }

  /** Sum of the kept entries' `bytes`. */
  get retainedBytes(): number {
    return this.#bytes;
  }

  /** Appends an entry; its rv must exceed every earlier one. Evicts the oldest entries while over count or bytes. */
  push(entry: HistoryEntry): void {
    if (this.limit === 0) {
      this.#start = entry.rv;
      return;
    }
    if (this.#size === this.limit) this.#evictOldest();
    this.#ring[(this.#head + this.#size) % this.limit] = entry;
    this.#size++;
    this.#bytes += entry.bytes;
    while (this.#bytes > this.maxBytes && this.#size > 1) this.#evictOldest();
  }

  #evictOldest(): void {
    const oldest = this.#ring[this.#head]!;
    this.#start = oldest.rv;
    this.#bytes -= oldest.bytes;
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.limit;
    this.#size--;
  }

  /** Entries with rv > `fromRv`, oldest first. The caller checks `fromRv >= completeAfter` first. */
  since(fromRv: number): HistoryEntry[] {
    // Binary search for the first entry with rv > fromRv.
    let lo = 0;
    let hi = this.#size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#at(mid).rv <= fromRv) lo = mid + 1;
      else hi = mid;
    }
    const out: HistoryEntry[] = [];
    for (let i = lo; i < this.#size; i++) out.push(this.#at(i));
    return out;
  }

  #at(i: number): HistoryEntry {
    return this.#ring[(this.#head + i) % this.limit]!;
  }
}
