// Unit tests for the per-kind columns of `get`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/meta.js';
import { kindByName } from '../api/registry.js';
import { tableOf, type TableOptions } from './resource-columns.js';

const now = Date.parse('2024-05-01T12:00:00Z');
const base: TableOptions = { allNamespaces: false, wide: false, nowMs: now, kindPrefix: false };
const created = '2024-05-01T11:59:55Z';

function obj(kind: string, name: string, rest: Partial<KubeObject> = {}): KubeObject {
  return { apiVersion: 'v1', kind, metadata: { name, namespace: 'demo', creationTimestamp: created }, ...rest };
}

test('pods: READY STATUS RESTARTS AGE, plus IP NODE when wide', () => {
  const pod = obj('Pod', 'web', {
    spec: { containers: [{ name: 'a' }, { name: 'b' }], nodeName: 'node-1' },
    status: { phase: 'Running', podIP: '10.244.1.5', containerStatuses: [{ ready: true, restartCount: 2 }, { ready: false, restartCount: 1 }] },
  });
  const t = tableOf(kindByName('Pod')!, [pod], base);
  assert.deepEqual(t.header, ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
  assert.deepEqual(t.rows, [['web', '1/2', 'Running', '3', '5s']]);
  const w = tableOf(kindByName('Pod')!, [pod, obj('Pod', 'new', { spec: { containers: [{ name: 'a' }] } })], { ...base, wide: true });
  assert.deepEqual(w.header, ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE']);
  assert.deepEqual(w.rows[1], ['new', '0/1', 'Pending', '0', '5s', '<none>', '<none>']);
});

test('-A adds NAMESPACE first for namespaced kinds only; several kinds prefix names', () => {
  const t = tableOf(kindByName('Service')!, [obj('Service', 'web', { spec: { clusterIP: '10.96.0.10', ports: [{ port: 80 }, { port: 9090, protocol: 'UDP', nodePort: 30090 }] } })], {
    ...base,
    allNamespaces: true,
    kindPrefix: true,
  });
  assert.deepEqual(t.header, ['NAMESPACE', 'NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
  assert.deepEqual(t.rows[0], ['demo', 'service/web', 'ClusterIP', '10.96.0.10', '<none>', '80/TCP,9090:30090/UDP', '5s']);
  const ns = tableOf(kindByName('Namespace')!, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo', creationTimestamp: created } }], { ...base, allNamespaces: true });
  assert.deepEqual(ns.header, ['NAME', 'STATUS', 'AGE']);
  assert.deepEqual(ns.rows[0], ['demo', 'Active', '5s']);
});

test('Istio and Gateway API kinds use their printer columns', () => {
  const ap = tableOf(kindByName('AuthorizationPolicy')!, [obj('AuthorizationPolicy', 'deny', { spec: { action: 'DENY' } }), obj('AuthorizationPolicy', 'allow', { spec: {} })], base);
  assert.deepEqual(ap.header, ['NAME', 'ACTION', 'AGE']);
  assert.deepEqual(ap.rows.map((r) => r[1]), ['DENY', 'ALLOW']);
  const gw = tableOf(kindByName('Gateway')!, [obj('Gateway', 'waypoint', {
    spec: { gatewayClassName: 'istio-waypoint' },
    status: { addresses: [{ value: '10.96.0.20' }], conditions: [{ type: 'Programmed', status: 'True', reason: 'Programmed', message: '' }] },
  })], base);
  assert.deepEqual(gw.header, ['NAME', 'CLASS', 'ADDRESS', 'PROGRAMMED', 'AGE']);
  assert.deepEqual(gw.rows[0], ['waypoint', 'istio-waypoint', '10.96.0.20', 'True', '5s']);
  const se = tableOf(kindByName('ServiceEntry')!, [obj('ServiceEntry', 'ext', { spec: { hosts: ['api.example.com'], location: 'MESH_EXTERNAL', resolution: 'DNS' } })], base);
  assert.deepEqual(se.header, ['NAME', 'HOSTS', 'LOCATION', 'RESOLUTION', 'AGE']);
  assert.deepEqual(se.rows[0], ['ext', '["api.example.com"]', 'MESH_EXTERNAL', 'DNS', '5s']);
  const hr = tableOf(kindByName('HTTPRoute')!, [obj('HTTPRoute', 'r', { spec: { hostnames: ['a', 'b'] } })], base);
  assert.deepEqual(hr.rows[0], ['r', '["a","b"]', '5s']);
  const pa = tableOf(kindByName('PeerAuthentication')!, [obj('PeerAuthentication', 'strict')], base);
  assert.deepEqual(pa.header, ['NAME', 'AGE']);
});

test('nodes: STATUS from the Ready condition, ROLES from node-role labels', () => {
  const node: KubeObject = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node-1', creationTimestamp: created, labels: { 'node-role.kubernetes.io/control-plane': '' } },
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: '' }], nodeInfo: { ambitVersion: '0.1.0' } },
  };
  const t = tableOf(kindByName('Node')!, [node, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-2' } }], base);
  assert.deepEqual(t.header, ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION']);
  assert.deepEqual(t.rows, [['node-1', 'Ready', 'control-plane', '5s', '0.1.0'], ['node-2', 'Unknown', '<none>', '<unknown>', '<none>']]);
});
