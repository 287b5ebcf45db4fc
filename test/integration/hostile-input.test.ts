// Hostile input against the real API server, store and CLI binary: oversized annotations and bodies, 100k labels,
// deep nesting, foreign resourceVersions, non-string and control-character names, empty manifests, and a watch
// history that stays within its byte budget under repeated large patches. Each is refused with one clear line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileStore } from '../../src/controlplane/store/file-store.js';
import { startApiServer } from '../../src/controlplane/apiserver/api-server.js';
import { silentLogger } from '../../src/lib/log.js';
import { apiRequest, WatchCollector } from './helpers/store-api-client.js';
import { runAmbit, startControlPlane, exited, lines } from './helpers/cli-harness.js';

const SVCS = '/api/v1/namespaces/default/services';

function service(name: unknown, metadata: Record<string, unknown> = {}, spec: unknown = { selector: { app: 'x' }, ports: [{ port: 80 }] }) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, ...metadata }, spec };
}

/** JSON text with `levels` maps nested inside each other at `<DEEP>` in `template` (JSON.stringify would overflow). */
function withDeep(template: unknown, levels: number): string {
  return JSON.stringify(template).replace('"<DEEP>"', `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`);
}

async function startApi(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-hostile-'));
  const store = await openFileStore(join(dir, 'store'));
  const target = { socketPath: join(dir, 'ambit.sock') };
  const server = await startApiServer({ store, socketPath: target.socketPath, log: silentLogger() });
  t.after(async () => {
    await server.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, target };
}

function assertInvalid(res: { status: number; body: any }, message: string | RegExp, field?: string): void {
  assert.equal(res.status, 422, JSON.stringify(res.body).slice(0, 500));
  assert.equal(res.body.kind, 'Status');
  assert.equal(res.body.reason, 'Invalid');
  if (typeof message === 'string') assert.equal(res.body.message, message);
  else assert.match(res.body.message, message);
  if (field !== undefined) assert.equal(res.body.details.causes[0].field, field);
}

test('API: a 2.8 MB annotation is refused naming the object and metadata.annotations, by create and by merge-patch', { timeout: 60_000 }, async (t) => {
  const { target } = await startApi(t);
  const blob = 'x'.repeat(2_800_000);
  const created = await apiRequest(target, 'POST', SVCS, { body: service('big', { annotations: { blob } }) });
  assertInvalid(created, /^Service\/default\/big: metadata\.annotations: too long: keys and values total 2\.67 MiB \(2800004 bytes\), at most 256 KiB/, 'metadata.annotations');
  assert.equal((await apiRequest(target, 'POST', SVCS, { body: service('big') })).status, 201);
  const patched = await apiRequest(target, 'PATCH', `${SVCS}/big`, { body: { metadata: { annotations: { blob } } }, contentType: 'application/merge-patch+json' });
  assertInvalid(patched, /^Service\/default\/big: metadata\.annotations: too long/, 'metadata.annotations');
  assert.equal((await apiRequest(target, 'GET', `${SVCS}/big`)).body.metadata.annotations, undefined);
});

test('API: 200 merge-patches of a 200 KiB annotation keep the watch history within its 32 MiB budget', { timeout: 180_000 }, async (t) => {
  const { store, target } = await startApi(t);
  const first = await apiRequest(target, 'POST', SVCS, { body: service('churn') });
  assert.equal(first.status, 201);
  const value = 'v'.repeat(200 * 1024);
  for (let i = 0; i < 200; i++) {
    // A different value each time: every patch is a real change, and a full copy of the object in the history.
    const r = await apiRequest(target, 'PATCH', `${SVCS}/churn`, { body: { metadata: { annotations: { blob: `${i}-${value}` } } }, contentType: 'application/merge-patch+json' });
    assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 300));
  }
  // Resuming from before the kept window is a 410 Expired (list again; the count bound alone kept all 201
  // versions), from inside it a replay.
  const expired = new WatchCollector(target, `${SVCS}?watch=1&resourceVersion=${first.body.metadata.resourceVersion}`);
  t.after(() => expired.close());
  await expired.waitEnd();
  assert.deepEqual(expired.events.map((e) => [e.type, e.object.code, e.object.reason]), [['ERROR', 410, 'Expired']]);
  const recent = new WatchCollector(target, `${SVCS}?watch=1&resourceVersion=${Number(store.resourceVersion()) - 3}`);
  t.after(() => recent.close());
  const events = await recent.waitFor(3);
  assert.deepEqual(events.map((e) => e.type), ['MODIFIED', 'MODIFIED', 'MODIFIED']);
  const stats = store.historyStats();
  // Without a byte bound all 201 versions (about 40 MiB) would be kept; with it, only the newest ~160.
  assert.ok(stats.bytes <= 32 * 1024 * 1024, `history holds ${stats.bytes} bytes`);
  assert.ok(stats.bytes > 30 * 1024 * 1024, `the budget is used, not wasted: ${stats.bytes} bytes`);
  assert.ok(stats.events < 201 && stats.events > 100, `${stats.events} events kept`);
});

