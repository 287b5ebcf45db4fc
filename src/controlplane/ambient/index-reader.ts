// What a translation step may read: objects by kind through a dependency-recording reader, the mesh settings,
// and small accessors for raw spec fields (the api kinds' typed interfaces are narrowed here, never trusted blindly).
import { ROOT_NAMESPACE } from '../../lib/mesh-contract.js';
import type { KubeObject } from '../../api/meta.js';

/** Mesh-wide settings of the index. */
export interface IndexConfig {
  /** Policies here without a selector apply mesh-wide (Istio's root namespace). */
  rootNamespace: string;
  trustDomain: string;
  clusterId: string;
  /** Network name written on workloads and VIPs; '' is the default network. */
  network: string;
  /** Cluster DNS suffix: Service hostnames are `<name>.<ns>.svc.<domainSuffix>`. */
  domainSuffix: string;
}

export const DEFAULT_INDEX_CONFIG: IndexConfig = {
  rootNamespace: ROOT_NAMESPACE,
  trustDomain: 'cluster.local',
  clusterId: 'Kubernetes',
  network: '',
  domainSuffix: 'cluster.local',
};

/**
 * Reads inputs while recording what was read, so the index knows which outputs a changed object affects.
 * Namespaced kinds use their namespace; cluster-scoped kinds use ''.
 */
export interface IndexReader {
  readonly config: IndexConfig;
  get(kind: string, namespace: string, name: string): KubeObject | undefined;
  /**
   * Objects of `kind` in `namespace` (undefined: all namespaces) for which `matches` holds, sorted by namespace
   * then name. The caller is recomputed when an object of that kind there changes and `matches` held for its old
   * or its new state, so `matches` must depend only on the object it is given (and on data the caller also reads).
   */
  list(kind: string, namespace: string | undefined, matches?: (o: KubeObject) => boolean): KubeObject[];
}

export type Json = Record<string, unknown>;

export function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function labelsOf(o: KubeObject | undefined): Record<string, string> {
  return (o?.metadata.labels as Record<string, string> | undefined) ?? {};
}

export function annotationsOf(o: KubeObject | undefined): Record<string, string> {
  return (o?.metadata.annotations as Record<string, string> | undefined) ?? {};
}

export function nsOf(o: KubeObject): string {
  return o.metadata.namespace ?? '';
}

export function specOf(o: KubeObject | undefined): Json {
  return isRecord(o?.spec) ? o.spec : {};
}

export function statusOf(o: KubeObject | undefined): Json {
  return isRecord(o?.status) ? o.status : {};
}

/** A field as a record (or {} when absent or not an object). */
export function rec(o: Json | undefined, key: string): Json {
  const v = o?.[key];
  return isRecord(v) ? v : {};
}

/** A field as an array of records (non-records dropped). */
export function recs(o: Json | undefined, key: string): Json[] {
  const v = o?.[key];
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

/** A field as a string, or undefined. */
export function str(o: Json | undefined, key: string): string | undefined {
  const v = o?.[key];
  return typeof v === 'string' ? v : undefined;
}

/** A field as a number, or undefined. */
export function num(o: Json | undefined, key: string): number | undefined {
  const v = o?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** A field as a list of strings (non-strings dropped). */
export function strs(o: Json | undefined, key: string): string[] {
  const v = o?.[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** A `matchLabels` map as a plain record, or undefined when absent or empty. */
export function matchLabelsOf(selector: unknown): Record<string, string> | undefined {
  if (!isRecord(selector)) return undefined;
  const ml = selector['matchLabels'];
  if (!isRecord(ml)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ml)) if (typeof v === 'string') out[k] = v;
  return Object.keys(out).length ? out : undefined;
}

/** Orders objects the way every output lists them: oldest first (creationTimestamp), then namespace/name. */
export function oldestFirst(a: KubeObject, b: KubeObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${nsOf(a)}/${a.metadata.name}`;
  const kb = `${nsOf(b)}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
