// Loopback integration: the waypoint's data path with real TLS 1.3, HTTP/2 CONNECT, HTTP/1.1, h2c and gRPC. A test
// client plays the source ztunnel (HBONE with a pod identity to the waypoint, `:authority` = service VIP:port); two
// "destination ztunnels" (HBONE servers on 127.0.83.1/.2) check the waypoint's identity and hand each stream to a
// local backend. Proves: routing by HTTPRoute (weights, header match, fault abort, redirect, rewrite, header edits),
// retries turning a 50%-failing backend into successes, request timeouts, gRPC unary + server streaming with metadata
// and status, the refusal of CONNECTs for things not bound to the waypoint, and istio_requests_total labels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { createTestCa } from '../../src/ztunnel/testing/test-ca.js';
import { HboneServer, type HboneStreamRequest } from '../../src/hbone/hbone-server.js';
import { connectHbone, type HboneClientConnection } from '../../src/hbone/hbone-client.js';
import { ConnectRejectedError } from '../../src/hbone/proxy-errors.js';
import { CertificateManager } from '../../src/lib/certs/certificate-manager.js';
import { silentLogger } from '../../src/lib/log.js';
import type { AddressRecord, ServiceRecord, WorkloadRecord } from '../../src/lib/xds/workload-records.js';
import type { WaypointConfigRecord } from '../../src/lib/xds/waypoint-records.js';
import { MeshView } from '../../src/waypoint/mesh-view.js';
import { HttpProxy } from '../../src/waypoint/http-proxy.js';
import { WaypointListener } from '../../src/waypoint/listener.js';
import { WaypointMetrics } from '../../src/waypoint/metrics.js';
import { Upstreams } from '../../src/waypoint/upstream.js';
import { compileRoutes } from '../../src/routing/index.js';
import { WaypointAuthorization } from '../../src/waypoint/authorization.js';
import { JwksFetcher } from '../../src/waypoint/jwks-fetcher.js';
import { ExtAuthz } from '../../src/waypoint/ext-authz.js';
import { WaypointTracing } from '../../src/waypoint/tracing.js';
import { ExportTraceServiceRequestSchema, type Span } from '../../proto/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { CheckRequestSchema, CheckResponseSchema, type CheckRequest, type CheckResponse } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { pino } from 'pino';

const TD = 'cluster.local';
const NS = 'shop';
const WAYPOINT_ID = `spiffe://${TD}/ns/${NS}/sa/waypoint`;
const CLIENT_ID = `spiffe://${TD}/ns/${NS}/sa/client`;
const ECHO_VIP = '10.96.7.10';
const HOST = (n: string) => `${n}.${NS}.svc.cluster.local`;
const HTTP_TARGET = 8080;
const GRPC_TARGET = 9090;

function service(name: string, vip: string): ServiceRecord {
  return {
    name, namespace: NS, hostname: HOST(name), addresses: [{ network: '', address: vip }],
    ports: [{ servicePort: 80, targetPort: HTTP_TARGET, appProtocol: 'HTTP11' }, { servicePort: 9000, targetPort: GRPC_TARGET, appProtocol: 'GRPC' }],
    subjectAltNames: [], ipFamilies: 'IPV4_ONLY', canonical: true, visibility: 'PUBLIC',
  };
}

function workload(name: string, ip: string, version: string, services: string[]): WorkloadRecord {
  return {
    uid: `Kubernetes//Pod/${NS}/${name}`, name, namespace: NS, addresses: [ip], network: '', tunnelProtocol: 'HBONE', trustDomain: TD,
    serviceAccount: `echo-${version}`, canonicalName: 'echo', canonicalRevision: version, workloadType: 'POD', workloadName: name,
    services: Object.fromEntries(services.map((s) => [`${NS}/${HOST(s)}`, [{ servicePort: 80, targetPort: HTTP_TARGET }, { servicePort: 9000, targetPort: GRPC_TARGET }]])),
    authorizationPolicies: [], status: 'HEALTHY', clusterId: 'Kubernetes', networkMode: 'STANDARD',
  };
}

function httpRoute(name: string, rules: unknown[]): WaypointConfigRecord['routes'][number] {
  return {
    kind: 'HTTPRoute', namespace: NS, name, resourceVersion: '1', services: [`${NS}/${HOST('echo')}`],
    spec: { parentRefs: [{ group: '', kind: 'Service', name: 'echo', port: 80 }], rules } as never,
  };
}

const be = (name: string, weight?: number) => ({ name, port: 80, ...(weight !== undefined ? { weight } : {}) });

