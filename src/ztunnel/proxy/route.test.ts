// Unit tests: outbound routing — VIP vs workload vs passthrough, port translation, waypoints and loop avoidance,
// health filtering, locality ranking and capacity weighting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyState } from '../state/proxy-state.js';
import { service, workload } from '../testing/builders.js';
import { NoHealthyUpstreamError, RegistryOnlyError } from '../../hbone/proxy-errors.js';
import { routeOutbound, type Route } from './route.js';
import type { Workload } from '../state/types.js';

const SVC_KEY = 'default/web.default.svc.cluster.local';
const client = workload({ name: 'client', addresses: ['10.0.0.1'], locality: { region: 'r1', zone: 'z1', subzone: '' } });

function ep(name: string, ip: string, extra: Partial<Workload> = {}): Workload {
  return workload({ name, addresses: [ip], serviceAccount: 'web', services: { [SVC_KEY]: [{ servicePort: 80, targetPort: 8080 }] }, ...extra });
}

function route(state: ProxyState, ip: string, port: number, random = () => 0, source = client): Route {
  return routeOutbound({ state, source, sourceIp: source.addresses[0]!, network: '', random }, { ip, port });
}

test('service VIP → an endpoint with its own target port; SANs extend the expected identities', () => {
  const state = new ProxyState();
  state.apply({ workloads: [client, ep('web-1', '10.0.1.1')], services: [service({ name: 'web', vips: ['10.96.0.1'], ports: [{ servicePort: 80, targetPort: 0 }], subjectAltNames: ['spiffe://cluster.local/ns/default/sa/extra'] })] });
  const r = route(state, '10.96.0.1', 80);
  assert.equal(r.kind, 'hbone');
  assert.ok(r.kind === 'hbone');
  assert.equal(r.authority, '10.0.1.1:8080');
  assert.deepEqual(r.hboneAddr, { ip: '10.0.1.1', port: 15008 });
  assert.deepEqual(r.expectedIdentities, ['spiffe://cluster.local/ns/default/sa/web', 'spiffe://cluster.local/ns/default/sa/extra']);
  assert.equal(r.dstService?.name, 'web');
});

test('unknown IPs pass through; PASSTHROUGH services too; workload IPs keep their port', () => {
  const state = new ProxyState();
  state.apply({ workloads: [client, ep('web-1', '10.0.1.1')], services: [service({ name: 'pt', vips: ['10.96.0.2'], loadBalancing: { mode: 'PASSTHROUGH', routingPreference: [], allowUnhealthy: false } })] });
  assert.deepEqual(route(state, '1.2.3.4', 443), { kind: 'passthrough', target: { ip: '1.2.3.4', port: 443 } });
  assert.equal(route(state, '10.96.0.2', 80).kind, 'passthrough');
  const r = route(state, '10.0.1.1', 9999);
  assert.ok(r.kind === 'hbone' && r.authority === '10.0.1.1:9999');
});

test('REGISTRY_ONLY: unknown destinations are refused; services (PASSTHROUGH ones too) and workloads still route; removal restores ALLOW_ANY', () => {
  const state = new ProxyState();
  state.apply({
    workloads: [client, ep('web-1', '10.0.1.1')],
    services: [service({ name: 'pt', vips: ['10.96.0.2'], loadBalancing: { mode: 'PASSTHROUGH', routingPreference: [], allowUnhealthy: false } })],
    meshSettings: { outboundTrafficMode: 'REGISTRY_ONLY' },
  });
  assert.throws(() => route(state, '198.18.0.11', 443), (e: unknown) => e instanceof RegistryOnlyError && /198\.18\.0\.11:443 is not in the mesh registry/.test(e.message) && e.flag === 'NETWORK_POLICY');
  assert.equal(route(state, '10.96.0.2', 80).kind, 'passthrough');
  assert.equal(route(state, '10.0.1.1', 9999).kind, 'hbone');
  state.apply({ meshSettings: null });
  assert.equal(route(state, '198.18.0.11', 443).kind, 'passthrough');
});

test('no healthy endpoint → NoHealthyUpstreamError; ALLOW_ALL keeps unhealthy ones', () => {
  const state = new ProxyState();
  state.apply({ workloads: [client, ep('web-1', '10.0.1.1', { healthy: false })], services: [service({ name: 'web', vips: ['10.96.0.1'], ports: [{ servicePort: 80, targetPort: 8080 }] })] });
  assert.throws(() => route(state, '10.96.0.1', 80), NoHealthyUpstreamError);
  state.apply({ services: [service({ name: 'web', vips: ['10.96.0.1'], ports: [{ servicePort: 80, targetPort: 8080 }], loadBalancing: { mode: 'STANDARD', routingPreference: [], allowUnhealthy: true } })] });
  assert.equal(route(state, '10.96.0.1', 80).kind, 'hbone');
  // A port the service does not expose has no target.
  assert.throws(() => route(state, '10.96.0.1', 81), NoHealthyUpstreamError);
});

