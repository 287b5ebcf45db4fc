// Loopback integration: the ztunnel data path end to end — per-pod proxies on distinct 127.x "pod IPs", outbound
// capture → HBONE mTLS → inbound → app, with real certificates from a CertificateManager and a throwaway CA.
// Proves: pod and service traffic is tunnelled with source IP preserved; half-close and server-first work;
// L4 authorization (DENY, ALLOW-list) with 401 and DENY flags; live revocation within 1 s; plaintext inbound under
// STRICT/PERMISSIVE; passthrough; metrics and access-log lines; an independent HTTP/2 client (python3-h2) gets
// 200/401/400 from our HBONE listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { CertificateManager } from '../../src/lib/certs/certificate-manager.js';
import { createTestCa, type TestCa } from '../../src/ztunnel/testing/test-ca.js';
import { match, policy, service, workload } from '../../src/ztunnel/testing/builders.js';
import { ProxyState } from '../../src/ztunnel/state/proxy-state.js';
import { ZtunnelMetrics } from '../../src/ztunnel/metrics.js';
import { ConnectionManager } from '../../src/ztunnel/proxy/connection-manager.js';
import { LoopbackSocketFactory } from '../../src/ztunnel/proxy/socket-factory.js';
import { PodProxy } from '../../src/ztunnel/proxy/pod-proxy.js';
import { DEFAULT_PROXY_CONFIG, type LocalPod, type ProxyInputs } from '../../src/ztunnel/proxy/proxy-inputs.js';
import { createHostnameResolver } from '../../src/ztunnel/proxy/hostname-resolver.js';
import type { Workload } from '../../src/ztunnel/state/types.js';

const subnet = `127.${20 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}`;
const CLIENT_IP = `${subnet}.2`;
const SERVER_IP = `${subnet}.3`;
const OTHER_IP = `${subnet}.4`; // a second meshed client with another service account
const OUTSIDE_IP = `${subnet}.5`; // not in the mesh: plaintext client, and a passthrough destination
const VIP = '10.96.77.10';
const CLIENT_ID = 'spiffe://cluster.local/ns/client-ns/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/server-ns/sa/server';

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

interface Mesh {
  inputs: ProxyInputs;
  state: ProxyState;
  sockets: LoopbackSocketFactory;
  proxies: Record<'client' | 'server' | 'other', PodProxy>;
  access: LogLine[];
  metrics(): Promise<string>;
  /** An app connection from `fromIp`'s pod (captured by that pod's 15001) to `dst`. */
  dialOut(from: 'client' | 'other', dst: { ip: string; port: number }): Promise<net.Socket>;
  /** A plaintext connection arriving at the server pod's 15006 (as the pod's inbound capture would deliver it). */
  dialPlain(port: number): Promise<net.Socket>;
  peers: string[];
}

async function freePort(ip: string): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, ip, r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

let ca: TestCa;
let mesh: Mesh;

/** App servers on the server pod IP: 8080 echo-after-EOF, 2525 banner, 9090 report peer, 7070 live echo. */
async function startApps(peers: string[]): Promise<net.Server[]> {
  const servers: net.Server[] = [];
  const add = async (port: number, handler: (s: net.Socket) => void) => {
    const srv = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => undefined);
      peers.push(s.remoteAddress ?? '');
      handler(s);
    });
    await new Promise<void>((r) => srv.listen(port, SERVER_IP, r));
    servers.push(srv);
  };
  await add(8080, (s) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => s.end(`echo:${Buffer.concat(chunks).toString()}`));
  });
  await add(2525, (s) => {
    s.write('220 ambit test banner\r\n');
    s.on('data', () => undefined);
    s.on('end', () => s.end());
  });
  await add(9090, (s) => {
    s.end(`peer=${s.remoteAddress}`);
    s.resume();
  });
  await add(7070, (s) => s.pipe(s));
  return servers;
}

function serverWorkload(): Workload {
  return workload({
    name: 'server', namespace: 'server-ns', serviceAccount: 'server', addresses: [SERVER_IP],
    services: { 'server-ns/echo.server-ns.svc.cluster.local': [{ servicePort: 80, targetPort: 8080 }, { servicePort: 25, targetPort: 2525 }] },
  });
}

