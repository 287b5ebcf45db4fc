// e2e (root): the routing scenarios of src/routing/conformance-cases.ts (modelled on the Gateway API mesh
// conformance suite) replayed with real requests through a real waypoint in the sandbox. Each backend Service has its
// own pods answering with their Service's name (and subset), the path, Host and headers they received, so every
// case checks what really happened: which backend answered, status, redirect Location, rewritten path and host,
// request and response header edits, mirrors received (by request id), weighted shares, gRPC routing and status, TCP
// routes. Decision internals a request cannot show (retry/timeout values, DestinationRule knobs) are left to the
// engine's unit replay and waypoint.test.ts; a fault delay is checked by the time the request took.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxFixture } from '../../src/sandbox/testing/sandbox-fixture.js';
import { CONFORMANCE_NAMESPACE as NS, CONFORMANCE_SCENARIOS, conformanceManifests, type RoutingCase } from '../../src/routing/conformance-cases.js';

const CONSUMER_NS = `${NS}-consumer`;
const DIST_REQUESTS = 300;
const DIST_TOLERANCE = 0.08;

/** A backend pod: `node backend.cjs http|grpc|tcp`; answers as $BACKEND (+ $SUBSET). HTTP keeps request ids for /__seen. */
const BACKEND = String.raw`
const mode = process.argv[2];
const backend = process.env.BACKEND, subset = process.env.SUBSET || '';
if (mode === 'http') {
  const seen = [];
  require('http').createServer((req, res) => {
    if (req.url === '/__seen') return res.end(JSON.stringify(seen));
    const id = req.headers['x-request-id'];
    if (id) { seen.push(id); if (seen.length > 2000) seen.shift(); }
    let extra = {};
    try { extra = JSON.parse(req.headers['x-echo-response-headers'] || '{}'); } catch {}
    res.writeHead(200, { ...extra, 'content-type': 'application/json' });
    res.end(JSON.stringify({ backend, subset, method: req.method, path: req.url, host: req.headers.host, headers: req.headers }));
  }).listen(8080);
} else if (mode === 'grpc') {
  const s = require('http2').createServer();
  s.on('stream', (stream, headers) => {
    const msg = Buffer.from(JSON.stringify({ backend, subset, path: headers[':path'], headers }));
    const frame = Buffer.alloc(5 + msg.length); frame.writeUInt32BE(msg.length, 1); msg.copy(frame, 5);
    stream.on('data', () => {});
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(frame);
  });
  s.listen(9090);
} else {
  require('net').createServer((c) => { c.on('error', () => {}); c.end(JSON.stringify({ backend, subset })); }).listen(9090);
}
`;

