// Unit tests: the watch history ring (eviction, the resume boundary, replay by version).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventHistory, type HistoryEntry } from './event-history.js';

function entry(rv: number, bytes = 100): HistoryEntry {
  return { rv, key: { group: '', kind: 'Pod', namespace: 'd', name: `p${rv}` }, event: { type: 'ADDED', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${rv}`, resourceVersion: String(rv) } } }, bytes };
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

test('a byte budget evicts the oldest entries, keeps the newest, and moves the resume boundary', () => {
  const h = new EventHistory(100, 0, 1000);
  for (const rv of [1, 2, 3]) h.push(entry(rv, 300));
  assert.equal(h.retainedBytes, 900);
  assert.equal(h.completeAfter, 0);
  h.push(entry(4, 300));
  assert.equal(h.retainedBytes, 900, 'entry 1 was evicted to stay within 1000 bytes');
  assert.equal(h.completeAfter, 1);
  assert.deepEqual(h.since(1).map((e) => e.rv), [2, 3, 4]);
  h.push(entry(5, 5000));
  assert.deepEqual(h.since(4).map((e) => e.rv), [5], 'an entry larger than the budget is still kept, alone');
  assert.equal(h.length, 1);
  assert.equal(h.retainedBytes, 5000);
  assert.equal(h.completeAfter, 4);
  h.push(entry(6, 10));
  assert.deepEqual(h.since(5).map((e) => e.rv), [6]);
  assert.equal(h.retainedBytes, 10);
  // The count limit still applies with a large budget, and wrapping around the ring keeps the byte sum exact.
  const c = new EventHistory(2, 0, 1_000_000);
  for (let rv = 1; rv <= 7; rv++) c.push(entry(rv, rv));
  assert.deepEqual(c.since(5).map((e) => e.rv), [6, 7]);
  assert.equal(c.retainedBytes, 13);
  assert.equal(c.completeAfter, 5);
});
