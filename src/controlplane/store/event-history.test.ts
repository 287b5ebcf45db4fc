// Unit tests: the watch history ring (eviction, the resume boundary, replay by version).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventHistory, type HistoryEntry } from './event-history.js';

function entry(rv: number): HistoryEntry {
  return { rv, key: { group: '', kind: 'Pod', namespace: 'd', name: `p${rv}` }, event: { type: 'ADDED', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${rv}`, resourceVersion: String(rv) } } } };
}

test('keeps the last `limit` entries and moves the resume boundary as it evicts', () => {
  const h = new EventHistory(3, 10);
  assert.equal(h.completeAfter, 10);
  assert.deepEqual(h.since(10), []);
  for (const rv of [11, 12, 13]) h.push(entry(rv));
  assert.equal(h.completeAfter, 10);
  assert.deepEqual(h.since(10).map((e) => e.rv), [11, 12, 13]);
  assert.deepEqual(h.since(12).map((e) => e.rv), [13]);
  h.push(entry(14));
  h.push(entry(15));
  assert.equal(h.completeAfter, 12, 'entries 11 and 12 were evicted: resuming from 12 still misses nothing');
  assert.deepEqual(h.since(12).map((e) => e.rv), [13, 14, 15]);
  assert.deepEqual(h.since(15), []);
});

test('version gaps and a zero limit', () => {
  const h = new EventHistory(10, 0);
  for (const rv of [2, 5, 9]) h.push(entry(rv));
  assert.deepEqual(h.since(3).map((e) => e.rv), [5, 9]);
  assert.deepEqual(h.since(5).map((e) => e.rv), [9]);
  const none = new EventHistory(0, 4);
  none.push(entry(5));
  assert.equal(none.completeAfter, 5);
  assert.deepEqual(none.since(5), []);
});
