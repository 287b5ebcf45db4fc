// Unit tests of the Service VIP rules: endpoint selection, named target ports, and the rendered nft text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/index.js';
import { renderServiceRules, servicePortRules } from './service-rules.js';

const svc = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec });
const pod = (name: string, ip: string, labels: Record<string, string>, phase = 'Running'): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels },
  spec: { containers: [{ name: 'c', command: ['x'], ports: [{ name: 'web', containerPort: 8080 }] }] },
  status: { phase, podIP: ip },
});

test('endpoints: running selected pods, named and numeric target ports, sorted', () => {
  const rules = servicePortRules(
    [
      svc('web', { clusterIP: '10.96.0.5', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'web' }, { port: 81, targetPort: 9000, protocol: 'UDP' }] }),
      svc('headless', { clusterIP: 'None', selector: { app: 'web' }, ports: [{ port: 80 }] }),
      svc('noselector', { clusterIP: '10.96.0.6', ports: [{ port: 80 }] }),
    ],
    [pod('b', '10.244.2.3', { app: 'web' }), pod('a', '10.244.1.3', { app: 'web' }), pod('c', '10.244.1.4', { app: 'web' }, 'Pending'), pod('d', '10.244.1.5', { app: 'db' })],
  );
  assert.deepEqual(rules, [
    { vip: '10.96.0.5', port: 80, protocol: 'tcp', endpoints: [{ ip: '10.244.1.3', port: 8080 }, { ip: '10.244.2.3', port: 8080 }] },
    { vip: '10.96.0.5', port: 81, protocol: 'udp', endpoints: [{ ip: '10.244.1.3', port: 9000 }, { ip: '10.244.2.3', port: 9000 }] },
    { vip: '10.96.0.6', port: 80, protocol: 'tcp', endpoints: [] },
  ]);
});

test('rendered rules: random pick among endpoints, hairpin masquerade, one transaction', () => {
  const text = renderServiceRules([
    { vip: '10.96.0.5', port: 80, protocol: 'tcp', endpoints: [{ ip: '10.244.1.3', port: 8080 }, { ip: '10.244.2.3', port: 8080 }] },
    { vip: '10.96.0.6', port: 80, protocol: 'tcp', endpoints: [] },
  ]);
  assert.equal(text, `table ip ambit_services {
}
delete table ip ambit_services
table ip ambit_services {
  chain ep0 {
    meta l4proto tcp dnat to 10.244.1.3:8080
  }
  chain ep1 {
    meta l4proto tcp dnat to 10.244.2.3:8080
  }
  chain services {
    ip daddr 10.96.0.5 tcp dport 80 numgen random mod 2 vmap { 0 : jump ep0, 1 : jump ep1 }
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    jump services
  }
  chain output {
    type nat hook output priority -100; policy accept;
    jump services
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ct status dnat ip saddr 10.244.1.3 ip daddr 10.244.1.3 masquerade
    ct status dnat ip saddr 10.244.2.3 ip daddr 10.244.2.3 masquerade
  }
}
`);
});
