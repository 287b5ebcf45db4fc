// The dashboard API's shapes (defined once, beside the code that serves them) and how the page fetches them.
export type { GraphEdge, GraphNode, MeshGraph, SecurityView, StoredDecision as Decision, ValidationEntry } from '../../../src/controlplane/dashboard/view-types.js';

/** `preloaded`: the page's <link rel=preload> already asked for it; reuse that response (first graph only). */
export async function getJson<T>(path: string, preloaded = false): Promise<T> {
  const res = await fetch(path, preloaded ? { mode: 'cors', credentials: 'same-origin' } : { cache: 'no-store' });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
