// What `apply` compares and sends: the fields a user owns (everything but server-set metadata and status).
import type { KubeObject } from '../api/meta.js';

/** Metadata fields the server sets; never part of what a user applies. */
const SERVER_OWNED_METADATA: readonly string[] = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'managedFields',
  'selfLink',
];

/**
 * The applied view of an object: a deep copy without server-owned metadata, without `status`, and without
 * `apiVersion` (a kind's versions address the same object; a version change alone is not a change).
 */
export function appliedFields(obj: KubeObject): Record<string, unknown> {
  const copy = structuredClone(obj) as Record<string, unknown>;
  delete copy.status;
  delete copy.apiVersion;
  const meta = copy.metadata;
  if (meta && typeof meta === 'object') {
    for (const f of SERVER_OWNED_METADATA) delete (meta as Record<string, unknown>)[f];
  }
  return copy;
}

/** What apply sends: the manifest without server-owned metadata and status (keeps apiVersion). */
export function manifestToSend(obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  delete copy.status;
  for (const f of SERVER_OWNED_METADATA) delete (copy.metadata as Record<string, unknown>)[f];
  return copy;
}

/** True when applying `manifest` over `live` would change nothing the user owns. */
export function sameAppliedFields(manifest: KubeObject, live: KubeObject): boolean {
  return deepEqual(appliedFields(manifest), appliedFields(live));
}

/** Structural equality of JSON values; key order does not matter, `undefined` members count as absent. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && deepEqual(ao[k], bo[k]));
}
