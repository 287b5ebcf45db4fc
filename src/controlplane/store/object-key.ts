// Object identity in the file store: the key of an object, its string form and its file path on disk.
import { join } from 'node:path';
import { splitApiVersion, type KubeObject } from '../../api/meta.js';
import { StoreError, type ObjectKey } from './store.js';

/** Directory name used for the core group (whose group name is ''). */
export const CORE_GROUP_DIR = 'core';
/** Directory name used in place of a namespace for cluster-scoped objects (never a valid namespace: has '_'). */
export const CLUSTER_SCOPE_DIR = '_cluster';

// A path segment we are willing to put on disk: no separators, no leading dot (temp files start with '.'),
// nothing that could climb out of the data dir. Stricter checks (DNS-1123 names) belong to validation at the edge.
const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** Why `value` cannot be used as part of a file path, or undefined when it can. */
function unsafeSegment(what: string, value: string): string | undefined {
  return SAFE_SEGMENT.test(value) ? undefined : `${what} '${value}' cannot be stored (letters, digits, '.', '_', '-' only, starting with a letter or digit)`;
}

/** The key of an object as given by a caller; fails with `STORE_INVALID` when the object cannot be keyed safely. */
export function keyOfObject(obj: KubeObject): ObjectKey {
  if (typeof obj !== 'object' || obj === null) throw new StoreError('STORE_INVALID', 'object is not a mapping');
  if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || typeof obj.metadata !== 'object' || obj.metadata === null) {
    throw new StoreError('STORE_INVALID', 'object needs apiVersion, kind and metadata');
  }
  const { group } = splitApiVersion(obj.apiVersion);
  const ns = obj.metadata.namespace;
  const key: ObjectKey = { group, kind: obj.kind, name: String(obj.metadata.name ?? '') };
  if (ns !== undefined && ns !== '') key.namespace = String(ns);
  checkKey(key);
  return key;
}

/** Fails with `STORE_INVALID` when any part of the key is unsafe as a path segment. */
export function checkKey(key: ObjectKey): void {
  const problem =
    (key.group === '' ? undefined : unsafeSegment('group', key.group)) ??
    unsafeSegment('kind', key.kind) ??
    (key.namespace === undefined ? undefined : unsafeSegment('namespace', key.namespace)) ??
    unsafeSegment('name', key.name);
  if (problem) throw new StoreError('STORE_INVALID', `${refOfKey(key)}: ${problem}`);
}

/** `Kind/namespace/name` or `Kind/name`, the prefix of every message about an object. */
export function refOfKey(key: ObjectKey): string {
  return key.namespace ? `${key.kind}/${key.namespace}/${key.name}` : `${key.kind}/${key.name}`;
}

/** The directory holding objects of one kind in one namespace (or the cluster scope). */
export function dirOfKey(objectsDir: string, key: Omit<ObjectKey, 'name'>): string {
  return join(objectsDir, key.group || CORE_GROUP_DIR, key.kind, key.namespace ?? CLUSTER_SCOPE_DIR);
}

/** The file holding one object. */
export function fileOfKey(objectsDir: string, key: ObjectKey): string {
  return join(dirOfKey(objectsDir, key), `${key.name}.json`);
}
