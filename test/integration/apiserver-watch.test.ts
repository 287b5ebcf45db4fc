// Watch over the HTTP API: resume from a resourceVersion with no gap or duplicate, expiry, selectors, slow clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startFixture } from './helpers/store-fixture.js';
import { apiRequest, WatchCollector } from './helpers/store-api-client.js';

const SVCS = '/api/v1/namespaces/default/services';

function service(name: string, labels: Record<string, string> = {}) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, labels }, spec: { ports: [{ port: 80 }] } };
}

/** Runs `tasks` with at most `limit` in flight. */
async function withConcurrency<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]!();
      }
    }),
  );
  return out;
}

test('a watcher that disconnects resumes from its last version and sees exactly the 100 writes it missed, in order', { timeout: 60_000 }, async (t) => {
  const fx = await startFixture(t, { historyLimit: 150 });
  const first = new WatchCollector(fx.target, `${SVCS}?watch=1`);
  t.after(() => first.close());
  await first.started;
  assert.equal(first.status, 200);
  assert.equal(first.contentType, 'application/x-ndjson');
  for (let i = 0; i < 5; i++) assert.equal((await apiRequest(fx.target, 'POST', SVCS, { body: service(`s${i}`) })).status, 201);
  await first.waitFor(5);
  assert.deepEqual(first.events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED s0', 'ADDED s1', 'ADDED s2', 'ADDED s3', 'ADDED s4']);
  const lastSeen = first.events[4]!.object.metadata.resourceVersion as string;
  first.close();

  // 100 writes while disconnected, 8 at a time: creates, merge patches and deletes.
  const merge = { contentType: 'application/merge-patch+json' };
  const tasks: Array<() => Promise<{ type: string; name: string; rv: string }>> = [];
  for (let i = 0; i < 50; i++) {
    tasks.push(async () => {
      const r = await apiRequest(fx.target, 'POST', SVCS, { body: service(`n${i}`) });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return { type: 'ADDED', name: `n${i}`, rv: r.body.metadata.resourceVersion };
    });
  }
  for (let i = 0; i < 30; i++) {
    const name = `s${i % 5}`;
    tasks.push(async () => {
      const r = await apiRequest(fx.target, 'PATCH', `${SVCS}/${name}`, { ...merge, body: { metadata: { labels: { round: String(i) } } } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return { type: 'MODIFIED', name, rv: r.body.metadata.resourceVersion };
    });
  }
  const deletes = Array.from({ length: 20 }, (_, i) => async () => {
    const r = await apiRequest(fx.target, 'DELETE', `${SVCS}/n${i}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return { type: 'DELETED', name: `n${i}`, rv: r.body.metadata.resourceVersion as string };
  });
  const writes = [...(await withConcurrency(tasks, 8)), ...(await withConcurrency(deletes, 8))];
  const expected = writes.sort((a, b) => Number(a.rv) - Number(b.rv)).map((w) => `${w.type} ${w.name} ${w.rv}`);
  assert.deepEqual(expected.map((e) => Number(e.split(' ')[2])), Array.from({ length: 100 }, (_, i) => Number(lastSeen) + 1 + i));

  const resumed = new WatchCollector(fx.target, `${SVCS}?watch=1&resourceVersion=${lastSeen}`);
  t.after(() => resumed.close());
  await resumed.waitFor(100);
  await new Promise((r) => setTimeout(r, 200)); // anything extra would arrive now
  assert.deepEqual(resumed.events.map((e) => `${e.type} ${e.object.metadata.name} ${e.object.metadata.resourceVersion}`), expected);
  assert.equal(resumed.ended, false, 'the stream stays open for live changes');
  await apiRequest(fx.target, 'POST', SVCS, { body: service('live') });
  await resumed.waitFor(101);
  assert.equal(resumed.events[100]!.object.metadata.name, 'live');
  resumed.close();

  // Push the resume point out of the 150-event history: the server answers ERROR 410 Expired and ends the stream.
  await withConcurrency(Array.from({ length: 150 }, (_, i) => () => apiRequest(fx.target, 'PATCH', `${SVCS}/s0`, { ...merge, body: { metadata: { labels: { again: String(i) } } } })), 8);
  const expired = new WatchCollector(fx.target, `${SVCS}?watch=1&resourceVersion=${lastSeen}`);
  t.after(() => expired.close());
  await expired.waitEnd();
  assert.equal(expired.status, 200);
  assert.equal(expired.events.length, 1);
  const err = expired.events[0]!;
  assert.equal(err.type, 'ERROR');
  assert.equal(err.object.kind, 'Status');
  assert.equal(err.object.code, 410);
  assert.equal(err.object.reason, 'Expired');
  assert.match(err.object.message, /too old resource version/);
});

test('watch variants: resourceVersion=0, label selectors, path version, bad versions, server shutdown', { timeout: 30_000 }, async (t) => {
  const fx = await startFixture(t);
  await apiRequest(fx.target, 'POST', SVCS, { body: service('a', { app: 'web' }) });
  await apiRequest(fx.target, 'POST', SVCS, { body: service('b', { app: 'db' }) });

  const all = new WatchCollector(fx.target, `${SVCS}?watch=true&resourceVersion=0`);
  t.after(() => all.close());
  const web = new WatchCollector(fx.target, `/api/v1/services?watch=1&labelSelector=${encodeURIComponent('app=web')}`);
  t.after(() => web.close());
  await all.waitFor(2);
  await web.started;
  assert.deepEqual(all.events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED a', 'ADDED b']);
  const merge = { contentType: 'application/merge-patch+json' };
  await apiRequest(fx.target, 'PATCH', `${SVCS}/b`, { ...merge, body: { metadata: { labels: { app: 'web' } } } });
  await apiRequest(fx.target, 'PATCH', `${SVCS}/a`, { ...merge, body: { metadata: { labels: { app: 'none' } } } });
  await all.waitFor(4);
  await web.waitFor(2);
  assert.deepEqual(web.events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED b', 'DELETED a']);

  const beta = new WatchCollector(fx.target, '/apis/networking.istio.io/v1beta1/namespaces/default/serviceentries?watch=1');
  t.after(() => beta.close());
  await beta.started;
  const se = { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'ext' }, spec: { hosts: ['example.com'], ports: [{ number: 443, name: 'https', protocol: 'TLS' }], resolution: 'DNS' } };
  const created = await apiRequest(fx.target, 'POST', '/apis/networking.istio.io/v1/namespaces/default/serviceentries', { body: se });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await beta.waitFor(1);
  assert.equal(beta.events[0]!.object.apiVersion, 'networking.istio.io/v1beta1');

  for (const rv of ['abc', '999999']) {
    const bad = await apiRequest(fx.target, 'GET', `${SVCS}?watch=1&resourceVersion=${rv}`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.reason, 'BadRequest');
  }

  // Closing the server ends open streams (clients then resume elsewhere).
  await fx.server.close();
  await all.waitEnd();
  await web.waitEnd();
});

test('a client that stops reading is cut off once its backlog passes the bound, after everything it was sent', { timeout: 60_000 }, async (t) => {
  const fx = await startFixture(t);
  // A raw request whose response we pause: the server's buffer for it grows with every event.
  const chunks: Buffer[] = [];
  let res!: http.IncomingMessage;
  const req = http.request({ socketPath: fx.socketPath, path: `${SVCS}?watch=1`, agent: false });
  t.after(() => req.destroy());
  await new Promise<void>((resolve) => {
    req.on('response', (r) => {
      res = r;
      r.pause();
      resolve();
    });
    req.end();
  });
  const pad = 'p'.repeat(200 * 1024);
  for (let i = 0; i < 120; i++) {
    const r = await apiRequest(fx.target, 'POST', SVCS, { body: { ...service(`big${i}`), metadata: { name: `big${i}`, annotations: { pad } } } });
    assert.equal(r.status, 201);
  }
  res.on('data', (c: Buffer) => chunks.push(c));
  await new Promise<void>((resolve) => {
    res.on('end', () => resolve());
    res.resume();
  });
  const lines = Buffer.concat(chunks).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
  const last = lines[lines.length - 1];
  assert.equal(last.type, 'ERROR');
  assert.equal(last.object.code, 503);
  assert.match(last.object.message, /fell more than \d+ bytes behind; resume from the last resourceVersion/);
  const events = lines.slice(0, -1);
  assert.ok(events.length > 0 && events.length < 120, `got ${events.length} events before the cut`);
  assert.deepEqual(events.map((e) => e.object.metadata.name), events.map((_, i) => `big${i}`), 'in order, no gap before the cut');
});

test('the server lists who holds watches (named by User-Agent), newest watch time per client, and forgets closed ones', { timeout: 30_000 }, async (t) => {
  const { ApiClient } = await import('../../src/controlplane/client/index.js');
  const { kindByName } = await import('../../src/api/index.js');
  const { WATCH_CLIENTS_PATH } = await import('../../src/lib/watch-clients.js');
  const fx = await startFixture(t);
  const named = new ApiClient({ endpoint: fx.target, userAgent: 'ambit-nodeagent/node-a' });
  const anonymous = new ApiClient({ endpoint: fx.target });
  t.after(() => { named.close(); anonymous.close(); });
  const list = async () => ((await anonymous.requestJson('GET', WATCH_CLIENTS_PATH)) as { items: Array<{ client: string; watches: number; resources: string[]; connectedAt: string }> }).items;
  assert.deepEqual(await list(), []);
  const before = new Date().toISOString();
  const pods = named.watch(kindByName('Pod')!, {});
  const svcs = named.watch(kindByName('Service')!, {});
  const other = anonymous.watch(kindByName('Pod')!, {});
  t.after(() => { pods.close(); svcs.close(); other.close(); });
  // Iterating starts the request; the server registers the watch when its response begins.
  const drains = [pods, svcs, other].map(async (w) => { try { for await (const _ of w) { /* events are not the point */ } } catch { /* closed */ } });
  let items = await waitForItems(list, (xs) => xs.length === 1 && xs[0]!.watches === 2);
  assert.equal(items[0]!.client, 'ambit-nodeagent/node-a');
  assert.deepEqual([...items[0]!.resources].sort(), ['/api/v1/pods', '/api/v1/services']);
  assert.ok(items[0]!.connectedAt >= before, `${items[0]!.connectedAt} is not after ${before}`);
  svcs.close();
  items = await waitForItems(list, (xs) => xs.length === 1 && xs[0]!.watches === 1);
  pods.close();
  await waitForItems(list, (xs) => xs.length === 0);
  other.close();
  await Promise.all(drains);
});

async function waitForItems<T>(list: () => Promise<T[]>, ok: (xs: T[]) => boolean): Promise<T[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const xs = await list();
    if (ok(xs)) return xs;
    if (Date.now() > deadline) throw new Error(`watchers never matched: ${JSON.stringify(xs)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