const ROUTES = [
  httpRoute('split', [
    { matches: [{ path: { type: 'PathPrefix', value: '/split' } }], backendRefs: [be('echo-v1', 90), be('echo-v2', 10)] },
    { matches: [{ headers: [{ name: 'x-version', value: 'v2' }] }], backendRefs: [be('echo-v2')] },
    { matches: [{ path: { type: 'PathPrefix', value: '/flaky' } }], retry: { attempts: 4, codes: [500, 503], backoff: '5ms' }, backendRefs: [be('echo-v1')] },
    { matches: [{ path: { type: 'PathPrefix', value: '/no-retry' } }], retry: { attempts: 0 }, backendRefs: [be('echo-v1')] },
    { matches: [{ path: { type: 'PathPrefix', value: '/slow' } }], timeouts: { request: '300ms' }, backendRefs: [be('echo-v1')] },
    { matches: [{ path: { type: 'PathPrefix', value: '/old' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' }, statusCode: 301 } }] },
    {
      matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
      filters: [
        { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2/api' } } },
        { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-from-route', value: 'api' }], remove: ['x-secret'] } },
        { type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'x-served-by-route', value: 'api' }] } },
      ],
      backendRefs: [be('echo-v1')],
    },
    { backendRefs: [be('echo-v1')] },
  ]),
];

interface Backend {
  /** Requests seen: version, method, path, headers. */
  seen: Array<{ version: string; path: string; headers: http.IncomingHttpHeaders }>;
}

/** The backend app of one pod: HTTP/1.1 echo on 8080 (with /flaky failing every other request) and gRPC on 9090. */
async function startApp(t: TestContext, version: string, seen: Backend['seen']): Promise<{ http: number; grpc: number }> {
  let flakyCount = 0;
  const h1 = http.createServer((req, res) => {
    seen.push({ version, path: req.url ?? '', headers: req.headers });
    if (req.url?.startsWith('/flaky') && flakyCount++ % 2 === 0) {
      res.writeHead(503).end('flaky failure');
      return;
    }
    if (req.url?.startsWith('/slow')) {
      setTimeout(() => res.writeHead(200).end('slow'), 2000).unref();
      return;
    }
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend-version': version });
      res.end(JSON.stringify({ version, path: req.url, body }));
    });
  });
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Say(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
      const md = new grpc.Metadata();
      md.set('x-backend-version', version);
      md.set('x-echo-caller', String(call.metadata.get('x-caller')[0] ?? ''));
      call.sendMetadata(md);
      const text = call.request.toString();
      if (text === 'fail') return cb({ code: grpc.status.FAILED_PRECONDITION, details: 'asked to fail' });
      cb(null, Buffer.from(`${version}:${text}`));
    },
    Stream(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      for (let i = 0; i < 5; i++) call.write(Buffer.from(`${version}:${call.request.toString()}:${i}`));
      const trailer = new grpc.Metadata();
      trailer.set('x-stream-trailer', 'done');
      call.end(trailer);
    },
  });
  const grpcPort = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  t.after(() => {
    h1.close();
    h1.closeAllConnections();
    server.forceShutdown();
  });
  return { http: (h1.address() as net.AddressInfo).port, grpc: grpcPort };
}

const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const ECHO_SERVICE: grpc.ServiceDefinition = {
  Say: { path: '/echo.Echo/Say', requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
  Stream: { path: '/echo.Echo/Stream', requestStream: false, responseStream: true, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
};

type TestContext = { after(fn: () => unknown): void };

async function listen(t: TestContext, host: string, port: number, onSocket: (s: net.Socket) => void): Promise<number> {
  const srv = net.createServer(onSocket);
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, resolve);
  });
  t.after(() => srv.close());
  return (srv.address() as net.AddressInfo).port;
}