test('API: deep nesting is a 422 naming the object and the field, for create, replace, patch and status; so is an oversized status', { timeout: 60_000 }, async (t) => {
  const { target } = await startApi(t);
  assert.equal((await apiRequest(target, 'POST', SVCS, { body: service('ok') })).status, 201);
  const field = `spec.selector${'.a'.repeat(98)}`;
  const line = (name: string): string => `Service/default/${name}: ${field}: nested more than 100 levels deep (maps and lists inside each other)`;
  const deepService = (name: string): string => withDeep(service(name, {}, { selector: '<DEEP>' }), 100_000);
  assertInvalid(await apiRequest(target, 'POST', SVCS, { raw: deepService('deep') }), line('deep'), field);
  assertInvalid(await apiRequest(target, 'PUT', `${SVCS}/ok`, { raw: deepService('ok') }), line('ok'), field);
  const patch = withDeep({ spec: { selector: '<DEEP>' } }, 100_000);
  assertInvalid(await apiRequest(target, 'PATCH', `${SVCS}/ok`, { raw: patch, contentType: 'application/merge-patch+json' }), line('ok'), field);
  const status = await apiRequest(target, 'PUT', `${SVCS}/ok/status`, { raw: withDeep({ ...service('ok'), status: '<DEEP>' }, 100_000) });
  assertInvalid(status, /^Service\/default\/ok: status(\.a){99}: nested more than 100 levels deep/, `status${'.a'.repeat(99)}`);
  const bigStatus = await apiRequest(target, 'PUT', `${SVCS}/ok/status`, { body: { ...service('ok'), status: { note: 'x'.repeat(2_000_000) } } });
  assertInvalid(bigStatus, /^Service\/default\/ok: status: the object is 1\.91 MiB \(\d+ bytes\) as JSON, more than the 1\.5 MiB/, 'status');
});

test('API: an oversized body names its target; resourceVersion on create, non-string and control-character names', { timeout: 60_000 }, async (t) => {
  const { target } = await startApi(t);
  assert.equal((await apiRequest(target, 'POST', SVCS, { body: service('web') })).status, 201);
  const huge = JSON.stringify(service('web', { annotations: { a: 'x'.repeat(3_200_000) } }));
  const put = await apiRequest(target, 'PUT', `${SVCS}/web`, { raw: huge });
  assert.equal(put.status, 413);
  assert.match(put.body.message, /^Service\/default\/web: request body of 3\.05 MiB \(\d+ bytes\) is larger than the 3 MiB \(3145728 bytes\) the API accepts$/);
  const post = await apiRequest(target, 'POST', SVCS, { raw: huge });
  assert.equal(post.status, 413);
  assert.match(post.body.message, /^new Service in namespace default: request body of 3\.05 MiB/);

  assertInvalid(
    await apiRequest(target, 'POST', SVCS, { body: service('rv', { resourceVersion: 'abc' }) }),
    'Service/default/rv: metadata.resourceVersion: must not be set on objects to be created (the server assigns it)',
    'metadata.resourceVersion',
  );
  assertInvalid(await apiRequest(target, 'POST', SVCS, { body: service('rv', { resourceVersion: '1' }) }), /metadata\.resourceVersion: must not be set/);
  const current = (await apiRequest(target, 'GET', `${SVCS}/web`)).body;
  assertInvalid(
    await apiRequest(target, 'PUT', `${SVCS}/web`, { body: { ...current, metadata: { ...current.metadata, resourceVersion: 'abc' } } }),
    /^Service\/default\/web: metadata\.resourceVersion: "abc" is not a resourceVersion this server issued/,
  );

  assertInvalid(await apiRequest(target, 'POST', SVCS, { body: service(12345) }), 'Service/default/<no name>: metadata.name: must be a string, got 12345 (quote it in YAML)', 'metadata.name');
  const nul = await apiRequest(target, 'POST', SVCS, { body: service('we\u0000b') });
  assertInvalid(nul, /^Service\/default\/"we\\u0000b": metadata\.name: "we\\u0000b" is not a valid DNS-1123 label/);
  assert.ok(!nul.body.message.includes('\u0000'), 'no raw NUL in the answer');
  const missing = await apiRequest(target, 'GET', `${SVCS}/we%00b`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.message, 'Service/default/"we\\u0000b" not found');
});