test('service waypoint: HBONE to the waypoint with the original VIP:port; the waypoint itself goes direct', () => {
  const waypoint = workload({ name: 'wp', addresses: ['10.0.9.9'], serviceAccount: 'waypoint' });
  const state = new ProxyState();
  state.apply({
    workloads: [client, waypoint, ep('web-1', '10.0.1.1')],
    services: [service({ name: 'web', vips: ['10.96.0.1'], ports: [{ servicePort: 80, targetPort: 8080 }], waypoint: { address: { network: '', address: '10.0.9.9' }, hbonePort: 15008 } })],
  });
  const r = route(state, '10.96.0.1', 80);
  assert.ok(r.kind === 'hbone' && r.viaWaypoint);
  assert.equal(r.authority, '10.96.0.1:80');
  assert.deepEqual(r.hboneAddr, { ip: '10.0.9.9', port: 15008 });
  assert.deepEqual(r.expectedIdentities, ['spiffe://cluster.local/ns/default/sa/waypoint']);
  const fromWaypoint = route(state, '10.96.0.1', 80, () => 0, waypoint);
  assert.ok(fromWaypoint.kind === 'hbone' && !fromWaypoint.viaWaypoint && fromWaypoint.authority === '10.0.1.1:8080');
});

test('workload waypoint applies to pod-addressed traffic, never loops back from the waypoint', () => {
  const waypoint = workload({ name: 'wp', addresses: ['10.0.9.9'], serviceAccount: 'waypoint' });
  const target = workload({ name: 'db', addresses: ['10.0.2.2'], waypoint: { address: { network: '', address: '10.0.9.9' }, hbonePort: 15008 } });
  const state = new ProxyState();
  state.apply({ workloads: [client, waypoint, target] });
  const r = route(state, '10.0.2.2', 5432);
  assert.ok(r.kind === 'hbone' && r.viaWaypoint && r.authority === '10.0.2.2:5432');
  const back = route(state, '10.0.2.2', 5432, () => 0, waypoint);
  assert.ok(back.kind === 'hbone' && !back.viaWaypoint && back.hboneAddr.ip === '10.0.2.2');
});

test('FAILOVER prefers the client locality; STRICT drops others; capacity weights the pick', () => {
  const near = ep('near', '10.0.1.1', { locality: { region: 'r1', zone: 'z1', subzone: '' } });
  const far = ep('far', '10.0.1.2', { locality: { region: 'r2', zone: 'z9', subzone: '' } });
  const state = new ProxyState();
  const svc = (mode: 'FAILOVER' | 'STRICT') => service({ name: 'web', vips: ['10.96.0.1'], ports: [{ servicePort: 80, targetPort: 8080 }], loadBalancing: { mode, routingPreference: ['REGION', 'ZONE'], allowUnhealthy: false } });
  state.apply({ workloads: [client, near, far], services: [svc('FAILOVER')] });
  for (const r of [0, 0.5, 0.99]) {
    const got = route(state, '10.96.0.1', 80, () => r);
    assert.ok(got.kind === 'hbone' && got.dstWorkload.name === 'near');
  }
  state.apply({ removedWorkloads: [near.uid] });
  const failover = route(state, '10.96.0.1', 80);
  assert.ok(failover.kind === 'hbone' && failover.dstWorkload.name === 'far');
  state.apply({ services: [svc('STRICT')] });
  assert.throws(() => route(state, '10.96.0.1', 80), NoHealthyUpstreamError);

  const heavy = ep('heavy', '10.0.1.3', { capacity: 3 });
  const light = ep('light', '10.0.1.4', { capacity: 1 });
  const weighted = new ProxyState();
  weighted.apply({ workloads: [client, heavy, light], services: [service({ name: 'web', vips: ['10.96.0.1'], ports: [{ servicePort: 80, targetPort: 8080 }] })] });
  const pick = (r: number) => { const x = route(weighted, '10.96.0.1', 80, () => r); return x.kind === 'hbone' ? x.dstWorkload.name : ''; };
  assert.equal(pick(0.1), 'heavy');
  assert.equal(pick(0.7), 'heavy');
  assert.equal(pick(0.8), 'light');
});

test('NAMESPACE-visible services are invisible to other namespaces; CIDR VIPs match by longest prefix', () => {
  const state = new ProxyState();
  state.apply({
    workloads: [client, ep('web-1', '10.0.1.1')],
    services: [
      service({ name: 'private', namespace: 'other', vips: ['10.96.0.9'], namespaceOnly: true }),
      service({ name: 'web', vips: ['10.97.0.0/16'], ports: [{ servicePort: 80, targetPort: 8080 }] }),
    ],
  });
  assert.equal(route(state, '10.96.0.9', 80).kind, 'passthrough');
  const cidr = route(state, '10.97.3.4', 80);
  assert.ok(cidr.kind === 'hbone' && cidr.dstService?.name === 'web');
});
