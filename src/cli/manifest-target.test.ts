// Unit tests for addressing manifest objects (namespace defaulting, -n mismatch, unaddressable documents).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isNamespaceDoc, manifestTarget, namespacesFirst } from './manifest-target.js';

test('a namespaced object without namespace takes -n, else default; cluster-scoped ones get none', () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' } };
  const a = manifestTarget(pod, undefined);
  assert.ok(a.ok);
  assert.equal(a.namespace, 'default');
  assert.equal(a.object.metadata.namespace, 'default');
  assert.equal((pod.metadata as { namespace?: string }).namespace, undefined, 'the input is not mutated');
  const b = manifestTarget(pod, 'demo');
  assert.ok(b.ok && b.namespace === 'demo');
  const ns = manifestTarget({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } }, 'other');
  assert.ok(ns.ok && ns.namespace === undefined && ns.kind.kind === 'Namespace');
});

test('an explicit -n that disagrees with the object is refused in kubectl words', () => {
  const r = manifestTarget({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'a' } }, 'b');
  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.errors, [
    `the namespace from the provided object "a" does not match the namespace "b". You must pass '--namespace=a' to perform this operation.`,
  ]);
});

test('documents that name no object get validation lines', () => {
  const noKind = manifestTarget({ apiVersion: 'v1', metadata: { name: 'x' } }, undefined);
  assert.equal(noKind.ok, false);
  assert.match(!noKind.ok ? noKind.errors[0]! : '', /kind: required field is missing/);
  const unknown = manifestTarget({ apiVersion: 'v1', kind: 'Deployment', metadata: { name: 'x' } }, undefined);
  assert.match(!unknown.ok ? unknown.errors[0]! : '', /unknown kind 'Deployment'/);
  const noName = manifestTarget({ apiVersion: 'v1', kind: 'Pod', metadata: {} }, undefined);
  assert.match(!noName.ok ? noName.errors[0]! : '', /metadata\.name: required field is missing/);
  assert.equal(manifestTarget('text', undefined).ok, false);
});

test('namespaces go first, everything else keeps its order', () => {
  const docs = [{ kind: 'Pod', n: 1 }, { kind: 'Namespace', n: 2 }, { kind: 'Service', n: 3 }, { kind: 'Namespace', n: 4 }];
  assert.deepEqual(namespacesFirst(docs, isNamespaceDoc).map((d) => d.n), [2, 4, 1, 3]);
});