/** The client: `node client.cjs CASES.json VIPS.json` → one JSON line: an outcome per case. */
const CLIENT = String.raw`
const http = require('http'), http2 = require('http2'), net = require('net'), fs = require('fs');
const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')), vips = JSON.parse(process.argv[3]);
const parse = (s) => { try { return JSON.parse(s); } catch { return undefined; } };
function httpReq(c, id) {
  const r = c.request;
  return new Promise((resolve) => {
    const t0 = Date.now();
    const headers = { host: r.authority || c.service, 'x-request-id': id, ...(r.headers || {}) };
    if (c.backendResponseHeaders) headers['x-echo-response-headers'] = JSON.stringify(c.backendResponseHeaders);
    const req = http.request({ host: vips[c.service], port: c.port, method: r.method || 'GET', path: r.path, headers, agent: false, timeout: 15000 }, (res) => {
      // A gRPC backend (an HTTP request to a grpc port is carried as h2c) answers one length-prefixed message.
      const grpcFramed = String(res.headers['content-type'] || '').startsWith('application/grpc');
      const chunks = [];
      res.on('data', (d) => chunks.push(d)).on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = (grpcFramed ? raw.subarray(5) : raw).toString('utf8');
        resolve({ status: res.statusCode, headers: res.headers, body: parse(body), text: body.slice(0, 200), ms: Date.now() - t0 });
      });
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (e) => resolve({ status: 0, error: e.message, ms: Date.now() - t0 }));
    req.end();
  });
}
function grpcReq(c, id) {
  return new Promise((resolve) => {
    const session = http2.connect('http://' + vips[c.service] + ':' + c.port);
    session.on('error', (e) => resolve({ status: 0, error: e.message }));
    const s = session.request({ ':method': 'POST', ':path': '/' + c.grpc.service + '/' + c.grpc.method, ':authority': c.service + ':' + c.port, 'content-type': 'application/grpc', te: 'trailers', 'x-request-id': id, ...(c.grpc.headers || {}) });
    let headers = {}, trailers = {}, buf = Buffer.alloc(0);
    s.on('response', (h) => (headers = h));
    s.on('trailers', (h) => (trailers = h));
    s.on('data', (d) => (buf = Buffer.concat([buf, d])));
    s.on('error', () => {});
    s.on('close', () => {
      session.close();
      const body = buf.length > 5 ? parse(buf.subarray(5, 5 + buf.readUInt32BE(1)).toString()) : undefined;
      resolve({ status: Number(headers[':status'] || 0), grpcStatus: Number(trailers['grpc-status'] ?? headers['grpc-status']), headers, body });
    });
    const frame = Buffer.alloc(5); s.end(frame);
  });
}
function tcpReq(c) {
  return new Promise((resolve) => {
    const s = net.connect(c.port, vips[c.service]);
    let data = '';
    // A TCP stream to an HTTP port carries an HTTP/1.0 request (the backend there speaks HTTP, not first).
    if (!c.service.startsWith('tcp')) s.write('GET /tcp HTTP/1.0\r\nhost: ' + c.service + '\r\n\r\n');
    s.setEncoding('utf8').on('data', (d) => (data += d)).on('end', () => resolve({ status: 200, body: parse(data.includes('\r\n\r\n') ? data.slice(data.indexOf('\r\n\r\n') + 4) : data) }));
    s.on('error', (e) => resolve({ status: 0, error: e.message }));
    s.setTimeout(10000, () => s.destroy(new Error('timeout')));
  });
}
const one = (c, id) => (c.tcp ? tcpReq(c) : c.grpc ? grpcReq(c, id) : httpReq(c, id));
(async () => {
  const out = [];
  for (const c of cases) {
    if (c.expect.distribution) {
      const counts = {};
      for (let i = 0; i < ${DIST_REQUESTS}; i++) {
        const r = await one(c, c.id + '-' + i);
        const k = r.body && r.body.backend ? r.body.backend + (c.expect.distribution[r.body.backend + '/' + r.body.subset] !== undefined ? '/' + r.body.subset : '') : String(r.status);
        counts[k] = (counts[k] || 0) + 1;
      }
      out.push({ id: c.id, counts });
    } else out.push({ id: c.id, ...(await one(c, c.id)) });
  }
  process.stdout.write(JSON.stringify(out) + '\n');
})();
`;

interface Outcome {
  id: string;
  status?: number;
  grpcStatus?: number;
  headers?: Record<string, string>;
  body?: { backend: string; subset: string; path: string; host: string; headers: Record<string, string> };
  text?: string;
  ms?: number;
  error?: string;
  counts?: Record<string, number>;
}

const BACKENDS: Array<{ service: string; mode: 'http' | 'grpc' | 'tcp'; pods: Array<{ subset: string }>; ports: Array<{ name: string; port: number; target: number }>; bound: boolean }> = [
  { service: 'echo', mode: 'http', pods: [{ subset: 'v1' }, { subset: 'v2' }], ports: [{ name: 'http', port: 80, target: 8080 }, { name: 'http-alt', port: 8080, target: 8080 }], bound: true },
  ...['echo-v1', 'echo-v2', 'echo-v3'].map((s) => ({ service: s, mode: 'http' as const, pods: [{ subset: s.slice(-2) }], ports: [{ name: 'http', port: 80, target: 8080 }], bound: false })),
  { service: 'grpc-echo', mode: 'grpc', pods: [{ subset: '' }], ports: [{ name: 'grpc', port: 9000, target: 9090 }], bound: true },
  ...['grpc-echo-v1', 'grpc-echo-v2'].map((s) => ({ service: s, mode: 'grpc' as const, pods: [{ subset: s.slice(-2) }], ports: [{ name: 'grpc', port: 9000, target: 9090 }], bound: false })),
  { service: 'tcp-echo', mode: 'tcp', pods: [{ subset: '' }], ports: [{ name: 'tcp', port: 9090, target: 9090 }], bound: true },
  ...['tcp-echo-v1', 'tcp-echo-v2'].map((s) => ({ service: s, mode: 'tcp' as const, pods: [{ subset: s.slice(-2) }], ports: [{ name: 'tcp', port: 9090, target: 9090 }], bound: false })),
];

function headerOk(actual: string | string[] | undefined, want: string | string[] | null): boolean {
  if (want === null) return actual === undefined;
  const a = Array.isArray(actual) ? actual.join(', ') : actual;
  return a === (Array.isArray(want) ? want.join(', ') : want);
}

