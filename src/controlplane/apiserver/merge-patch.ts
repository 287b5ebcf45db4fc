// JSON merge patch (RFC 7386): the PATCH body format the API server accepts.

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Returns `target` with `patch` merged in: objects merge key by key, `null` removes a key, anything else
 * (arrays included) replaces. Neither input is modified; untouched subtrees of `target` are shared, not copied.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch === undefined ? undefined : structuredClone(patch);
  const result: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = applyMergePatch(result[k], v);
  }
  return result;
}
