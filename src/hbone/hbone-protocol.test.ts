// Unit tests: CONNECT header helpers (baggage, forwarded, traceparent) and the keepalive PING watchdog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type http2 from 'node:http2';
import { formatBaggage, formatForwarded, forwardedHost, newTraceparent, parseBaggage, startKeepalive, traceIdOf } from './hbone-protocol.js';

test('baggage: source keys in order, empty values omitted, round trip', () => {
  const b = formatBaggage({ clusterId: 'Kubernetes', namespace: 'ns', workloadType: 'deployment', workloadName: 'web', canonicalName: 'web', canonicalRevision: 'v1', region: '', zone: 'z1' });
  assert.equal(b, 'k8s.cluster.name=Kubernetes,k8s.namespace.name=ns,k8s.deployment.name=web,service.name=web,service.version=v1,cloud.availability_zone=z1');
  assert.deepEqual(parseBaggage(b), { clusterId: 'Kubernetes', namespace: 'ns', workloadType: 'deployment', workloadName: 'web', canonicalName: 'web', canonicalRevision: 'v1', zone: 'z1' });
  assert.deepEqual(parseBaggage(undefined), {});
});

test('forwarded: for= with brackets for IPv6, host= hint parsed with or without quotes', () => {
  assert.equal(formatForwarded('10.0.0.1', 4000), 'for="10.0.0.1:4000"');
  assert.equal(formatForwarded('::1', 80, 'web.ns.svc.cluster.local'), 'for="[::1]:80";host=web.ns.svc.cluster.local');
  assert.equal(forwardedHost('for="10.0.0.1:4000";host=web.ns.svc.cluster.local'), 'web.ns.svc.cluster.local');
  assert.equal(forwardedHost('for="10.0.0.1:4000";host="web.ns"'), 'web.ns');
  assert.equal(forwardedHost('for="10.0.0.1:4000"'), undefined);
  assert.equal(forwardedHost('host="wéb"'), undefined);
});

test('traceparent: 55 characters, version 00, random ids', () => {
  const a = newTraceparent();
  assert.match(a, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  assert.notEqual(a, newTraceparent());
  assert.equal(traceIdOf(a), a.slice(3, 35));
  assert.equal(traceIdOf('00-abc-def-00'), undefined);
});

test('traceparent: ids stay well-formed and distinct across refills of the pooled random bytes', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const t = newTraceparent();
    assert.match(t, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    seen.add(t.slice(3, 35));
  }
  assert.equal(seen.size, 1000);
});

class FakeSession extends EventEmitter {
  destroyed = false;
  closed = false;
  pings = 0;
  answer = true;
  destroyedWith: Error | undefined;
  ping(cb: (err: Error | null) => void): boolean {
    this.pings++;
    if (this.answer) setImmediate(() => cb(null));
    return true;
  }
  destroy(err?: Error): void {
    this.destroyed = true;
    this.destroyedWith = err;
  }
}

test('keepalive: answered PINGs keep the session; an unanswered one destroys it after the timeout', async () => {
  const ok = new FakeSession();
  const stopOk = startKeepalive(ok as unknown as http2.Http2Session, 20, 60);
  const dead = new FakeSession();
  dead.answer = false;
  const stopDead = startKeepalive(dead as unknown as http2.Http2Session, 20, 60);
  await new Promise((r) => setTimeout(r, 250));
  stopOk();
  stopDead();
  assert.ok(ok.pings >= 3, `pings sent: ${ok.pings}`);
  assert.equal(ok.destroyed, false);
  assert.equal(dead.destroyed, true);
  assert.match(String(dead.destroyedWith?.message), /no PING ack within 60 ms/);
  assert.equal(dead.pings, 1, 'no new PING while one is outstanding');
});
