// Unit tests: REST path parsing and building.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResourcePath, resourcePath } from './resource-path.js';
import { kindByName } from '../../api/registry.js';

function ok(path: string) {
  const r = parseResourcePath(path);
  assert.ok(r && r.ok, `${path}: ${r && !r.ok ? r.error : 'not a resource path'}`);
  const p = r.path;
  return { kind: p.kind.kind, version: p.version, apiVersion: p.apiVersion, namespace: p.namespace, name: p.name, subresource: p.subresource };
}

function fails(path: string, re: RegExp): void {
  const r = parseResourcePath(path);
  assert.ok(r && !r.ok, `${path} should not parse`);
  assert.match(r.error, re);
}

test('core and group paths, namespaced and cluster-wide, items and status', () => {
  assert.deepEqual(ok('/api/v1/namespaces/default/pods'), { kind: 'Pod', version: 'v1', apiVersion: 'v1', namespace: 'default', name: undefined, subresource: undefined });
  assert.deepEqual(ok('/api/v1/namespaces/default/pods/p1/status'), { kind: 'Pod', version: 'v1', apiVersion: 'v1', namespace: 'default', name: 'p1', subresource: 'status' });
  assert.deepEqual(ok('/api/v1/pods'), { kind: 'Pod', version: 'v1', apiVersion: 'v1', namespace: undefined, name: undefined, subresource: undefined });
  assert.deepEqual(ok('/api/v1/namespaces'), { kind: 'Namespace', version: 'v1', apiVersion: 'v1', namespace: undefined, name: undefined, subresource: undefined });
  assert.deepEqual(ok('/api/v1/namespaces/prod'), { kind: 'Namespace', version: 'v1', apiVersion: 'v1', namespace: undefined, name: 'prod', subresource: undefined });
  assert.deepEqual(ok('/api/v1/namespaces/prod/status'), { kind: 'Namespace', version: 'v1', apiVersion: 'v1', namespace: undefined, name: 'prod', subresource: 'status' });
  assert.deepEqual(ok('/api/v1/nodes/n1/'), { kind: 'Node', version: 'v1', apiVersion: 'v1', namespace: undefined, name: 'n1', subresource: undefined });
  assert.deepEqual(ok('/apis/security.istio.io/v1beta1/namespaces/x/authorizationpolicies/a'), {
    kind: 'AuthorizationPolicy', version: 'v1beta1', apiVersion: 'security.istio.io/v1beta1', namespace: 'x', name: 'a', subresource: undefined,
  });
  assert.deepEqual(ok('/apis/gateway.networking.k8s.io/v1/gatewayclasses/istio-waypoint'), {
    kind: 'GatewayClass', version: 'v1', apiVersion: 'gateway.networking.k8s.io/v1', namespace: undefined, name: 'istio-waypoint', subresource: undefined,
  });
  assert.equal(ok('/api/v1/namespaces/default/services/a%2Eb').name, 'a.b');
});

test('unknown shapes, kinds, versions and scopes are errors; other paths are not resource paths', () => {
  assert.equal(parseResourcePath('/version'), undefined);
  assert.equal(parseResourcePath('/healthz'), undefined);
  fails('/api/v2/pods', /Pod is not served as v2/);
  fails('/apis/security.istio.io/v1/pods', /does not serve 'pods' in group security.istio.io/);
  fails('/api/v1/authorizationpolicies', /does not serve 'authorizationpolicies' in the core group/);
  fails('/api/v1/namespaces/x/nodes', /Node is cluster-scoped: use \/api\/v1\/nodes/);
  fails('/api/v1/pods/p1', /Pod is namespaced: use \/api\/v1\/namespaces\/\{namespace\}\/pods\/p1/);
  fails('/api/v1/namespaces/x/pods/p/exec', /no subresource 'exec'/);
  fails('/api/v1/namespaces/x/pods/p/status/more', /too many segments/);
  fails('/api/v1/namespaces//pods', /empty segment/);
  fails('/api/v1', /names no resource/);
  fails('/apis', /names no API group/);
  fails('/api/v1/namespaces/x/pods/%E0%A4%A', /percent-encoding/);
});

test('resourcePath builds what parseResourcePath reads', () => {
  const pod = kindByName('Pod')!;
  const ap = kindByName('AuthorizationPolicy')!;
  const ns = kindByName('Namespace')!;
  assert.equal(resourcePath(pod, { namespace: 'd', name: 'p' }), '/api/v1/namespaces/d/pods/p');
  assert.equal(resourcePath(pod), '/api/v1/pods');
  assert.equal(resourcePath(ap, { version: 'v1beta1', namespace: 'd' }), '/apis/security.istio.io/v1beta1/namespaces/d/authorizationpolicies');
  assert.equal(resourcePath(ns, { namespace: 'ignored', name: 'x', subresource: 'status' }), '/api/v1/namespaces/x/status');
  for (const p of ['/api/v1/namespaces/d/pods/p', '/apis/security.istio.io/v1/namespaces/d/authorizationpolicies/a/status', '/api/v1/namespaces/x']) {
    const r = ok(p);
    const kind = kindByName(r.kind)!;
    const opts: { version: string; namespace?: string; name?: string; subresource?: 'status' } = { version: r.version };
    if (r.namespace !== undefined) opts.namespace = r.namespace;
    if (r.name !== undefined) opts.name = r.name;
    if (r.subresource !== undefined) opts.subresource = r.subresource;
    assert.equal(resourcePath(kind, opts), p);
  }
});
