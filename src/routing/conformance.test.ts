// Replays CONFORMANCE_SCENARIOS against the decision engine: each case's decision essentials must match.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { validateObject } from '../api/index.js';
import { CONFORMANCE_NAMESPACE, CONFORMANCE_SCENARIOS, conformanceInput, conformanceManifests, conformanceServiceKey, seededRandom as seeded, type RoutingCase } from './conformance-cases.js';
import { applyHeaderEdits, compileRoutes, decideGrpc, decideHttp, decideTcp, type HttpDecision, type RouteTable, type TcpDecision } from './index.js';

const short = (hostname: string) => hostname.split('.')[0]!;

function decide(table: RouteTable, c: RoutingCase, rand: () => number): HttpDecision | TcpDecision {
  const target = { serviceKey: conformanceServiceKey(c.service ?? 'echo'), port: c.port ?? 80, sourceNamespace: c.sourceNamespace ?? CONFORMANCE_NAMESPACE };
  if (c.tcp) return decideTcp(table, target, rand);
  if (c.grpc) return decideGrpc(table, target, { service: c.grpc.service, method: c.grpc.method, authority: `${c.service}:${target.port}`, headers: { ...(c.grpc.headers ?? {}) } }, rand);
  const r = c.request!;
  return decideHttp(table, target, { method: r.method ?? 'GET', authority: r.authority ?? (c.service ?? 'echo'), path: r.path, headers: { ...(r.headers ?? {}) } }, rand);
}

function outcomeKey(d: HttpDecision | TcpDecision): string {
  if (d.action === 'forward') return d.backend.subset ? `${short(d.backend.hostname)}/${d.backend.subset.name}` : short(d.backend.hostname);
  if (d.action === 'reject') return 'reject';
  return String(d.status);
}

function check(table: RouteTable, c: RoutingCase): void {
  const e = c.expect;
  if (e.distribution) {
    const rand = seeded(42);
    const n = 10_000;
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const k = outcomeKey(decide(table, c, rand));
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    for (const k of counts.keys()) assert.ok(k in e.distribution, `unexpected outcome ${k}`);
    for (const [k, share] of Object.entries(e.distribution)) {
      const got = (counts.get(k) ?? 0) / n;
      assert.ok(Math.abs(got - share) <= 0.01, `${k}: ${(got * 100).toFixed(2)}% (want ${share * 100}% ± 1 pt)`);
    }
    return;
  }
  const d = decide(table, c, seeded(7));
  if (e.status !== undefined) {
    assert.ok(d.action === 'respond' || d.action === 'redirect', `want status ${e.status}, got ${JSON.stringify(d)}`);
    assert.equal(d.status, e.status);
  }
  if (e.flag !== undefined) assert.equal((d as { flag?: string }).flag, e.flag);
  if (e.grpcStatus !== undefined) assert.equal((d as { grpcStatus?: number }).grpcStatus, e.grpcStatus);
  if (e.location !== undefined) {
    assert.equal(d.action, 'redirect');
    assert.equal((d as { location: string }).location, e.location);
  }
  const forwarded = e.backend !== undefined || e.path !== undefined || e.host !== undefined || e.requestHeaders || e.mirrors || e.timeouts || e.retry || e.faultDelayMs !== undefined || e.upstream;
  if (!forwarded) {
    if (e.responseHeaders) checkResponseHeaders(d as HttpDecision, c, e.responseHeaders);
    return;
  }
  assert.equal(d.action, 'forward', `want a forward, got ${JSON.stringify(d)}`);
  if (d.action !== 'forward') return;
  if (e.backend !== undefined) assert.equal(short(d.backend.hostname), e.backend);
  if (e.port !== undefined) assert.equal(d.backend.port, e.port);
  if (e.subset !== undefined) assert.equal(d.backend.subset?.name, e.subset);
  if (e.upstream) {
    const u = d.upstream;
    assert.ok(u, 'want an upstream policy');
    if (e.upstream.loadBalancer) assert.equal(u.loadBalancer?.policy, e.upstream.loadBalancer);
    if (e.upstream.hashKey) assert.equal((u.loadBalancer as { key?: string }).key, e.upstream.hashKey);
    if (e.upstream.http1MaxPendingRequests !== undefined) assert.equal(u.connectionPool?.http1MaxPendingRequests, e.upstream.http1MaxPendingRequests);
    if (e.upstream.consecutive5xxErrors !== undefined) assert.equal(u.outlierDetection?.consecutive5xxErrors, e.upstream.consecutive5xxErrors);
  }
  if (c.tcp) return;
  const hd = d as Extract<HttpDecision, { action: 'forward' }>;
  const req = c.request;
  if (e.path !== undefined) assert.equal(hd.rewritePath ?? req?.path, e.path);
  if (e.host !== undefined) assert.equal(hd.rewriteHost ?? req?.authority ?? c.service ?? 'echo', e.host);
  if (e.requestHeaders) {
    const h = applyHeaderEdits({ ...(req?.headers ?? c.grpc?.headers ?? {}) }, hd.requestHeaders);
    for (const [k, v] of Object.entries(e.requestHeaders)) assert.deepEqual(h[k], v ?? undefined, `request header ${k}`);
  }
  if (e.responseHeaders) checkResponseHeaders(hd, c, e.responseHeaders);
  if (e.mirrors) assert.deepEqual(hd.mirrors.map((m) => short(m.hostname)), e.mirrors);
  if (e.timeouts) assert.deepEqual(hd.timeouts, e.timeouts);
  if (e.retry) for (const [k, v] of Object.entries(e.retry)) assert.deepEqual(hd.retry[k as keyof typeof hd.retry], v, `retry.${k}`);
  if (e.faultDelayMs !== undefined) assert.equal(hd.faultDelayMs, e.faultDelayMs);
}

