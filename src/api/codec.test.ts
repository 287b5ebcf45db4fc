// Codec edge cases: empty and separator-only input, JSON documents and arrays, Lists, syntax errors, non-objects, printing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifests, toJson, toYaml, type KubeObject } from './index.js';

const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

test('empty input, separators only and comments only yield nothing and no error', () => {
  for (const text of ['', '\n\n', '---', '---\n---\n', '# just a comment\n', '---\n# c\n---\n~\n']) {
    assert.deepEqual(parseManifests(text, 'f.yaml'), { objects: [], errors: [] }, JSON.stringify(text));
  }
});

test('multi-document YAML skips empty documents and keeps order', () => {
  const r = parseManifests('---\nkind: A\n---\n---\nkind: B\n...\n---\nkind: C\n', 'f.yaml');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.objects, [{ kind: 'A' }, { kind: 'B' }, { kind: 'C' }]);
});

test('a JSON document, a JSON array (even tab-indented) and nested arrays are flattened', () => {
  assert.deepEqual(parseManifests('{"kind": "A", "metadata": {"name": "x"}}', 'f.json').objects, [{ kind: 'A', metadata: { name: 'x' } }]);
  const r = parseManifests('[\n\t{"kind": "A"},\n\t[{"kind": "B"}],\n\t{"kind": "C"}\n]\n', 'f.json');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.objects, [{ kind: 'A' }, { kind: 'B' }, { kind: 'C' }]);
});

test('List and <Kind>List objects are flattened; an empty List yields nothing', () => {
  const r = parseManifests(
    'apiVersion: v1\nkind: List\nitems:\n  - kind: A\n  - kind: PodList\n    items: [{kind: Pod}]\n---\nkind: ServiceList\nitems: []\n---\nkind: List\n',
    'f.yaml',
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.objects, [{ kind: 'A' }, { kind: 'Pod' }]);
});

test('a List whose items is not a list is an error naming the document', () => {
  assert.deepEqual(parseManifests('kind: x\n---\nkind: List\nitems: {a: 1}\n', 'l.yaml').errors, ['l.yaml: document 2, line 3: items: expected a list, got an object']);
});

test('syntax errors name the source, the document and the line; other documents still parse', () => {
  const r = parseManifests('kind: A\n---\nkind: B\nmetadata:\n  name: x\n   bad: y\n---\nkind: C\n', 'bad.yaml');
  assert.deepEqual(r.objects, [{ kind: 'A' }, { kind: 'C' }]);
  // Only the first error of a document is reported: later ones are usually consequences of it.
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!, /^bad\.yaml: document 2, line 5, column 9: /);
});

test('duplicate keys are a syntax error rather than a silent overwrite', () => {
  const r = parseManifests('kind: A\nmetadata:\n  name: a\n  name: b\n', 'dup.yaml');
  assert.deepEqual(r.objects, []);
  assert.deepEqual(r.errors, ['dup.yaml: document 1, line 4, column 3: Map keys must be unique']);
});

test('non-object documents and array items are reported with their position', () => {
  const r = parseManifests('kind: A\n---\n42\n---\n- kind: B\n- hello\n- null\n', 'odd.yaml');
  assert.deepEqual(r.objects, [{ kind: 'A' }, { kind: 'B' }]);
  assert.deepEqual(r.errors, [
    'odd.yaml: document 2, line 3: expected an object (a mapping with apiVersion, kind and metadata), got a number',
    'odd.yaml: document 3, line 5, item 2: expected an object (a mapping with apiVersion, kind and metadata), got a string ("hello")',
    'odd.yaml: document 3, line 5, item 3: expected an object (a mapping with apiVersion, kind and metadata), got null',
  ]);
});