async function setup(t: TestContext) {
  const ca = await createTestCa();
  const seen: Backend['seen'] = [];
  const peersSeenByBackends: string[] = [];
  const apps = { v1: await startApp(t, 'v1', seen), v2: await startApp(t, 'v2', seen) };
  // Destination ztunnels: both on one port number (as every pod's 15008), on 127.0.83.1 and .2.
  const dests: Array<[string, 'v1' | 'v2']> = [['127.0.83.1', 'v1'], ['127.0.83.2', 'v2']];
  let hbonePort = 0;
  for (const [ip, v] of dests) {
    const server = new HboneServer({
      certificate: await ca.issue(`spiffe://${TD}/ns/${NS}/sa/echo-${v}`),
      handler: (req: HboneStreamRequest) => {
        peersSeenByBackends.push(req.peerIdentity);
        const port = req.authority.port === GRPC_TARGET ? apps[v].grpc : apps[v].http;
        const app = net.connect(port, '127.0.0.1', () => {
          req.stream.respond({ ':status': 200 });
          req.stream.pipe(app).pipe(req.stream);
        });
        app.on('error', () => req.stream.destroy());
        // A reset stream takes its app connection with it (as ztunnel's copy does), or the app socket would linger.
        req.stream.once('close', () => app.destroy());
      },
    });
    t.after(() => server.destroy());
    hbonePort = await listen(t, ip, hbonePort, (s) => server.handleConnection(s));
  }
  const addresses: AddressRecord[] = [
    { service: service('echo', ECHO_VIP) }, { service: service('echo-v1', '10.96.7.11') }, { service: service('echo-v2', '10.96.7.12') },
    { workload: workload('echo-v1-pod', '127.0.83.1', 'v1', ['echo', 'echo-v1']) }, { workload: workload('echo-v2-pod', '127.0.83.2', 'v2', ['echo', 'echo-v2']) },
  ];
  const config: WaypointConfigRecord = {
    name: 'waypoint', namespace: NS, trafficType: 'service', trustDomain: TD, hbonePort: 15008,
    services: [{
      key: `${NS}/${HOST('echo')}`, kind: 'Service', name: 'echo', namespace: NS, hostname: HOST('echo'), vips: [ECHO_VIP],
      ports: [{ port: 80, targetPort: HTTP_TARGET, name: 'http', protocol: 'http' }, { port: 9000, targetPort: GRPC_TARGET, name: 'grpc', protocol: 'grpc' }],
    }],
    workloadUids: [], routes: ROUTES, authorizationPolicies: [], requestAuthentications: [],
  };
  const view = new MeshView(addresses, config);
  const table = compileRoutes(config);
  assert.deepEqual(table.problems, []);
  const certs = new CertificateManager({ signer: ca.signer });
  t.after(() => certs.close());
  const metrics = new WaypointMetrics('test');
  const upstreams = new Upstreams({ view: () => view, certs, identity: WAYPOINT_ID, connectTimeoutMs: 2000, hbonePort, log: silentLogger() });
  t.after(() => upstreams.close());
  // Policies swap in as a config update does; the access log is kept for the test to read.
  let authz = new WaypointAuthorization(config);
  const setPolicies = (policies: WaypointConfigRecord['authorizationPolicies'], requestAuthentications: WaypointConfigRecord['requestAuthentications'] = [], extensionProviders: WaypointConfigRecord['extensionProviders'] = []) =>
    (authz = new WaypointAuthorization({ ...config, authorizationPolicies: policies, requestAuthentications, extensionProviders }));
  const jwks = new JwksFetcher({ upstreams, namespace: NS, log: silentLogger() });
  const accessLines: Array<Record<string, unknown>> = [];
  const accessLog = pino({ level: 'info' }, { write: (line: string) => void accessLines.push(JSON.parse(line) as Record<string, unknown>) });
  const extAuthz = new ExtAuthz({ upstreams, namespace: NS, log: silentLogger() });
  const tracing = new WaypointTracing({ name: 'waypoint', namespace: NS, log: silentLogger() });
  t.after(() => tracing.close());
  const proxy = new HttpProxy({ table: () => table, authz: () => authz, keys: jwks.keys, extAuthz, tracing, view: () => view, upstreams, metrics, accessLog });
  const listener = new WaypointListener({ view: () => view, table: () => table, authz: () => authz, proxy, upstreams, metrics, log: silentLogger(), accessLog });
  const hbone = new HboneServer({ certificate: await certs.fetch(WAYPOINT_ID), handler: listener.handle });
  t.after(() => hbone.destroy());
  const wpPort = await listen(t, '127.0.0.1', 0, (s) => hbone.handleConnection(s));
  const clientCert = await ca.issue(CLIENT_ID);
  const conn: HboneClientConnection = await connectHbone({ socket: net.connect(wpPort, '127.0.0.1'), certificate: clientCert, expectedIdentities: [WAYPOINT_ID], target: `127.0.0.1:${wpPort}` });
  t.after(() => conn.destroy());
  const tunnel = (authority: string): Promise<Duplex> => conn.openStream(authority, { baggage: `k8s.namespace.name=${NS},k8s.deployment.name=client,service.name=client,service.version=v1` });
  return { seen, peersSeenByBackends, metrics, tunnel, setPolicies, accessLines, tracing };
}

