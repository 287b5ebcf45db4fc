// Unit tests: which ServiceEntry hosts get a VIP, stability of allocations, the oldest holder winning a duplicate,
// and the ambient index serving the allocated address as the host's VIP (what ztunnel's DNS proxy answers with).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/meta.js';
import { ADDRESS_TYPE_URL } from '../../lib/xds/type-urls.js';
import type { AddressRecord } from '../../lib/xds/workload-records.js';
import { AmbientIndex } from '../ambient/ambient-index.js';
import { autoAllocatedHosts, planAllocations, type AllocatedAddress } from './ip-allocator.js';

const se = (name: string, spec: Record<string, unknown>, extra: { labels?: Record<string, string>; status?: Record<string, unknown>; created?: string } = {}): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name, namespace: 'egress', uid: `uid-${name}`, creationTimestamp: extra.created ?? '2026-12-01T00:00:00Z', ...(extra.labels ? { labels: extra.labels } : {}) },
  spec: { ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], ...spec },
  ...(extra.status ? { status: extra.status } : {}),
});
const IN_RANGE = /^240\.240\.\d{1,3}\.\d{1,3}$/;

test('eligible hosts: no spec addresses, resolution other than NONE, not wildcard, not opted out, any endpoints', () => {
  assert.deepEqual(autoAllocatedHosts(se('a', { hosts: ['api.example.test', '*.example.test'], resolution: 'DNS', endpoints: [{ address: '10.10.2.9' }] })), ['api.example.test']);
  // Endpoints that are names (or the host itself, without endpoints): ztunnel resolves them, so they get a VIP too.
  assert.deepEqual(autoAllocatedHosts(se('dns', { hosts: ['api.example.test'], resolution: 'DNS' })), ['api.example.test']);
  assert.deepEqual(autoAllocatedHosts(se('dns2', { hosts: ['api.example.test'], resolution: 'DNS', endpoints: [{ address: 'origin.example.test' }] })), ['api.example.test']);
  assert.deepEqual(autoAllocatedHosts(se('b', { hosts: ['db.example.test'], resolution: 'STATIC', endpoints: [{ address: '10.10.2.9' }] })), ['db.example.test']);
  assert.deepEqual(autoAllocatedHosts(se('c', { hosts: ['x.example.test'], resolution: 'STATIC', endpoints: [{ address: '10.10.2.9' }], addresses: ['192.0.2.1'] })), []);
  assert.deepEqual(autoAllocatedHosts(se('d', { hosts: ['x.example.test'] })), [], 'resolution defaults to NONE (passthrough)');
  assert.deepEqual(autoAllocatedHosts(se('e', { hosts: ['x.example.test'], resolution: 'STATIC', endpoints: [{ address: '10.10.2.9' }] }, { labels: { 'networking.istio.io/enable-autoallocate-ip': 'false' } })), []);
});

test('allocation: one address per host in 240.240.0.0/16, distinct, and stable once written to status', () => {
  const entries = [
    se('a', { hosts: ['api.example.test', 'www.example.test'], resolution: 'DNS', endpoints: [{ address: '10.10.2.8' }] }),
    se('b', { hosts: ['db.example.test'], resolution: 'STATIC', endpoints: [{ address: '10.10.2.9' }] }),
    se('passthrough', { hosts: ['p.example.test'] }),
  ];
  const plan = planAllocations(entries);
  assert.equal(plan.size, 2, 'the NONE entry gets nothing');
  const a = plan.get(entries[0]!)!;
  const b = plan.get(entries[1]!)!;
  assert.deepEqual(a.map((x) => x.host), ['api.example.test', 'www.example.test']);
  const all = [...a, ...b].map((x) => x.value);
  for (const v of all) assert.match(v, IN_RANGE);
  assert.equal(new Set(all).size, 3);
  // Written back as status, the next pass changes nothing; the same input plans the same addresses.
  const written = entries.map((e) => (plan.has(e) ? { ...e, status: { addresses: plan.get(e) } } : e));
  assert.equal(planAllocations(written).size, 0);
  assert.deepEqual(planAllocations(entries).get(entries[0]!), a);
});

test('an address held twice stays with the older entry; the newer one is given another', () => {
  const dup: AllocatedAddress[] = [{ value: '240.240.7.7', host: 'api.example.test' }];
  const older = se('older', { hosts: ['api.example.test'], resolution: 'STATIC', endpoints: [{ address: '10.10.2.9' }] }, { created: '2026-01-01T00:00:00Z', status: { addresses: dup } });
  const newer = se('newer', { hosts: ['api.example.test'], resolution: 'STATIC', endpoints: [{ address: '10.10.2.9' }] }, { created: '2026-06-01T00:00:00Z', status: { addresses: dup } });
  const plan = planAllocations([newer, older]);
  assert.equal(plan.has(older), false);
  const moved = plan.get(newer)!;
  assert.equal(moved.length, 1);
  assert.match(moved[0]!.value, IN_RANGE);
  assert.notEqual(moved[0]!.value, '240.240.7.7');
});

test('a host removed from the entry, or spec addresses added, drop the allocation from status', () => {
  const status = { addresses: [{ value: '240.240.1.1', host: 'gone.example.test' }, { value: '240.240.1.2', host: 'kept.example.test' }], conditions: [] };
  const shrunk = se('s', { hosts: ['kept.example.test'], resolution: 'STATIC', endpoints: [{ address: '10.10.2.9' }] }, { status });
  assert.deepEqual(planAllocations([shrunk]).get(shrunk), [{ value: '240.240.1.2', host: 'kept.example.test' }]);
  const pinned = se('p', { hosts: ['kept.example.test'], resolution: 'STATIC', endpoints: [{ address: '10.10.2.9' }], addresses: ['192.0.2.10'] }, { status });
  assert.deepEqual(planAllocations([pinned]).get(pinned), []);
  // Garbage in status (outside the range, not a string) is not kept.
  const junk = se('j', { hosts: ['kept.example.test'], resolution: 'STATIC', endpoints: [{ address: '10.10.2.9' }] }, { status: { addresses: [{ value: '10.0.0.1', host: 'kept.example.test' }, { value: 7 }] } });
  assert.match(planAllocations([junk]).get(junk)![0]!.value, IN_RANGE);
});

test('the ambient index serves the allocated address as the host VIP, and re-serves it when status changes', () => {
  const index = new AmbientIndex();
  const entry = se('api', { hosts: ['api.example.test'], resolution: 'STATIC', endpoints: [{ address: '10.10.2.9' }] });
  index.apply([{ type: 'ADDED', object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'egress' } } }, { type: 'ADDED', object: entry }]);
  const vipsOf = () => [...index.resources<AddressRecord>(ADDRESS_TYPE_URL).values()]
    .flatMap((r) => (r.record.service?.hostname === 'api.example.test' ? r.record.service.addresses.map((a) => a.address) : []));
  assert.deepEqual(vipsOf(), [], 'no VIP before allocation');
  const plan = planAllocations([entry]).get(entry)!;
  const changes = index.apply([{ type: 'MODIFIED', object: { ...entry, status: { addresses: plan } } }]);
  assert.ok(changes.some((c) => c.typeUrl === ADDRESS_TYPE_URL && c.updated.length > 0), 'a status.addresses change is pushed');
  assert.deepEqual(vipsOf(), [plan[0]!.value]);
});