/** What went wrong with one case, or [] when the real outcome matches every observable expectation. */
function check(c: RoutingCase & { id: string }, o: Outcome): string[] {
  const e = c.expect;
  const bad: string[] = [];
  if (e.distribution) {
    const total = Object.values(o.counts ?? {}).reduce((a, b) => a + b, 0);
    for (const [k, share] of Object.entries(e.distribution)) {
      const got = (o.counts?.[k] ?? 0) / (total || 1);
      if (Math.abs(got - share) > DIST_TOLERANCE) bad.push(`share of ${k}: ${got.toFixed(3)} (want ${share}) in ${JSON.stringify(o.counts)}`);
    }
    return bad;
  }
  if (o.error) return [`request failed: ${o.error}`];
  if (c.grpc && e.grpcStatus !== undefined && o.grpcStatus !== e.grpcStatus) bad.push(`grpc-status ${o.grpcStatus} (want ${e.grpcStatus})`);
  else if (!c.grpc && e.status !== undefined && o.status !== e.status) bad.push(`status ${o.status} (want ${e.status}): ${o.text ?? ''}`);
  if (e.backend !== undefined) {
    if (!o.body) bad.push(`no backend answered (status ${o.status}): ${o.text ?? ''}`);
    else if (o.body.backend !== e.backend) bad.push(`backend ${o.body.backend} (want ${e.backend})`);
    else if (e.subset !== undefined && o.body.subset !== e.subset) bad.push(`subset ${o.body.subset} (want ${e.subset})`);
    if (!c.grpc && !c.tcp && o.status !== 200) bad.push(`status ${o.status} (want 200 from the backend)`);
  }
  if (e.location !== undefined && o.headers?.['location'] !== e.location) bad.push(`location ${o.headers?.['location']} (want ${e.location})`);
  if (e.path !== undefined && o.body?.path !== e.path) bad.push(`backend saw path ${o.body?.path} (want ${e.path})`);
  if (e.host !== undefined && o.body?.host !== e.host) bad.push(`backend saw host ${o.body?.host} (want ${e.host})`);
  for (const [k, v] of Object.entries(e.requestHeaders ?? {})) if (!headerOk(o.body?.headers?.[k], v)) bad.push(`backend saw ${k}: ${JSON.stringify(o.body?.headers?.[k])} (want ${JSON.stringify(v)})`);
  for (const [k, v] of Object.entries(e.responseHeaders ?? {})) if (!headerOk(o.headers?.[k], v)) bad.push(`client got ${k}: ${JSON.stringify(o.headers?.[k])} (want ${JSON.stringify(v)})`);
  if (e.faultDelayMs !== undefined && (o.ms ?? 0) < e.faultDelayMs * 0.9) bad.push(`answered after ${o.ms} ms, before the ${e.faultDelayMs} ms fault delay`);
  return bad;
}