test.before(async () => {
  ca = await createTestCa();
  const hbonePort = await freePort(SERVER_IP);
  const state = new ProxyState();
  state.apply({
    workloads: [
      workload({ name: 'client', namespace: 'client-ns', serviceAccount: 'client', addresses: [CLIENT_IP] }),
      workload({ name: 'other', namespace: 'client-ns', serviceAccount: 'other', addresses: [OTHER_IP] }),
      serverWorkload(),
    ],
    services: [service({ name: 'echo', namespace: 'server-ns', vips: [VIP], ports: [{ servicePort: 80, targetPort: 8080 }, { servicePort: 25, targetPort: 0 }] })],
  });
  const access: LogLine[] = [];
  const accessLog = pino({ level: 'debug', base: { scope: 'access' } }, { write: (line: string) => void access.push(JSON.parse(line) as LogLine) });
  const certs = new CertificateManager({ signer: ca.signer });
  const sockets = new LoopbackSocketFactory();
  const inputs: ProxyInputs = {
    config: { ...DEFAULT_PROXY_CONFIG, hbonePort, workloadWaitMs: 500, connectTimeoutMs: 3000 },
    state,
    certs,
    metrics: new ZtunnelMetrics(),
    connections: new ConnectionManager(state),
    sockets,
    log: pino({ level: 'silent' }),
    accessLog,
    resolveHostname: createHostnameResolver({ lookup: async (name) => (name === 'ext.example.test' ? [{ address: SERVER_IP, ttl: 30 }] : []) }),
  };
  const start = (name: string, ns: string, sa: string, ip: string) => {
    const pod: LocalPod = { uid: `uid-${name}`, info: { name, namespace: ns, serviceAccount: sa } };
    return PodProxy.start(inputs, pod, { bindIp: ip, ports: { outbound: 0, inboundPlaintext: 0, hbone: hbonePort } });
  };
  const proxies = {
    client: await start('client', 'client-ns', 'client', CLIENT_IP),
    server: await start('server', 'server-ns', 'server', SERVER_IP),
    other: await start('other', 'client-ns', 'other', OTHER_IP),
  };
  const peers: string[] = [];
  const apps = await startApps(peers);
  mesh = {
    inputs, state, sockets, proxies, access, peers,
    metrics: async () => (await inputs.metrics.render()).body,
    dialOut: (from, dst) => {
      const p = proxies[from];
      return sockets.captureConnect({ ip: from === 'client' ? CLIENT_IP : OTHER_IP, port: p.addresses.outbound.port }, dst, from === 'client' ? CLIENT_IP : OTHER_IP);
    },
    dialPlain: (port) => sockets.captureConnect({ ip: SERVER_IP, port: proxies.server.addresses.inboundPlaintext.port }, { ip: SERVER_IP, port }, OUTSIDE_IP),
  };
  // Stash for teardown.
  (mesh as unknown as { apps: net.Server[]; certs: CertificateManager }).apps = apps;
  (mesh as unknown as { certs: CertificateManager }).certs = certs;
});

test.after(async () => {
  if (!mesh) return;
  await Promise.all(Object.values(mesh.proxies).map((p) => p.stop(200)));
  for (const a of (mesh as unknown as { apps: net.Server[] }).apps) a.close();
  (mesh as unknown as { certs: CertificateManager }).certs.close();
  mesh.inputs.connections.close();
});

