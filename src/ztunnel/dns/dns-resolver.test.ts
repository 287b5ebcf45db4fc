// Unit: local DNS resolution from ProxyState — name expansion from the client's namespace (`svc`, `svc.ns`,
// `svc.ns.svc`, full name), search-domain stripping with a CNAME, wildcards, TTL 30, headless services answered
// with endpoint IPs, namespace-visibility and client-namespace preference, known names without records of the asked
// type (NOERROR, empty), VIPs of other networks hidden, and everything else left to the forwarder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { service, workload } from '../testing/builders.js';
import { ProxyState } from '../state/proxy-state.js';
import { RecordType, type DnsRecord } from '../../lib/dns/dns-message.js';
import { kubernetesExpansions, nameAliases, resolveLocally, searchDomains, wildcardsOf, type DnsClientView } from './dns-resolver.js';

const OPTS = { clusterDomain: 'cluster.local', ipv6: true, random: () => 0.5 };
const MESH: DnsClientView = { namespace: 'mesh', network: '' };
const OTHER: DnsClientView = { namespace: 'other', network: '' };

function mesh(): ProxyState {
  const state = new ProxyState();
  state.apply({
    services: [
      service({ name: 'echo', namespace: 'mesh', vips: ['10.96.0.20', 'fd00::20'] }),
      service({ name: 'echo', namespace: 'other', vips: ['10.96.0.21'] }),
      service({ name: 'private', namespace: 'other', vips: ['10.96.0.22'], namespaceOnly: true }),
      service({ name: 'db', namespace: 'mesh', vips: [] }),
      service({ name: 'ext', namespace: 'mesh', hostname: 'api.example.com', vips: ['240.240.0.1'] }),
      service({ name: 'wild', namespace: 'mesh', hostname: '*.wild.example', vips: ['240.240.0.2'] }),
      service({ name: 'dnsonly', namespace: 'mesh', hostname: 'dns-only.example', vips: [] }),
      { ...service({ name: 'remote', namespace: 'mesh', vips: [] }), vips: [{ network: 'net2', address: '10.99.0.1' }] },
    ],
    workloads: [
      workload({ name: 'db-0', namespace: 'mesh', addresses: ['10.244.1.5'], services: { 'mesh/db.mesh.svc.cluster.local': [] } }),
      workload({ name: 'db-1', namespace: 'mesh', addresses: ['10.244.2.6'], services: { 'mesh/db.mesh.svc.cluster.local': [] } }),
      workload({ name: 'db-far', namespace: 'mesh', network: 'net2', addresses: ['10.250.0.1'], services: { 'mesh/db.mesh.svc.cluster.local': [] } }),
    ],
  });
  return state;
}

function ask(state: ProxyState, name: string, type: number, client = MESH): DnsRecord[] | 'forward' {
  const r = resolveLocally(state, { name, type, class: 1 }, client, OPTS);
  return r.kind === 'forward' ? 'forward' : r.records;
}

const addresses = (records: DnsRecord[] | 'forward') => (records === 'forward' ? records : records.map((r) => (r.data.kind === 'cname' ? `CNAME ${r.data.target}` : (r.data as { address: string }).address)).sort());

test('expansion helpers: search domains, Kubernetes short forms, aliases, wildcards', () => {
  assert.deepEqual(searchDomains('mesh', 'cluster.local'), ['mesh.svc.cluster.local', 'svc.cluster.local', 'cluster.local']);
  assert.deepEqual(kubernetesExpansions('echo', 'mesh', 'cluster.local'), ['echo.mesh.svc.cluster.local']);
  assert.deepEqual(kubernetesExpansions('echo.other', 'mesh', 'cluster.local'), ['echo.other.svc.cluster.local']);
  assert.deepEqual(kubernetesExpansions('echo.other.svc', 'mesh', 'cluster.local'), ['echo.other.svc.cluster.local']);
  assert.deepEqual(kubernetesExpansions('www.example.com', 'mesh', 'cluster.local'), []);
  assert.deepEqual(nameAliases('Echo.Other.mesh.svc.cluster.local.', MESH, 'cluster.local'), [
    { name: 'echo.other.mesh.svc.cluster.local', viaSearchDomain: false },
    { name: 'echo.other', viaSearchDomain: true },
    { name: 'echo.other.svc.cluster.local', viaSearchDomain: true },
    { name: 'echo.other.mesh', viaSearchDomain: true },
    { name: 'echo.other.mesh.svc', viaSearchDomain: true },
  ]);
  assert.deepEqual(wildcardsOf('a.b.c'), ['*.b.c', '*.c']);
});

