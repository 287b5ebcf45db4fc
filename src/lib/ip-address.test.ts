// Unit tests: IP parsing, prefix containment and HBONE authority parsing/formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIp, formatHostPort, ipBytes, parseAuthority, parseIpPrefix, prefixContains } from './ip-address.js';

test('ipBytes parses v4, v6 with ::, and embedded dotted quads', () => {
  assert.deepEqual([...ipBytes('10.1.2.3')!], [10, 1, 2, 3]);
  assert.equal(ipBytes('::1')!.toString('hex'), '00000000000000000000000000000001');
  assert.equal(ipBytes('fd00:1::2')!.toString('hex'), 'fd000001000000000000000000000002');
  assert.equal(ipBytes('::ffff:1.2.3.4')!.toString('hex'), '00000000000000000000ffff01020304');
  assert.equal(ipBytes('nope'), undefined);
});

test('prefixes: containment, odd lengths, families never mix, bad input refused', () => {
  assert.equal(prefixContains(parseIpPrefix('10.0.0.0/8')!, ipBytes('10.9.9.9')!), true);
  assert.equal(prefixContains(parseIpPrefix('10.0.0.0/9')!, ipBytes('10.128.0.1')!), false);
  assert.equal(prefixContains(parseIpPrefix('0.0.0.0/0')!, ipBytes('1.2.3.4')!), true);
  assert.equal(prefixContains(parseIpPrefix('0.0.0.0/0')!, ipBytes('::1')!), false);
  assert.equal(parseIpPrefix('10.0.0.0/33'), undefined);
  assert.equal(parseIpPrefix('10.0.0.0/x'), undefined);
  assert.equal(parseIpPrefix('10.0.0.1')!.length, 32);
});

test('authorities: ip:port, [v6]:port, host:port; missing or bad ports refused', () => {
  assert.deepEqual(parseAuthority('10.0.0.1:80'), { host: '10.0.0.1', port: 80, isIp: true });
  assert.deepEqual(parseAuthority('[ff06::c3]:80'), { host: 'ff06::c3', port: 80, isIp: true });
  assert.deepEqual(parseAuthority('svc.ns.svc.cluster.local:8080'), { host: 'svc.ns.svc.cluster.local', port: 8080, isIp: false });
  for (const bad of ['10.0.0.1', '10.0.0.1:', '10.0.0.1:0', '10.0.0.1:70000', 'ff06::c3:80', '[ff06::c3]80', ':80', 'a b:80']) {
    assert.equal(parseAuthority(bad), undefined, bad);
  }
  assert.equal(formatHostPort('ff06::c3', 80), '[ff06::c3]:80');
  assert.equal(formatHostPort('10.0.0.1', 80), '10.0.0.1:80');
  assert.equal(canonicalIp('::ffff:127.0.0.1'), '127.0.0.1');
});
