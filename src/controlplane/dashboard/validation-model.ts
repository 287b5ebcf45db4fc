// The config validation page: every object whose status carries a warning — a FieldsIgnored condition (valid fields
// stored but not enforced) or any condition that is False (not accepted, not programmed, refs not resolved, …).
import type { Condition, KubeObject } from '../../api/meta.js';
import type { ValidationEntry } from './view-types.js';

export function buildValidationView(objects: Iterable<KubeObject>): ValidationEntry[] {
  const out: ValidationEntry[] = [];
  for (const o of objects) {
    const conditions = (Array.isArray(o.status?.conditions) ? o.status.conditions : []) as Condition[];
    for (const c of conditions) {
      const ignored = c.type === 'FieldsIgnored' && c.status === 'True';
      if (!ignored && c.status !== 'False') continue;
      out.push({
        kind: o.kind, namespace: o.metadata.namespace ?? '', name: o.metadata.name, type: c.type, reason: c.reason ?? '',
        message: c.message ?? '', severity: ignored ? 'ignored-fields' : 'warning',
      });
    }
  }
  return out.sort((a, b) => `${a.kind}/${a.namespace}/${a.name}`.localeCompare(`${b.kind}/${b.namespace}/${b.name}`));
}