/** One HTTP/1.1 request through a fresh CONNECT to the echo VIP. */
async function get(tunnel: (a: string) => Promise<Duplex>, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const stream = await tunnel(`${ECHO_VIP}:80`);
  return new Promise((resolve, reject) => {
    const req = http.request({ method, path, headers: { host: 'echo', ...headers }, createConnection: () => stream as net.Socket }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('waypoint data path: HTTP routing, resilience, gRPC and telemetry over real HBONE', { timeout: 60_000 }, async (t) => {
  const { seen, peersSeenByBackends, metrics, tunnel } = await setup(t);

  // Default rule, and the destination ztunnel sees the waypoint's identity (not the client's).
  const plain = await get(tunnel, '/hello');
  assert.equal(plain.status, 200);
  assert.equal(JSON.parse(plain.body).version, 'v1');
  assert.ok(peersSeenByBackends.every((p) => p === WAYPOINT_ID), `destinations saw ${[...new Set(peersSeenByBackends)]}`);

  // 90/10 split over 400 requests (±7 points at this size).
  let v2 = 0;
  for (let i = 0; i < 400; i++) if (JSON.parse((await get(tunnel, '/split')).body).version === 'v2') v2++;
  assert.ok(Math.abs(v2 / 400 - 0.1) < 0.07, `v2 share ${v2 / 400}`);

  // Header match.
  assert.equal(JSON.parse((await get(tunnel, '/any', { 'x-version': 'v2' })).body).version, 'v2');

  // Retries: every other /flaky request fails with 503; with 4 retries all 50 succeed.
  let ok = 0;
  for (let i = 0; i < 50; i++) if ((await get(tunnel, '/flaky')).status === 200) ok++;
  assert.equal(ok, 50);
  const noRetry = await Promise.all(Array.from({ length: 4 }, () => get(tunnel, '/no-retry')));
  assert.ok(noRetry.every((r) => r.status === 200), 'no-retry path is healthy');

  // Request timeout: 300 ms route timeout on a backend answering after 2 s → 504 within 10%.
  const t0 = performance.now();
  const slow = await get(tunnel, '/slow');
  const took = performance.now() - t0;
  assert.equal(slow.status, 504);
  assert.equal(slow.body, 'upstream request timeout');
  assert.ok(took >= 290 && took <= 330 + 50, `timeout fired after ${took} ms`);

  // Redirect, rewrite, header edits.
  const redirect = await get(tunnel, '/old/page?q=1');
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.location, 'http://echo/new/page?q=1');
  const before = seen.length;
  const api = await get(tunnel, '/api/items', { 'x-secret': 'hush' });
  assert.equal(api.status, 200);
  assert.equal(api.headers['x-served-by-route'], 'api');
  const atBackend = seen.slice(before).find((s) => s.path.startsWith('/v2/api'));
  assert.ok(atBackend, `backend saw ${JSON.stringify(seen.slice(before).map((s) => s.path))}`);
  assert.equal(atBackend.path, '/v2/api/items');
  assert.equal(atBackend.headers['x-from-route'], 'api');
  assert.equal(atBackend.headers['x-secret'], undefined);
  assert.ok(atBackend.headers['x-request-id'], 'x-request-id added');

  // Not bound to this waypoint: refused.
  await assert.rejects(tunnel('10.96.99.99:80'), (err: unknown) => err instanceof ConnectRejectedError && /503/.test((err as Error).message));

  // gRPC through the waypoint (port 9000, appProtocol grpc): unary with metadata, an error status, server streaming.
  const stream = await tunnel(`${ECHO_VIP}:9000`);
  const session = http2.connect('http://echo:9000', { createConnection: () => stream as net.Socket });
  t.after(() => session.close());
  const unary = await grpcCall(session, '/echo.Echo/Say', Buffer.from('hi'), { 'x-caller': 'test' });
  assert.equal(unary.grpcStatus, '0');
  // No route on port 9000: the default route balances over both versions of the service.
  assert.match(String(unary.messages[0]), /^v[12]:hi$/);
  assert.equal(unary.headers['x-echo-caller'], 'test');
  const failed = await grpcCall(session, '/echo.Echo/Say', Buffer.from('fail'), {});
  assert.equal(failed.grpcStatus, String(grpc.status.FAILED_PRECONDITION));
  assert.equal(failed.grpcMessage, 'asked to fail');
  const streamed = await grpcCall(session, '/echo.Echo/Stream', Buffer.from('s'), {});
  const v = String(streamed.messages[0]).slice(0, 2);
  assert.deepEqual(streamed.messages.map(String), [0, 1, 2, 3, 4].map((i) => `${v}:s:${i}`));
  assert.equal(streamed.trailers['x-stream-trailer'], 'done');

  // Telemetry: reporter="waypoint", both principals, response codes.
  const text = (await metrics.render()).body;
  const line = text.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="200"') && l.includes('request_protocol="http"') && l.includes('destination_workload="echo-v1-pod"'));
  assert.ok(line, 'a 200 series for echo-v1');
  assert.match(line, /reporter="waypoint"/);
  assert.match(line, new RegExp(`source_principal="${CLIENT_ID}"`));
  assert.match(line, /destination_principal="spiffe:\/\/cluster.local\/ns\/shop\/sa\/echo-v1"/);
  assert.match(line, /source_workload="client"/);
  assert.ok(text.includes('response_code="504"') && text.includes('response_flags="UT"'), 'the timeout is counted with flag UT');
  assert.ok(text.split('\n').some((l) => l.startsWith('istio_requests_total{') && l.includes('request_protocol="grpc"') && l.includes('grpc_response_status="9"')), 'gRPC status recorded');
});

test('waypoint authorization: AuthorizationPolicy decides per request (methods, a header DENY, AUDIT, dry run, gRPC), and a policy change applies to the next request on the same connection', { timeout: 60_000 }, async (t) => {
  const { tunnel, setPolicies, accessLines, metrics } = await setup(t);
  const svc = [`${NS}/${HOST('echo')}`];
  const attached = (name: string, spec: object, services = svc) => ({ kind: 'AuthorizationPolicy', namespace: NS, name, resourceVersion: '1', spec: spec as never, services });
  assert.equal((await get(tunnel, '/', {}, 'DELETE')).status, 200, 'no policy: allowed');
  setPolicies([
    attached('readers', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/client'] } }], to: [{ operation: { methods: ['GET', 'POST'] } }] }] }),
    attached('block-header', { action: 'DENY', rules: [{ when: [{ key: 'request.headers[x-block]', values: ['yes'] }] }] }),
    attached('audit-admin', { action: 'AUDIT', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] }),
  ]);
  assert.equal((await get(tunnel, '/')).status, 200, 'GET is allowed');
  const del = await get(tunnel, '/', {}, 'DELETE');
  assert.equal(del.status, 403);
  assert.equal(del.body, 'RBAC: access denied');
  assert.equal((await get(tunnel, '/', { 'x-block': 'yes' })).status, 403, 'the DENY on a header value');
  assert.equal((await get(tunnel, '/', { 'x-block': 'no' })).status, 200);
  assert.equal((await get(tunnel, '/admin/panel')).status, 200, 'AUDIT does not deny');
  assert.ok(accessLines.some((l) => l['msg'] === 'request audited' && JSON.stringify(l['audit']) === JSON.stringify([`${NS}/audit-admin`]) && l['path'] === '/admin/panel'), 'the audited request is logged with its policy');
  const denied = accessLines.find((l) => l['msg'] === 'request complete' && l['response_code'] === 403 && String(l['detail']).includes('block-header'));
  assert.ok(denied, `the denial names its policy: ${JSON.stringify(accessLines.filter((l) => l['response_code'] === 403))}`);
  assert.match(String(denied['detail']), /^rbac_access_denied_matched_policy\[shop\/block-header rule 0\]: denied by DENY policy shop\/block-header rule 0$/);

  // gRPC: a denial is PERMISSION_DENIED with the same text; only the service the policy is bound to is affected.
  const stream = await tunnel(`${ECHO_VIP}:9000`);
  const session = http2.connect('http://echo:9000', { createConnection: () => stream as net.Socket });
  t.after(() => session.close());
  setPolicies([attached('no-grpc', { action: 'DENY', rules: [{ to: [{ operation: { ports: ['9000'], paths: ['/echo.Echo/*'] } }] }] })]);
  const refused = await grpcCall(session, '/echo.Echo/Say', Buffer.from('hi'), {});
  assert.equal(refused.grpcStatus, String(grpc.status.PERMISSION_DENIED));
  assert.equal(refused.grpcMessage, 'RBAC: access denied');
  assert.equal((await get(tunnel, '/', {}, 'DELETE')).status, 200, 'port 80 is not covered by that policy');
  // A policy for another service does not apply here; a waypoint-wide one (no services) does.
  setPolicies([attached('other-svc', { rules: [] }, [`${NS}/${HOST('other')}`])]);
  assert.equal((await grpcCall(session, '/echo.Echo/Say', Buffer.from('hi'), {})).grpcStatus, '0', 'the same h2 session, the next request: allowed again');
  // A dry-run policy (istio.io/dry-run) is evaluated and logged, never enforced.
  setPolicies([{ ...attached('would-deny', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }), dryRun: true }]);
  assert.equal((await get(tunnel, '/dry')).status, 200, 'a dry-run DENY does not deny');
  assert.ok(accessLines.some((l) => l['msg'] === 'authorization dry run' && l['wouldAllow'] === false && l['policy'] === `${NS}/would-deny` && l['path'] === '/dry'), 'what it would have done is logged');
  setPolicies([attached('deny-all', {}, [])]);
  assert.equal((await get(tunnel, '/')).status, 403, 'an ALLOW policy with no rules for the whole waypoint denies everything');
  const text = (await metrics.render()).body;
  assert.ok(text.split('\n').some((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="403"') && l.includes('reporter="waypoint"')), 'denials are counted with 403');
});

test('waypoint RequestAuthentication: a valid JWT gives the request its principal, a bad one gets 401, none is judged by AuthorizationPolicy', { timeout: 60_000 }, async (t) => {
  const { tunnel, setPolicies, seen } = await setup(t);
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const issuer = 'https://issuer.test';
  const token = (claims: Record<string, unknown>, expIn = 600) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(issuer).setSubject('alice')
    .setAudience('shop').setExpirationTime(Math.floor(Date.now() / 1000) + expIn).sign(privateKey);
  const svc = [`${NS}/${HOST('echo')}`];
  const attached = (kind: string, name: string, spec: object) => ({ kind, namespace: NS, name, resourceVersion: '1', spec: spec as never, services: svc });
  setPolicies([
    attached('AuthorizationPolicy', 'need-jwt', { rules: [{ to: [{ operation: { notPaths: ['/secure*'] } }] }, { from: [{ source: { requestPrincipals: [`${issuer}/*`] } }], when: [{ key: 'request.auth.claims[groups]', values: ['admins'] }] }] }),
  ], [attached('RequestAuthentication', 'jwt', { jwtRules: [{ issuer, audiences: ['shop'], jwks: JSON.stringify({ keys: [jwk] }), outputClaimToHeaders: [{ header: 'x-user', claim: 'sub' }] }] })]);
  const bearer = (tk: string) => ({ authorization: `Bearer ${tk}` });
  assert.equal((await get(tunnel, '/open')).status, 200, 'no token: passes authentication, allowed by the path rule');
  assert.equal((await get(tunnel, '/secure')).status, 403, 'no token where a request principal is required');
  const before = seen.length;
  assert.equal((await get(tunnel, '/secure', bearer(await token({ groups: ['admins'] })))).status, 200, 'a valid token of an admin');
  const atBackend = seen.slice(before).find((x) => x.path === '/secure');
  assert.ok(atBackend, 'the request reached the backend');
  assert.equal(atBackend.headers['authorization'], undefined, 'the token is not forwarded');
  assert.equal(atBackend.headers['x-user'], 'alice', 'the claim copied to a header');
  assert.equal((await get(tunnel, '/secure', bearer(await token({ groups: ['dev'] })))).status, 403, 'the claim rule decides');
  const expired = await get(tunnel, '/secure', bearer(await token({ groups: ['admins'] }, -600)));
  assert.equal(expired.status, 401);
  assert.equal(expired.body, 'Jwt is expired');
  assert.match(String(expired.headers['www-authenticate']), /^Bearer realm="http:\/\/echo\/secure", error="invalid_token"$/);
  assert.equal((await get(tunnel, '/open', bearer('garbage'))).status, 401, 'a bad token is refused even where no principal is needed');
});

test('waypoint CUSTOM policy: HTTP and gRPC external authorizers allow and deny by header, its headers pass on, and when it cannot answer fail-closed denies and fail-open allows', { timeout: 60_000 }, async (t) => {
  const { tunnel, setPolicies, seen } = await setup(t);
  // The authorizer: allows `x-ext-authz: allow`, else 403 with its own body and a header for the caller.
  const checks: Array<{ method?: string; url?: string; headers: http.IncomingHttpHeaders }> = [];
  const authorizer = http.createServer((req, res) => {
    checks.push({ method: req.method, url: req.url, headers: req.headers });
    if (req.headers['x-ext-authz'] === 'allow') res.writeHead(200, { 'x-ext-authz-user': 'alice', 'x-other': 'no' }).end();
    else res.writeHead(403, { 'x-ext-authz-reason': 'not allowed', 'content-type': 'text/plain' }).end('denied by the authorizer');
  });
  await new Promise<void>((r) => authorizer.listen(0, '127.0.0.1', r));
  t.after(() => authorizer.close());
  const port = (authorizer.address() as net.AddressInfo).port;
  const svc = [`${NS}/${HOST('echo')}`];
  const custom = { kind: 'AuthorizationPolicy', namespace: NS, name: 'ext', resourceVersion: '1', services: svc,
    spec: { action: 'CUSTOM', provider: { name: 'checker' }, rules: [{ to: [{ operation: { paths: ['/ext*'] } }] }] } as never };
  const provider = (over: object = {}) => [{ name: 'checker', envoyExtAuthzHttp: { service: '127.0.0.1', port, pathPrefix: '/check', timeout: '2s',
    includeRequestHeadersInCheck: ['x-ext-*'], includeAdditionalHeadersInCheck: { 'x-from-waypoint': 'yes' },
    headersToUpstreamOnAllow: ['x-ext-authz-user'], headersToDownstreamOnDeny: ['x-ext-authz-reason'], ...over } as never }];
  setPolicies([custom], [], provider());
  assert.equal((await get(tunnel, '/open')).status, 200, 'the CUSTOM policy does not match: the authorizer is not asked');
  assert.equal(checks.length, 0);
  const before = seen.length;
  assert.equal((await get(tunnel, '/ext/page', { 'x-ext-authz': 'allow', 'x-secret': 's' })).status, 200);
  assert.deepEqual([checks[0]?.method, checks[0]?.url], ['GET', '/check/ext/page']);
  assert.equal(checks[0]?.headers['x-ext-authz'], 'allow', 'a listed header is sent');
  assert.equal(checks[0]?.headers['x-secret'], undefined, 'an unlisted one is not');
  assert.equal(checks[0]?.headers['x-from-waypoint'], 'yes');
  const atBackend = seen.slice(before).find((x) => x.path === '/ext/page');
  assert.equal(atBackend?.headers['x-ext-authz-user'], 'alice', 'the authorizer\'s header reaches the upstream');
  assert.equal(atBackend?.headers['x-other'], undefined);
  const denied = await get(tunnel, '/ext/page', { 'x-ext-authz': 'deny' });
  assert.equal(denied.status, 403);
  assert.equal(denied.body, 'denied by the authorizer');
  assert.equal(denied.headers['x-ext-authz-reason'], 'not allowed');
  // The authorizer gone: fail closed (statusOnError), then fail open.
  await new Promise<void>((r) => authorizer.close(() => r()));
  authorizer.closeAllConnections();
  setPolicies([custom], [], provider({ statusOnError: '503' }));
  assert.equal((await get(tunnel, '/ext/page', { 'x-ext-authz': 'allow' })).status, 503, 'fail closed with statusOnError');
  setPolicies([custom], [], provider({ failOpen: true }));
  assert.equal((await get(tunnel, '/ext/page')).status, 200, 'fail open');
  // A provider the mesh config does not define: every match is denied.
  setPolicies([custom], [], []);
  assert.equal((await get(tunnel, '/ext/page', { 'x-ext-authz': 'allow' })).status, 403);

  // envoyExtAuthzGrpc: a real @grpc/grpc-js server implementing envoy.service.auth.v3.Authorization/Check.
  const seenChecks: CheckRequest[] = [];
  const server = new grpc.Server();
  server.addService({
    Check: {
      path: '/envoy.service.auth.v3.Authorization/Check', requestStream: false, responseStream: false,
      requestSerialize: (m: CheckRequest) => Buffer.from(toBinary(CheckRequestSchema, m)), requestDeserialize: (b: Buffer) => fromBinary(CheckRequestSchema, b),
      responseSerialize: (m: CheckResponse) => Buffer.from(toBinary(CheckResponseSchema, m)), responseDeserialize: (b: Buffer) => fromBinary(CheckResponseSchema, b),
    },
  }, {
    Check: (call: grpc.ServerUnaryCall<CheckRequest, CheckResponse>, cb: grpc.sendUnaryData<CheckResponse>) => {
      seenChecks.push(call.request);
      const allow = call.request.attributes?.request?.http?.headers['x-ext-authz'] === 'allow';
      cb(null, create(CheckResponseSchema, allow
        ? { status: { code: 0 }, httpResponse: { case: 'okResponse', value: { headers: [{ header: { key: 'x-grpc-user', value: 'bob' } }], headersToRemove: ['x-ext-authz'] } } }
        : { status: { code: 7, message: 'no' }, httpResponse: { case: 'deniedResponse', value: { status: { code: 401 }, body: 'grpc says no', headers: [{ header: { key: 'x-why', value: 'header' } }] } } }));
    },
  });
  const grpcPort = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  t.after(() => server.forceShutdown());
  setPolicies([custom], [], [{ name: 'checker', envoyExtAuthzGrpc: { service: '127.0.0.1', port: grpcPort, timeout: '2s' } as never }]);
  const grpcBefore = seen.length;
  assert.equal((await get(tunnel, '/ext/grpc', { 'x-ext-authz': 'allow' })).status, 200);
  const viaGrpc = seen.slice(grpcBefore).find((x) => x.path === '/ext/grpc');
  assert.equal(viaGrpc?.headers['x-grpc-user'], 'bob', 'ok_response headers reach the upstream');
  assert.equal(viaGrpc?.headers['x-ext-authz'], undefined, 'headers_to_remove are removed');
  const attrs = seenChecks[0]?.attributes;
  assert.deepEqual([attrs?.request?.http?.method, attrs?.request?.http?.path, attrs?.request?.http?.host], ['GET', '/ext/grpc', 'echo']);
  assert.equal(attrs?.source?.principal, CLIENT_ID, 'the caller\'s SPIFFE identity');
  assert.equal(attrs?.destination?.address?.socketAddress?.portValue, 80);
  const grpcDenied = await get(tunnel, '/ext/grpc');
  assert.deepEqual([grpcDenied.status, grpcDenied.body, grpcDenied.headers['x-why']], [401, 'grpc says no', 'header']);
  server.forceShutdown();
  setPolicies([custom], [], [{ name: 'checker', envoyExtAuthzGrpc: { service: '127.0.0.1', port: grpcPort, timeout: '1s', failOpen: true } as never }]);
  assert.equal((await get(tunnel, '/ext/grpc')).status, 200, 'the gRPC authorizer gone: fail open');
});

test('waypoint tracing: the caller\'s W3C context continues through a server and a client span, exported over OTLP/HTTP (decoded here with the OTLP protos), and the upstream gets the client span as its parent (W3C and B3)', { timeout: 60_000 }, async (t) => {
  const { tunnel, tracing, seen } = await setup(t);
  const bodies: Buffer[] = [];
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      if (req.url === '/v1/traces' && req.headers['content-type'] === 'application/x-protobuf') bodies.push(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  t.after(() => receiver.close());
  const port = (receiver.address() as net.AddressInfo).port;
  tracing.configure({ provider: { name: 'otel', opentelemetry: { service: '127.0.0.1', port, path: '/v1/traces' } as never }, randomSamplingPercentage: 100, telemetry: `${NS}/tracing` });
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const callerSpan = 'b7ad6b7169203331';
  const before = seen.length;
  assert.equal((await get(tunnel, '/traced', { traceparent: `00-${traceId}-${callerSpan}-01` })).status, 200);
  await get(tunnel, '/untraced-b3', { 'x-b3-traceid': '463ac35c9f6413ad48485a3953bb6124', 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-sampled': '1' });
  await tracing.flush();
  const spans: Array<Span & { service: string }> = [];
  for (const b of bodies) {
    for (const rs of fromBinary(ExportTraceServiceRequestSchema, b).resourceSpans) {
      const service = rs.resource?.attributes.find((a) => a.key === 'service.name')?.value?.value.value as string;
      for (const ss of rs.scopeSpans) for (const sp of ss.spans) spans.push(Object.assign(sp, { service }));
    }
  }
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const ours = spans.filter((sp) => hex(sp.traceId) === traceId);
  const server = ours.find((sp) => sp.kind === 2);
  const client = ours.find((sp) => sp.kind === 3);
  assert.ok(server && client, `a server and a client span in trace ${traceId}: ${JSON.stringify(spans.map((sp) => [hex(sp.traceId), sp.kind, sp.name]))}`);
  assert.equal(hex(server.parentSpanId), callerSpan, 'the server span continues the caller\'s span');
  assert.equal(hex(client.parentSpanId), hex(server.spanId), 'the client span is the server span\'s child');
  assert.equal(server.service, `waypoint.${NS}`);
  assert.equal(server.name, 'echo/traced');
  assert.equal(server.attributes.find((a) => a.key === 'http.status_code')?.value?.value.value, 200n);
  const atBackend = seen.slice(before).find((x) => x.path === '/traced');
  assert.equal(atBackend?.headers['traceparent'], `00-${traceId}-${hex(client.spanId)}-01`, 'the upstream\'s parent is the client span');
  assert.equal(atBackend?.headers['x-b3-traceid'], traceId);
  assert.equal(atBackend?.headers['x-b3-spanid'], hex(client.spanId));
  assert.ok(spans.some((sp) => hex(sp.traceId) === '463ac35c9f6413ad48485a3953bb6124' && sp.kind === 2 && hex(sp.parentSpanId) === 'a2fb4a1d1a96d312'), 'a B3 caller is continued too');
  // Tracing off: no more spans.
  tracing.configure(undefined);
  const count = bodies.length;
  await get(tunnel, '/after', { traceparent: `00-${traceId}-${callerSpan}-01` });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(bodies.length, count);
});

/** A raw gRPC call over an h2 session: length-prefixed message out, messages, headers and trailers back. */
function grpcCall(session: http2.ClientHttp2Session, path: string, msg: Buffer, metadata: Record<string, string>): Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; messages: Buffer[]; grpcStatus?: string; grpcMessage?: string }> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...metadata });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    let buf = Buffer.alloc(0);
    s.on('response', (h) => (headers = h));
    s.on('trailers', (h) => (trailers = h));
    s.on('data', (c: Buffer) => (buf = Buffer.concat([buf, c])));
    s.on('error', reject);
    s.on('close', () => {
      const messages: Buffer[] = [];
      for (let o = 0; o + 5 <= buf.length;) {
        const n = buf.readUInt32BE(o + 1);
        messages.push(buf.subarray(o + 5, o + 5 + n));
        o += 5 + n;
      }
      const all = { ...headers, ...trailers };
      resolve({ headers, trailers, messages, grpcStatus: all['grpc-status'] as string | undefined, grpcMessage: all['grpc-message'] !== undefined ? decodeURIComponent(String(all['grpc-message'])) : undefined });
    });
    const frame = Buffer.alloc(5 + msg.length);
    frame.writeUInt32BE(msg.length, 1);
    msg.copy(frame, 5);
    s.end(frame);
  });
}
