// Renders one object the way `kubectl describe` does for custom resources: aligned header fields, metadata,
// Spec as indented YAML, Status with a Conditions table, then Events.
import { stringify } from 'yaml';
import type { Condition, KubeObject } from '../api/meta.js';

const KEY_WIDTH = 14;

function field(key: string, value: string): string {
  return `${`${key}:`.padEnd(KEY_WIDTH)}${value}`;
}

/** `Labels:` / `Annotations:` style: one `k=v` per line, continuation lines aligned under the first value. */
function mapField(key: string, m: Readonly<Record<string, unknown>> | undefined): string[] {
  const entries = Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return [field(key, '<none>')];
  return entries.map(([k, v], i) => (i === 0 ? field(key, `${k}=${String(v)}`) : `${' '.repeat(KEY_WIDTH)}${k}=${String(v)}`));
}

/** A value as YAML, every line indented by `indent` spaces. */
function indentedYaml(value: unknown, indent: number): string[] {
  const text = stringify(value, { indent: 2, lineWidth: 0 }).replace(/\n$/, '');
  const pad = ' '.repeat(indent);
  return text.split('\n').map((l) => (l ? pad + l : l));
}

/** A kubectl describe table: header, dashes, rows; columns two spaces apart. */
function describeTable(header: readonly string[], rows: readonly (readonly string[])[], indent: number): string[] {
  const underline = header.map((h) => '-'.repeat(h.length));
  const all = [header, underline, ...rows];
  const widths: number[] = [];
  for (const r of all) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const pad = ' '.repeat(indent);
  return all.map((r) => pad + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

function conditionRows(conditions: readonly Condition[]): string[][] {
  return conditions.map((c) => [String(c.type ?? ''), String(c.status ?? ''), String(c.reason ?? ''), String(c.message ?? '')]);
}

/** The whole `describe` text for one object, ending in a newline. */
export function describeObject(obj: KubeObject): string {
  const m = obj.metadata;
  const lines: string[] = [field('Name', m.name)];
  if (m.namespace) lines.push(field('Namespace', m.namespace));
  lines.push(...mapField('Labels', m.labels), ...mapField('Annotations', m.annotations));
  lines.push(field('API Version', obj.apiVersion), field('Kind', obj.kind));

  const metaRows: Array<[string, unknown]> = [
    ['Creation Timestamp', m.creationTimestamp],
    ['Deletion Timestamp', m.deletionTimestamp],
    ['Generation', m.generation],
    ['Resource Version', m.resourceVersion],
    ['UID', m.uid],
  ];
  const present = metaRows.filter(([, v]) => v !== undefined && v !== '');
  if (present.length) {
    const w = Math.max(...present.map(([k]) => k.length)) + 3;
    lines.push('Metadata:', ...present.map(([k, v]) => `  ${`${k}:`.padEnd(w)}${String(v)}`));
  }

  // Any other top-level fields (e.g. a kind with `data`), then spec.
  for (const [k, v] of Object.entries(obj)) {
    if (['apiVersion', 'kind', 'metadata', 'spec', 'status'].includes(k) || v === undefined) continue;
    lines.push(`${k[0]!.toUpperCase()}${k.slice(1)}:`, ...indentedYaml(v, 2));
  }
  if (obj.spec !== undefined) lines.push('Spec:', ...indentedYaml(obj.spec, 2));

  const status = obj.status;
  if (status && Object.keys(status).length > 0) {
    lines.push('Status:');
    const { conditions, ...rest } = status;
    if (Array.isArray(conditions) && conditions.length > 0) {
      lines.push('  Conditions:', ...describeTable(['Type', 'Status', 'Reason', 'Message'], conditionRows(conditions), 4));
    }
    if (Object.keys(rest).length > 0) lines.push(...indentedYaml(rest, 2));
  }
  lines.push('Events:  <none>');
  return lines.join('\n') + '\n';
}
