// Shared field rules: RE2-compatible regexes, SPIFFE principals, durations, addresses, hostnames, and the schema walker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateObject } from '../index.js';
import { hostnameError, ianaSvcNameError, ipOrCidrError, parseGatewayDurationMs, parseIstioDurationMs, regexError } from './checks.js';
import { principalError } from './security-authorization-policy.js';

test('regexes: RE2 syntax accepted, constructs RE2 lacks refused', () => {
  for (const ok of ['^/api/v[0-9]+$', '(?P<id>[0-9]+)', '(?i)^/Admin', '(?i:abc)d', '\\Aabc\\z', 'a\\-b\\.c\\/', '[[:alpha:]]+', 'x{2,5}', '.*']) {
    assert.equal(regexError(ok), undefined, ok);
  }
  const bad: Array<[string, RegExp]> = [
    ['(abc', /Unterminated group/],
    ['[a-', /Unterminated character class/],
    ['(?<=a)b', /lookaround/],
    ['a(?!b)', /lookaround/],
    ['(a)\\1', /backreference/],
    ['(?<n>a)\\k<n>', /backreference/],
    ['a{1001}', /1000/],
    ['*a', /Nothing to repeat/],
    ['abc\\', /trailing backslash/],
  ];
  for (const [re, why] of bad) assert.match(regexError(re) ?? '', why, re);
});

test('principals: exact SPIFFE paths and one leading or trailing wildcard', () => {
  for (const ok of ['*', 'cluster.local/ns/foo/sa/bar', 'cluster.local/ns/foo/*', 'cluster.local/*', 'cluster*', '*/ns/foo/sa/bar', '*/sa/bar', '*bar', 'td.example/ns/a/sa/b*']) {
    assert.equal(principalError(ok), undefined, ok);
  }
  for (const bad of ['cluster.local/ns/*/sa/bar', '**', '*foo*', 'cluster.local/sa/bar', 'cluster.local/ns/foo/sa/bar/extra', 'cluster.local/ns//sa/bar', 'spiffe://cluster.local/ns/a/sa/b', 'foo', 'cluster.local/ns/foo/sa/bar/*']) {
    assert.notEqual(principalError(bad), undefined, bad);
  }
});

test('durations: Istio (Go syntax) and Gateway API (GEP-2257)', () => {
  assert.equal(parseIstioDurationMs('1.5s'), 1500);
  assert.equal(parseIstioDurationMs('1h30m'), 5_400_000);
  assert.equal(parseIstioDurationMs('250ms'), 250);
  assert.equal(parseIstioDurationMs('0'), 0);
  for (const bad of ['', '10', '10 s', 's', '1d', '-1s', '1s ']) assert.equal(parseIstioDurationMs(bad), undefined, bad);
  assert.equal(parseGatewayDurationMs('1h2m3s4ms'), 3_723_004);
  assert.equal(parseGatewayDurationMs('500ms'), 500);
  for (const bad of ['1.5s', '123456s', '1s1s1s1s1s', '10', '1d']) assert.equal(parseGatewayDurationMs(bad), undefined, bad);
});

test('addresses, hostnames and port names', () => {
  for (const ok of ['10.0.0.1', '10.0.0.0/8', '0.0.0.0/0', 'fd00::1', 'fd00::/8']) assert.equal(ipOrCidrError(ok), undefined, ok);
  for (const bad of ['10.0.0.256', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/', '10.0.0.0/a', 'example.com', '']) assert.notEqual(ipOrCidrError(bad), undefined, bad);
  assert.notEqual(ipOrCidrError('10.0.0.0/8', false), undefined);
  assert.equal(hostnameError('*.example.com', true), undefined);
  assert.equal(hostnameError('*', true), undefined);
  assert.notEqual(hostnameError('*.example.com', false), undefined);
  assert.notEqual(hostnameError('a..b', true), undefined);
  assert.notEqual(hostnameError('foo.*.com', true), undefined);
  assert.equal(ianaSvcNameError('http-web'), undefined);
  for (const bad of ['8080', 'http--web', '-http', 'averyveryverylongname', 'HTTP']) assert.notEqual(ianaSvcNameError(bad), undefined, bad);
});

test('null-valued optional fields are dropped, as the Kubernetes API server does; user fields are otherwise kept as written', () => {
  const r = validateObject({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web' },
    spec: { selector: null, ports: [{ port: 80, name: null }] },
    status: null,
  });
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.deepEqual(r.object, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { ports: [{ port: 80 }] } });
});

test('a required field given as null is missing; a null list item is a type error', () => {
  const r = validateObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [null, { name: 'a', command: null }] } });
  assert.deepEqual(r.ok ? [] : r.errors, [
    'Pod/default/p: spec.containers[0]: expected an object, got null',
    'Pod/default/p: spec.containers[1].command: required field is missing',
  ]);
});