test('every short form of a service resolves to its VIP for a client of that namespace, TTL 30, no CNAME', () => {
  const state = mesh();
  for (const name of ['echo', 'echo.mesh', 'echo.mesh.svc', 'echo.mesh.svc.cluster.local', 'ECHO.mesh.svc.cluster.local.']) {
    const records = ask(state, name, RecordType.A);
    assert.notEqual(records, 'forward', name);
    assert.deepEqual(addresses(records), ['10.96.0.20'], name);
    assert.equal((records as DnsRecord[])[0]!.ttl, 30);
    assert.equal((records as DnsRecord[])[0]!.name, name, 'answered under the asked name');
  }
  assert.deepEqual(addresses(ask(state, 'echo', RecordType.AAAA)), ['fd00::20']);
  assert.deepEqual(addresses(ask(state, 'echo', RecordType.A, OTHER)), ['10.96.0.21'], "the client's own namespace first");
  assert.deepEqual(addresses(ask(state, 'echo.mesh', RecordType.A, OTHER)), ['10.96.0.20']);
});

test('a name the resolver built from a search domain gets a CNAME to the service hostname', () => {
  const state = mesh();
  const records = ask(state, 'echo.other.mesh.svc.cluster.local', RecordType.A) as DnsRecord[];
  assert.deepEqual(records.map((r) => [r.name, r.type, r.ttl]), [
    ['echo.other.mesh.svc.cluster.local', RecordType.CNAME, 30],
    ['echo.other.svc.cluster.local', RecordType.A, 30],
  ]);
  assert.deepEqual(addresses(records), ['10.96.0.21', 'CNAME echo.other.svc.cluster.local']);
  assert.deepEqual(addresses(ask(state, 'api.example.com.svc.cluster.local', RecordType.A)), ['240.240.0.1', 'CNAME api.example.com']);
});

test('headless services answer with their endpoints on the client network; wildcards match; other networks hidden', () => {
  const state = mesh();
  assert.deepEqual(addresses(ask(state, 'db', RecordType.A)), ['10.244.1.5', '10.244.2.6']);
  assert.deepEqual(addresses(ask(state, 'api.example.com', RecordType.A)), ['240.240.0.1']);
  assert.deepEqual(addresses(ask(state, 'x.wild.example', RecordType.A)), ['240.240.0.2']);
  assert.deepEqual(addresses(ask(state, 'remote', RecordType.A)), [], 'known name, VIP only on another network: NOERROR, empty');
});

test('known names without records of the asked type are empty answers; unknown names and other types are forwarded', () => {
  const state = mesh();
  assert.deepEqual(ask(state, 'echo', RecordType.AAAA, OTHER), []);
  assert.deepEqual(ask(state, 'db', RecordType.AAAA), []);
  const noV6 = resolveLocally(state, { name: 'echo', type: RecordType.AAAA, class: 1 }, MESH, { ...OPTS, ipv6: false });
  assert.deepEqual(noV6.kind === 'answer' ? noV6.records : 'forward', [], 'AAAA without IPv6: known, empty');
  assert.equal(ask(state, 'nope', RecordType.A), 'forward');
  assert.equal(ask(state, 'www.google.com', RecordType.A), 'forward');
  assert.equal(ask(state, 'echo', RecordType.MX), 'forward');
  assert.equal(ask(state, 'dns-only.example', RecordType.A), 'forward', 'a VIP-less host outside the cluster domain is not ours to answer');
  assert.equal(resolveLocally(state, { name: 'echo', type: RecordType.A, class: 3 }, MESH, OPTS).kind, 'forward', 'CHAOS class');
});

test('NAMESPACE-visibility services are invisible to other namespaces', () => {
  const state = mesh();
  assert.equal(ask(state, 'private.other', RecordType.A), 'forward');
  assert.deepEqual(addresses(ask(state, 'private', RecordType.A, OTHER)), ['10.96.0.22']);
});

test('answers are shuffled with the given random source', () => {
  const state = new ProxyState();
  state.apply({ services: [service({ name: 'many', namespace: 'mesh', vips: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'] })] });
  const order = (random: () => number) => {
    const r = resolveLocally(state, { name: 'many', type: RecordType.A, class: 1 }, MESH, { ...OPTS, random });
    return r.kind === 'answer' ? r.records.map((x) => (x.data as { address: string }).address) : [];
  };
  assert.deepEqual(order(() => 0.999), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
  assert.deepEqual(order(() => 0), ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.1']);
});
