// REST paths in Kubernetes' shape for a kind, namespace and name (`/api/v1/namespaces/demo/pods/web`).
import type { KindInfo } from './registry.js';

/** What a path needs to know about a kind (a registry `KindInfo` satisfies it). */
export type ResourceType = Pick<KindInfo, 'group' | 'versions' | 'plural' | 'namespaced'>;

interface PathTarget {
  /** Namespace of the object or collection; ignored for cluster-scoped kinds; absent = all namespaces. */
  namespace?: string;
  name?: string;
  /** Appended after the name (`status`). */
  subresource?: string;
  /** Version to address; default the kind's preferred (first) version. */
  version?: string;
}

/**
 * The path of an object (`name` set) or a collection. A namespaced kind without namespace gives the
 * all-namespaces collection (`/api/v1/pods`).
 */
export function resourcePath(type: ResourceType, target: PathTarget = {}): string {
  const version = target.version ?? type.versions[0];
  const root = type.group ? `/apis/${type.group}/${version}` : `/api/${version}`;
  const ns = type.namespaced && target.namespace ? `/namespaces/${encodeURIComponent(target.namespace)}` : '';
  let path = `${root}${ns}/${type.plural}`;
  if (target.name !== undefined) path += `/${encodeURIComponent(target.name)}`;
  if (target.subresource) path += `/${target.subresource}`;
  return path;
}

/** The version part of an `apiVersion` if the kind serves it, so a path can use the object's own version. */
export function versionOf(type: ResourceType, apiVersion: unknown): string | undefined {
  if (typeof apiVersion !== 'string') return undefined;
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  return group === type.group && type.versions.includes(version) ? version : undefined;
}