test('HTTP-only attributes in a ztunnel-enforced ALLOW policy are reported as ignored; with targetRefs they are not', () => {
  const policy = (extra: Record<string, unknown>) => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'p', namespace: 'ns' },
    spec: { ...extra, rules: [{ to: [{ operation: { methods: ['GET'], ports: ['80'] } }], when: [{ key: 'request.headers[x-a]', values: ['1'] }, { key: 'source.ip', values: ['10.0.0.0/8'] }] }] },
  });
  const zt = validateObject(policy({ selector: { matchLabels: { app: 'a' } } }));
  assert.ok(zt.ok);
  assert.deepEqual(
    zt.ignored.map((i) => i.path),
    ['spec.rules[0].to[0].operation.methods', 'spec.rules[0].when[0].key'],
  );
  assert.match(zt.ignored[0]!.reason, /never allows anything/);
  const wp = validateObject(policy({ targetRefs: [{ kind: 'Service', group: '', name: 'a' }] }));
  assert.ok(wp.ok);
  assert.deepEqual(wp.ignored, []);
});

test('the dry-run annotation is validated (ztunnel and waypoints both honour it: nothing ignored)', () => {
  const ap = (v: string) => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: 'ns', annotations: { 'istio.io/dry-run': v } }, spec: {} });
  const yes = validateObject(ap('true'));
  assert.ok(yes.ok);
  assert.deepEqual(yes.ignored, []);
  const bad = validateObject(ap('yes'));
  assert.deepEqual(bad.ok ? [] : bad.errors, ['AuthorizationPolicy/ns/p: metadata.annotations.istio.io/dry-run: unknown value "yes" (accepted: true, false)']);
});

test('validation never mutates its input', () => {
  const input = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: null, ports: [{ port: 80 }] } };
  const before = JSON.stringify(input);
  validateObject(input);
  assert.equal(JSON.stringify(input), before);
});

test('AUDIT, CUSTOM and trustDomains are ignored only where ztunnel enforces the policy (no targetRefs)', () => {
  const ap = (spec: object) => validateObject({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: 'ns' }, spec });
  const targetRefs = [{ group: '', kind: 'Service', name: 'web' }];
  const custom = { action: 'CUSTOM', provider: { name: 'opa' }, rules: [{ from: [{ source: { trustDomains: ['td'] } }] }] };
  const atZtunnel = ap(custom);
  assert.ok(atZtunnel.ok);
  assert.deepEqual(atZtunnel.ignored.map((i) => `${i.path}: ${i.reason}`), [
    'spec.action: ztunnel does not support the CUSTOM action (only waypoints do): without targetRefs this policy is not enforced',
    'spec.rules[0].from[0].source.trustDomains: trust-domain matching is only done by waypoints: without targetRefs it is not enforced',
  ]);
  const atWaypoint = ap({ ...custom, targetRefs });
  assert.ok(atWaypoint.ok);
  assert.deepEqual(atWaypoint.ignored, []);
  const audit = ap({ action: 'AUDIT', rules: [{}] });
  assert.ok(audit.ok);
  assert.deepEqual(audit.ignored.map((i) => i.path), ['spec.action']);
});
