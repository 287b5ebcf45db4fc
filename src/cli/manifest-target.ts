// Where a manifest object lives: its kind, namespace and name, with the namespace defaulted like kubectl does.
import type { KubeObject } from '../api/meta.js';
import { kindByName, type KindInfo } from '../api/registry.js';
import { validateObject } from '../api/validate.js';

type ManifestTarget =
  | { ok: true; kind: KindInfo; namespace: string | undefined; name: string; object: KubeObject }
  | { ok: false; errors: string[] };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Addresses one parsed manifest. A namespaced object without a namespace takes `-n` (else `default`); one whose
 * namespace disagrees with an explicit `-n` is refused (kubectl's rule). An object that cannot be addressed
 * (not a mapping, unknown kind, no name) gets the validation lines the server would have answered with.
 */
export function manifestTarget(raw: unknown, flagNamespace: string | undefined): ManifestTarget {
  const kind = isRecord(raw) && typeof raw.kind === 'string' ? kindByName(raw.kind) : undefined;
  const meta = isRecord(raw) && isRecord(raw.metadata) ? raw.metadata : undefined;
  if (!kind || !meta || typeof meta.name !== 'string' || meta.name === '') {
    const v = validateObject(raw);
    return { ok: false, errors: v.ok ? ['<document>: cannot tell which object this is (kind and metadata.name are required)'] : v.errors };
  }
  const object = structuredClone(raw) as unknown as KubeObject;
  let namespace: string | undefined;
  if (kind.namespaced) {
    const own = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : undefined;
    if (own && flagNamespace && own !== flagNamespace) {
      return {
        ok: false,
        errors: [
          `the namespace from the provided object "${own}" does not match the namespace "${flagNamespace}". You must pass '--namespace=${own}' to perform this operation.`,
        ],
      };
    }
    namespace = own ?? flagNamespace ?? 'default';
    object.metadata.namespace = namespace;
  }
  return { ok: true, kind, namespace, name: meta.name, object };
}

/** Namespaces first (so a file creating a namespace and its objects works in one go), otherwise file order. */
export function namespacesFirst<T>(items: readonly T[], isNamespace: (t: T) => boolean): T[] {
  return [...items.filter(isNamespace), ...items.filter((t) => !isNamespace(t))];
}

/** True for a parsed `kind: Namespace` document. */
export function isNamespaceDoc(raw: unknown): boolean {
  return isRecord(raw) && raw.kind === 'Namespace';
}
