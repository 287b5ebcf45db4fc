// The REST API over a real Unix socket: every verb, every error code, paths, validation, status, auth, persistence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat, writeFile, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { startFixture } from './helpers/store-fixture.js';
import { apiRequest } from './helpers/store-api-client.js';
import { startApiServer } from '../../src/controlplane/apiserver/api-server.js';
import { registerSpecValidator } from '../../src/api/validate.js';
import { silentLogger } from '../../src/lib/log.js';

const SVCS = '/api/v1/namespaces/default/services';

function service(name: string, extra: Record<string, unknown> = {}) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, ...extra }, spec: { selector: { app: name }, ports: [{ port: 80 }] } };
}

function assertStatus(res: { status: number; body: any }, code: number, reason: string, message?: RegExp): void {
  assert.equal(res.status, code, `HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body?.kind, 'Status');
  assert.equal(res.body.apiVersion, 'v1');
  assert.equal(res.body.status, 'Failure');
  assert.equal(res.body.code, code);
  assert.equal(res.body.reason, reason);
  assert.equal(typeof res.body.message, 'string');
  assert.doesNotMatch(res.body.message, /\n\s+at /, 'no stack trace');
  if (message) assert.match(res.body.message, message);
}

test('version, health, socket mode 0600, unknown paths', async (t) => {
  const fx = await startFixture(t);
  const mode = (await stat(fx.socketPath)).mode & 0o777;
  assert.equal(mode, 0o600);
  const v = await apiRequest(fx.target, 'GET', '/version');
  assert.equal(v.status, 200);
  assert.match(v.body.ambit, /^\d+\.\d+\.\d+/);
  const h = await apiRequest(fx.target, 'GET', '/healthz');
  assert.equal(h.status, 200);
  assert.equal(h.text, 'ok');
  assertStatus(await apiRequest(fx.target, 'GET', '/nope'), 404, 'NotFound', /no route/);
  assertStatus(await apiRequest(fx.target, 'GET', '/api/v1/namespaces/default/widgets'), 404, 'NotFound', /does not serve 'widgets'/);
  assertStatus(await apiRequest(fx.target, 'GET', '/apis/security.istio.io/v2/authorizationpolicies'), 404, 'NotFound', /not served as security.istio.io\/v2/);
  assertStatus(await apiRequest(fx.target, 'GET', '/api/v1/namespaces/default/services/a/scale'), 404, 'NotFound', /no subresource 'scale'/);
});

test('create, get, list, update, conflict, delete on a namespaced kind', async (t) => {
  const fx = await startFixture(t);
  const c = await apiRequest(fx.target, 'POST', SVCS, { body: service('web') });
  assert.equal(c.status, 201);
  assert.equal(c.body.metadata.namespace, 'default', 'namespace filled from the path');
  assert.equal(c.body.metadata.resourceVersion, '1');
  assert.equal(c.body.metadata.generation, 1);
  assert.ok(c.body.metadata.uid);
  assert.equal(c.body.status, undefined, 'no status without ignored fields');
  assertStatus(await apiRequest(fx.target, 'POST', SVCS, { body: service('web') }), 409, 'AlreadyExists', /Service\/default\/web already exists/);

  const g = await apiRequest(fx.target, 'GET', `${SVCS}/web`);
  assert.equal(g.status, 200);
  assert.deepEqual(g.body, c.body);
  const missing = await apiRequest(fx.target, 'GET', `${SVCS}/nope`);
  assertStatus(missing, 404, 'NotFound', /Service\/default\/nope not found/);
  assert.deepEqual(missing.body.details, { kind: 'Service', name: 'nope' });

  await apiRequest(fx.target, 'POST', '/api/v1/namespaces/other/services', { body: service('api', { labels: { tier: 'back' } }) });
  const l = await apiRequest(fx.target, 'GET', SVCS);
  assert.equal(l.status, 200);
  assert.equal(l.body.apiVersion, 'v1');
  assert.equal(l.body.kind, 'ServiceList');
  assert.equal(l.body.metadata.resourceVersion, '2');
  assert.deepEqual(l.body.items.map((o: any) => o.metadata.name), ['web']);
  const everywhere = await apiRequest(fx.target, 'GET', '/api/v1/services');
  assert.deepEqual(everywhere.body.items.map((o: any) => `${o.metadata.namespace}/${o.metadata.name}`), ['default/web', 'other/api']);
  const selected = await apiRequest(fx.target, 'GET', `/api/v1/services?labelSelector=${encodeURIComponent('tier in (back,front)')}`);
  assert.deepEqual(selected.body.items.map((o: any) => o.metadata.name), ['api']);
  const none = await apiRequest(fx.target, 'GET', `/api/v1/services?labelSelector=${encodeURIComponent('!tier')}`);
  assert.deepEqual(none.body.items.map((o: any) => o.metadata.name), ['web']);
  assertStatus(await apiRequest(fx.target, 'GET', `/api/v1/services?labelSelector=${encodeURIComponent('a in (b')}`), 400, 'BadRequest', /labelSelector: unbalanced/);

  const updated = { ...g.body, spec: { ...g.body.spec, ports: [{ port: 8080 }] } };
  const u = await apiRequest(fx.target, 'PUT', `${SVCS}/web`, { body: updated });
  assert.equal(u.status, 200);
  assert.equal(u.body.metadata.resourceVersion, '3');
  assert.equal(u.body.metadata.generation, 2);
  assert.equal(u.body.metadata.uid, c.body.metadata.uid);
  const stale = await apiRequest(fx.target, 'PUT', `${SVCS}/web`, { body: updated });
  assertStatus(stale, 409, 'Conflict', /resourceVersion 1 given, stored is 3/);
  const { resourceVersion: _rv, ...metaNoRv } = updated.metadata;
  const unconditional = await apiRequest(fx.target, 'PUT', `${SVCS}/web`, { body: { ...updated, metadata: metaNoRv } });
  assert.equal(unconditional.status, 200);
  assert.equal(unconditional.body.metadata.generation, 2, 'same spec: same generation');
  assertStatus(await apiRequest(fx.target, 'PUT', `${SVCS}/nope`, { body: service('nope') }), 404, 'NotFound');

  assertStatus(await apiRequest(fx.target, 'DELETE', `${SVCS}/web`, { body: { preconditions: { resourceVersion: '3' } } }), 409, 'Conflict');
  const d = await apiRequest(fx.target, 'DELETE', `${SVCS}/web`);
  assert.equal(d.status, 200);
  assert.equal(d.body.metadata.name, 'web');
  assert.equal(d.body.metadata.resourceVersion, '5');
  assertStatus(await apiRequest(fx.target, 'GET', `${SVCS}/web`), 404, 'NotFound');
  assertStatus(await apiRequest(fx.target, 'DELETE', `${SVCS}/web`), 404, 'NotFound');
});

test('merge patch, status subresource, method and media-type errors', async (t) => {
  const fx = await startFixture(t);
  await apiRequest(fx.target, 'POST', SVCS, { body: service('web', { labels: { a: '1', b: '2' } }) });
  const merge = { contentType: 'application/merge-patch+json' };
  const p = await apiRequest(fx.target, 'PATCH', `${SVCS}/web`, { ...merge, body: { metadata: { labels: { a: null, c: '3' } } } });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.deepEqual(p.body.metadata.labels, { b: '2', c: '3' });
  assert.equal(p.body.metadata.generation, 1);
  assert.deepEqual(p.body.spec.ports, [{ port: 80 }]);
  const p2 = await apiRequest(fx.target, 'PATCH', `${SVCS}/web`, { ...merge, body: { spec: { ports: [{ port: 81 }] } } });
  assert.equal(p2.body.metadata.generation, 2);
  assert.deepEqual(p2.body.spec.selector, { app: 'web' });
  assertStatus(await apiRequest(fx.target, 'PATCH', `${SVCS}/web`, { ...merge, body: { metadata: { resourceVersion: '1', labels: { x: 'y' } } } }), 409, 'Conflict');
  assertStatus(await apiRequest(fx.target, 'PATCH', `${SVCS}/web`, { body: { spec: {} } }), 415, 'UnsupportedMediaType', /merge-patch\+json/);
  assertStatus(await apiRequest(fx.target, 'PATCH', `${SVCS}/nope`, { ...merge, body: {} }), 404, 'NotFound');

  // Status: written only through /status; generation stays; the main resource keeps the stored status.
  const s = await apiRequest(fx.target, 'PUT', `${SVCS}/web/status`, { body: { ...p2.body, spec: { changed: true }, status: { loadBalancer: {} } } });
  assert.equal(s.status, 200, JSON.stringify(s.body));
  assert.deepEqual(s.body.status, { loadBalancer: {} });
  assert.deepEqual(s.body.spec.ports, [{ port: 81 }]);
  assert.equal(s.body.metadata.generation, 2);
  assertStatus(await apiRequest(fx.target, 'PUT', `${SVCS}/web/status`, { body: { ...p2.body, status: {} } }), 409, 'Conflict');
  const gs = await apiRequest(fx.target, 'GET', `${SVCS}/web/status`);
  assert.deepEqual(gs.body.status, { loadBalancer: {} });
  const main = await apiRequest(fx.target, 'PUT', `${SVCS}/web`, { body: { ...s.body, status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } } });
  assert.deepEqual(main.body.status, { loadBalancer: {} }, 'PUT on the main resource ignores status');
  const sp = await apiRequest(fx.target, 'PATCH', `${SVCS}/web/status`, { ...merge, body: { status: { extra: 1 } } });
  assert.deepEqual(sp.body.status, { loadBalancer: {}, extra: 1 });

  assertStatus(await apiRequest(fx.target, 'POST', `${SVCS}/web`, { body: service('web') }), 405, 'MethodNotAllowed');
  assertStatus(await apiRequest(fx.target, 'PUT', SVCS, { body: service('web') }), 405, 'MethodNotAllowed');
  assertStatus(await apiRequest(fx.target, 'DELETE', SVCS), 405, 'MethodNotAllowed');
  assertStatus(await apiRequest(fx.target, 'POST', '/api/v1/services', { body: service('x', { namespace: 'default' }) }), 405, 'MethodNotAllowed', /namespaces/);
});

test('cluster-scoped vs namespaced paths, and an Istio kind on its v1beta1 path', async (t) => {
  const fx = await startFixture(t);
  const ns = await apiRequest(fx.target, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } } });
  assert.equal(ns.status, 201, JSON.stringify(ns.body));
  assert.equal(ns.body.metadata.namespace, undefined);
  assert.equal((await apiRequest(fx.target, 'GET', '/api/v1/namespaces/prod')).body.metadata.name, 'prod');
  assert.equal((await apiRequest(fx.target, 'GET', '/api/v1/namespaces/prod/status')).status, 200);
  assert.deepEqual((await apiRequest(fx.target, 'GET', '/api/v1/namespaces')).body.items.map((o: any) => o.metadata.name), ['prod']);
  assertStatus(await apiRequest(fx.target, 'GET', '/api/v1/namespaces/prod/namespaces/x'), 404, 'NotFound', /cluster-scoped/);
  assertStatus(await apiRequest(fx.target, 'GET', '/api/v1/services/web'), 404, 'NotFound', /namespaced/);
  assertStatus(
    await apiRequest(fx.target, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', namespace: 'prod' } } }),
    422,
    'Invalid',
    /^Namespace\/prod\/x: metadata\.namespace: Namespace is cluster-scoped and takes no namespace$/,
  );

  const beta = '/apis/security.istio.io/v1beta1/namespaces/prod/authorizationpolicies';
  const ap = { apiVersion: 'security.istio.io/v1beta1', kind: 'AuthorizationPolicy', metadata: { name: 'deny-all' }, spec: {} };
  const c = await apiRequest(fx.target, 'POST', beta, { body: ap });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  assert.equal(c.body.apiVersion, 'security.istio.io/v1beta1');
  const v1 = await apiRequest(fx.target, 'GET', '/apis/security.istio.io/v1/namespaces/prod/authorizationpolicies/deny-all');
  assert.equal(v1.status, 200);
  assert.equal(v1.body.apiVersion, 'security.istio.io/v1', 'served in the path version');
  assert.equal(v1.body.metadata.uid, c.body.metadata.uid);
  const list = await apiRequest(fx.target, 'GET', '/apis/security.istio.io/v1beta1/authorizationpolicies');
  assert.equal(list.body.apiVersion, 'security.istio.io/v1beta1');
  assert.equal(list.body.kind, 'AuthorizationPolicyList');
  assert.deepEqual(list.body.items.map((o: any) => [o.apiVersion, o.metadata.name]), [['security.istio.io/v1beta1', 'deny-all']]);
  const put = await apiRequest(fx.target, 'PUT', `${beta}/deny-all`, { body: { ...v1.body, spec: { action: 'DENY' } } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.apiVersion, 'security.istio.io/v1beta1');
  assert.equal(put.body.metadata.generation, 2);
});

test('invalid objects: 422 with every line, 400 for path mismatches and bad JSON, 413 for huge bodies', async (t) => {
  const fx = await startFixture(t);
  const bad = await apiRequest(fx.target, 'POST', SVCS, { body: service('Bad_Name', { labels: { app: 'not ok!' } }) });
  assertStatus(bad, 422, 'Invalid');
  const lines = [
    "Service/default/Bad_Name: metadata.name: 'Bad_Name' is not a valid DNS-1123 label (lowercase alphanumerics and '-', at most 63 characters, starting and ending alphanumeric)",
    "Service/default/Bad_Name: metadata.labels.app: invalid label value 'not ok!': at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric",
  ];
  assert.equal(bad.body.message, lines.join('\n'));
  assert.deepEqual(bad.body.details, {
    kind: 'Service',
    name: 'Bad_Name',
    causes: [
      { field: 'metadata.name', message: lines[0]!.split(': metadata.name: ')[1] },
      { field: 'metadata.labels.app', message: lines[1]!.split(': metadata.labels.app: ')[1] },
    ],
  });
  const wrongVersion = await apiRequest(fx.target, 'POST', SVCS, { body: { ...service('x'), apiVersion: 'v2' } });
  assertStatus(wrongVersion, 422, 'Invalid', /^Service\/default\/x: apiVersion: 'v2' is not an apiVersion of Service \(accepted: v1\)$/);
  assertStatus(await apiRequest(fx.target, 'POST', SVCS, { body: { ...service('x'), kind: 'Pod' } }), 400, 'BadRequest', /body kind 'Pod' does not match/);
  assertStatus(await apiRequest(fx.target, 'POST', SVCS, { body: service('x', { namespace: 'other' }) }), 400, 'BadRequest', /namespace 'other' does not match the namespace 'default'/);
  await apiRequest(fx.target, 'POST', SVCS, { body: service('x') });
  assertStatus(await apiRequest(fx.target, 'PUT', `${SVCS}/x`, { body: service('y') }), 400, 'BadRequest', /metadata.name 'y' does not match the name 'x'/);
  const invalidUpdate = await apiRequest(fx.target, 'PUT', `${SVCS}/x`, { body: service('x', { labels: { 'bad key!': 'v' } }) });
  assertStatus(invalidUpdate, 422, 'Invalid', /^Service\/default\/x: metadata\.labels: invalid label key 'bad key!'/);
  assertStatus(await apiRequest(fx.target, 'POST', SVCS, { raw: '{"kind": "Service",', contentType: 'application/json' }), 400, 'BadRequest', /not valid JSON/);
  assertStatus(await apiRequest(fx.target, 'POST', SVCS, { raw: '[1,2]' }), 400, 'BadRequest', /must be a Service object/);
  const huge = JSON.stringify({ ...service('huge'), spec: { pad: 'x'.repeat(3 * 1024 * 1024 + 10) } });
  assertStatus(await apiRequest(fx.target, 'POST', SVCS, { raw: huge }), 413, 'RequestEntityTooLarge');
  assert.equal((await apiRequest(fx.target, 'GET', SVCS)).body.items.length, 1, 'nothing invalid was stored');
});

test('FieldsIgnored condition is set, kept through status writes, and removed when nothing is ignored', async (t) => {
  // A spec rule of our own for this test process: `spec.future` is valid but not enforced.
  registerSpecValidator('Telemetry', (obj, p) => {
    const spec = obj.spec as Record<string, unknown> | undefined;
    if (spec && 'future' in spec) p.ignore('spec.future', 'not supported by Ambit yet');
    if (spec && 'later' in spec) p.ignore('spec.later', 'also not supported');
  });
  const fx = await startFixture(t);
  const path = '/apis/telemetry.istio.io/v1/namespaces/default/telemetries';
  const tel = { apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 'tel' }, spec: { future: 1, later: 2 }, status: { mine: true } };
  const c = await apiRequest(fx.target, 'POST', path, { body: tel });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  assert.equal(c.body.status.mine, undefined, 'create does not take status from the client');
  const [cond] = c.body.status.conditions;
  assert.deepEqual({ ...cond, lastTransitionTime: undefined }, {
    type: 'FieldsIgnored',
    status: 'True',
    reason: 'UnsupportedField',
    message: 'spec.future: not supported by Ambit yet; spec.later: also not supported',
    observedGeneration: 1,
    lastTransitionTime: undefined,
  });
  assert.match(cond.lastTransitionTime, /Z$/);
  // A status writer cannot drop it.
  const s = await apiRequest(fx.target, 'PUT', `${path}/tel/status`, { body: { ...c.body, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'X', message: '' }] } } });
  assert.deepEqual(s.body.status.conditions.map((x: any) => x.type), ['Ready', 'FieldsIgnored']);
  // Spec change: message and observedGeneration follow.
  const u = await apiRequest(fx.target, 'PUT', `${path}/tel`, { body: { ...s.body, spec: { future: 2 } } });
  assert.equal(u.status, 200, JSON.stringify(u.body));
  const cond2 = u.body.status.conditions.find((x: any) => x.type === 'FieldsIgnored');
  assert.equal(cond2.message, 'spec.future: not supported by Ambit yet');
  assert.equal(cond2.observedGeneration, 2);
  assert.equal(u.body.metadata.generation, 2);
  assert.equal(cond2.lastTransitionTime, cond.lastTransitionTime, 'still True: transition time kept');
  // Nothing ignored any more: the condition goes, other conditions stay.
  const clean = await apiRequest(fx.target, 'PUT', `${path}/tel`, { body: { ...u.body, spec: {} } });
  assert.deepEqual(clean.body.status.conditions.map((x: any) => x.type), ['Ready']);
  const c2 = await apiRequest(fx.target, 'POST', path, { body: { ...tel, metadata: { name: 'plain' }, spec: {} } });
  assert.equal(c2.body.status, undefined);
});

test('bearer token on TCP: required, compared exactly; the Unix socket needs none', async (t) => {
  const fx = await startFixture(t, { tcpToken: 's3cret-token' });
  const tcp = { host: '127.0.0.1', port: fx.server.tcpPort! };
  assert.ok(fx.server.tcpPort! > 0);
  assertStatus(await apiRequest(tcp, 'GET', SVCS), 401, 'Unauthorized', /bearer token/);
  assertStatus(await apiRequest(tcp, 'GET', SVCS, { headers: { authorization: 'Bearer wrong' } }), 401, 'Unauthorized');
  assertStatus(await apiRequest(tcp, 'GET', SVCS, { headers: { authorization: 'Bearer s3cret-token-and-more' } }), 401, 'Unauthorized');
  assertStatus(await apiRequest(tcp, 'GET', '/version', { headers: { authorization: 'Basic s3cret-token' } }), 401, 'Unauthorized');
  const ok = await apiRequest(tcp, 'GET', SVCS, { headers: { authorization: 'Bearer s3cret-token' } });
  assert.equal(ok.status, 200);
  assert.equal((await apiRequest(fx.target, 'GET', SVCS)).status, 200);
});

test('restart keeps objects and versions; a live socket is refused, a stale one replaced', async (t) => {
  const fx = await startFixture(t);
  for (const n of ['a', 'b', 'c']) await apiRequest(fx.target, 'POST', SVCS, { body: service(n) });
  await apiRequest(fx.target, 'DELETE', `${SVCS}/c`);
  const before = await apiRequest(fx.target, 'GET', SVCS);
  await assert.rejects(startApiServer({ store: fx.store, socketPath: fx.socketPath, log: silentLogger() }), /already listening on/);
  await fx.restart();
  const after = await apiRequest(fx.target, 'GET', SVCS);
  assert.deepEqual(after.body, before.body);
  assert.equal(after.body.metadata.resourceVersion, '4');
  const d = await apiRequest(fx.target, 'POST', SVCS, { body: service('d') });
  assert.equal(d.body.metadata.resourceVersion, '5');

  // A socket file nobody listens on (its server was SIGKILLed) is replaced; a regular file is refused.
  const stalePath = `${fx.dir}/stale.sock`;
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('close', resolve));
  assert.ok((await stat(stalePath)).isSocket(), 'the killed server left its socket file');
  const second = await startApiServer({ store: fx.store, socketPath: stalePath, log: silentLogger() });
  assert.equal((await apiRequest({ socketPath: stalePath }, 'GET', SVCS)).body.items.length, 3);
  await second.close();
  await writeFile(`${fx.dir}/regular.sock`, 'x');
  await assert.rejects(startApiServer({ store: fx.store, socketPath: `${fx.dir}/regular.sock`, log: silentLogger() }), /exists and is not a socket/);
  await rm(`${fx.dir}/regular.sock`);
});

test('extra routes added by other components are served, errors become Status', async (t) => {
  const fx = await startFixture(t);
  fx.server.addRoute('POST', '/debug/echo', async (_req, body) => ({ status: 200, body: { got: body.toString('utf8') } }));
  fx.server.addRoute('GET', '/debug/items/*', async (req) => ({ status: 200, body: { url: req.url } }));
  fx.server.addRoute('GET', '/debug/fail', async () => {
    throw new Error('boom');
  });
  assert.deepEqual((await apiRequest(fx.target, 'POST', '/debug/echo', { raw: 'hello' })).body, { got: 'hello' });
  assert.deepEqual((await apiRequest(fx.target, 'GET', '/debug/items/x/y')).body, { url: '/debug/items/x/y' });
  assertStatus(await apiRequest(fx.target, 'GET', '/debug/fail'), 500, 'InternalError', /^internal error: boom$/);
});