/** Response edits applied to what the backend sends must give the expected client-side headers. */
function checkResponseHeaders(d: HttpDecision, c: RoutingCase, want: Record<string, string | string[] | null>): void {
  const h = applyHeaderEdits({ ...(c.backendResponseHeaders ?? {}) }, d.responseHeaders);
  for (const [k, v] of Object.entries(want)) assert.deepEqual(h[k], v ?? undefined, `response header ${k}`);
}

let total = 0;
for (const s of CONFORMANCE_SCENARIOS) {
  describe(s.name, () => {
    const { config, extras } = conformanceInput(s);
    const table = compileRoutes(config, extras);
    test(s.problems ? 'reports its problems' : 'compiles without problems', () =>
      assert.deepEqual(table.problems.map((p) => `${p.name}: ${p.field}`), s.problems ?? []),
    );
    for (const c of s.cases) {
      total++;
      test(c.name, () => check(table, c));
    }
  });
}

test('the conformance table has at least 40 HTTPRoute cases plus gRPC, TCP and VirtualService cases', () => {
  const count = (pred: (name: string) => boolean) => CONFORMANCE_SCENARIOS.filter((s) => pred(s.name)).reduce((n, s) => n + s.cases.length, 0);
  assert.ok(count((n) => n.startsWith('HTTPRoute')) >= 40);
  assert.ok(count((n) => n.startsWith('GRPCRoute')) >= 3);
  assert.ok(count((n) => n.startsWith('TCPRoute')) >= 1);
  assert.ok(count((n) => n.startsWith('VirtualService')) >= 10);
  assert.equal(total, CONFORMANCE_SCENARIOS.reduce((n, s) => n + s.cases.length, 0));
});

test('every conformance scenario is valid Ambit input (as the e2e replay applies it)', () => {
  for (const s of CONFORMANCE_SCENARIOS) {
    for (const m of conformanceManifests(s)) {
      const r = validateObject(m);
      assert.ok(r.ok, `${s.name}: ${m.kind}/${m.metadata.name}: ${JSON.stringify(r)}`);
    }
  }
});