test('waypoint conformance replay: every routing scenario with real requests through a real waypoint', { timeout: 600_000 }, async (t) => {
  const fx = await SandboxFixture.create(t, 2);
  const dir = mkdtempSync(join(tmpdir(), 'ambit-wp-conf-'));
  const backendJs = join(dir, 'backend.cjs');
  const clientJs = join(dir, 'client.cjs');
  writeFileSync(backendJs, BACKEND);
  writeFileSync(clientJs, CLIENT);
  const objects: object[] = [NS, CONSUMER_NS].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'istio.io/dataplane-mode': 'ambient' } } }));
  for (const ns of [NS, CONSUMER_NS]) objects.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: ns, labels: { app: 'client' } }, spec: { nodeName: 'node1', containers: [{ name: 'c', command: ['sleep', 'infinity'] }] } });
  let n = 0;
  for (const b of BACKENDS) {
    objects.push({
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: b.service, namespace: NS, ...(b.bound ? { labels: { 'istio.io/use-waypoint': 'waypoint' } } : {}) },
      spec: { selector: { app: b.service }, ports: b.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.target })) },
    });
    for (const p of b.pods) {
      objects.push({
        apiVersion: 'v1', kind: 'Pod',
        metadata: { name: `${b.service}-${p.subset || 'x'}`, namespace: NS, labels: { app: b.service, ...(p.subset ? { version: p.subset } : {}) } },
        spec: { nodeName: `node${(n++ % 2) + 1}`, containers: [{ name: 'b', command: [process.execPath, backendJs, b.mode], env: [{ name: 'BACKEND', value: b.service }, { name: 'SUBSET', value: p.subset }] }] },
      });
    }
  }
  objects.push({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'waypoint', namespace: NS }, spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] } });
  await fx.apply(objects);
  process.stderr.write('[conformance] waiting for the waypoint\n');
  await fx.cli(['waypoint', 'status', '-n', NS, '--waypoint-timeout', '60s'], { timeoutMs: 90_000 });
  const pods = JSON.parse((await fx.cli(['get', 'pods', '-n', NS, '-o', 'json'])).stdout).items as Array<{ metadata: { name: string }; status: { phase: string } }>;
  for (const p of pods) await fx.running(NS, p.metadata.name);
  await fx.running(CONSUMER_NS, 'client');
  const wpPod = pods.find((p) => p.metadata.name.startsWith('waypoint-'))!.metadata.name;
  const services = JSON.parse((await fx.cli(['get', 'services', '-n', NS, '-o', 'json'])).stdout).items as Array<{ metadata: { name: string }; spec: { clusterIP: string } }>;
  const vips = Object.fromEntries(services.map((s) => [s.metadata.name, s.spec.clusterIP]));
  const configDump = async () => JSON.parse((await fx.cli(['exec', wpPod, '-n', NS, '--', 'curl', '-s', 'localhost:15000/config_dump'])).stdout) as { config: { routes: Array<{ name: string; namespace: string }> } | null };
  const routesAtWaypoint = async () => new Set(((await configDump()).config?.routes ?? []).filter((r) => r.namespace === NS || r.namespace === CONSUMER_NS).map((r) => `${r.namespace}/${r.name}`));
  const seenBy = async (pod: string): Promise<Set<string>> => new Set(JSON.parse((await fx.cli(['exec', pod, '-n', NS, '--', 'curl', '-s', 'localhost:8080/__seen'])).stdout) as string[]);

  const failures: string[] = [];
  let verified = 0;
  const progress = (line: string) => process.stderr.write(`[conformance ${((Date.now() - started) / 1000).toFixed(1)} s] ${line}\n`);
  const started = Date.now();
  progress('topology ready');
  for (const [si, s] of CONFORMANCE_SCENARIOS.entries()) {
    progress(`scenario ${s.name}`);
    const manifests = conformanceManifests(s);
    const file = join(dir, `scenario-${si}.json`);
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifests }));
    await fx.cli(['apply', '-f', file]);
    const want = manifests.filter((m) => m.kind !== 'DestinationRule').map((m) => `${m.metadata.namespace}/${m.metadata.name}`);
    await fx.waitFor(`scenario ${s.name}: routes at the waypoint`, async () => {
      const have = await routesAtWaypoint();
      return want.every((w) => have.has(w));
    }, 30_000, 300);
    const cases = s.cases.map((c, i) => ({ ...c, id: `s${si}c${i}`, service: c.service ?? 'echo', port: c.port ?? (c.service?.startsWith('grpc') ? 9000 : c.service?.startsWith('tcp') ? 9090 : 80) }));
    for (const [src, group] of [[NS, cases.filter((c) => (c.sourceNamespace ?? NS) === NS)], [CONSUMER_NS, cases.filter((c) => c.sourceNamespace === CONSUMER_NS)]] as const) {
      if (!group.length) continue;
      const casesFile = join(dir, `cases-${si}-${src}.json`);
      writeFileSync(casesFile, JSON.stringify(group));
      const r = await fx.cli(['exec', 'client', '-n', src, '--', process.execPath, clientJs, casesFile, JSON.stringify(vips)], { allowFail: true, timeoutMs: 120_000 });
      const line = r.stdout.split('\n').find((l) => l.startsWith('['));
      if (!line) {
        failures.push(`${s.name}: client failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
        continue;
      }
      const outcomes = new Map((JSON.parse(line) as Outcome[]).map((o) => [o.id, o]));
      for (const c of group) {
        const problems = check(c, outcomes.get(c.id)!);
        if (c.expect.mirrors !== undefined) {
          // Mirrors are fire-and-forget: give them a moment, then every listed one (and no other) has the request id.
          await new Promise((res) => setTimeout(res, 500));
          for (const m of ['echo-v1', 'echo-v2', 'echo-v3'].filter((x) => x !== c.expect.backend)) {
            const got = (await seenBy(`${m}-${m.slice(-2)}`)).has(c.id);
            if (got !== c.expect.mirrors.includes(m)) problems.push(`mirror ${m} ${got ? 'received' : 'did not receive'} the request`);
          }
        }
        if (problems.length) failures.push(`${s.name} / ${c.name}: ${problems.join('; ')}`);
        else verified++;
      }
    }
    await fx.cli(['delete', '-f', file]);
    await fx.waitFor(`scenario ${s.name}: routes removed`, async () => {
      const have = await routesAtWaypoint();
      return want.every((w) => !have.has(w));
    }, 30_000, 300);
  }
  assert.deepEqual(failures, [], `${failures.length} case(s) failed with real requests:\n${failures.join('\n')}`);
  assert.ok(verified >= 40, `${verified} routing cases verified through the waypoint (want ≥ 40)`);
  t.diagnostic(`${verified} routing cases verified with real requests through the waypoint`);
});
