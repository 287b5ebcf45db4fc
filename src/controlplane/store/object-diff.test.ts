// Unit tests: JSON equality and the generation rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deepFreeze, jsonEqual, specChanged } from './object-diff.js';
import type { KubeObject } from '../../api/meta.js';

test('jsonEqual ignores key order and undefined members, not array order', () => {
  assert.ok(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }));
  assert.ok(jsonEqual({ a: 1, u: undefined }, { a: 1 }));
  assert.ok(!jsonEqual([1, 2], [2, 1]));
  assert.ok(!jsonEqual({ a: 1 }, { a: '1' }));
  assert.ok(!jsonEqual({ a: null }, { a: {} }));
  assert.ok(!jsonEqual([], {}));
});

test('specChanged looks past metadata, status and apiVersion only', () => {
  const base: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a', labels: { x: '1' } }, spec: { c: [1] }, status: { phase: 'x' } };
  assert.ok(!specChanged(base, { ...base, metadata: { name: 'a' }, status: {}, apiVersion: 'v1beta1' }));
  assert.ok(specChanged(base, { ...base, spec: { c: [2] } }));
  assert.ok(specChanged(base, { ...base, data: { k: 'v' } }), 'other top-level fields count');
});

test('deepFreeze freezes nested values', () => {
  const o = deepFreeze({ a: { b: [{ c: 1 }] } });
  assert.ok(Object.isFrozen(o.a.b[0]));
  assert.throws(() => {
    (o.a.b[0] as { c: number }).c = 2;
  }, TypeError);
});
