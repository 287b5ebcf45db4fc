// The `FieldsIgnored` status condition: tells users which valid fields Ambit stores but does not enforce yet.
import type { Condition, KubeObject } from '../../api/meta.js';
import type { IgnoredField } from '../../api/validate.js';

const FIELDS_IGNORED = 'FieldsIgnored';

type Status = NonNullable<KubeObject['status']>;

/**
 * `status` with the FieldsIgnored condition set to describe `ignored` (or removed when nothing is ignored).
 * `lastTransitionTime` is kept while the condition stays True, also when `status` comes from a status writer that
 * left the condition out (then the `stored` status's condition is the previous one). Returns undefined when the
 * status ends up empty. `status` is not modified.
 */
export function withFieldsIgnored(status: Status | undefined, ignored: readonly IgnoredField[], generation: number, now: string, stored?: Status): Status | undefined {
  const next: Status = { ...(status ?? {}) };
  const conditions = Array.isArray(next.conditions) ? [...next.conditions] : [];
  const at = conditions.findIndex((c) => c?.type === FIELDS_IGNORED);
  if (ignored.length > 0) {
    const prev = at >= 0 ? conditions[at] : (Array.isArray(stored?.conditions) ? stored.conditions : []).find((c) => c?.type === FIELDS_IGNORED);
    const cond: Condition = {
      type: FIELDS_IGNORED,
      status: 'True',
      reason: 'UnsupportedField',
      message: ignored.map((f) => `${f.path}: ${f.reason}`).join('; '),
      lastTransitionTime: prev?.status === 'True' && prev.lastTransitionTime ? prev.lastTransitionTime : now,
      observedGeneration: generation,
    };
    if (at >= 0) conditions[at] = cond;
    else conditions.push(cond);
  } else if (at >= 0) {
    conditions.splice(at, 1);
  }
  if (conditions.length > 0) next.conditions = conditions;
  else delete next.conditions;
  return Object.keys(next).length > 0 ? next : undefined;
}
