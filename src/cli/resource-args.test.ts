// Unit tests for resolving the KIND/NAME words of CLI verbs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliError } from './cli-context.js';
import { notFoundMessage, objectName, parseResourceArgs, resolveKind, resolveKinds } from './resource-args.js';

test('plural, singular, short names, Kind and plural.group all resolve', () => {
  for (const w of ['pods', 'pod', 'po', 'Pod', 'PODS']) assert.equal(resolveKind(w).kind, 'Pod');
  for (const w of ['ns', 'namespace', 'namespaces']) assert.equal(resolveKind(w).kind, 'Namespace');
  for (const w of ['ap', 'authorizationpolicies.security.istio.io', 'authorizationpolicy.security.istio.io', 'authorizationpolicies.v1.security.istio.io']) {
    assert.equal(resolveKind(w).kind, 'AuthorizationPolicy');
  }
  assert.equal(resolveKind('gtw').kind, 'Gateway');
  assert.equal(resolveKind('se').kind, 'ServiceEntry');
  assert.equal(resolveKind('sa').kind, 'ServiceAccount');
});

test('an unknown kind is refused in kubectl words', () => {
  assert.throws(() => resolveKind('bogus'), (e: unknown) => e instanceof CliError && e.message === 'the server doesn\'t have a resource type "bogus"');
  assert.throws(() => resolveKind('pods.networking.istio.io'), CliError);
});

test('comma lists keep order and drop duplicates', () => {
  assert.deepEqual(resolveKinds('svc,pods,po').map((k) => k.kind), ['Service', 'Pod']);
});

test('`all` is the pods and services, only where the verb asks for it', () => {
  assert.deepEqual(resolveKinds('all', { allCategory: true }).map((k) => k.kind), ['Pod', 'Service']);
  assert.deepEqual(resolveKinds('svc,ALL,gtw', { allCategory: true }).map((k) => k.kind), ['Service', 'Pod', 'Gateway']);
  assert.deepEqual(parseResourceArgs(['all', 'web'], { allCategory: true }).map((r) => [r.kind.kind, r.names]), [['Pod', ['web']], ['Service', ['web']]]);
  assert.throws(() => resolveKinds('all'), (e: unknown) => e instanceof CliError && /resource type "all"/.test(e.message));
  assert.throws(() => parseResourceArgs(['all/web'], { allCategory: true }), CliError);
});

test('KIND NAME… and KIND/NAME… forms', () => {
  const a = parseResourceArgs(['pods', 'a', 'b']);
  assert.deepEqual(a.map((r) => [r.kind.kind, r.names]), [['Pod', ['a', 'b']]]);
  const b = parseResourceArgs(['pod/a', 'svc/b', 'po/c']);
  assert.deepEqual(b.map((r) => [r.kind.kind, r.names]), [['Pod', ['a', 'c']], ['Service', ['b']]]);
  assert.throws(() => parseResourceArgs(['pods', 'svc/b']), CliError);
  assert.throws(() => parseResourceArgs([]), CliError);
});

test('object names and not-found messages use kubectl spellings', () => {
  assert.equal(objectName(resolveKind('pod'), 'web'), 'pod/web');
  assert.equal(objectName(resolveKind('ap'), 'deny-all'), 'authorizationpolicy.security.istio.io/deny-all');
  assert.equal(notFoundMessage(resolveKind('pod'), 'web'), 'pods "web" not found');
  assert.equal(notFoundMessage(resolveKind('gtw'), 'w'), 'gateways.gateway.networking.k8s.io "w" not found');
});
