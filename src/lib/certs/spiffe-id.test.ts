// SPIFFE id parsing: Istio's exact five-segment form, trust-domain and segment character rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSpiffeId, parseSpiffeId } from './spiffe-id.js';

test('parses and formats Istio SPIFFE ids', () => {
  const id = parseSpiffeId('spiffe://cluster.local/ns/default/sa/web');
  assert.deepEqual(id, { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'web' });
  assert.equal(formatSpiffeId(id as never), 'spiffe://cluster.local/ns/default/sa/web');
});

test('rejects everything else with a reason', () => {
  const bad: [string, RegExp][] = [
    ['https://cluster.local/ns/a/sa/b', /is not a SPIFFE id/],
    ['spiffe://Cluster.local/ns/a/sa/b', /invalid trust domain 'Cluster.local'/],
    ['spiffe://cluster.local/ns/a/sa/b/c', /must have the form/],
    ['spiffe://cluster.local/ns/a/sa', /must have the form/],
    ['spiffe://cluster.local/sa/a/ns/b', /must have the form/],
    ['spiffe://cluster.local/ns/a/sa/b?x=1', /query or fragment/],
    ['spiffe://cluster.local/ns/../sa/b', /invalid path segment '..'/],
    ['spiffe://cluster.local/ns/a b/sa/b', /invalid path segment 'a b'/],
    ['spiffe://', /invalid trust domain ''/],
  ];
  for (const [uri, why] of bad) {
    const r = parseSpiffeId(uri);
    assert.equal(typeof r, 'string', uri);
    assert.match(r as string, why, uri);
  }
});
