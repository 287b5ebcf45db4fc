// A list-then-watch cache of one resource collection that reconnects on its own (the informer pattern).
//
// Consumers are level-triggered: they read the whole cache in `onChange` and converge, so a missed or merged
// event never matters. The source is structural (the control-plane ApiClient satisfies it) so components that
// may not import the client can still be handed one by the composition root.
import { STREAM_RETRY_BACKOFF, jitteredDelay } from './control-plane-backoff.js';
import type { Logger } from './log.js';

/** What a collection path needs to know about a kind (an api `KindInfo` satisfies it). */
interface CollectionType {
  group: string;
  versions: readonly string[];
  plural: string;
  namespaced: boolean;
}

/** The smallest object shape the cache needs. */
export interface ObjectLike {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface ObjectWatch<T> extends AsyncIterable<{ type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T }> {
  close(): void;
}

/** List and watch a collection (all namespaces when `namespace` is absent). `ApiClient` is one. */
export interface ObjectSource<T extends ObjectLike = ObjectLike> {
  list(type: CollectionType, opts?: { namespace?: string; labelSelector?: string }): Promise<{ metadata: { resourceVersion: string }; items: T[] }>;
  watch(type: CollectionType, opts?: { namespace?: string; labelSelector?: string; resourceVersion?: string }): ObjectWatch<T>;
}

interface InformerOptions {
  log: Logger;
  /** Called after every applied change batch and after each (re)list; never concurrently with itself. */
  onChange: () => void;
  /** First retry delay after a failure (doubles to 2 s, each wait jittered). Default 200 ms. */
  retryMs?: number;
}

/** `namespace/name` (or `name` for cluster-scoped objects). */
function objectKey(obj: ObjectLike): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name ?? ''}` : String(obj.metadata?.name ?? '');
}

/** A live cache of one collection; `synced` turns true after the first successful list. */
export class ObjectInformer<T extends ObjectLike = ObjectLike> {
  readonly items = new Map<string, T>();
  synced = false;
  #stopped = false;
  #current: ObjectWatch<T> | undefined;
  readonly #done: Promise<void>;

  readonly #source: ObjectSource<T>;
  readonly #type: CollectionType;
  readonly #opts: InformerOptions;

  constructor(source: ObjectSource<T>, type: CollectionType, opts: InformerOptions) {
    this.#source = source;
    this.#type = type;
    this.#opts = opts;
    this.#done = this.#run();
  }

  /** Stops watching; resolves once the loop has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#current?.close();
    await this.#done;
  }

  async #run(): Promise<void> {
    const base = this.#opts.retryMs ?? 200;
    let delay = base;
    while (!this.#stopped) {
      try {
        const list = await this.#source.list(this.#type);
        if (this.#stopped) return;
        this.items.clear();
        for (const item of list.items) this.items.set(objectKey(item), item);
        this.synced = true;
        this.#opts.onChange();
        delay = base;
        this.#current = this.#source.watch(this.#type, { resourceVersion: list.metadata.resourceVersion });
        for await (const ev of this.#current) {
          if (this.#stopped) return;
          const key = objectKey(ev.object);
          if (ev.type === 'DELETED') this.items.delete(key);
          else this.items.set(key, ev.object);
          this.#opts.onChange();
        }
        // The server ended the stream (restart, shutdown): list again.
      } catch (err) {
        if (this.#stopped) return;
        this.#opts.log.warn({ err: (err as Error).message, plural: this.#type.plural }, 'watch failed; listing again');
      } finally {
        this.#current?.close();
        this.#current = undefined;
      }
      if (this.#stopped) return;
      // Capped low: after a control-plane outage the node must be back (new pods, revocations) within seconds.
      await new Promise((r) => setTimeout(r, jitteredDelay(delay)));
      delay = Math.min(delay * 2, STREAM_RETRY_BACKOFF.maxMs);
    }
  }
}
