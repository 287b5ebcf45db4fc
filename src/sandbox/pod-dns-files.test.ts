// Unit tests of the pod hosts/resolv.conf rendering: every Service name form, own-namespace short names only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/index.js';
import { renderHosts, renderResolvConf, serviceNames } from './pod-dns-files.js';

const svc = (ns: string, name: string, clusterIP?: string): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { clusterIP } });

test('hosts: all name forms; the bare name only for the pod\'s own namespace; no headless or unallocated', () => {
  const names = serviceNames([svc('b', 'db', '10.96.0.3'), svc('a', 'web', '10.96.0.2'), svc('a', 'hl', 'None'), svc('a', 'new')]);
  assert.deepEqual(names.map((n) => n.name), ['web', 'db']);
  const hosts = renderHosts({ namespace: 'a', name: 'client', ip: '10.244.1.2' }, names, 'cluster.local');
  assert.match(hosts, /^10\.244\.1\.2\tclient$/m);
  assert.match(hosts, /^10\.96\.0\.2\tweb\.a\.svc\.cluster\.local web\.a\.svc web\.a web$/m);
  assert.match(hosts, /^10\.96\.0\.3\tdb\.b\.svc\.cluster\.local db\.b\.svc db\.b$/m);
});

test('resolv.conf: search path of the namespace, short timeouts', () => {
  assert.equal(renderResolvConf('a', '10.96.0.10', 'cluster.local').split('\n').slice(1, 4).join('\n'),
    'nameserver 10.96.0.10\nsearch a.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:1 attempts:1');
});