test('CLI: empty manifests, deep nesting, 100k labels, oversized objects and `get all`', { timeout: 240_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'ambit-hostile-cli-'));
  const cp = await startControlPlane(dataDir);
  t.after(async () => {
    cp.kill('SIGKILL');
    await exited(cp);
    await rm(dataDir, { recursive: true, force: true });
  });
  const file = async (name: string, text: string): Promise<string> => {
    const p = join(dataDir, name);
    await writeFile(p, text);
    return p;
  };

  await t.test('a file of only empty documents is an error, not a silent success', async () => {
    const f = await file('empty.yaml', '---\n# nothing\n---\n---\n');
    const r = await runAmbit(dataDir, ['apply', '-f', f]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `error: no objects passed to apply (${f} held only empty documents or none at all)\n`);
    const d = await runAmbit(dataDir, ['delete', '-f', f]);
    assert.equal(d.code, 1);
    assert.match(d.stderr, /^error: no objects passed to delete/);
  });

  await t.test('deep nesting names the file, the object and the field', async () => {
    const f = await file('deep.yaml', `apiVersion: v1\nkind: Service\nmetadata: {name: deep}\nspec: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`);
    const r = await runAmbit(dataDir, ['apply', '-f', f]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^error: ${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: document 1, line \\d+: Service/deep: spec(\\[0\\]){99}: nested more than 100 levels deep`));
    assert.doesNotMatch(r.stderr, /call stack/);
  });

  await t.test('100k labels: parsed in linear time and refused with one line', async () => {
    const text = ['apiVersion: v1', 'kind: ServiceAccount', 'metadata:', '  name: many', '  labels:'];
    for (let i = 0; i < 100_000; i++) text.push(`    k${i}: v${i}`);
    const f = await file('many.yaml', `${text.join('\n')}\n`);
    // The quadratic duplicate-key check kept the CLI busy for over two minutes on this input.
    const r = await runAmbit(dataDir, ['apply', '-f', f], { timeoutMs: 60_000 });
    assert.equal(r.code, 1);
    assert.deepEqual(lines(r.stderr), ['error: ServiceAccount/default/many: metadata.labels: too many labels: 100000, at most 1000 (keep bulk data in annotations or spec)']);
  });

  await t.test('an object over the request limit is refused by name before it is sent', async () => {
    const big = `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: huge}\nsecrets: [{name: "${'x'.repeat(3_300_000)}"}]\n`;
    const r = await runAmbit(dataDir, ['apply', '-f', await file('huge.yaml', big)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: ServiceAccount\/default\/huge: secrets: the object is 3\.15 MiB \(\d+ bytes\) as JSON, more than the 1\.5 MiB \(1572864 bytes\) an object may have/);
  });

  await t.test('get all lists pods and services with kind-prefixed names, in a namespace or in all', async () => {
    const f = await file(
      'all.yaml',
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: t9}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: t9}\nspec: {selector: {app: web}, ports: [{port: 80}]}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa, namespace: t9}\n',
    );
    assert.equal((await runAmbit(dataDir, ['apply', '-f', f])).code, 0);
    const r = await runAmbit(dataDir, ['get', 'all', '-n', 't9']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+TYPE\s+CLUSTER-IP/);
    assert.match(r.stdout, /^service\/web\s/m);
    assert.doesNotMatch(r.stdout, /serviceaccount/);
    const names = await runAmbit(dataDir, ['get', 'all', '-A', '-o', 'name']);
    assert.ok(lines(names.stdout).includes('service/web'), names.stdout);
    const none = await runAmbit(dataDir, ['get', 'all', '-n', 'nothing-here']);
    assert.equal(none.code, 0);
    assert.equal(none.stderr, 'No resources found in nothing-here namespace.\n');
  });
});
