// Kubernetes-shaped object envelope shared by every resource kind: type meta, object meta, status conditions.

export interface ObjectMeta {
  name: string;
  /** Absent for cluster-scoped kinds; defaulted to `default` for namespaced kinds. */
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Set by the store: a random UUID fixed at creation. */
  uid?: string;
  /** Set by the store: a decimal string, monotonic across restarts. */
  resourceVersion?: string;
  /** Set by the store: bumped when anything but metadata and status changes. */
  generation?: number;
  /** Set by the store: RFC 3339, UTC, second precision. */
  creationTimestamp?: string;
  [field: string]: unknown;
}

/** A status condition as Kubernetes and Istio write them. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

/** Any stored object. `spec` and `status` stay untyped here; each kind's module narrows them. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: { conditions?: Condition[]; [field: string]: unknown };
  [field: string]: unknown;
}

/** Splits `group/version` (or a bare core `version`) into its parts. */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** `Kind/namespace/name` for namespaced objects, `Kind/name` for cluster-scoped ones: the prefix of every message. */
export function objectRef(obj: { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } }): string {
  const kind = typeof obj.kind === 'string' && obj.kind ? obj.kind : '<unknown kind>';
  const name = typeof obj.metadata?.name === 'string' && obj.metadata.name ? obj.metadata.name : '<no name>';
  const ns = obj.metadata?.namespace;
  return typeof ns === 'string' && ns ? `${kind}/${ns}/${name}` : `${kind}/${name}`;
}
