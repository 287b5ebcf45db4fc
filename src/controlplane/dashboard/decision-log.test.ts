// The live decisions memory: sequence numbers, newest-last pages after a cursor, filters, the bound; and the wire
// batch round trip (unknown enum values dropped and counted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DecisionRecord } from '../../lib/telemetry/decision-record.js';
import { fromBatch, toBatch } from '../../lib/telemetry/decision-service.js';
import { DecisionLog } from './decision-log.js';

const decision = (n: number, more: Partial<DecisionRecord> = {}): DecisionRecord => ({
  timeMs: 1000 + n, reporter: 'destination', protocol: 'tcp', verdict: 'allowed', durationMs: n, mutualTls: true,
  source: { address: `10.0.0.1:${n}`, workload: 'client', namespace: 'demo' }, destination: { address: '10.0.0.2:80', workload: 'echo', namespace: 'demo' }, ...more,
});

test('DecisionLog: pages after a cursor, filters, and forgets the oldest past its bound', () => {
  const log = new DecisionLog(5);
  log.add('zt1', [1, 2, 3].map((n) => decision(n)));
  log.add('zt2', [decision(4, { verdict: 'denied', policy: 'demo/deny', source: { address: 'x', workload: 'other', namespace: 'legacy' } })]);
  const all = log.since(0, {});
  assert.deepEqual(all.items.map((d) => d.seq), [1, 2, 3, 4]);
  assert.equal(all.last, 4);
  assert.deepEqual(log.since(2, {}).items.map((d) => d.seq), [3, 4]);
  assert.deepEqual(log.since(0, { verdict: 'denied' }).items.map((d) => [d.seq, d.proxy, d.policy]), [[4, 'zt2', 'demo/deny']]);
  assert.deepEqual(log.since(0, { namespace: 'legacy' }).items.map((d) => d.seq), [4]);
  assert.deepEqual(log.since(0, { workload: 'echo' }).items.map((d) => d.seq), [1, 2, 3, 4], 'a workload matches either side');
  log.add('zt1', [5, 6, 7].map((n) => decision(n)));
  assert.deepEqual(log.since(0, {}).items.map((d) => d.seq), [3, 4, 5, 6, 7]);
  assert.deepEqual(log.since(0, {}, 2).items.map((d) => d.seq), [6, 7], 'a limited page keeps the newest');
});

test('decision batches survive the wire; entries with unknown verdicts are dropped and counted', () => {
  const records = [decision(1), decision(2, { verdict: 'denied', policy: 'demo/p', reason: 'explicitly denied by demo/p', responseCode: 403, protocol: 'http', reporter: 'waypoint', method: 'GET', path: '/x', bytesSent: 3, bytesReceived: 4 })];
  const batch = toBatch('waypoint~1', records, 7);
  assert.equal(batch.droppedTotal, 7n);
  const back = fromBatch(batch);
  assert.equal(back.invalid, 0);
  assert.deepEqual(back.records, records.map((r) => ({ bytesSent: 0, bytesReceived: 0, ...r })));
  const long = fromBatch(toBatch('w', [decision(3, { path: `/${'x'.repeat(5000)}` })], 0)).records[0]!;
  assert.equal(long.path!.length, 513, 'a long path is cut to 512 characters and an ellipsis');
  batch.decisions[0]!.verdict = 'maybe';
  assert.equal(fromBatch(batch).invalid, 1);
});
