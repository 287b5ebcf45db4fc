// e2e (root): a real waypoint in the sandbox. `ambit waypoint apply --enroll-namespace --wait` deploys it and binds
// the namespace with no pod restart; HTTP then flows client ⇒ ztunnel ⇒ waypoint ⇒ ztunnel ⇒ echo (the echo sees the
// waypoint as its caller, the waypoint's metrics count the requests with both principals). Traffic management with
// real requests: a 90/10 HTTPRoute split over 2,000 requests within ±3 points, retries turning a 50%-failing backend
// into ≥ 99% success, a 100% fault abort (VirtualService) answering its status, a request timeout firing within 10%
// of its value; gRPC unary, error and server-streaming calls from a real @grpc/grpc-js client with metadata and
// status intact. Killing the waypoint fails closed (no request bypasses it) and it comes back; `waypoint delete`
// returns the namespace to L4 only (the echo sees the client's own IP again). L7 AuthorizationPolicy (targetRefs
// Service) at the waypoint: GET 200 and DELETE 403 `RBAC: access denied` for the same client, a DENY on a header
// value, an AUDIT policy logged without denying. RequestAuthentication with its JWKS served by a pod in the mesh: valid,
// expired, wrong-issuer, wrong-audience and tampered tokens, a claim rule, a key rotation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fromBinary } from '@bufbuild/protobuf';
import { ExportTraceServiceRequestSchema } from '../../proto/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../src/platform/index.js';
import { SandboxFixture } from '../../src/sandbox/testing/sandbox-fixture.js';

const NS = 'wp-e2e';
const REPO = join(import.meta.dirname, '..', '..', '..');
const APPS = join(REPO, 'examples', 'apps');

/**
 * CommonJS, run inside the client pod: `node tool.cjs <mode> …`, one JSON line out.
 * - `one URL HEADERS_JSON`: {status, headers, body, ms}
 * - `load URL N CONC HEADERS_JSON`: {statuses, versions, callers, errors} over N requests, CONC at a time
 * - `loop URL MS`: a request every 50 ms for MS ms: [{t, status, caller, err}]
 */
const TOOL = String.raw`
const http = require('http');
const [mode, url, a, b, c] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
function req(u, headers) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const r = http.get(u, { headers, agent: false, timeout: 15000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, ms: Date.now() - t0 }));
      res.on('error', (e) => resolve({ status: 0, err: e.code || e.message, ms: Date.now() - t0 }));
    });
    r.on('timeout', () => r.destroy(new Error('client timeout')));
    r.on('error', (e) => resolve({ status: 0, err: e.code || e.message, ms: Date.now() - t0 }));
  });
}
const parse = (body) => { try { return JSON.parse(body); } catch { return {}; } };
(async () => {
  if (mode === 'one') return out(await req(url, JSON.parse(a || '{}')));
  if (mode === 'load') {
    const n = Number(a), conc = Number(b), headers = JSON.parse(c || '{}');
    const o = { statuses: {}, versions: {}, callers: {}, errors: {} };
    let next = 0;
    async function worker() {
      while (next < n) {
        next++;
        const r = await req(url, headers);
        o.statuses[r.status] = (o.statuses[r.status] || 0) + 1;
        if (r.err) o.errors[r.err] = (o.errors[r.err] || 0) + 1;
        const j = parse(r.body || '');
        if (j.version) o.versions[j.version] = (o.versions[j.version] || 0) + 1;
        if (j.caller) { const ip = j.caller.replace(/^::ffff:/, '').replace(/:\d+$/, ''); o.callers[ip] = (o.callers[ip] || 0) + 1; }
      }
    }
    await Promise.all(Array.from({ length: conc }, worker));
    return out(o);
  }
  if (mode === 'loop') {
    const end = Date.now() + Number(a), rows = [];
    while (Date.now() < end) {
      const t = Date.now();
      const r = await req(url, {});
      const j = parse(r.body || '');
      rows.push({ t, status: r.status, caller: j.caller ? j.caller.replace(/^::ffff:/, '').replace(/:\d+$/, '') : undefined, err: r.err });
      await new Promise((res) => setTimeout(res, 50));
    }
    return out(rows);
  }
})();
`;

interface Load {
  statuses: Record<string, number>;
  versions: Record<string, number>;
  callers: Record<string, number>;
  errors: Record<string, number>;
}
interface One {
  status: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
  err?: string;
}

function pod(name: string, node: string, labels: Record<string, string>, command: string[], env: Record<string, string> = {}): object {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels },
    spec: { nodeName: node, serviceAccountName: labels['app'] ?? name, containers: [{ name: 'app', command, env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })) }] },
  };
}

function service(name: string, selector: Record<string, string>, port: number, targetPort: number, portName: string): object {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { selector, ports: [{ name: portName, port, targetPort }] } };
}

