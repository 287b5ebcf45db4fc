// Route attachment to ingress Gateway listeners: sectionName/port, allowedRoutes, hostname intersection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/meta.js';
import { attachRoute, intersectHostnames, servedListeners } from './ingress-attachment.js';

const gw = {
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'ingress', namespace: 'edge' },
  spec: {
    gatewayClassName: 'istio',
    listeners: [
      { name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } },
      { name: 'shop', port: 443, protocol: 'HTTPS', hostname: 'shop.example.test', tls: { certificateRefs: [{ name: 'shop-cert' }] }, allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { ingress: 'yes' } } } } },
      { name: 'same', port: 8443, protocol: 'HTTPS', hostname: '*.example.test', tls: { certificateRefs: [{ name: 'wild' }] } },
      { name: 'raw', port: 9000, protocol: 'TCP' },
    ],
  },
} as unknown as KubeObject;
const route = (ns: string, hostnames?: string[]) => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: ns }, spec: { ...(hostnames ? { hostnames } : {}) } } as unknown as KubeObject);
const labels = (ns: string): Record<string, string> => (ns === 'shop' ? { ingress: 'yes' } : {});
const names = (r: ReturnType<typeof attachRoute>) => r.attachments.map((a) => `${a.listener.name}:${a.hostnames.join('|') || '*'}`);

test('hostname intersection', () => {
  assert.deepEqual(intersectHostnames(undefined, []), []);
  assert.deepEqual(intersectHostnames('shop.example.test', []), ['shop.example.test']);
  assert.deepEqual(intersectHostnames('*.example.test', ['shop.example.test', 'other.test']), ['shop.example.test']);
  assert.deepEqual(intersectHostnames('shop.example.test', ['*.example.test']), ['shop.example.test']);
  assert.deepEqual(intersectHostnames('*.example.test', ['*.shop.example.test']), ['*.shop.example.test']);
  assert.equal(intersectHostnames('shop.example.test', ['blog.example.test']), undefined);
});

test('allowedRoutes: All, Selector by namespace labels, Same (the default); TCP listeners take no HTTPRoute', () => {
  assert.deepEqual(names(attachRoute(gw, route('shop'), { name: 'ingress', namespace: 'edge' }, labels)), ['http:*', 'shop:shop.example.test']);
  assert.deepEqual(names(attachRoute(gw, route('blog'), { name: 'ingress', namespace: 'edge' }, labels)), ['http:*']);
  assert.deepEqual(names(attachRoute(gw, route('edge'), { name: 'ingress' }, labels)), ['http:*', 'same:*.example.test']);
  const refused = attachRoute(gw, route('blog'), { name: 'ingress', namespace: 'edge', sectionName: 'shop' }, labels);
  assert.equal(refused.refusal?.reason, 'NotAllowedByListeners');
  assert.equal(attachRoute(gw, route('edge'), { name: 'ingress', sectionName: 'raw' }, labels).refusal?.reason, 'NoMatchingParent');
});

test('hostnames: a route attaches where they intersect, and says so when nowhere', () => {
  assert.deepEqual(names(attachRoute(gw, route('shop', ['shop.example.test']), { name: 'ingress', namespace: 'edge', port: 443 }, labels)), ['shop:shop.example.test']);
  const none = attachRoute(gw, route('shop', ['blog.example.test']), { name: 'ingress', namespace: 'edge', sectionName: 'shop' }, labels);
  assert.equal(none.refusal?.reason, 'NoMatchingListenerHostname');
  assert.match(none.refusal!.message, /blog\.example\.test/);
});

test('served listeners: HTTP and HTTPS only, and a port keeps the protocol of its first listener in spec order', () => {
  const mixed = {
    ...gw,
    spec: { gatewayClassName: 'istio', listeners: [
      { name: 'plain', port: 8080, protocol: 'HTTP' },
      { name: 'clash', port: 8080, protocol: 'HTTPS', hostname: 'a.example.test', tls: { certificateRefs: [{ name: 'c' }] } },
      { name: 'raw', port: 9000, protocol: 'TCP' },
      { name: 'secure', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'c' }] } },
    ] },
  } as unknown as KubeObject;
  assert.deepEqual(servedListeners(mixed).map((l) => l.name), ['plain', 'secure']);
});