test('alias expansion is bounded (billion-laughs documents are refused)', () => {
  const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 6; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    levels.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(', ')}]`);
  }
  const r = parseManifests(`${levels.join('\n')}\n`, 'bomb.yaml');
  assert.deepEqual(r.objects, []);
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!, /^bomb\.yaml: document 1, line 1: .*alias/i);
});

test('YAML 1.2 scalars: yes/on/0755 stay as JSON would read them, and print quoted for YAML 1.1 readers', () => {
  const r = parseManifests('a: yes\nb: on\nc: "0755"\nd: 0755\ne: 1e3\nf: null\ng: "true"\n', 'f.yaml');
  const o = r.objects[0] as Record<string, unknown>;
  assert.deepEqual(o, { a: 'yes', b: 'on', c: '0755', d: 755, e: 1000, f: null, g: 'true' });
  const printed = toYaml([o as unknown as KubeObject]);
  assert.match(printed, /^a: "yes"$/m);
  assert.match(printed, /^b: "on"$/m);
  assert.match(printed, /^c: "0755"$/m);
  assert.match(printed, /^g: "true"$/m);
  assert.deepEqual(parseManifests(printed, 'again').objects, [o]);
});

test('toYaml keeps key order, separates documents with ---, never emits anchors and never folds long lines', () => {
  const shared = { app: 'x' };
  const long = 'word '.repeat(60).trim();
  const a: KubeObject = { kind: 'B', apiVersion: 'v1', metadata: { name: 'a', labels: shared, annotations: { note: long } } };
  const b: KubeObject = { apiVersion: 'v1', kind: 'C', metadata: { name: 'b', labels: shared } };
  const text = toYaml([a, b]);
  assert.equal(text.split('\n---\n').length, 2);
  assert.ok(!/[&*]\w/.test(text), 'no anchors or aliases');
  assert.ok(text.includes(long), 'long strings stay on one line');
  assert.ok(text.startsWith('kind: B\napiVersion: v1\n'), 'key order kept');
  const back = parseManifests(text, 'x').objects;
  assert.equal(JSON.stringify(back), JSON.stringify([a, b]));
  assert.equal(toYaml([]), '');
});

test('toJson: one object as itself, several or none as a v1 List', () => {
  assert.deepEqual(JSON.parse(toJson([ns('a')])), ns('a'));
  assert.deepEqual(JSON.parse(toJson([ns('a'), ns('b')])), { apiVersion: 'v1', kind: 'List', items: [ns('a'), ns('b')] });
  assert.deepEqual(JSON.parse(toJson([])), { apiVersion: 'v1', kind: 'List', items: [] });
  assert.ok(toJson([ns('a')]).endsWith('}\n'));
  assert.deepEqual(parseManifests(toJson([ns('a'), ns('b')]), 'l.json').objects, [ns('a'), ns('b')]);
});

test('duplicate keys are found wherever they are, also when they differ only in YAML type (`1` and "1")', () => {
  const r = parseManifests('kind: A\nspec:\n  list:\n    - {a: 1, b: 2}\n    - {x: 1, "1": 2, 1: 3}\n', 'dup.yaml');
  assert.deepEqual(r.errors, ['dup.yaml: document 1, line 5, column 22: Map keys must be unique']);
});

test('100k labels parse in linear time (the duplicate-key check used to compare every pair: minutes)', { timeout: 60_000 }, () => {
  const lines = ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: many', '  labels:'];
  for (let i = 0; i < 100_000; i++) lines.push(`    k${i}: v${i}`);
  const started = performance.now();
  const r = parseManifests(`${lines.join('\n')}\n`, 'many.yaml');
  const ms = performance.now() - started;
  assert.deepEqual(r.errors, []);
  assert.equal(Object.keys((r.objects[0] as KubeObject).metadata.labels!).length, 100_000);
  // Linear parsing takes about 2 s here; the quadratic check took about 150 s for 100k keys.
  assert.ok(ms < 30_000, `parsing 100k labels took ${Math.round(ms)} ms`);
});

test('deep nesting is refused naming the object and the field, never with a stack overflow', () => {
  const deep = (n: number): string => `apiVersion: v1\nkind: Pod\nmetadata: {name: deep, namespace: ns1}\nspec: ${'{a: '.repeat(n)}1${'}'.repeat(n)}\n`;
  const fieldPath = `spec${'.a'.repeat(99)}`;
  // Shallow enough for the parser, too deep for the limit: the check after parsing answers.
  for (const n of [100, 300]) {
    const r = parseManifests(deep(n), 'deep.yaml');
    assert.deepEqual(r.objects, []);
    assert.deepEqual(r.errors, [`deep.yaml: document 1, line 1: Pod/ns1/deep: ${fieldPath}: nested more than 100 levels deep (maps and lists inside each other)`]);
  }
  // So deep that the parser itself overflows (it reports that as a syntax error): the same message.
  const r = parseManifests(`kind: A\n---\n${deep(100_000)}`, 'deep.yaml');
  assert.deepEqual(r.objects, [{ kind: 'A' }]);
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!, /^deep\.yaml: document 2, line \d+: Pod\/ns1\/deep: spec(\.a){99}: nested more than 100 levels deep/);
  const json = parseManifests(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"j"},"spec":{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`, 'deep.json');
  assert.equal(json.errors.length, 1);
  assert.match(json.errors[0]!, /^deep\.json: document 1, line \d+: Pod\/j: spec\.x(\[0\]){98}: nested more than 100 levels deep/);
  assert.doesNotMatch(json.errors[0]!, /call stack/);
  // Exactly 100 levels is allowed.
  assert.deepEqual(parseManifests(deep(98), 'ok.yaml').errors, []);
});
