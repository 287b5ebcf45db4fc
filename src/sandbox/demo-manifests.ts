// The demo's manifests (examples/demo/*.yaml): read, fill in where the repository and Node live, apply through the
// API (create, or replace what is there), and delete everything of the demo namespace again.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KINDS, kindByName, parseManifests, validateObject, type KubeObject } from '../api/index.js';
import { isNotFound, type ApiClient } from '../controlplane/client/index.js';
import { describeError, MeshError } from '../lib/errors.js';

export const DEMO_NAMESPACE = 'ambit-demo';
/** Stands for the repository's absolute path in examples/demo/*.yaml. */
const REPO_PLACEHOLDER = '${AMBIT_REPO}';

class DemoManifestError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DEMO_MANIFEST', message, options);
  }
}

/** The repository root of this build (three levels above the compiled src/sandbox folder). */
export function repositoryRoot(): string {
  return fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
}

/**
 * Fills the placeholders of one manifest text: `${AMBIT_REPO}` → `repoDir`, and a container command starting with
 * `node` → `nodeBinary` (the Node running ambit: pods get a minimal PATH that may not hold the user's node).
 */
export function renderDemoManifest(text: string, source: string, repoDir: string, nodeBinary: string): KubeObject[] {
  const parsed = parseManifests(text.split(REPO_PLACEHOLDER).join(repoDir), source);
  if (parsed.errors.length) throw new DemoManifestError(parsed.errors.join('\n'));
  const objects = parsed.objects as KubeObject[];
  for (const obj of objects) {
    if (obj.kind !== 'Pod') continue;
    for (const c of ((obj.spec ?? {}) as { containers?: Array<{ command?: string[] }> }).containers ?? []) {
      if (c.command?.[0] === 'node') c.command[0] = nodeBinary;
    }
  }
  return objects;
}

/** The top-level manifest files of examples/demo in name order (the tour/ folder is not applied). */
export function demoManifestFiles(repoDir: string): string[] {
  const dir = join(repoDir, 'examples', 'demo');
  try {
    return readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(dir, f));
  } catch (err) {
    throw new DemoManifestError(`cannot read the demo manifests in ${dir}: ${describeError(err)}`, { cause: err });
  }
}

/** Every object of the demo, rendered and validated. */
export function loadDemoObjects(repoDir: string, nodeBinary: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const file of demoManifestFiles(repoDir)) objects.push(...renderDemoManifest(readFileSync(file, 'utf8'), file, repoDir, nodeBinary));
  const problems = objects.flatMap((o) => {
    const v = validateObject(o);
    return v.ok ? [] : v.errors;
  });
  if (problems.length) throw new DemoManifestError(`the demo manifests are invalid:\n${problems.join('\n')}`);
  return objects;
}

/** Creates each object, or replaces the stored one (keeping its status); returns kubectl-style result lines. */
export async function applyObjects(api: ApiClient, objects: readonly KubeObject[]): Promise<string[]> {
  const lines: string[] = [];
  for (const obj of objects) {
    const kind = kindByName(obj.kind);
    if (!kind) throw new DemoManifestError(`unknown kind ${obj.kind} in the demo manifests`);
    const ref = `${kind.kind.toLowerCase()}${kind.group ? `.${kind.group}` : ''}/${obj.metadata.name}`;
    let existing: KubeObject | undefined;
    try {
      existing = await api.get(kind, obj.metadata.namespace, obj.metadata.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!existing) {
      await api.create(obj);
      lines.push(`${ref} created`);
      continue;
    }
    const merged: KubeObject = { ...existing, ...obj, metadata: { ...existing.metadata, labels: obj.metadata.labels, resourceVersion: existing.metadata.resourceVersion } };
    // A pod placed by the scheduler keeps its node; everything else is the manifest's.
    await api.update(merged);
    lines.push(`${ref} configured`);
  }
  return lines;
}

/** Deletes every namespaced object in `namespace`, then the namespace; returns how many objects went. */
export async function deleteNamespaceObjects(api: ApiClient, namespace: string): Promise<number> {
  let deleted = 0;
  // Pods first: their processes stop while the rest is removed.
  const kinds = [...KINDS].filter((k) => k.namespaced).sort((a, b) => (a.kind === 'Pod' ? -1 : b.kind === 'Pod' ? 1 : 0));
  for (const kind of kinds) {
    const list = await api.list(kind, { namespace });
    for (const obj of list.items) {
      try {
        await api.delete(kind, namespace, obj.metadata.name);
        deleted++;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
  try {
    await api.delete(kindByName('Namespace')!, undefined, namespace);
    deleted++;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return deleted;
}
