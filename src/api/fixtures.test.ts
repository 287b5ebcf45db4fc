// Fixture suite: every manifest under test/fixtures/invalid is refused with exactly its `# expect:` lines, every one
// under test/fixtures/valid is accepted with exactly its `# ignored:` fields, and valid objects survive YAML/JSON round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KINDS, objectRef, parseManifests, toJson, toYaml, validateObject, type KubeObject } from './index.js';

const INVALID_DIR = join('test', 'fixtures', 'invalid');
const VALID_DIR = join('test', 'fixtures', 'valid');

function fixtures(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.json'))
    .sort();
}

/** The value of every leading `# <tag>: …` comment line. */
function directives(text: string, tag: string): string[] {
  const prefix = `# ${tag}: `;
  return text
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length));
}

/** Every message a file produces: parse errors, then each object's validation errors, in document order. */
function refusal(text: string, source: string): string[] {
  const parsed = parseManifests(text, source);
  const lines = [...parsed.errors];
  for (const o of parsed.objects) {
    const r = validateObject(o);
    if (!r.ok) lines.push(...r.errors);
  }
  return lines;
}

function acceptAll(text: string, source: string): { objects: KubeObject[]; ignored: string[] } {
  const parsed = parseManifests(text, source);
  assert.deepEqual(parsed.errors, [], `${source}: parse errors`);
  const objects: KubeObject[] = [];
  const ignored: string[] = [];
  for (const o of parsed.objects) {
    const r = validateObject(o);
    assert.ok(r.ok, `${source}: refused:\n${r.ok ? '' : r.errors.join('\n')}`);
    objects.push(r.object);
    ignored.push(...r.ignored.map((i) => `${objectRef(r.object)}: ${i.path}`));
  }
  return { objects, ignored };
}

test('there are at least 45 distinct invalid fixtures, each with # expect: lines', () => {
  const files = fixtures(INVALID_DIR);
  assert.ok(files.length >= 45, `only ${files.length} invalid fixtures`);
  const bodies = new Set<string>();
  for (const f of files) {
    const text = readFileSync(join(INVALID_DIR, f), 'utf8');
    assert.match(text.split('\n')[0]!, /^# expect: /, `${f}: the first line must be a # expect: comment`);
    const body = text.replace(/^# expect: .*\n/gm, '');
    assert.ok(!bodies.has(body), `${f}: duplicates another fixture`);
    bodies.add(body);
  }
});

for (const f of fixtures(INVALID_DIR)) {
  test(`invalid fixture ${f} is refused with exactly its expected lines`, () => {
    const text = readFileSync(join(INVALID_DIR, f), 'utf8');
    assert.deepEqual(refusal(text, f), directives(text, 'expect'));
  });
}

for (const f of fixtures(VALID_DIR)) {
  test(`valid fixture ${f} is accepted with exactly its ignored fields`, () => {
    const text = readFileSync(join(VALID_DIR, f), 'utf8');
    const { objects, ignored } = acceptAll(text, f);
    assert.ok(objects.length > 0, `${f}: no objects`);
    assert.deepEqual(ignored, directives(text, 'ignored'));
  });
}

test('every kind has a valid fixture', () => {
  const seen = new Set<string>();
  for (const f of fixtures(VALID_DIR)) {
    for (const o of acceptAll(readFileSync(join(VALID_DIR, f), 'utf8'), f).objects) seen.add(o.kind);
  }
  assert.deepEqual(
    KINDS.map((k) => k.kind).filter((k) => !seen.has(k)),
    [],
  );
});

test('valid fixtures survive parse → validate → toYaml → parse, fields and key order intact', () => {
  for (const f of fixtures(VALID_DIR)) {
    const { objects } = acceptAll(readFileSync(join(VALID_DIR, f), 'utf8'), f);
    const yaml = toYaml(objects);
    const again = parseManifests(yaml, `${f} (printed)`);
    assert.deepEqual(again.errors, []);
    assert.deepEqual(again.objects, objects, f);
    // deepEqual ignores key order; JSON text does not.
    assert.equal(JSON.stringify(again.objects), JSON.stringify(objects), `${f}: key order changed`);
    // Printing is deterministic and revalidation accepts the printed objects unchanged.
    assert.equal(toYaml(again.objects as KubeObject[]), yaml);
    for (const o of again.objects) {
      const r = validateObject(o);
      assert.ok(r.ok);
      assert.deepEqual(r.object, o);
    }
  }
});

test('valid fixtures survive toJson → parse (single objects and Lists)', () => {
  for (const f of fixtures(VALID_DIR)) {
    const { objects } = acceptAll(readFileSync(join(VALID_DIR, f), 'utf8'), f);
    const json = toJson(objects);
    assert.deepEqual(JSON.parse(json), objects.length === 1 ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects });
    const again = parseManifests(json, `${f} (json)`);
    assert.deepEqual(again.errors, []);
    assert.equal(JSON.stringify(again.objects), JSON.stringify(objects), f);
  }
});
