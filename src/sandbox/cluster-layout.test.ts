// Unit tests of the cluster layout: names and ranges per slot, pod netns naming, VIP numbering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { belongsToCluster, checkClusterName, clusterLayout, ipInCidr, podIpOf, podNetnsName, podVethName, serviceIpOf } from './cluster-layout.js';

test('slot 0 is the suggested layout; other slots never overlap it', () => {
  const a = clusterLayout('demo', 0, 2);
  assert.equal(a.fabricNetns, 'demo.fabric');
  assert.deepEqual(a.nodes.map((n) => [n.name, n.netns, n.ip, n.podCidr, n.podGateway]), [
    ['node1', 'demo.node1', '10.10.0.11', '10.244.1.0/24', '10.244.1.1'],
    ['node2', 'demo.node2', '10.10.0.12', '10.244.2.0/24', '10.244.2.1'],
  ]);
  assert.equal(a.serviceCidr, '10.96.0.0/16');
  const b = clusterLayout('other', 3, 1);
  assert.equal(b.nodes[0]!.podCidr, '10.241.1.0/24');
  assert.equal(b.serviceCidr, '10.99.0.0/16');
  assert.equal(b.fabricCidr, '10.10.3.0/24');
});

test('bad names and sizes are refused with a clear message', () => {
  assert.throws(() => checkClusterName('Demo'), /cluster name "Demo" is invalid/);
  assert.throws(() => checkClusterName('a.b'), /invalid/);
  assert.throws(() => checkClusterName('x'.repeat(21)), /invalid/);
  assert.throws(() => clusterLayout('demo', 0, 0), /--nodes must be a whole number from 1 to 32/);
  assert.throws(() => clusterLayout('demo', 16, 1), /slot 16 is out of range/);
});

test('pod netns names: readable, cluster-prefixed, hashed when too long', () => {
  assert.equal(podNetnsName('demo', 'default', 'web', 'uid1'), 'demo.default.web');
  const long = podNetnsName('demo', 'default', 'w'.repeat(80), 'uid1');
  assert.match(long, /^demo\.p-[0-9a-f]{16}$/);
  assert.notEqual(long, podNetnsName('demo', 'default', 'w'.repeat(80), 'uid2'));
  assert.ok(belongsToCluster('demo', 'demo.default.web'));
  assert.ok(!belongsToCluster('demo', 'demo2.default.web'));
  assert.ok(podVethName('uid1').length <= 15);
});

test('pod and service addresses', () => {
  const l = clusterLayout('demo', 0, 1);
  assert.equal(podIpOf(l.nodes[0]!, 7), '10.244.1.7');
  assert.deepEqual([1, 8, 9, 10].map((n) => serviceIpOf(l, n)), ['10.96.0.2', '10.96.0.9', '10.96.0.11', '10.96.0.12']);
  assert.equal(serviceIpOf(l, 300), '10.96.1.46');
  assert.ok(ipInCidr('10.96.255.1', l.serviceCidr));
  assert.ok(!ipInCidr('10.97.0.1', l.serviceCidr));
});

test('the outside world: its own netns and a range outside every cluster range, one address per host', () => {
  const l = clusterLayout('demo', 2, 2);
  assert.equal(l.outside.netns, 'demo.outside');
  assert.equal(l.outside.cidr, '198.18.2.0/24');
  assert.deepEqual(l.outside.hosts, [{ name: 'api.example.test', ip: '198.18.2.10' }, { name: 'unlisted.example.test', ip: '198.18.2.11' }]);
  for (const h of l.outside.hosts) {
    assert.ok(ipInCidr(h.ip, l.outside.cidr));
    assert.ok(![l.serviceCidr, l.fabricCidr, ...l.nodes.map((n) => n.podCidr)].some((c) => ipInCidr(h.ip, c)), h.ip);
  }
});