test('waypoint: deploy, L7 routing and resilience with real requests, gRPC, metrics, fail closed, back to L4', { timeout: 420_000 }, async (t) => {
  const fx = await SandboxFixture.create(t, 2);
  const dir = mkdtempSync(join(tmpdir(), 'ambit-wp-e2e-'));
  const tool = join(dir, 'tool.cjs');
  writeFileSync(tool, TOOL);
  const run = async <T>(args: string[], timeoutMs = 120_000): Promise<T> => {
    const r = await fx.cli(['exec', 'client', '-n', NS, '--', process.execPath, ...args], { allowFail: true, timeoutMs });
    const line = r.stdout.split('\n').find((l) => l.startsWith('{') || l.startsWith('['));
    if (!line) throw new Error(`client tool failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return JSON.parse(line) as T;
  };
  const one = (path: string, headers: Record<string, string> = {}, host = 'echo') => run<One>([tool, 'one', `http://${host}${path}`, JSON.stringify(headers)]);
  const load = (path: string, n: number, conc: number, headers: Record<string, string> = {}) => run<Load>([tool, 'load', `http://echo${path}`, String(n), String(conc), JSON.stringify(headers)], 240_000);

  await fx.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'istio.io/dataplane-mode': 'ambient' } } },
    ...['client', 'echo', 'grpc-echo'].map((sa) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: NS } })),
    pod('client', 'node1', { app: 'client' }, ['sleep', 'infinity']),
    pod('echo-v1', 'node1', { app: 'echo', version: 'v1' }, [process.execPath, join(APPS, 'echo-http.mjs')], { VERSION: 'v1', PORT: '8080' }),
    pod('echo-v2', 'node2', { app: 'echo', version: 'v2' }, [process.execPath, join(APPS, 'echo-http.mjs')], { VERSION: 'v2', PORT: '8080' }),
    pod('grpc-echo', 'node2', { app: 'grpc-echo', version: 'v1' }, [process.execPath, join(APPS, 'grpc-echo.mjs')], { VERSION: 'v1', PORT: '9090' }),
    service('echo', { app: 'echo' }, 80, 8080, 'http'),
    service('echo-v1', { app: 'echo', version: 'v1' }, 80, 8080, 'http'),
    service('echo-v2', { app: 'echo', version: 'v2' }, 80, 8080, 'http'),
    service('grpc-echo', { app: 'grpc-echo' }, 9000, 9090, 'grpc'),
  ]);
  for (const p of ['client', 'echo-v1', 'echo-v2', 'grpc-echo']) await fx.running(NS, p);
  const clientIp = ((await fx.pod(NS, 'client')).status as { podIP: string }).podIP;
  const startTimes = async () => Promise.all(['client', 'echo-v1', 'echo-v2'].map(async (p) => JSON.stringify((await fx.pod(NS, p)).status)));
  await fx.waitFor('L4 mesh traffic client → echo', async () => (await one('/?format=json')).status === 200, 30_000, 300);
  const before = await startTimes();

  // 1. Deploy and bind: no pod restarts; traffic now crosses the waypoint.
  const applied = await fx.cli(['waypoint', 'apply', '-n', NS, '--enroll-namespace', '--wait', '--waypoint-timeout', '60s'], { timeoutMs: 90_000 });
  assert.match(applied.stdout, new RegExp(`^waypoint ${NS}/waypoint applied$`, 'm'));
  assert.match(applied.stdout, new RegExp(`^namespace ${NS} labeled with "istio.io/use-waypoint: waypoint"$`, 'm'));
  const status = await fx.cli(['waypoint', 'status', '-n', NS, '--no-wait']);
  assert.match(status.stdout, /^waypoint\s+True\s+Programmed\s+Programmed\s/m);
  const wpPod = JSON.parse((await fx.cli(['get', 'pods', '-n', NS, '-o', 'json'])).stdout).items.find((p: { metadata: { name: string } }) => p.metadata.name.startsWith('waypoint-')) as { metadata: { name: string }; status: { podIP: string } };
  assert.ok(wpPod, 'the controller created the waypoint pod');
  const wpIp = wpPod.status.podIP;
  const viaWaypoint = await fx.waitFor('requests reach echo through the waypoint', async () => {
    const r = await one('/?format=json');
    return r.status === 200 && JSON.parse(r.body).caller.includes(wpIp) ? r : undefined;
  }, 30_000, 300);
  assert.ok(viaWaypoint);
  assert.deepEqual(await startTimes(), before, 'no pod was restarted by enrolling the waypoint');

  // 2. 90/10 canary split with an HTTPRoute, plus retry and timeout rules.
  await fx.apply([
    {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'echo', namespace: NS },
      spec: {
        parentRefs: [{ group: '', kind: 'Service', name: 'echo', port: 80 }],
        rules: [
          { matches: [{ path: { type: 'PathPrefix', value: '/flaky-no-retry' } }], retry: { attempts: 0 }, backendRefs: [{ name: 'echo-v1', port: 80 }] },
          { matches: [{ path: { type: 'PathPrefix', value: '/flaky' } }], retry: { attempts: 3, codes: [503], backoff: '10ms' }, backendRefs: [{ name: 'echo-v1', port: 80 }] },
          { matches: [{ path: { type: 'PathPrefix', value: '/slow' } }], timeouts: { request: '500ms' }, backendRefs: [{ name: 'echo-v1', port: 80 }] },
          { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'echo-v1', port: 80, weight: 90 }, { name: 'echo-v2', port: 80, weight: 10 }] },
        ],
      },
    },
    {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'echo-v2', namespace: NS },
      spec: {
        hosts: ['echo-v2'],
        http: [
          { match: [{ uri: { prefix: '/fault' } }], fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }, route: [{ destination: { host: 'echo-v2' } }] },
          { route: [{ destination: { host: 'echo-v2' } }] },
        ],
      },
    },
  ]);
  await fx.waitFor('the route reaches the waypoint', async () => (await one('/slow', { 'x-echo-delay-ms': '2000' })).status === 504, 30_000, 300);
  const split = await load('/?format=json', 2000, 20);
  const total = Object.values(split.statuses).reduce((a, b) => a + b, 0);
  assert.equal(split.statuses['200'], 2000, `every request of the split succeeded: ${JSON.stringify(split)}`);
  const v2Share = (split.versions['v2'] ?? 0) / total;
  assert.ok(Math.abs(v2Share - 0.1) <= 0.03, `v2 got ${(v2Share * 100).toFixed(1)}% of 2,000 requests (want 10 ± 3)`);

  // 3. Retries: the backend fails every other request; without retries about half fail, with 3 retries ≥ 99% succeed.
  const noRetry = await load('/flaky-no-retry', 200, 1);
  assert.ok((noRetry.statuses['503'] ?? 0) >= 80, `the backend really fails about half the requests: ${JSON.stringify(noRetry.statuses)}`);
  // One request at a time, so the backend's alternation is the only source of failures (no interleaving).
  const retried = await load('/flaky', 200, 1);
  assert.ok((retried.statuses['200'] ?? 0) >= 198, `retries turn it into ≥ 99% success: ${JSON.stringify(retried.statuses)}`);

  // 4. A 100% fault abort answers the configured status; the backend is not called.
  const fault = await one('/fault', {}, 'echo-v2');
  assert.equal(fault.status, 418, `fault abort: ${JSON.stringify(fault)}`);
  assert.equal(fault.body, 'fault filter abort');

  // 5. The request timeout fires within 10% of 500 ms.
  const slow = await one('/slow', { 'x-echo-delay-ms': '3000' });
  assert.equal(slow.status, 504);
  assert.equal(slow.body, 'upstream request timeout');
  assert.ok(slow.ms >= 450 && slow.ms <= 550, `the 500 ms timeout fired after ${slow.ms} ms`);

  // 6. gRPC through the waypoint: unary with metadata, an error status, server streaming with trailers.
  const grpc = async (method: string, msg: string) => {
    const r = await fx.cli(['exec', 'client', '-n', NS, '--', process.execPath, join(APPS, 'grpc-client.mjs'), 'grpc-echo:9000', method, msg, 'e2e-caller'], { allowFail: true, timeoutMs: 30_000 });
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { code: number; details: string; messages: string[]; headers: Record<string, string>; trailers: Record<string, string> };
  };
  const unary = await grpc('Say', 'hi');
  assert.equal(unary.code, 0, JSON.stringify(unary));
  assert.deepEqual(unary.messages, ['v1:hi']);
  assert.equal(unary.headers['x-echo-caller'], 'e2e-caller');
  assert.equal(unary.trailers['x-echo-version'], 'v1');
  const failed = await grpc('Say', 'fail');
  assert.equal(failed.code, 9);
  assert.equal(failed.details, 'asked to fail');
  const streamed = await grpc('Stream', 's');
  assert.equal(streamed.code, 0);
  assert.deepEqual(streamed.messages, [0, 1, 2, 3, 4].map((i) => `v1:s:${i}`));
  assert.equal(streamed.trailers['x-echo-version'], 'v1');

  // 7. The waypoint's metrics: reporter="waypoint" with both principals, HTTP and gRPC.
  const metrics = (await fx.cli(['exec', wpPod.metadata.name, '-n', NS, '--', 'curl', '-s', 'localhost:15020/stats/prometheus'])).stdout;
  const ok200 = metrics.split('\n').filter((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="waypoint"') && l.includes('response_code="200"')
    && l.includes(`source_principal="spiffe://cluster.local/ns/${NS}/sa/client"`) && l.includes(`destination_principal="spiffe://cluster.local/ns/${NS}/sa/echo"`));
  const counted = ok200.reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  assert.ok(counted >= 2000, `istio_requests_total counts the 200s (${counted})`);
  assert.ok(metrics.split('\n').some((l) => l.startsWith('istio_requests_total{') && l.includes('request_protocol="grpc"') && l.includes('grpc_response_status="9"')), 'gRPC status in the metrics');
  assert.ok(metrics.split('\n').some((l) => l.startsWith('istio_request_duration_milliseconds_bucket{') && l.includes('le="0.5"')), 'duration histogram with Istio buckets');

  // 8. "Only through the waypoint" (README): an L4 ALLOW for the waypoint's identity on echo-v1 keeps service traffic
  //    (via the waypoint) working and refuses the client calling the pod directly.
  const echoV1Ip = ((await fx.pod(NS, 'echo-v1')).status as { podIP: string }).podIP;
  await fx.apply([{
    apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'only-waypoint', namespace: NS },
    spec: { selector: { matchLabels: { app: 'echo', version: 'v1' } }, action: 'ALLOW', rules: [{ from: [{ source: { principals: [`cluster.local/ns/${NS}/sa/waypoint`] } }] }] },
  }]);
  await fx.waitFor('the direct call refused', async () => (await one('/?format=json', {}, `${echoV1Ip}:8080`)).status === 0, 20_000, 300);
  const viaWp = await one('/flaky-no-retry?format=json');
  assert.ok(viaWp.status === 200 || viaWp.status === 503, `service traffic still reaches echo-v1 through the waypoint: ${JSON.stringify(viaWp)}`);
  assert.ok(viaWp.body.includes('"version":"v1"') || viaWp.body.includes('echo v1'), viaWp.body);
  await fx.cli(['delete', 'authorizationpolicy', 'only-waypoint', '-n', NS]);

  // 8b. L7 AuthorizationPolicy at the waypoint (targetRefs Service): the same client gets 200 for GET and 403 for
  //     DELETE, a DENY on a header value refuses, an AUDIT policy logs without denying; deleting them restores DELETE.
  const curl = async (method: string, path: string, headers: string[] = []) => {
    const r = await fx.cli(['exec', 'client', '-n', NS, '--', 'curl', '-s', '-X', method, ...headers.flatMap((h) => ['-H', h]), '-w', '\n%{http_code}', '--max-time', '5', `http://echo${path}`], { allowFail: true });
    const lines = r.stdout.split('\n');
    return { status: Number(lines.pop()), body: lines.join('\n') };
  };
  const svcRef = [{ group: '', kind: 'Service', name: 'echo' }];
  /** The waypoint pod's log (its container logs, as the sandbox keeps them). */
  const wpText = (): string => {
    const logDir = join(fx.dataDir, 'logs', 'pods', `${NS}_${wpPod.metadata.name}`);
    return readdirSync(logDir).map((f) => readFileSync(join(logDir, f), 'utf8')).join('');
  };
  await fx.apply([
    { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'echo-readers', namespace: NS },
      spec: { targetRefs: svcRef, action: 'ALLOW', rules: [{ from: [{ source: { principals: [`cluster.local/ns/${NS}/sa/client`] } }], to: [{ operation: { methods: ['GET'] } }] }] } },
    { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'echo-block', namespace: NS },
      spec: { targetRefs: svcRef, action: 'DENY', rules: [{ when: [{ key: 'request.headers[x-block]', values: ['yes'] }] }] } },
    { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'echo-audit', namespace: NS },
      spec: { targetRefs: svcRef, action: 'AUDIT', rules: [{ to: [{ operation: { paths: ['/audit*'] } }] }] } },
  ]);
  const deniedDelete = await fx.waitFor('DELETE refused by the waypoint', async () => {
    const r = await curl('DELETE', '/');
    return r.status === 403 ? r : undefined;
  }, 20_000, 300);
  assert.equal(deniedDelete.body, 'RBAC: access denied');
  assert.equal((await curl('GET', '/')).status, 200, 'GET from the client is allowed');
  assert.equal((await curl('GET', '/', ['x-block: yes'])).status, 403, 'the DENY on a header value');
  assert.equal((await curl('GET', '/audited')).status, 200, 'AUDIT does not deny');
  const accepted = JSON.parse((await fx.cli(['get', 'authorizationpolicy', 'echo-readers', '-n', NS, '-o', 'json'])).stdout) as { status?: { conditions?: Array<{ type: string; status: string; message: string }> } };
  assert.ok(accepted.status?.conditions?.some((c) => c.type === 'WaypointAccepted' && c.status === 'True' && /enforced by the waypoint/.test(c.message)), JSON.stringify(accepted.status));
  const wpLog = await fx.waitFor('the audit and the denials in the waypoint log', async () => {
    const text = wpText();
    return text.includes('"request audited"') && text.includes('echo-block') ? text : undefined;
  }, 10_000, 300);
  assert.match(wpLog, /"audit":\["wp-e2e\/echo-audit"\]/);
  assert.match(wpLog, /rbac_access_denied_matched_policy\[wp-e2e\/echo-block rule 0\]/);
  // `ambit x authz check` evaluates the same engine offline and agrees with the live waypoint on each case.
  const authzCheck = async (args: string[]) => (await fx.cli(['x', 'authz', 'check', 'echo-v1', '-n', NS, '--service', 'echo', '--from', 'client', ...args])).stdout;
  const deleteCheck = await authzCheck(['--method', 'DELETE']);
  t.diagnostic(`ambit x authz check echo-v1 -n ${NS} --service echo --from client --method DELETE:\n${deleteCheck}`);
  assert.match(deleteCheck, new RegExp(`^decision: DENY \\(403 RBAC: access denied\\) — no rule of the ALLOW policies ${NS}/echo-readers matched: denied$`, 'm'));
  assert.match(await authzCheck(['--method', 'GET']), new RegExp(`^decision: ALLOW — allowed by ALLOW policy ${NS}/echo-readers rule 0$`, 'm'));
  assert.match(await authzCheck(['--header', 'x-block=yes']), new RegExp(`^decision: DENY \\(403 RBAC: access denied\\) — denied by DENY policy ${NS}/echo-block rule 0$`, 'm'));
  const audited = await authzCheck(['--path', '/audited']);
  assert.match(audited, /^decision: ALLOW/m);
  assert.match(audited, new RegExp(`^audited by: ${NS}/echo-audit$`, 'm'));
  assert.match(audited, new RegExp(`^pod ${NS}/echo-v1 · service ${NS}/echo:80 · waypoint ${NS}/waypoint$`, 'm'));
  for (const name of ['echo-readers', 'echo-block', 'echo-audit']) await fx.cli(['delete', 'authorizationpolicy', name, '-n', NS]);
  await fx.waitFor('DELETE allowed again', async () => (await curl('DELETE', '/')).status === 200, 20_000, 300);

  // 8c. RequestAuthentication: the issuer's keys are served by a pod in the mesh (jwksUri, fetched by the waypoint
  //     through HBONE); valid tokens pass, expired / wrong-issuer / wrong-audience / tampered get 401, a missing token
  //     is refused only where a policy requires a request principal, a claim rule decides, and a key rotation is
  //     picked up.
  const issuer = 'https://issuer.wp-e2e.test';
  const jwksFile = join(dir, 'jwks.json');
  const keyPair = async (kid: string) => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
  };
  const publish = (...keys: Array<{ jwk: object }>) => writeFileSync(jwksFile, JSON.stringify({ keys: keys.map((k) => k.jwk) }));
  const k1 = await keyPair('k1');
  publish(k1);
  const jwt = (key: Awaited<ReturnType<typeof keyPair>>, claims: Record<string, unknown>, o: { iss?: string; aud?: string; expIn?: number } = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: key.kid }).setIssuer(o.iss ?? issuer).setSubject('alice').setAudience(o.aud ?? 'echo')
      .setExpirationTime(Math.floor(Date.now() / 1000) + (o.expIn ?? 600)).sign(key.privateKey);
  const jwksServer = join(dir, 'jwks-server.cjs');
  writeFileSync(jwksServer, `require('node:http').createServer((req, res) => {
  if (req.url !== '/keys') return res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'application/json' }).end(require('node:fs').readFileSync(process.env.JWKS_FILE));
}).listen(Number(process.env.PORT));\n`);
  await fx.apply([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'jwks', namespace: NS } },
    pod('jwks', 'node2', { app: 'jwks' }, [process.execPath, jwksServer], { PORT: '8080', JWKS_FILE: jwksFile }),
    service('jwks', { app: 'jwks' }, 80, 8080, 'http'),
  ]);
  await fx.running(NS, 'jwks');
  await fx.apply([
    { apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name: 'echo-jwt', namespace: NS },
      spec: { targetRefs: svcRef, jwtRules: [{ issuer, audiences: ['echo'], jwksUri: `http://jwks.${NS}.svc.cluster.local/keys` }] } },
    { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'echo-secure', namespace: NS },
      spec: { targetRefs: svcRef, rules: [
        { to: [{ operation: { notPaths: ['/secure*'] } }] },
        { from: [{ source: { requestPrincipals: [`${issuer}/*`] } }], when: [{ key: 'request.auth.claims[groups]', values: ['admins'] }] },
      ] } },
  ]);
  const bearer = (token: string) => [`authorization: Bearer ${token}`];
  const admin = await jwt(k1, { groups: ['admins'] });
  await fx.waitFor('a valid token accepted through the waypoint', async () => (await curl('GET', '/secure', bearer(admin))).status === 200, 20_000, 300);
  assert.equal((await curl('GET', '/secure')).status, 403, 'no token where a request principal is required');
  assert.equal((await curl('GET', '/open')).status, 200, 'no token elsewhere: allowed');
  assert.equal((await curl('GET', '/secure', bearer(await jwt(k1, { groups: ['dev'] })))).status, 403, 'the claim rule decides');
  const refusedWith = async (token: string) => {
    const r = await curl('GET', '/secure', bearer(token));
    assert.equal(r.status, 401, `refused: ${JSON.stringify(r)}`);
    return r.body;
  };
  assert.equal(await refusedWith(await jwt(k1, { groups: ['admins'] }, { expIn: -600 })), 'Jwt is expired');
  assert.equal(await refusedWith(await jwt(k1, { groups: ['admins'] }, { iss: 'https://evil.test' })), 'Jwt issuer is not configured');
  assert.equal(await refusedWith(await jwt(k1, { groups: ['admins'] }, { aud: 'other' })), 'Audiences in Jwt are not allowed');
  const [h, , sig] = (await jwt(k1, { groups: ['dev'] })).split('.');
  const tampered = `${h}.${Buffer.from(JSON.stringify({ iss: issuer, sub: 'alice', aud: 'echo', groups: ['admins'], exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url')}.${sig}`;
  assert.equal(await refusedWith(tampered), 'Jwt verification fails');
  // The offline check agrees: a valid admin token, an expired one, none where a principal is required.
  const tokenFile = (name: string, token: string) => {
    const f = join(dir, `${name}.jwt`);
    writeFileSync(f, token);
    return f;
  };
  const jwtCheck = async (args: string[]) => (await fx.cli(['x', 'authz', 'check', 'echo-v1', '-n', NS, '--service', 'echo', '--from', 'client', '--path', '/secure', ...args])).stdout;
  assert.match(await jwtCheck(['--jwt', tokenFile('admin', admin)]), new RegExp(`^decision: ALLOW — allowed by ALLOW policy ${NS}/echo-secure rule 1$`, 'm'));
  assert.match(await jwtCheck(['--jwt', tokenFile('expired', await jwt(k1, { groups: ['admins'] }, { expIn: -600 }))]), new RegExp(`^decision: DENY \\(401 Jwt is expired\\) — RequestAuthentication ${NS}/echo-jwt$`, 'm'));
  assert.match(await jwtCheck([]), /^decision: DENY \(403 RBAC: access denied\)/m);
  // Rotation: the issuer now publishes only k2; a token signed with it is accepted once the waypoint refetches.
  const k2 = await keyPair('k2');
  publish(k2);
  const rotated = await jwt(k2, { groups: ['admins'] });
  await fx.waitFor('the rotated key picked up', async () => (await curl('GET', '/secure', bearer(rotated))).status === 200, 20_000, 500);
  assert.match(wpText(), /"via":"mesh","kids":\["k1"\],"msg":"JWKS fetched"/, 'the keys came through the mesh');
  assert.match(wpText(), /"via":"mesh","kids":\["k2"\],"msg":"JWKS fetched"/, 'and again after the rotation');
  await fx.cli(['delete', 'requestauthentication', 'echo-jwt', '-n', NS]);
  await fx.cli(['delete', 'authorizationpolicy', 'echo-secure', '-n', NS]);

  // 8d. CUSTOM: an HTTP external authorizer in a pod (the mesh config's extensionProviders, ConfigMap istio-system/
  //     istio) allows and denies by header; with it gone, fail-closed denies and fail-open allows.
  const authorizerScript = join(dir, 'ext-authz.cjs');
  writeFileSync(authorizerScript, `require('node:http').createServer((req, res) => {
  if (req.headers['x-ext-authz'] === 'allow') return res.writeHead(200).end();
  res.writeHead(403, { 'content-type': 'text/plain' }).end('denied by ext-authz');
}).listen(Number(process.env.PORT));\n`);
  const meshConfig = (failOpen: boolean) => ({
    apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' },
    data: { mesh: `extensionProviders:\n- name: sample-authz\n  envoyExtAuthzHttp:\n    service: ext-authz.${NS}.svc.cluster.local\n    port: 8000\n    timeout: 2s\n    failOpen: ${failOpen}\n    includeRequestHeadersInCheck: [x-ext-authz]\n`
      + `- name: otel\n  opentelemetry:\n    service: otel.${NS}.svc.cluster.local\n    port: 4318\n    http: { path: /v1/traces }\n` },
  });
  await fx.apply([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'ext-authz', namespace: NS } },
    pod('ext-authz', 'node1', { app: 'ext-authz' }, [process.execPath, authorizerScript], { PORT: '8000' }),
    service('ext-authz', { app: 'ext-authz' }, 8000, 8000, 'http'),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } },
    meshConfig(false),
  ]);
  await fx.running(NS, 'ext-authz');
  await fx.apply([{ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'echo-ext', namespace: NS },
    spec: { targetRefs: svcRef, action: 'CUSTOM', provider: { name: 'sample-authz' }, rules: [{ to: [{ operation: { paths: ['/ext*'] } }] }] } }]);
  await fx.waitFor('the external authorizer allows by header', async () => (await curl('GET', '/ext', ['x-ext-authz: allow'])).status === 200, 20_000, 300);
  const extDenied = await curl('GET', '/ext', ['x-ext-authz: deny']);
  assert.deepEqual([extDenied.status, extDenied.body], [403, 'denied by ext-authz'], 'the authorizer\'s own denial reaches the caller');
  assert.equal((await curl('GET', '/plain')).status, 200, 'paths the CUSTOM policy does not match are not checked');
  const extStatus = JSON.parse((await fx.cli(['get', 'authorizationpolicy', 'echo-ext', '-n', NS, '-o', 'json'])).stdout) as { status?: { conditions?: Array<{ type: string; message: string }> } };
  assert.match(extStatus.status?.conditions?.find((c) => c.type === 'WaypointAccepted')?.message ?? '', /Matching requests are checked by "sample-authz" \(HTTP ext-authz\.wp-e2e\.svc\.cluster\.local:8000; fail closed/);
  const extCheck = await authzCheck(['--path', '/ext']);
  assert.match(extCheck, new RegExp(`^external authorization: CUSTOM policy ${NS}/echo-ext rule 0 matches, so provider "sample-authz" decides first; if it allows:$`, 'm'));
  assert.match(extCheck, /^decision: ALLOW — no ALLOW policy applies: allowed$/m);
  await fx.cli(['delete', 'pod', 'ext-authz', '-n', NS]);
  await fx.waitFor('fail closed without the authorizer', async () => (await curl('GET', '/ext', ['x-ext-authz: allow'])).status === 403, 20_000, 300);
  await fx.apply([meshConfig(true)]);
  await fx.waitFor('fail open without the authorizer', async () => (await curl('GET', '/ext', ['x-ext-authz: allow'])).status === 200, 20_000, 300);
  await fx.cli(['delete', 'authorizationpolicy', 'echo-ext', '-n', NS]);

  // 8e. Tracing: a Telemetry turns spans on for the namespace with the mesh config's OTLP/HTTP collector (a pod here,
  //     which stores what it receives); a request with a W3C traceparent gives a server and a client span in the
  //     caller's trace, decoded with the OTLP protos, and the app sees the client span as its parent.
  const otlpDir = join(dir, 'otlp');
  mkdirSync(otlpDir);
  const receiverScript = join(dir, 'otlp-receiver.cjs');
  writeFileSync(receiverScript, `const fs = require('node:fs'); let n = 0;
require('node:http').createServer((req, res) => {
  const chunks = []; req.on('data', (c) => chunks.push(c)).on('end', () => {
    if (req.url === '/v1/traces') { const f = process.env.OUT + '/' + (n++) + '.bin'; fs.writeFileSync(f + '.tmp', Buffer.concat(chunks)); fs.renameSync(f + '.tmp', f); }
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
}).listen(Number(process.env.PORT));\n`);
  await fx.apply([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'otel', namespace: NS } },
    pod('otel', 'node2', { app: 'otel' }, [process.execPath, receiverScript], { PORT: '4318', OUT: otlpDir }),
    service('otel', { app: 'otel' }, 4318, 4318, 'http'),
    { apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 'tracing', namespace: NS }, spec: { tracing: [{ providers: [{ name: 'otel' }], randomSamplingPercentage: 100 }] } },
  ]);
  await fx.running(NS, 'otel');
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const callerSpan = '00f067aa0ba902b7';
  const decodeSpans = () => readdirSync(otlpDir).filter((f) => f.endsWith('.bin')).flatMap((f) =>
    fromBinary(ExportTraceServiceRequestSchema, readFileSync(join(otlpDir, f))).resourceSpans.flatMap((rs) => {
      const service = rs.resource?.attributes.find((a) => a.key === 'service.name')?.value?.value.value;
      return rs.scopeSpans.flatMap((ss) => ss.spans.map((sp) => ({ sp, service })));
    }));
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const traced = await fx.waitFor('spans of the caller\'s trace at the collector', async () => {
    const r = await curl('GET', '/traced?format=json', [`traceparent: 00-${traceId}-${callerSpan}-01`]);
    const spans = decodeSpans().filter((x) => hex(x.sp.traceId) === traceId);
    const server = spans.find((x) => x.sp.kind === 2);
    const client = spans.find((x) => x.sp.kind === 3 && server && hex(x.sp.parentSpanId) === hex(server.sp.spanId));
    return server && client && r.status === 200 ? { server, client, body: r.body } : undefined;
  }, 30_000, 1000);
  assert.equal(hex(traced.server.sp.parentSpanId), callerSpan, 'the waypoint\'s server span continues the caller\'s span');
  assert.equal(traced.server.service, `waypoint.${NS}`);
  const seenByApp = (JSON.parse(traced.body) as { headers: Record<string, string> }).headers['traceparent'];
  assert.match(seenByApp ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`), 'the app got the trace with the waypoint\'s client span as its parent');
  await fx.cli(['delete', 'telemetry', 'tracing', '-n', NS]);
  // Access logging off for the namespace (Telemetry accessLogging disabled), then on again once it is deleted.
  const logged = async (on: boolean) => {
    const marker = `/access-${on ? 'on' : 'off'}-${Date.now()}`;
    await curl('GET', marker);
    await new Promise((r) => setTimeout(r, 300));
    return wpText().includes(marker) === on;
  };
  const requestCount = async () => (await fx.cli(['exec', wpPod.metadata.name, '-n', NS, '--', 'curl', '-s', 'localhost:15020/stats/prometheus'])).stdout.includes('# TYPE istio_requests_total ');
  await fx.apply([{ apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 'quiet', namespace: NS },
    spec: { accessLogging: [{ disabled: true }], metrics: [{ overrides: [{ match: { metric: 'REQUEST_COUNT' }, disabled: true }] }] } }]);
  await fx.waitFor('the access log off', () => logged(false), 20_000, 300);
  assert.equal(await requestCount(), false, 'istio_requests_total is not reported while disabled');
  await fx.cli(['delete', 'telemetry', 'quiet', '-n', NS]);
  await fx.waitFor('the access log on again', () => logged(true), 20_000, 300);
  assert.equal(await requestCount(), true, 'and is reported again');

  // 9. Kill the waypoint: requests fail while it is down (none bypasses it), then it is back.
  const loopP = run<Array<{ t: number; status: number; caller?: string; err?: string }>>([tool, 'loop', 'http://echo-v1/?format=json', '6000'], 60_000);
  await new Promise((r) => setTimeout(r, 1000));
  const wpNetns = await fx.netnsOf(NS, wpPod.metadata.name);
  const pids = (await runCommand(['ip', 'netns', 'pids', wpNetns])).stdout.trim().split(/\s+/).filter(Boolean);
  assert.ok(pids.length > 0, 'the waypoint process runs in its pod');
  const killedAt = Date.now();
  // A pid may be gone already (the sandbox's readiness probe runs a short curl in the pod's netns).
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // exited in between
    }
  }
  const rows = await loopP;
  const afterKill = rows.filter((r) => r.t >= killedAt);
  assert.ok(afterKill.some((r) => r.status !== 200), `some requests failed while the waypoint was down: ${JSON.stringify(afterKill.slice(0, 10))}`);
  const bypassed = rows.filter((r) => r.status === 200 && r.caller !== wpIp);
  assert.deepEqual(bypassed, [], 'no request reached echo without the waypoint');
  assert.ok(afterKill.slice(-5).every((r) => r.status === 200), `the waypoint is back: ${JSON.stringify(afterKill.slice(-5))}`);

  // 10. Delete: the namespace is unbound and traffic is L4 only again (echo sees the client itself).
  const deleted = await fx.cli(['waypoint', 'delete', 'waypoint', '-n', NS]);
  assert.match(deleted.stdout, new RegExp(`^namespace ${NS} unlabeled "istio.io/use-waypoint"$`, 'm'));
  assert.match(deleted.stdout, new RegExp(`^waypoint ${NS}/waypoint deleted$`, 'm'));
  await fx.waitFor('direct L4 traffic again', async () => {
    const r = await one('/?format=json');
    return r.status === 200 && JSON.parse(r.body).caller.includes(clientIp);
  }, 30_000, 300);
  await fx.waitFor('the waypoint pod is gone', async () => !(await fx.cli(['get', 'pods', '-n', NS])).stdout.includes('waypoint-'), 20_000, 300);
});
