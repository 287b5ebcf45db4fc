// Unit tests for REST path construction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kindByName } from './registry.js';
import { resourcePath, versionOf } from './resource-path.js';

const pod = kindByName('Pod')!;
const ns = kindByName('Namespace')!;
const ap = kindByName('AuthorizationPolicy')!;

test('core, grouped, cluster-scoped and all-namespaces paths', () => {
  assert.equal(resourcePath(pod, { namespace: 'demo', name: 'web' }), '/api/v1/namespaces/demo/pods/web');
  assert.equal(resourcePath(pod, { namespace: 'demo' }), '/api/v1/namespaces/demo/pods');
  assert.equal(resourcePath(pod), '/api/v1/pods');
  assert.equal(resourcePath(ns, { namespace: 'ignored', name: 'demo' }), '/api/v1/namespaces/demo');
  assert.equal(resourcePath(ap, { namespace: 'demo', name: 'x', version: 'v1beta1' }), '/apis/security.istio.io/v1beta1/namespaces/demo/authorizationpolicies/x');
  assert.equal(resourcePath(pod, { namespace: 'demo', name: 'web', subresource: 'status' }), '/api/v1/namespaces/demo/pods/web/status');
});

test('versionOf accepts only versions the kind serves', () => {
  assert.equal(versionOf(ap, 'security.istio.io/v1beta1'), 'v1beta1');
  assert.equal(versionOf(ap, 'networking.istio.io/v1'), undefined);
  assert.equal(versionOf(pod, 'v1'), 'v1');
  assert.equal(versionOf(pod, undefined), undefined);
});
