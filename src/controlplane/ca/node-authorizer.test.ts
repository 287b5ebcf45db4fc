// The node authorization rule as a pure function: which pods let a node hold a service account's identity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/meta.js';
import { authorizeIdentity } from './node-authorizer.js';

const sa = (ns: string, name: string) => ({ trustDomain: 'cluster.local', namespace: ns, serviceAccount: name });
function pod(ns: string, name: string, spec: Record<string, unknown>, phase?: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec, ...(phase ? { status: { phase } } : {}) };
}

test('a node may hold a service account only while a running pod using it is scheduled there', () => {
  const pods = [pod('shop', 'cart', { nodeName: 'b', serviceAccountName: 'cart' }), pod('shop', 'web', { nodeName: 'a' }), pod('shop', 'legacy', { nodeName: 'a', serviceAccount: 'old' })];
  assert.deepEqual(authorizeIdentity({ kind: 'node', node: 'b' }, sa('shop', 'cart'), pods), { allowed: true });
  const denied = authorizeIdentity({ kind: 'node', node: 'a' }, sa('shop', 'cart'), pods);
  assert.deepEqual(denied, { allowed: false, reason: "node 'a' may not obtain spiffe://cluster.local/ns/shop/sa/cart: no running Pod in namespace 'shop' with serviceAccountName 'cart' is scheduled on node 'a'" });
  assert.equal(authorizeIdentity({ kind: 'node', node: 'a' }, sa('shop', 'default'), pods).allowed, true, 'no serviceAccountName means default');
  assert.equal(authorizeIdentity({ kind: 'node', node: 'a' }, sa('shop', 'old'), pods).allowed, true, 'deprecated spec.serviceAccount');
  assert.equal(authorizeIdentity({ kind: 'node', node: 'a' }, sa('other', 'default'), pods).allowed, false, 'namespace must match');
  assert.equal(authorizeIdentity({ kind: 'node', node: 'a' }, sa('shop', 'default'), [pod('shop', 'web', { nodeName: 'a' }, 'Succeeded')]).allowed, false, 'finished pods do not count');
  assert.equal(authorizeIdentity({ kind: 'node', node: 'a' }, sa('shop', 'default'), [pod('shop', 'web', {})]).allowed, false, 'unscheduled pods do not count');
  assert.equal(authorizeIdentity({ kind: 'node', node: 'a' }, sa('shop', 'default'), []).allowed, false);
});

test('a workload caller may obtain only its own identity', () => {
  const caller = { kind: 'workload' as const, identity: 'spiffe://cluster.local/ns/shop/sa/waypoint' };
  assert.deepEqual(authorizeIdentity(caller, sa('shop', 'waypoint'), []), { allowed: true });
  assert.deepEqual(authorizeIdentity(caller, sa('shop', 'cart'), []), { allowed: false, reason: 'a workload authenticated as spiffe://cluster.local/ns/shop/sa/waypoint may renew only its own identity, not spiffe://cluster.local/ns/shop/sa/cart' });
});
