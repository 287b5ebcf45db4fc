// REST paths in Kubernetes' shape: parsing a request path into kind, version, namespace and name, and building one.
import { kindByPath, type KindInfo } from '../../api/registry.js';
import { resourcePath } from '../../api/resource-path.js';

/** A parsed resource path. `name` absent: the collection. `namespace` absent on a namespaced kind: all namespaces. */
export interface ResourcePath {
  kind: KindInfo;
  /** The version named in the path (any version the kind accepts). */
  version: string;
  /** `group/version`, or the bare version for the core group: how objects are served on this path. */
  apiVersion: string;
  namespace?: string;
  name?: string;
  subresource?: 'status';
}

type ResourcePathParse = { ok: true; path: ResourcePath } | { ok: false; error: string };

/**
 * Parses `/api/v1/[namespaces/{ns}/]{plural}[/{name}[/status]]` and
 * `/apis/{group}/{version}/[namespaces/{ns}/]{plural}[/{name}[/status]]`.
 * Returns undefined for paths outside `/api` and `/apis`, and an error (a 404 for the caller) for unknown kinds,
 * versions or shapes.
 */
export function parseResourcePath(pathname: string): ResourcePathParse | undefined {
  const raw = pathname.split('/');
  if (raw[0] !== '') return undefined;
  raw.shift();
  if (raw.length > 1 && raw[raw.length - 1] === '') raw.pop(); // one trailing slash is tolerated
  let segs: string[];
  try {
    segs = raw.map((s) => decodeURIComponent(s));
  } catch {
    return { ok: false, error: `malformed path '${pathname}' (bad percent-encoding)` };
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === 'api') {
    group = '';
    version = segs[1] ?? '';
    rest = segs.slice(2);
  } else if (segs[0] === 'apis') {
    group = segs[1] ?? '';
    version = segs[2] ?? '';
    rest = segs.slice(3);
    if (!group) return { ok: false, error: `path '${pathname}' names no API group` };
  } else {
    return undefined;
  }
  if (!version) return { ok: false, error: `path '${pathname}' names no API version` };
  if (rest.length === 0) return { ok: false, error: `path '${pathname}' names no resource (API discovery is not served)` };
  if (rest.some((s) => s === '')) return { ok: false, error: `path '${pathname}' has an empty segment` };
  let namespace: string | undefined;
  // `/api/v1/namespaces/{name}/status` is the Namespace status, not a kind called "status" in namespace {name}.
  const namespaceStatus = group === '' && rest.length === 3 && rest[0] === 'namespaces' && rest[2] === 'status';
  if (rest[0] === 'namespaces' && rest.length >= 3 && !namespaceStatus) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length > 3) return { ok: false, error: `path '${pathname}' has too many segments` };
  const [plural, name, sub] = rest as [string, string | undefined, string | undefined];
  const kind = kindByPath(group, plural);
  const gv = group ? `${group}/${version}` : version;
  if (!kind) return { ok: false, error: `the server does not serve '${plural}' in ${group ? `group ${group}` : 'the core group'}` };
  if (!kind.versions.includes(version)) {
    return { ok: false, error: `${kind.kind} is not served as ${gv} (served versions: ${kind.versions.join(', ')})` };
  }
  if (sub !== undefined && sub !== 'status') return { ok: false, error: `${kind.kind} has no subresource '${sub}' (only 'status')` };
  if (namespace !== undefined && !kind.namespaced) return { ok: false, error: `${kind.kind} is cluster-scoped: use ${resourcePath(kind, { version })}` };
  if (name !== undefined && kind.namespaced && namespace === undefined) {
    return { ok: false, error: `${kind.kind} is namespaced: use ${resourcePath(kind, { version }).replace(/\/[^/]+$/, '')}/namespaces/{namespace}/${kind.plural}/${name}` };
  }
  const path: ResourcePath = { kind, version, apiVersion: gv };
  if (namespace !== undefined) path.namespace = namespace;
  if (name !== undefined) path.name = name;
  if (sub !== undefined) path.subresource = sub;
  return { ok: true, path };
}

// Building paths is shared with the client: one implementation in the resource model.
export { resourcePath };
