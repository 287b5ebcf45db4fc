// Unit tests for apply's comparison of applied fields with the live object.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/meta.js';
import { appliedFields, deepEqual, manifestToSend, sameAppliedFields } from './apply-diff.js';

const manifest: KubeObject = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'demo', labels: { app: 'web' } },
  spec: { containers: [{ name: 'web', command: ['node', 'server.js'] }] },
};

function live(over: Partial<KubeObject> = {}): KubeObject {
  return {
    ...structuredClone(manifest),
    metadata: { ...structuredClone(manifest.metadata), uid: 'u-1', resourceVersion: '7', generation: 1, creationTimestamp: '2024-01-01T00:00:00Z' },
    status: { conditions: [{ type: 'FieldsIgnored', status: 'True', reason: 'UnsupportedField', message: 'x' }] },
    ...over,
  };
}

test('server-owned metadata and status do not count as changes', () => {
  assert.equal(sameAppliedFields(manifest, live()), true);
});

test('key order does not matter', () => {
  const reordered = live({ spec: { containers: [{ command: ['node', 'server.js'], name: 'web' }] } });
  assert.equal(sameAppliedFields(manifest, reordered), true);
});

test('a changed spec, label or annotation is a change', () => {
  assert.equal(sameAppliedFields(manifest, live({ spec: { containers: [{ name: 'web', command: ['node', 'other.js'] }] } })), false);
  const l = live();
  l.metadata.labels = { app: 'web', extra: 'x' };
  assert.equal(sameAppliedFields(manifest, l), false);
  const a = live();
  a.metadata.annotations = { note: 'x' };
  assert.equal(sameAppliedFields(manifest, a), false);
});

test('an apiVersion alone is not a change (same kind, another served version)', () => {
  const ap = { ...structuredClone(manifest), apiVersion: 'security.istio.io/v1beta1', kind: 'AuthorizationPolicy' };
  assert.equal(sameAppliedFields(ap, { ...live(), apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy' }), true);
});

test('manifestToSend strips server fields and status but keeps the rest', () => {
  const sent = manifestToSend(live());
  assert.equal(sent.status, undefined);
  assert.equal(sent.metadata.uid, undefined);
  assert.equal(sent.metadata.resourceVersion, undefined);
  assert.equal(sent.apiVersion, 'v1');
  assert.deepEqual(sent.metadata.labels, { app: 'web' });
  assert.equal(appliedFields(sent).apiVersion, undefined);
});

test('deepEqual treats undefined members as absent and distinguishes arrays from objects', () => {
  assert.equal(deepEqual({ a: 1, b: undefined }, { a: 1 }), true);
  assert.equal(deepEqual([1, 2], { 0: 1, 1: 2 }), false);
  assert.equal(deepEqual([1, [2, { x: null }]], [1, [2, { x: null }]]), true);
  assert.equal(deepEqual(null, {}), false);
});
