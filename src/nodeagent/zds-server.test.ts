// ZDS server over a real SEQPACKET socket (no root needed): hello, snapshot replay with one fd per add,
// per-message acks, NACKs reported, live add/del after the snapshot, reconnect replays again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsInode } from '../platform/index.js';
import { silentLogger } from '../lib/log.js';
import { ZdsServer, type ZdsWorkload } from './zds-server.js';
import { ZdsTestClient } from './testing/zds-test-client.js';

const SELF_NETNS = '/proc/self/ns/net';

function workload(uid: string): ZdsWorkload {
  return { uid, name: `pod-${uid}`, namespace: 'demo', serviceAccount: 'sa', netnsPath: SELF_NETNS };
}

test('snapshot replay, acks and nacks, live add/del, reconnect', { timeout: 10_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-zds-'));
  const results: Array<[string, string | undefined]> = [];
  let current = [workload('a'), workload('b')];
  const server = new ZdsServer({
    socketPath: join(dir, 'zds.sock'), log: silentLogger(), snapshot: () => current,
    onAddResult: (uid, error) => results.push([uid, error]),
  });
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(server.connected, false);

  const client = new ZdsTestClient(join(dir, 'zds.sock'));
  client.answer = (r) => (r.uid === 'b' ? 'proxy failed to start' : undefined);
  await client.waitFor((r) => r.kind === 'snapshot');
  assert.deepEqual(client.requests.map((r) => [r.kind, r.uid ?? '', r.fdCount]), [['add', 'a', 1], ['add', 'b', 1], ['snapshot', '', 0]]);
  assert.equal(client.requests[0]!.netnsInode, netnsInode(SELF_NETNS));
  assert.deepEqual(client.requests[0]!.name, 'pod-a');
  assert.deepEqual(results, [['a', undefined], ['b', 'proxy failed to start']]);
  assert.equal(server.connected, true);

  server.add(workload('c'));
  server.del('a');
  await client.waitFor((r) => r.kind === 'del');
  assert.deepEqual(client.requests.slice(3).map((r) => [r.kind, r.uid, r.fdCount]), [['add', 'c', 1], ['del', 'a', 0]]);
  client.close();

  // A new ztunnel connection gets the current snapshot again.
  current = [workload('c')];
  const second = new ZdsTestClient(join(dir, 'zds.sock'));
  t.after(() => second.close());
  await second.waitFor((r) => r.kind === 'snapshot');
  assert.deepEqual(second.requests.map((r) => [r.kind, r.uid ?? '']), [['add', 'c'], ['snapshot', '']]);
});

test('two ztunnels at once (a restart in progress): both get the snapshot and every later add/del', { timeout: 10_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-zds-'));
  const results: Array<[string, string | undefined]> = [];
  const changes: boolean[] = [];
  const server = new ZdsServer({
    socketPath: join(dir, 'zds.sock'), log: silentLogger(), snapshot: () => [workload('a')],
    onAddResult: (uid, error) => results.push([uid, error]),
    onConnectionChange: (up) => changes.push(up),
  });
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const old = new ZdsTestClient(join(dir, 'zds.sock'));
  await old.waitFor((r) => r.kind === 'snapshot');
  const next = new ZdsTestClient(join(dir, 'zds.sock'));
  t.after(() => next.close());
  await next.waitFor((r) => r.kind === 'snapshot');
  // The old connection was not dropped by the new one: it still gets live updates.
  server.add(workload('b'));
  server.del('a');
  await Promise.all([old.waitFor((r) => r.kind === 'del'), next.waitFor((r) => r.kind === 'del')]);
  for (const c of [old, next]) {
    assert.deepEqual(c.requests.map((r) => [r.kind, r.uid ?? '']), [['add', 'a'], ['snapshot', ''], ['add', 'b'], ['del', 'a']]);
  }
  // Add results come from the newest connection only (one per add, not one per connection).
  assert.deepEqual(results, [['a', undefined], ['a', undefined], ['b', undefined]]);
  // The old ztunnel leaving is not "no ztunnel": the new one is still there.
  old.close();
  await new Promise((r) => setTimeout(r, 100));
  server.add(workload('c')); // a send to the closed connection notices it is gone
  await next.waitFor((r) => r.uid === 'c');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(server.connected, true);
  assert.deepEqual(changes, [true, true]);
});

test('the snapshot waits until the agent knows its pods', { timeout: 10_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-zds-'));
  let known: ZdsWorkload[] = [];
  let ready!: () => void;
  const server = new ZdsServer({
    socketPath: join(dir, 'zds.sock'), log: silentLogger(), snapshot: () => known,
    onAddResult: () => undefined, snapshotReady: new Promise<void>((r) => (ready = r)),
  });
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = new ZdsTestClient(join(dir, 'zds.sock'));
  t.after(() => client.close());
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(client.requests.length, 0, 'nothing (in particular no empty snapshot) before the agent is ready');
  known = [workload('a')];
  ready();
  await client.waitFor((r) => r.kind === 'snapshot');
  assert.deepEqual(client.requests.map((r) => [r.kind, r.uid ?? '']), [['add', 'a'], ['snapshot', '']]);
});

test('the snapshot carries a del for every released pod, before snapshot_sent', { timeout: 10_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-zds-'));
  const server = new ZdsServer({
    socketPath: join(dir, 'zds.sock'), log: silentLogger(), snapshot: () => [workload('a')], released: () => ['gone'],
    onAddResult: () => undefined,
  });
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = new ZdsTestClient(join(dir, 'zds.sock'));
  t.after(() => client.close());
  await client.waitFor((r) => r.kind === 'snapshot');
  assert.deepEqual(client.requests.map((r) => [r.kind, r.uid ?? '']), [['add', 'a'], ['del', 'gone'], ['snapshot', '']]);
});