async function readAll(s: net.Socket): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/** Waits until `pred` holds (polling), failing after `ms`. */
async function eventually(pred: () => boolean | Promise<boolean>, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function setPolicies(...ps: ReturnType<typeof policy>[]): void {
  const existing = mesh.state.policies.all().map((p) => `${p.namespace}/${p.name}`);
  mesh.state.apply({ removedPolicies: existing, policies: ps });
}

test('pod → pod over HBONE: the app sees the client pod IP; metrics and access log on both sides', { timeout: 20_000 }, async () => {
  setPolicies();
  const app = await mesh.dialOut('client', { ip: SERVER_IP, port: 9090 });
  assert.equal(await readAll(app), `peer=${CLIENT_IP}`);
  await eventually(() => mesh.access.filter((l) => l.msg === 'connection complete' && l['dst.hbone_addr'] === `${SERVER_IP}:9090`).length === 2, 3000, 'two access-log lines');
  const lines = mesh.access.filter((l) => l.msg === 'connection complete' && l['dst.hbone_addr'] === `${SERVER_IP}:9090`);
  const out = lines.find((l) => l.direction === 'outbound')!;
  const inb = lines.find((l) => l.direction === 'inbound')!;
  assert.equal(out['src.identity'], CLIENT_ID);
  assert.equal(out['dst.identity'], SERVER_ID);
  assert.equal(out['dst.addr'], `${SERVER_IP}:${mesh.inputs.config.hbonePort}`);
  assert.equal(out['src.workload'], 'client');
  assert.equal(out['dst.workload'], 'server');
  assert.equal(inb['src.identity'], CLIENT_ID);
  assert.equal(inb['dst.addr'], `${SERVER_IP}:9090`);
  assert.equal(inb.bytes_sent, `peer=${CLIENT_IP}`.length, 'inbound bytes_sent = server → client');
  assert.equal(out.bytes_recv, `peer=${CLIENT_IP}`.length, 'outbound bytes_recv = upstream → app');
  assert.match(String(out.duration), /^\d+ms$/);
  const m = await mesh.metrics();
  for (const reporter of ['source', 'destination']) {
    const labels = { reporter, source_principal: CLIENT_ID, destination_principal: SERVER_ID, connection_security_policy: 'mutual_tls', response_flags: '-', source_workload: 'client', destination_workload: 'server', request_protocol: 'tcp' };
    assert.ok(metricValue(m, 'istio_tcp_connections_opened_total', labels) >= 1, `opened (${reporter})`);
    assert.ok(metricValue(m, 'istio_tcp_connections_closed_total', labels) >= 1, `closed (${reporter})`);
    assert.ok(metricValue(m, 'istio_tcp_sent_bytes_total', labels) >= `peer=${CLIENT_IP}`.length, `sent bytes (${reporter})`);
  }
});

test('pod → service VIP: endpoint chosen, port translated, half-close honoured', { timeout: 20_000 }, async () => {
  setPolicies();
  const app = await mesh.dialOut('client', { ip: VIP, port: 80 });
  app.end('hello half-close');
  assert.equal(await readAll(app), 'echo:hello half-close');
  const m = await mesh.metrics();
  assert.ok(metricValue(m, 'istio_tcp_connections_opened_total', { reporter: 'source', destination_service: 'echo.server-ns.svc.cluster.local', destination_service_name: 'echo', destination_service_namespace: 'server-ns' }) >= 1);
  assert.ok(metricValue(m, 'istio_tcp_received_bytes_total', { reporter: 'destination', destination_service: 'echo.server-ns.svc.cluster.local' }) >= 16);
});

test('server speaks first through a service whose port maps via the endpoint (25 → 2525)', { timeout: 20_000 }, async () => {
  setPolicies();
  const app = await mesh.dialOut('client', { ip: VIP, port: 25 });
  const [first] = await once(app, 'data') as [Buffer];
  assert.equal(first.toString(), '220 ambit test banner\r\n');
  app.end();
  await readAll(app);
});

test('a 64 MiB transfer arrives intact and 300 concurrent connections succeed', { timeout: 60_000 }, async () => {
  setPolicies();
  const payload = Buffer.alloc(64 * 1024 * 1024);
  for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
  const big = await mesh.dialOut('client', { ip: SERVER_IP, port: 7070 });
  const chunks: Buffer[] = [];
  let got = 0;
  const done = new Promise<void>((resolve) => big.on('data', (c: Buffer) => {
    chunks.push(c);
    got += c.length;
    if (got >= payload.length) resolve();
  }));
  big.write(payload);
  await done;
  assert.ok(Buffer.concat(chunks).equals(payload));
  big.destroy();
  const replies = await Promise.all(Array.from({ length: 300 }, async (_, i) => {
    const s = await mesh.dialOut('client', { ip: VIP, port: 80 });
    s.end(`c${i}`);
    return readAll(s);
  }));
  assert.deepEqual(replies, replies.map((_, i) => `echo:c${i}`));
});

test('AuthorizationPolicy: DENY by principal → 401/DENY on both reporters with the policy named', { timeout: 20_000 }, async () => {
  setPolicies(policy({ name: 'deny-client', namespace: 'server-ns', action: 'DENY' }, [[match({ principals: [{ kind: 'exact', value: 'cluster.local/ns/client-ns/sa/client' }] })]]));
  const app = await mesh.dialOut('client', { ip: SERVER_IP, port: 9090 });
  assert.equal(await readAll(app).catch(() => ''), '');
  // The other SA is not denied.
  const ok = await mesh.dialOut('other', { ip: SERVER_IP, port: 9090 });
  assert.equal(await readAll(ok), `peer=${OTHER_IP}`);
  await eventually(() => mesh.access.some((l) => l.direction === 'inbound' && l.error === 'connection closed due to policy rejection: explicitly denied by server-ns/deny-client'), 3000, 'inbound deny log line');
  const m = await mesh.metrics();
  assert.ok(metricValue(m, 'istio_tcp_connections_failed_total', { reporter: 'destination', response_flags: 'DENY', source_principal: CLIENT_ID }) >= 1);
  assert.ok(metricValue(m, 'istio_tcp_connections_failed_total', { reporter: 'source', response_flags: 'DENY', source_principal: CLIENT_ID }) >= 1);
});

test('AuthorizationPolicy: DENY by namespace and by port', { timeout: 20_000 }, async () => {
  setPolicies(policy({ name: 'deny-port', namespace: 'server-ns', action: 'DENY' }, [[match({ namespaces: [{ kind: 'exact', value: 'client-ns' }] })], [match({ destinationPorts: [2525] })]]));
  const denied = await mesh.dialOut('client', { ip: VIP, port: 25 });
  assert.equal(await readAll(denied).catch(() => ''), '');
  const allowed = await mesh.dialOut('client', { ip: SERVER_IP, port: 9090 });
  assert.equal(await readAll(allowed), `peer=${CLIENT_IP}`);
});

test('AuthorizationPolicy: ALLOW-list — the listed SA passes, others are refused (none allowed)', { timeout: 20_000 }, async () => {
  setPolicies(policy({ name: 'allow-client', namespace: 'server-ns' }, [[match({ serviceAccounts: [{ namespace: 'client-ns', serviceAccount: 'client' }] })]]));
  const ok = await mesh.dialOut('client', { ip: SERVER_IP, port: 9090 });
  assert.equal(await readAll(ok), `peer=${CLIENT_IP}`);
  const refused = await mesh.dialOut('other', { ip: SERVER_IP, port: 9090 });
  assert.equal(await readAll(refused).catch(() => ''), '');
  await eventually(() => mesh.access.some((l) => l.direction === 'inbound' && String(l.error).endsWith('allow policies exist, but none allowed')), 3000, 'not-allowed log line');
});

test('live revocation: applying a DENY closes an open matching connection within 1 s', { timeout: 20_000 }, async () => {
  setPolicies();
  const app = await mesh.dialOut('client', { ip: SERVER_IP, port: 7070 });
  app.write('ping');
  const [echoed] = await once(app, 'data') as [Buffer];
  assert.equal(echoed.toString(), 'ping');
  // The app socket allows half-open, so the proxy closing it shows up as EOF.
  const closed = once(app, 'end');
  const t0 = performance.now();
  setPolicies(policy({ name: 'deny-now', namespace: 'server-ns', action: 'DENY' }, [[match({ principals: [{ kind: 'exact', value: 'cluster.local/ns/client-ns/sa/client' }] })]]));
  await closed;
  const ms = performance.now() - t0;
  assert.ok(ms < 1000, `closed after ${ms.toFixed(0)} ms`);
  await eventually(() => mesh.access.some((l) => l.direction === 'inbound' && l.response_flags === 'DENY' && String(l.error).includes('policy change')), 3000, 'revocation log line');
});

test('plaintext inbound: STRICT refuses, PERMISSIVE accepts, a port-level PERMISSIVE exception passes', { timeout: 20_000 }, async () => {
  // PERMISSIVE: no policy. The app sees the outside client's IP.
  setPolicies();
  const ok = await mesh.dialPlain(9090);
  assert.equal(await readAll(ok), `peer=${OUTSIDE_IP}`);
  // STRICT as the control plane expresses it: DENY any peer without an identity, except port 2525.
  const strict = policy({ name: 'istio_converted_static_strict', namespace: 'server-ns', action: 'DENY' }, [[match({ notPrincipals: [{ kind: 'presence' }], notDestinationPorts: [2525] })]]);
  setPolicies(strict);
  const refused = await mesh.dialPlain(9090);
  await assert.rejects(readAll(refused), /ECONNRESET/);
  const exempt = await mesh.dialPlain(2525);
  const [banner] = await once(exempt, 'data') as [Buffer];
  assert.equal(banner.toString(), '220 ambit test banner\r\n');
  exempt.destroy();
  // mTLS traffic still passes under STRICT.
  const mtls = await mesh.dialOut('client', { ip: SERVER_IP, port: 9090 });
  assert.equal(await readAll(mtls), `peer=${CLIENT_IP}`);
  const m = await mesh.metrics();
  assert.ok(metricValue(m, 'istio_tcp_connections_failed_total', { reporter: 'destination', connection_security_policy: 'unknown', response_flags: 'DENY' }) >= 1);
});

test('unknown destinations pass through unchanged (plain TCP from the pod)', { timeout: 20_000 }, async () => {
  const outside = net.createServer((s) => s.end(`outside saw ${s.remoteAddress}`));
  await new Promise<void>((r) => outside.listen(0, OUTSIDE_IP, r));
  try {
    const app = await mesh.dialOut('client', { ip: OUTSIDE_IP, port: (outside.address() as net.AddressInfo).port });
    assert.match(await readAll(app), /^outside saw 127\./);
    await eventually(() => mesh.access.some((l) => l.direction === 'outbound' && String(l['dst.addr']).startsWith(OUTSIDE_IP) && l.msg === 'connection complete' && !l['dst.hbone_addr']), 3000, 'passthrough log line');
  } finally {
    outside.close();
  }
});

test('a workload with tunnel protocol NONE gets plain TCP with VIP → pod translation', { timeout: 20_000 }, async () => {
  const plainSrv = workload({ ...serverWorkload(), tunnelProtocol: 'NONE' });
  mesh.state.apply({ workloads: [plainSrv] });
  try {
    const app = await mesh.dialOut('client', { ip: VIP, port: 80 });
    app.end('plain');
    assert.equal(await readAll(app), 'echo:plain');
    const line = mesh.access.filter((l) => l.direction === 'outbound' && l.msg === 'connection complete').at(-1)!;
    assert.equal(line['dst.addr'], `${SERVER_IP}:8080`);
    assert.equal(line['dst.hbone_addr'], undefined);
  } finally {
    mesh.state.apply({ workloads: [serverWorkload()] });
  }
});

test('a name endpoint (DNS ServiceEntry) is resolved by ztunnel and dialled in plain TCP; an unresolvable one fails with the name', { timeout: 20_000 }, async () => {
  const byName = (hostname: string) => workload({ ...serverWorkload(), uid: `uid-${hostname}`, addresses: [], hostname, tunnelProtocol: 'NONE' });
  mesh.state.apply({ workloads: [byName('ext.example.test')], removedWorkloads: [serverWorkload().uid] });
  try {
    const app = await mesh.dialOut('client', { ip: VIP, port: 80 });
    app.end('named');
    assert.equal(await readAll(app), 'echo:named');
    const line = mesh.access.filter((l) => l.direction === 'outbound' && l.msg === 'connection complete').at(-1)!;
    assert.equal(line['dst.addr'], `${SERVER_IP}:8080`);
    mesh.state.apply({ workloads: [byName('gone.example.test')], removedWorkloads: ['uid-ext.example.test'] });
    const refused = await mesh.dialOut('client', { ip: VIP, port: 80 });
    assert.equal(await readAll(refused).catch(() => ''), '');
    await eventually(() => mesh.access.some((l) => String(l.error).includes('cannot resolve gone.example.test')), 3000, 'resolution failure log line');
  } finally {
    mesh.state.apply({ workloads: [serverWorkload()], removedWorkloads: ['uid-gone.example.test'] });
  }
});

test('unknown source workload: the connection is closed after the xDS wait', { timeout: 20_000 }, async () => {
  mesh.state.apply({ removedWorkloads: ['Kubernetes//Pod/client-ns/other'] });
  try {
    const app = await mesh.dialOut('other', { ip: SERVER_IP, port: 9090 });
    assert.equal(await readAll(app).catch(() => ''), '');
    await eventually(() => mesh.access.some((l) => String(l.error).startsWith('unknown source')), 3000, 'unknown source log line');
  } finally {
    mesh.state.apply({ workloads: [workload({ name: 'other', namespace: 'client-ns', serviceAccount: 'other', addresses: [OTHER_IP] })] });
  }
});

const PY_CLIENT = String.raw`
import socket, ssl, sys
import h2.config, h2.connection, h2.events
host, port, cert, key, ca, method, authority = sys.argv[1:8]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.check_hostname = False
ctx.load_verify_locations(ca)
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols(['h2'])
sock = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10))
conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, validate_outbound_headers=False))
conn.initiate_connection()
sock.sendall(conn.data_to_send())
sid = conn.get_next_available_stream_id()
headers = [(':method', method), (':authority', authority)]
if method != 'CONNECT':
    headers += [(':scheme', 'https'), (':path', '/')]
conn.send_headers(sid, headers)
sock.sendall(conn.data_to_send())
status, body = None, b''
while True:
    data = sock.recv(65536)
    if not data:
        break
    for ev in conn.receive_data(data):
        if isinstance(ev, h2.events.ResponseReceived):
            status = dict(ev.headers)[b':status'].decode()
            if status == '200':
                conn.send_data(sid, b'', end_stream=True)
        elif isinstance(ev, h2.events.DataReceived):
            body += ev.data
            conn.acknowledge_received_data(ev.flow_controlled_length, sid)
        elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
            print(status, body.decode())
            sys.exit(0)
    sock.sendall(conn.data_to_send())
print(status, body.decode())
`;

test('an independent HTTP/2 client (python3-h2) gets 200, 401 and 400 from the HBONE listener', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-zt-py-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const pyCert = await ca.issue('spiffe://cluster.local/ns/py/sa/python');
  const { key, cert } = pyCert.tlsOptions();
  await writeFile(join(dir, 'client.py'), PY_CLIENT);
  await writeFile(join(dir, 'cert.pem'), cert);
  await writeFile(join(dir, 'key.pem'), key, { mode: 0o600 });
  await writeFile(join(dir, 'ca.pem'), ca.rootPem);
  const run = (method: string, authority: string) => new Promise<string>((resolve, reject) => {
    const p = spawn('/usr/bin/python3', [join(dir, 'client.py'), SERVER_IP, String(mesh.inputs.config.hbonePort), join(dir, 'cert.pem'), join(dir, 'key.pem'), join(dir, 'ca.pem'), method, authority]);
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`python client exited ${code}: ${err}`));
    });
  });
  setPolicies();
  // python connects from 127.0.0.1: the app sees that address (source preserved through the HBONE hop).
  assert.equal(await run('CONNECT', `${SERVER_IP}:9090`), '200 peer=127.0.0.1');
  setPolicies(policy({ name: 'deny-python', namespace: 'server-ns', action: 'DENY' }, [[match({ namespaces: [{ kind: 'exact', value: 'py' }] })]]));
  assert.equal(await run('CONNECT', `${SERVER_IP}:9090`), '401');
  setPolicies();
  assert.equal(await run('CONNECT', `${SERVER_IP}`), '400', 'authority without a port');
  assert.equal(await run('CONNECT', `${CLIENT_IP}:9090`), '400', 'ip mismatch');
  assert.equal(await run('GET', `${SERVER_IP}:9090`), '400', 'not CONNECT');
  assert.ok(mesh.access.some((l) => l.error === `ip mismatch: ${CLIENT_IP} != ${SERVER_IP}`));
});

test('drain: a stopped pod proxy refuses new connections and closes open ones at its deadline', { timeout: 20_000 }, async () => {
  setPolicies();
  const app = await mesh.dialOut('client', { ip: SERVER_IP, port: 7070 });
  app.write('still here');
  await once(app, 'data');
  const ended = once(app, 'end');
  const t0 = performance.now();
  await mesh.proxies.client.stop(300);
  await ended;
  const ms = performance.now() - t0;
  assert.ok(ms >= 250 && ms < 3000, `open connection closed after ${ms.toFixed(0)} ms (deadline 300 ms)`);
  await assert.rejects(mesh.dialOut('client', { ip: SERVER_IP, port: 9090 }), /ECONNREFUSED/);
  assert.equal(mesh.inputs.connections.list('uid-client').length, 0);
});
