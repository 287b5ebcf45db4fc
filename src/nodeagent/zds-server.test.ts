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
