// Unit tests: validation of hostile envelopes — wrong types, control characters, foreign resourceVersions, oversized
// label and annotation maps, oversized and deeply nested objects — each refused with one clear line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateObject, type ValidationResult } from './index.js';

function pod(metadata: Record<string, unknown>, spec: unknown = { containers: [{ name: 'c', command: ['sleep', '1'] }] }): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

function errorsOf(r: ValidationResult): string[] {
  assert.equal(r.ok, false, 'expected a refusal');
  return (r as { errors: string[] }).errors;
}

test('a name that is not a string is reported as such, not as missing', () => {
  assert.deepEqual(errorsOf(validateObject(pod({ name: 12345 }))), ['Pod/default/<no name>: metadata.name: must be a string, got 12345 (quote it in YAML)']);
  assert.deepEqual(errorsOf(validateObject(pod({}))), ['Pod/default/<no name>: metadata.name: required field is missing']);
});

test('control characters in a name are escaped in the message, never echoed raw', () => {
  const errors = errorsOf(validateObject(pod({ name: 'we\u0000b' })));
  assert.deepEqual(errors, [
    `Pod/default/"we\\u0000b": metadata.name: "we\\u0000b" is not a valid DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', at most 253 characters, starting and ending alphanumeric)`,
  ]);
  assert.ok(!errors[0]!.includes('\u0000'));
  const label = errorsOf(validateObject(pod({ name: 'x', labels: { 'a\u001b[31m': 'v' } })));
  assert.ok(label.every((l) => !/[\u0000-\u001f]/.test(l)), JSON.stringify(label));
});

test('a resourceVersion the server cannot have issued is refused', () => {
  assert.deepEqual(errorsOf(validateObject(pod({ name: 'x', resourceVersion: 'abc' }))), [
    'Pod/default/x: metadata.resourceVersion: "abc" is not a resourceVersion this server issued (a decimal number in a string); omit it or copy it from the stored object',
  ]);
  assert.match(errorsOf(validateObject(pod({ name: 'x', resourceVersion: 7 })))[0]!, /metadata\.resourceVersion: 7 is not a resourceVersion/);
  assert.equal(validateObject(pod({ name: 'x', resourceVersion: '42' })).ok, true);
});

test('labels: at most 1000; 100k of them are refused with one line, in linear time', { timeout: 60_000 }, () => {
  const labels = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`]));
  assert.equal(validateObject(pod({ name: 'x', labels: labels(1000) })).ok, true);
  assert.deepEqual(errorsOf(validateObject(pod({ name: 'x', labels: labels(1001) }))), [
    'Pod/default/x: metadata.labels: too many labels: 1001, at most 1000 (keep bulk data in annotations or spec)',
  ]);
  const started = performance.now();
  const errors = errorsOf(validateObject(pod({ name: 'x', labels: labels(100_000) })));
  assert.ok(performance.now() - started < 10_000);
  assert.deepEqual(errors, ['Pod/default/x: metadata.labels: too many labels: 100000, at most 1000 (keep bulk data in annotations or spec)']);
});

test('annotations: 256 KiB of keys and values in total, as in Kubernetes', () => {
  assert.equal(validateObject(pod({ name: 'x', annotations: { a: 'x'.repeat(262_143) } })).ok, true);
  assert.deepEqual(errorsOf(validateObject(pod({ name: 'x', annotations: { a: 'x'.repeat(262_144) } }))), [
    'Pod/default/x: metadata.annotations: too long: keys and values total 256 KiB (262145 bytes), at most 256 KiB (262144 bytes)',
  ]);
  // Bytes, not characters: 'é' is two bytes in UTF-8.
  assert.equal(validateObject(pod({ name: 'x', annotations: { a: 'é'.repeat(131_072) } })).ok, false);
  const big = errorsOf(validateObject(pod({ name: 'big', annotations: { blob: 'x'.repeat(2_800_000) } })));
  assert.deepEqual(big, ['Pod/default/big: metadata.annotations: too long: keys and values total 2.67 MiB (2800004 bytes), at most 256 KiB (262144 bytes)']);
});

test('an object over 1.5 MiB as JSON is refused naming its largest field', () => {
  const errors = errorsOf(validateObject(pod({ name: 'x' }, { containers: [{ name: 'c', command: ['echo', 'x'.repeat(1_600_000)] }] })));
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /^Pod\/default\/x: spec: the object is 1\.53 MiB \(\d+ bytes\) as JSON, more than the 1\.5 MiB \(1572864 bytes\) an object may have/);
});

test('deep nesting is refused before anything recurses into it', () => {
  let deep: unknown = {};
  for (let i = 0; i < 200_000; i++) deep = { a: deep };
  const errors = errorsOf(validateObject(pod({ name: 'deep', namespace: 'n' }, deep)));
  assert.equal(errors.length, 1);
  assert.equal(errors[0], `Pod/n/deep: spec${'.a'.repeat(99)}: nested more than 100 levels deep (maps and lists inside each other)`);
});

test('the problems reported per object are bounded', () => {
  const labels = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, `bad value ${i}`]));
  const errors = errorsOf(validateObject(pod({ name: 'x', labels })));
  assert.equal(errors.length, 101);
  assert.equal(errors[100], 'Pod/default/x: <object>: 400 more problems not shown (fix the ones above first)');
});
