// The config store contract: versioned, watchable objects. The embedded file store implements it; the narrow
// ConfigSource part (get, list, watch, write status) is all the ambient index, the CA and the node-token registry
// use, so a Kubernetes-API informer set can stand in for the file store there.
import type { KubeObject } from '../../api/meta.js';
import type { LabelRequirement } from '../../api/labels.js';
import { MeshError } from '../../lib/errors.js';

/** Identifies one object. `group` is '' for the core group; `namespace` is absent for cluster-scoped kinds. */
export interface ObjectKey {
  group: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** Which objects a list or watch covers. Omitted `namespace` means all namespaces. */
export interface ListFilter {
  group: string;
  kind: string;
  namespace?: string;
  /** Parsed label selector; objects must match every requirement. */
  labelSelector?: LabelRequirement[];
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent {
  type: WatchEventType;
  /** The object after the change (for DELETED: the last state, with the deletion's resourceVersion). */
  object: KubeObject;
}

export interface Watch {
  /** Stops delivery; idempotent. */
  close(): void;
}

/** Optional extras for `Store.watch`. */
export interface WatchOptions {
  /**
   * Called once when the store ends the watch on its own: the store closed (`STORE_CLOSED`), or the watcher fell
   * so far behind that its buffer overflowed (`STORE_GONE`; resume from the last resourceVersion seen). Not called
   * after `Watch.close()`.
   */
  onClose?: (err: StoreError) => void;
}

export interface ListResult {
  items: KubeObject[];
  /** The store's resourceVersion at the time of the list: watch from here to miss nothing. */
  resourceVersion: string;
}

/**
 * What the control plane's consumers of config need: read (get, list), follow (watch from a list's version) and
 * report back (write status). The embedded store implements it; a Kubernetes informer set implements it too.
 * Reads are served from memory (synchronous); a source that cannot keep `fromResourceVersion`'s history ends the
 * watch with `STORE_GONE` through `onClose`, and the consumer relists.
 */
export interface ConfigSource {
  /** The current object. Returned objects (here, in `list` and in watch events) are frozen snapshots: clone to modify. */
  get(key: ObjectKey): KubeObject | undefined;
  /** Matching objects sorted by namespace, then name, with the version to watch from. */
  list(filter: ListFilter): ListResult;
  /**
   * Delivers every change after `fromResourceVersion` (default: now) in order, then live changes.
   * Throws `STORE_GONE` ("too old") when the changes since that version are no longer kept.
   * Events are delivered asynchronously (never inside the writer's call) and in resourceVersion order.
   */
  watch(filter: ListFilter, onEvent: (ev: WatchEvent) => void, fromResourceVersion?: string, opts?: WatchOptions): Watch;
  /** Replaces only `status` (no generation bump); if `metadata.resourceVersion` is set it must match (`STORE_CONFLICT`). */
  updateStatus(obj: KubeObject): Promise<KubeObject>;
}

export interface Store extends ConfigSource {
  /** Stores a new object; sets uid, resourceVersion, generation=1, creationTimestamp. Fails with `STORE_ALREADY_EXISTS`. */
  create(obj: KubeObject): Promise<KubeObject>;
  /**
   * Replaces an object. If `obj.metadata.resourceVersion` is set it must equal the stored one (`STORE_CONFLICT`).
   * `generation` is bumped when anything outside metadata and status changed. Fails with `STORE_NOT_FOUND`.
   */
  update(obj: KubeObject): Promise<KubeObject>;
  /** Removes an object, optionally only if its resourceVersion matches. Returns the deleted object. */
  delete(key: ObjectKey, precondition?: { resourceVersion?: string }): Promise<KubeObject>;
  /** The newest resourceVersion handed out. */
  resourceVersion(): string;
  /** Flushes and releases files; later calls fail. */
  close(): Promise<void>;
}

type StoreErrorCode =
  | 'STORE_NOT_FOUND'
  | 'STORE_ALREADY_EXISTS'
  | 'STORE_CONFLICT'
  | 'STORE_GONE'
  | 'STORE_INVALID'
  | 'STORE_CLOSED'
  /** Another live process owns the store directory. */
  | 'STORE_LOCKED';

export class StoreError extends MeshError {
  declare readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
