// Golden translation tests: every test/fixtures/ambient/<case>/input.yaml is indexed and the resulting Address,
// Authorization and WaypointConfig resources plus the status conditions are compared with <case>/expected.json.
// On mismatch the test prints a line diff. AMBIT_UPDATE_GOLDEN=1 rewrites expected.json (review the diff!).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../api/meta.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, WAYPOINT_TYPE_URL } from '../../lib/xds/type-urls.js';
import { AmbientIndex } from './ambient-index.js';

const ROOT = join('test', 'fixtures', 'ambient');

/** What a golden case produces, in a stable order. */
function goldenOutput(objects: KubeObject[]): unknown {
  const index = new AmbientIndex();
  index.apply(objects.map((object) => ({ type: 'ADDED' as const, object })));
  const byName = (typeUrl: string) => [...index.resources(typeUrl).values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((r) => r.record);
  const conditions: Record<string, Record<string, unknown>> = {};
  for (const [ref, m] of [...index.desiredConditions()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    conditions[ref] = Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
  const out: Record<string, unknown> = { addresses: byName(ADDRESS_TYPE_URL), authorizations: byName(AUTHORIZATION_TYPE_URL) };
  const waypoints = byName(WAYPOINT_TYPE_URL);
  if (waypoints.length) out['waypoints'] = waypoints;
  out['conditions'] = conditions;
  return out;
}

/** A readable line diff (longest common subsequence), `-` expected, `+` actual, with 2 lines of context. */
function lineDiff(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const lines: Array<[' ' | '-' | '+', string]> = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) lines.push([' ', a[i++]!]), j++;
    else if (j < b.length && (i >= a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) lines.push(['+', b[j++]!]);
    else lines.push(['-', a[i++]!]);
  }
  const keep = lines.map((l, k) => l[0] !== ' ' || lines.slice(Math.max(0, k - 2), k + 3).some((m) => m[0] !== ' '));
  const out: string[] = [];
  lines.forEach((l, k) => {
    if (keep[k]) out.push(`${l[0]} ${l[1]}`);
    else if (keep[k - 1]) out.push('  …');
  });
  return out.join('\n');
}

function loadObjects(file: string): KubeObject[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const objects: KubeObject[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
    const v = d.toJS() as KubeObject | null;
    if (v) objects.push(v);
  }
  return objects;
}

const cases = existsSync(ROOT) ? readdirSync(ROOT).filter((c) => existsSync(join(ROOT, c, 'input.yaml'))).sort() : [];

test('there are at least 50 golden cases', () => {
  assert.ok(cases.length >= 50, `only ${cases.length} cases under ${ROOT}`);
});

for (const name of cases) {
  test(`golden: ${name}`, () => {
    const dir = join(ROOT, name);
    const actual = `${JSON.stringify(goldenOutput(loadObjects(join(dir, 'input.yaml'))), null, 2)}\n`;
    const expectedFile = join(dir, 'expected.json');
    if (process.env['AMBIT_UPDATE_GOLDEN'] === '1') writeFileSync(expectedFile, actual);
    assert.ok(existsSync(expectedFile), `${expectedFile} is missing (run with AMBIT_UPDATE_GOLDEN=1 to create it, then review it)`);
    const expected = readFileSync(expectedFile, 'utf8');
    if (expected !== actual) assert.fail(`${name}: output differs from expected.json\n${lineDiff(expected, actual)}`);
  });
}
