// Unit tests for the REST client against a scripted HTTP server on a Unix socket and on loopback TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kindByName } from '../../api/registry.js';
import { ApiClient } from './api-client.js';
import { ClientError, isNotFound } from './client-error.js';

const pod = kindByName('Pod')!;

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function fakeServer(
  t: { after(fn: () => void | Promise<void>): void },
  handler: (req: Seen, res: http.ServerResponse) => void,
  listen: { socketPath: string } | { tcp: true },
): Promise<{ seen: Seen[]; port: number }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((resolve) => ('socketPath' in listen ? server.listen(listen.socketPath, resolve) : server.listen(0, '127.0.0.1', resolve)));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const addr = server.address();
  return { seen, port: typeof addr === 'object' && addr ? addr.port : 0 };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function tempSocket(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-client-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'ambit.sock');
}

test('CRUD requests use Kubernetes paths, methods and content types over the Unix socket', { timeout: 10_000 }, async (t) => {
  const socketPath = tempSocket(t);
  const obj = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'demo' } };
  const { seen } = await fakeServer(t, (req, res) => {
    if (req.url.startsWith('/api/v1/namespaces/demo/pods?')) return json(res, 200, { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '5' }, items: [obj] });
    if (req.url === '/version') return json(res, 200, { ambit: '9.9.9' });
    json(res, req.method === 'POST' ? 201 : 200, obj);
  }, { socketPath });
  const c = new ApiClient({ endpoint: { socketPath } });
  t.after(() => c.close());
  assert.equal((await c.version()).ambit, '9.9.9');
  await c.get(pod, 'demo', 'web');
  const list = await c.list(pod, { namespace: 'demo', labelSelector: 'app=web,tier!=db' });
  assert.equal(list.metadata.resourceVersion, '5');
  assert.equal(list.items.length, 1);
  await c.create(obj);
  await c.update({ ...obj, metadata: { ...obj.metadata, resourceVersion: '5' } });
  await c.patch(pod, 'demo', 'web', { metadata: { labels: { a: null } } });
  await c.delete(pod, 'demo', 'web');
  assert.deepEqual(seen.map((s) => `${s.method} ${s.url}`), [
    'GET /version',
    'GET /api/v1/namespaces/demo/pods/web',
    'GET /api/v1/namespaces/demo/pods?labelSelector=app%3Dweb%2Ctier!%3Ddb',
    'POST /api/v1/namespaces/demo/pods',
    'PUT /api/v1/namespaces/demo/pods/web',
    'PATCH /api/v1/namespaces/demo/pods/web',
    'DELETE /api/v1/namespaces/demo/pods/web',
  ]);
  assert.equal(seen[5]!.headers['content-type'], 'application/merge-patch+json');
  assert.equal(seen[3]!.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(seen[5]!.body), { metadata: { labels: { a: null } } });
});

test('a Status answer becomes a ClientError with code, reason, message and causes', { timeout: 10_000 }, async (t) => {
  const socketPath = tempSocket(t);
  await fakeServer(t, (req, res) => {
    if (req.method === 'GET') return json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'pods "web" not found', reason: 'NotFound', code: 404 });
    json(res, 422, {
      kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Invalid', code: 422,
      message: 'Pod/demo/web: spec.containers: required\nPod/demo/web: metadata.labels.x: bad',
      details: { name: 'web', kind: 'Pod', causes: [{ field: 'spec.containers', message: 'required' }, { field: 'metadata.labels.x', message: 'bad' }] },
    });
  }, { socketPath });
  const c = new ApiClient({ endpoint: { socketPath } });
  t.after(() => c.close());
  await assert.rejects(c.get(pod, 'demo', 'web'), (e: unknown) => isNotFound(e) && (e as ClientError).reason === 'NotFound');
  await assert.rejects(c.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'demo' } }), (e: unknown) => {
    const ce = e as ClientError;
    return ce instanceof ClientError && ce.status === 422 && ce.reason === 'Invalid' && ce.causes.length === 2 && ce.message.split('\n').length === 2;
  });
  await assert.rejects(c.create({ apiVersion: 'v1', kind: 'Bogus', metadata: { name: 'x' } }), (e: unknown) => (e as ClientError).code === 'CLIENT_UNKNOWN_KIND');
});

test('a missing socket gives the "cannot reach the control plane" message', { timeout: 10_000 }, async (t) => {
  const socketPath = tempSocket(t);
  const c = new ApiClient({ endpoint: { socketPath } });
  t.after(() => c.close());
  await assert.rejects(c.version(), (e: unknown) => {
    const ce = e as ClientError;
    return ce.code === 'CLIENT_UNREACHABLE' && ce.message.startsWith(`cannot reach the control plane at ${socketPath}: is \`ambit controlplane\` running? (`) && ce.message.includes('ENOENT');
  });
});

test('TCP requests carry the bearer token', { timeout: 10_000 }, async (t) => {
  const { seen, port } = await fakeServer(t, (_req, res) => json(res, 200, { ambit: '1' }), { tcp: true });
  const c = new ApiClient({ endpoint: { host: '127.0.0.1', port, token: 's3cret' } });
  t.after(() => c.close());
  await c.version();
  assert.equal(seen[0]!.headers.authorization, 'Bearer s3cret');
  assert.equal(c.target, `127.0.0.1:${port}`);
});

test('watch yields ndjson events in order, surfaces ERROR as a ClientError, and stops on close', { timeout: 10_000 }, async (t) => {
  const socketPath = tempSocket(t);
  const ev = (type: string, name: string) => JSON.stringify({ type, object: { apiVersion: 'v1', kind: 'Pod', metadata: { name } } }) + '\n';
  await fakeServer(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    if (/[?&]resourceVersion=1(&|$)/.test(req.url)) {
      res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'too old resource version: 1', reason: 'Expired', code: 410 } }) + '\n');
      return;
    }
    // Split one event across writes; keep the stream open for the close() check.
    const a = ev('ADDED', 'a');
    res.write(a.slice(0, 10));
    setTimeout(() => res.write(a.slice(10) + ev('MODIFIED', 'a') + ev('DELETED', 'a')), 20);
  }, { socketPath });
  const c = new ApiClient({ endpoint: { socketPath } });
  t.after(() => c.close());
  const w = c.watch(pod, { namespace: 'demo', resourceVersion: '7' });
  const got: string[] = [];
  for await (const e of w) {
    got.push(`${e.type} ${e.object.metadata.name}`);
    if (got.length === 3) w.close();
  }
  assert.deepEqual(got, ['ADDED a', 'MODIFIED a', 'DELETED a']);

  const expired = c.watch(pod, { namespace: 'demo', resourceVersion: '1' });
  await assert.rejects(
    (async () => {
      for await (const _ of expired) void _;
    })(),
    (e: unknown) => (e as ClientError).status === 410 && (e as ClientError).reason === 'Expired',
  );
});
