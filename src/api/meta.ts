// Kubernetes-shaped object envelope shared by every resource kind: type meta, object meta, status conditions.

interface ObjectMeta {
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

// C0 and C1 control characters and the Unicode line/paragraph separators: never echoed raw into a message or terminal.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/**
 * Longest user string echoed whole in a message (above any valid name or label key, 317 characters); longer ones are
 * cut and their length reported, so a hostile megabyte-long key does not come back in every error line.
 */
const MAX_ECHO_CHARS = 512;

/**
 * A user-supplied string made safe to echo in a message: as written when it is short and printable, else
 * JSON-quoted (control characters escaped) and cut after 512 characters.
 */
export function printable(s: string): string {
  if (s.length <= MAX_ECHO_CHARS && !UNPRINTABLE.test(s)) return s;
  const cut = s.length > MAX_ECHO_CHARS ? `${JSON.stringify(s.slice(0, MAX_ECHO_CHARS))}… (${s.length} characters)` : JSON.stringify(s);
  // JSON.stringify leaves U+007F–U+009F and U+2028/9 as they are.
  return cut.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A user string quoted for a message: `'web'` as written, or JSON-quoted (escaped, cut) when it needs to be. */
export function quoted(s: string): string {
  const p = printable(s);
  return p === s ? `'${s}'` : p;
}

/** `Kind/namespace/name` for namespaced objects, `Kind/name` for cluster-scoped ones: the prefix of every message. */
export function objectRef(obj: { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } }): string {
  const kind = typeof obj.kind === 'string' && obj.kind ? printable(obj.kind) : '<unknown kind>';
  const name = typeof obj.metadata?.name === 'string' && obj.metadata.name ? printable(obj.metadata.name) : '<no name>';
  const ns = obj.metadata?.namespace;
  return typeof ns === 'string' && ns ? `${kind}/${printable(ns)}/${name}` : `${kind}/${name}`;
}
