// e2e (root): `ambit ztunnel` in the sandbox — an enrolled namespace's pod-to-pod and pod-to-service traffic,
// cross-node and same-node, goes through HBONE mTLS (tcpdump sees only TCP to 15008 and none of the app's bytes),
// the server sees the client's pod IP, a 1 GiB transfer arrives intact, 1,000 concurrent connections succeed,
// server-first and half-close work; L4 AuthorizationPolicy (DENY by principal / namespace / port, ALLOW-list,
// live revocation within 1 s), STRICT vs PERMISSIVE for an un-enrolled client; metrics and access log carry both
// principals and mutual_tls (DENY flag on refusals); `ambit ztunnel-config` reads the node's admin. Last, resilience:
// with the control plane stopped, existing and new connections keep working; a ztunnel killed under a connection
// loop is restarted by the supervisor, re-adopts its pods and new connections succeed within 2 s of its restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SandboxFixture } from '../../src/sandbox/testing/sandbox-fixture.js';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { runCommand, spawnIn } from '../../src/platform/index.js';

/**
 * CommonJS source; run as `node mesh-tool.cjs <mode> …`:
 * - `server`: bulk (8080 and 9000: reads to EOF, then replies `peer=<ip> bytes=<n> sha=<hex>`), banner (2525:
 *   greets first, echoes lines, `bye` on EOF), echo (7070: echoes everything).
 * - `send HOST PORT BYTES [MARKER]`: streams BYTES deterministic bytes (starting with MARKER), shuts its write side,
 *   reads the reply; prints {ok, sent, sha, reply}.
 * - `banner HOST PORT`: reads the greeting, sends a line, half-closes, prints {ok, greeting, rest}.
 * - `many HOST PORT N`: N concurrent echo connections all open at once; prints {ok, failed, errors}.
 * - `hold HOST PORT`: one echo connection pinging every 50 ms; prints `open` then `closed <reason>` lines.
 * - `loop HOST PORT MS`: a new echo connection every 50 ms for MS ms; prints [{t, ok, err}].
 */
const MESH_TOOL_SOURCE = String.raw`
const net = require('net');
const crypto = require('crypto');
const [mode, host, portText, arg, marker] = process.argv.slice(2);
const port = Number(portText);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

function bulk(s) {
  const h = crypto.createHash('sha256');
  let n = 0;
  s.on('data', (d) => { h.update(d); n += d.length; });
  s.on('end', () => s.end('peer=' + s.remoteAddress.replace(/^::ffff:/, '') + ' bytes=' + n + ' sha=' + h.digest('hex')));
}

if (mode === 'server') {
  const listen = (p, fn) => net.createServer({ allowHalfOpen: true }, (s) => { s.on('error', () => {}); fn(s); }).listen(p);
  listen(8080, bulk);
  listen(9000, bulk);
  listen(2525, (s) => {
    s.write('220 banner from ' + (process.env.POD_NAME || 'server') + '\n');
    s.on('data', (d) => s.write('echo:' + d));
    s.on('end', () => s.end('bye\n'));
  });
  listen(7070, (s) => s.pipe(s));
  console.log('listening');
} else if (mode === 'send') {
  const total = Number(arg);
  const s = net.connect({ host, port, allowHalfOpen: true });
  const h = crypto.createHash('sha256');
  let sent = 0;
  let reply = '';
  const block = crypto.createHash('sha512').update('ambit').digest();
  const chunk = Buffer.alloc(256 * 1024);
  for (let i = 0; i < chunk.length; i += block.length) block.copy(chunk, i);
  s.on('error', (e) => { out({ ok: false, error: e.code || e.message, sent, reply }); process.exit(1); });
  s.on('data', (d) => { reply += d; });
  s.on('end', () => { out({ ok: true, sent, sha: h.digest('hex'), reply }); s.destroy(); });
  s.on('connect', () => {
    const first = Buffer.from(marker || '');
    const pump = () => {
      while (sent < total) {
        let piece = sent === 0 && first.length ? Buffer.concat([first, chunk]) : chunk;
        if (piece.length > total - sent) piece = piece.subarray(0, total - sent);
        h.update(piece);
        sent += piece.length;
        if (!s.write(piece)) return s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
} else if (mode === 'banner') {
  const s = net.connect({ host, port, allowHalfOpen: true });
  let buf = '';
  let greeting;
  s.on('error', (e) => { out({ ok: false, error: e.code || e.message }); process.exit(1); });
  s.on('data', (d) => {
    buf += d;
    if (greeting === undefined && buf.includes('\n')) {
      greeting = buf.slice(0, buf.indexOf('\n'));
      buf = buf.slice(greeting.length + 1);
      s.end('hello\n');
    }
  });
  s.on('end', () => { out({ ok: true, greeting, rest: buf }); s.destroy(); });
} else if (mode === 'many') {
  const n = Number(arg);
  let open = 0, done = 0, failed = 0;
  const errors = {};
  const sockets = [];
  const finish = () => {
    if (done + failed < n) return;
    out({ ok: done, failed, errors });
    for (const s of sockets) s.destroy();
  };
  for (let i = 0; i < n; i++) {
    const s = net.connect({ host, port });
    sockets.push(s);
    let got = '';
    let settled = false;
    const fail = (why) => { if (settled) return; settled = true; failed++; errors[why] = (errors[why] || 0) + 1; finish(); };
    s.setTimeout(30000, () => fail('timeout'));
    s.on('error', (e) => fail(e.code || e.message));
    s.on('close', () => fail('closed early'));
    s.on('connect', () => { open++; s.write('conn' + i + '\n'); });
    s.on('data', (d) => {
      got += d;
      if (!settled && got === 'conn' + i + '\n') { settled = true; done++; finish(); }
    });
  }
} else if (mode === 'hold') {
  const s = net.connect({ host, port });
  const started = Date.now();
  s.on('connect', () => {
    console.log('open');
    const t = setInterval(() => s.write('ping\n'), 50);
    s.on('close', () => clearInterval(t));
  });
  s.on('error', (e) => console.log('error ' + (e.code || e.message)));
  s.on('close', () => { console.log('closed ' + (Date.now() - started)); process.exit(0); });
} else if (mode === 'loop') {
  const until = Date.now() + Number(arg);
  const results = [];
  const once = () => new Promise((resolve) => {
    const t = Date.now();
    const s = net.connect({ host, port });
    let got = '';
    const end = (ok, err) => { s.destroy(); clearTimeout(timer); resolve({ t, ok, err }); };
    const timer = setTimeout(() => end(false, 'timeout'), 1000);
    s.on('error', (e) => end(false, e.code || e.message));
    s.on('connect', () => s.write('ping\n'));
    s.on('data', (d) => { got += d; if (got === 'ping\n') end(true); });
    s.on('close', () => end(false, 'closed'));
  });
  (async () => {
    while (Date.now() < until) {
      const r = await once();
      if (!results.length || results[results.length - 1].ok !== r.ok || !r.ok) results.push(r);
      await new Promise((r) => setTimeout(r, 50));
    }
    out(results);
  })();
} else {
  console.error('unknown mode ' + mode);
  process.exit(2);
}
`;

/** What these helpers need of the sandbox test fixture (SandboxFixture satisfies it). */
interface MeshCluster {
  readonly name: string;
  readonly dataDir: string;
  cli(args: string[], opts?: { allowFail?: boolean; timeoutMs?: number }): Promise<{ stdout: string; stderr: string; code: number }>;
}

/** Writes the mesh tool next to the data dir; returns its path. */
function writeMeshTool(cluster: MeshCluster): string {
  const path = join(cluster.dataDir, '..', 'mesh-tool.cjs');
  writeFileSync(path, MESH_TOOL_SOURCE);
  return path;
}

/** Runs the mesh tool in `pod` and returns the parsed JSON of its first stdout line. */
async function runTool<T = Record<string, unknown>>(cluster: MeshCluster, tool: string, ns: string, pod: string, args: string[], timeoutMs = 60_000): Promise<T> {
  const r = await cluster.cli(['exec', pod, '-n', ns, '--', process.execPath, tool, ...args], { allowFail: true, timeoutMs });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{') || l.startsWith('['));
  if (!line) return { ok: false, error: `exit ${r.code}: ${r.stderr.trim().split('\n').pop() ?? ''}` } as T;
  return JSON.parse(line) as T;
}

/** The mesh tool run in the background inside a pod's netns; `lines` collects its stdout lines. */
interface BackgroundTool {
  child: ChildProcess;
  lines: string[];
  waitForLine(pred: (l: string) => boolean, timeoutMs: number): Promise<string>;
  stop(): void;
}

function startToolIn(netns: string, tool: string, args: string[]): BackgroundTool {
  const child = spawnIn(netns, [process.execPath, tool, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    for (const w of waiters) w();
  });
  child.stderr!.resume();
  return {
    child,
    lines,
    waitForLine(pred, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find(pred);
          if (hit !== undefined) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching output within ${timeoutMs} ms (got ${JSON.stringify(lines)})`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** GET `http://127.0.0.1:<port><path>` from inside `netns` (e.g. a node's ztunnel stats). */
async function httpGetIn(netns: string, port: number, path: string): Promise<string> {
  const script = `require('http').get({host:'127.0.0.1',port:${port},path:${JSON.stringify(path)}},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>process.stdout.write(b))}).on('error',e=>{console.error(e.message);process.exit(1)})`;
  const r = await runCommand(['ip', 'netns', 'exec', netns, process.execPath, '-e', script], { timeoutMs: 10_000 });
  return r.stdout;
}

/** Prometheus samples of `metric` whose labels include every `want` pair; returns their summed value. */
function sumSamples(text: string, metric: string, want: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const labels = line.slice(metric.length + 1, line.lastIndexOf('}'));
    if (Object.entries(want).every(([k, v]) => labels.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** The `time` of the "ztunnel started" line that process `pid` logged on `node`, once it is there. */
function startedAt(node: string, pid: number): number | undefined {
  let text = '';
  try {
    text = readFileSync(join(fx.dataDir, 'logs', `ztunnel-${node}.log`), 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"msg":"ztunnel started"') || !line.includes(`"pid":${pid},`) && !line.includes(`"pid":${pid}}`)) continue;
    try {
      const entry = JSON.parse(line) as { time?: number; pid?: number };
      if (entry.pid === pid && typeof entry.time === 'number') return entry.time;
    } catch {
      // a line being written
    }
  }
  return undefined;
}

/** Access-log lines (JSON, scope `access`) of a node's ztunnel. */
function accessLogOf(cluster: MeshCluster, node: string): Array<Record<string, unknown>> {
  let text = '';
  try {
    text = readFileSync(join(cluster.dataDir, 'logs', `ztunnel-${node}.log`), 'utf8');
  } catch {
    return [];
  }
  const out: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"scope":"access"')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line being written
    }
  }
  return out;
}

/** A tcpdump writing raw packets of `iface` in `netns` to a file. */
interface Capture {
  file: string;
  stop(): Promise<Buffer>;
  /** `tcpdump -r` lines matching a filter, after stop(). */
  read(filter: string): Promise<string[]>;
}

async function startCapture(netns: string, iface: string, file: string): Promise<Capture> {
  const child = spawnIn(netns, ['tcpdump', '-i', iface, '-n', '-U', '-s', '0', '-w', file, 'tcp'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited: ${err}`));
    });
  });
  return {
    file,
    async stop() {
      await new Promise((r) => setTimeout(r, 300)); // last packets
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
      return readFileSync(file);
    },
    async read(filter: string) {
      const r = await runCommand(['tcpdump', '-r', file, '-n', filter], { timeoutMs: 20_000 });
      return r.stdout.split('\n').filter(Boolean);
    },
  };
}

/** Runs the mesh tool directly in a netns (no control plane needed); the parsed JSON of its first JSON line. */
async function runToolIn<T = Record<string, unknown>>(netns: string, tool: string, args: string[], timeoutMs = 60_000): Promise<T> {
  const bg = startToolIn(netns, tool, args);
  try {
    const line = await bg.waitForLine((l) => l.startsWith('{') || l.startsWith('['), timeoutMs);
    return JSON.parse(line) as T;
  } catch (err) {
    return { ok: false, error: (err as Error).message } as T;
  } finally {
    bg.stop();
  }
}

const NS = 'mesh';
const TD = 'spiffe://cluster.local';
const CLIENT_ID = `${TD}/ns/${NS}/sa/client`;
const SERVER_ID = `${TD}/ns/${NS}/sa/server`;
const NEIGHBOUR_ID = `${TD}/ns/${NS}/sa/neighbour`;
/** 1 GiB, as the issue asks: about 12 s on a quiet 2-core machine, so the bound below leaves room for a loaded one. */
const LARGE_BYTES = 1024 * 1024 * 1024;
const CONCURRENT = 1000;

interface SendResult {
  ok: boolean;
  sent: number;
  sha: string;
  reply: string;
  error?: string;
}

let fx: SandboxFixture;
let tool: string;
const ip: Record<string, string> = {};
let vip = '';
const background: BackgroundTool[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
const stopped: number[] = [];
let clientNetns = '';

function pod(name: string, node: string, sa: string, command: string[], namespace = NS, labels: Record<string, string> = {}): object {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels },
    spec: { nodeName: node, serviceAccountName: sa, containers: [{ name: 'app', command }] },
  };
}

function policy(name: string, spec: object, kind = 'AuthorizationPolicy'): object {
  return { apiVersion: 'security.istio.io/v1', kind, metadata: { name, namespace: NS }, spec };
}

async function send(from: string, host: string, port: number, bytes: number, marker = '', namespace = NS, timeoutMs = 80_000): Promise<SendResult> {
  return runTool<SendResult>(fx, tool, namespace, from, ['send', host, String(port), String(bytes), marker], timeoutMs);
}

/** True when `from` can complete a bulk exchange with the server at host:port. */
async function reaches(from: string, host: string, port: number, namespace = NS): Promise<boolean> {
  const r = await send(from, host, port, 16, '', namespace);
  return r.ok && r.reply.startsWith('peer=');
}

async function applyAndSettle(objs: object[], check: () => Promise<boolean>, what: string): Promise<void> {
  await fx.apply(objs);
  await fx.waitFor(what, async () => (await check()) || undefined, 15_000, 300);
}

async function deletePolicies(names: string[], kind = 'authorizationpolicy'): Promise<void> {
  for (const n of names) await fx.cli(['delete', kind, n, '-n', NS], { allowFail: true });
}

test.before(async () => {
  fx = await SandboxFixture.create({ after: (fn) => void cleanups.push(fn) }, 2);
  tool = writeMeshTool(fx);
  await fx.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'istio.io/dataplane-mode': 'ambient' } } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'plain' } },
    ...['server', 'client', 'neighbour'].map((sa) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: NS } })),
    pod('server', 'node2', 'server', [process.execPath, tool, 'server'], NS, { app: 'echo' }),
    pod('client', 'node1', 'client', ['sleep', 'infinity']),
    pod('neighbour', 'node2', 'neighbour', ['sleep', 'infinity']),
    pod('outsider', 'node1', 'default', ['sleep', 'infinity'], 'plain'),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: NS },
      spec: { selector: { app: 'echo' }, ports: [{ name: 'bulk', port: 80, targetPort: 8080 }, { name: 'banner', port: 25, targetPort: 2525 }, { name: 'echo', port: 7070, targetPort: 7070 }] } },
  ]);
  for (const [ns, name] of [[NS, 'server'], [NS, 'client'], [NS, 'neighbour'], ['plain', 'outsider']] as const) {
    ip[name] = ((await fx.running(ns, name)).status as { podIP: string }).podIP;
  }
  vip = await fx.waitFor('echo VIP', async () => {
    const s = JSON.parse((await fx.cli(['get', 'service', 'echo', '-n', NS, '-o', 'json'])).stdout) as { spec: { clusterIP?: string } };
    return s.spec.clusterIP;
  });
  clientNetns = await fx.netnsOf(NS, 'client');
  await fx.waitFor('mesh traffic flows', async () => (await reaches('client', ip.server!, 8080)) && (await reaches('neighbour', vip, 80)), 30_000, 300);
});

test.after(async () => {
  for (const b of background) b.stop();
  for (const pid of stopped) if (alive(pid)) process.kill(pid, 'SIGCONT');
  for (const c of cleanups) await c();
});

test('enrolled traffic is HBONE mTLS cross-node and same-node, to pods and services; the server sees the client IP', { timeout: 90_000 }, async () => {
  const marker = `AMBIT-SECRET-${randomBytes(12).toString('hex')}`;
  const fabric = await startCapture(`${fx.name}.fabric`, 'br0', join(fx.dataDir, '..', 'fabric.pcap'));
  const node2 = await startCapture(`${fx.name}.node2`, 'any', join(fx.dataDir, '..', 'node2.pcap'));
  const cases: Array<[string, string, number]> = [
    ['client', ip.server!, 8080], ['client', vip, 80], // cross-node: pod and service
    ['neighbour', ip.server!, 8080], ['neighbour', vip, 80], // same node
  ];
  for (const [from, host, port] of cases) {
    const r = await send(from, host, port, 1024 * 1024, marker);
    assert.equal(r.ok, true, `${from} → ${host}:${port}: ${r.error ?? ''}`);
    assert.equal(r.reply, `peer=${ip[from]} bytes=${r.sent} sha=${r.sha}`, `${from} → ${host}:${port}: intact, and the server saw the client's pod IP`);
  }
  const fabricBytes = await fabric.stop();
  const node2Bytes = await node2.stop();
  for (const [where, bytes] of [['fabric', fabricBytes], ['node2', node2Bytes]] as const) {
    assert.equal(bytes.includes(marker), false, `${where}: the application's bytes never appear in clear`);
    assert.equal(bytes.includes(`peer=${ip.client}`), false, `${where}: the server's reply never appears in clear`);
  }
  assert.ok((await fabric.read(`host ${ip.client} and tcp dst port 15008`)).length > 0, 'cross-node traffic is TCP to 15008 on the fabric');
  assert.deepEqual(await fabric.read(`host ${ip.client} and (tcp port 8080 or tcp port 80)`), [], 'no app-port traffic on the fabric');
  assert.ok((await node2.read(`src host ${ip.neighbour} and dst host ${ip.server} and tcp dst port 15008`)).length > 0, 'same-node traffic is TCP to 15008 too');
  assert.deepEqual(await node2.read(`host ${ip.neighbour} and (tcp port 8080 or tcp port 80)`), [], 'no same-node app-port traffic');
  // The TLS on 15008 is mutual: both principals are in the destination's access log.
  const inbound = accessLogOf(fx, 'node2').filter((l) => l.direction === 'inbound' && l['src.identity'] === NEIGHBOUR_ID);
  assert.ok(inbound.some((l) => l['dst.identity'] === SERVER_ID), 'same-node inbound logged with both identities');
});

test('1 GiB intact, server-first, half-close, 1,000 concurrent connections', { timeout: 300_000 }, async (t) => {
  const started = Date.now();
  const big = await send('client', vip, 80, LARGE_BYTES, '', NS, 180_000);
  const seconds = (Date.now() - started) / 1000;
  assert.equal(big.ok, true, big.error);
  assert.equal(big.sent, LARGE_BYTES);
  assert.equal(big.reply, `peer=${ip.client} bytes=${LARGE_BYTES} sha=${big.sha}`, 'every byte arrived, in order');
  t.diagnostic(`1 GiB cross-node through two ztunnels in ${seconds.toFixed(1)} s (${(LARGE_BYTES / 1048576 / seconds).toFixed(0)} MiB/s incl. process start)`);

  const banner = await runTool<{ ok: boolean; greeting: string; rest: string }>(fx, tool, NS, 'client', ['banner', vip, '25']);
  assert.deepEqual(banner, { ok: true, greeting: '220 banner from server', rest: 'echo:hello\nbye\n' }, 'server speaks first; after the client shuts its write side the reply still arrives');

  const t0 = Date.now();
  const many = await runTool<{ ok: number; failed: number; errors: Record<string, number> }>(fx, tool, NS, 'client', ['many', ip.server!, '7070', String(CONCURRENT)], 80_000);
  assert.deepEqual(many, { ok: CONCURRENT, failed: 0, errors: {} });
  t.diagnostic(`${CONCURRENT} concurrent connections all open at once in ${Date.now() - t0} ms`);
});

test('metrics and access log: both principals, mutual_tls, reporter source and destination', { timeout: 60_000 }, async () => {
  const labels = { source_principal: CLIENT_ID, destination_principal: SERVER_ID, connection_security_policy: 'mutual_tls', request_protocol: 'tcp' };
  const src = await httpGetIn(`${fx.name}.node1`, 15020, '/stats/prometheus');
  const dst = await httpGetIn(`${fx.name}.node2`, 15020, '/stats/prometheus');
  assert.ok(sumSamples(src, 'istio_tcp_connections_opened_total', { reporter: 'source', ...labels }) >= 3, 'source reporter counts client connections');
  assert.ok(sumSamples(dst, 'istio_tcp_connections_opened_total', { reporter: 'destination', ...labels }) >= 3, 'destination reporter counts them too');
  assert.ok(sumSamples(dst, 'istio_tcp_received_bytes_total', { reporter: 'destination', ...labels, destination_service: `echo.${NS}.svc.cluster.local` }) >= LARGE_BYTES);
  assert.ok(sumSamples(src, 'istio_tcp_connections_closed_total', { reporter: 'source', ...labels, response_flags: '-' }) >= 3);
  assert.match(src, /workload_manager_active_proxy_count 1\n/);
  const out = accessLogOf(fx, 'node1').find((l) => l.direction === 'outbound' && l['src.identity'] === CLIENT_ID && l['dst.identity'] === SERVER_ID);
  assert.ok(out, 'outbound access-log line with both identities');
  assert.equal(out['dst.addr'], `${ip.server}:15008`);
  assert.equal(out['src.workload'], 'client');
  assert.equal(out['dst.workload'], 'server');
  assert.match(String(out.duration), /^\d+ms$/);
});

test('ztunnel-config reads each node ztunnel: workloads, services, certificates, live connections, never keys', { timeout: 60_000 }, async () => {
  const workloads = (await fx.cli(['ztunnel-config', 'workloads'])).stdout;
  assert.match(workloads, /^NAMESPACE\s+POD NAME\s+ADDRESS\s+NODE\s+WAYPOINT\s+PROTOCOL\n/);
  assert.match(workloads, new RegExp(`\\n${NS}\\s+server\\s+${ip.server!.replace(/\./g, '\\.')}\\s+node2\\s+None\\s+HBONE\\n`));
  assert.match(workloads, /\nplain\s+outsider\s+\S+\s+node1\s+None\s+TCP\n/);
  assert.match((await fx.cli(['zc', 'svc'])).stdout, new RegExp(`\\n${NS}\\s+echo\\s+${vip.replace(/\./g, '\\.')}\\s+None\\s+1/1\\n`));
  const certs = (await fx.cli(['ztunnel-config', 'certificates', '--node', 'node1'])).stdout;
  assert.match(certs, new RegExp(`${CLIENT_ID}\\s+Leaf\\s+Available\\s+true`));
  assert.match(certs, new RegExp(`${CLIENT_ID}\\s+Root\\s+Available\\s+true`));
  const hold = startToolIn(await fx.netnsOf(NS, 'client'), tool, ['hold', ip.server!, '7070']);
  background.push(hold);
  await hold.waitForLine((l) => l === 'open', 10_000);
  const cons = (await fx.cli(['ztunnel-config', 'connections', '--node', 'node2'])).stdout;
  assert.match(cons, new RegExp(`server\\.${NS}\\s+Inbound\\s+${ip.server!.replace(/\./g, '\\.')}:7070\\s+${ip.client!.replace(/\./g, '\\.')}:\\d+\\s+\\S+:7070\\s+HBONE`));
  hold.stop();
  const all = JSON.parse((await fx.cli(['ztunnel-config', 'all', '--node', 'node1', '-o', 'json'])).stdout) as Record<string, unknown>;
  assert.ok(Array.isArray(all.workloads) && Array.isArray(all.services) && Array.isArray(all.certificates));
  assert.equal(JSON.stringify(all).includes('PRIVATE KEY'), false, 'no private key in the dump');
  const bad = await fx.cli(['ztunnel-config', 'nonsense'], { allowFail: true });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /unknown section 'nonsense'/);
});

test('AuthorizationPolicy: DENY by principal, namespace and port; ALLOW-list; a DENY closes an open connection within 1 s', { timeout: 90_000 }, async (t) => {
  const selector = { selector: { matchLabels: { app: 'echo' } } };
  await applyAndSettle([
    policy('deny-neighbour', { ...selector, action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/ns/mesh/sa/neighbour'] } }] }] }),
    policy('deny-mesh-9000', { ...selector, action: 'DENY', rules: [{ from: [{ source: { namespaces: [NS] } }], to: [{ operation: { ports: ['9000'] } }] }] }),
  ], async () => !(await reaches('neighbour', ip.server!, 8080)), 'neighbour denied');
  assert.equal(await reaches('client', ip.server!, 8080), true, 'another principal is not affected');
  assert.equal(await reaches('client', ip.server!, 9000), false, 'namespace + port DENY refuses port 9000');
  assert.equal(await reaches('client', vip, 80), true, 'the same namespace on another port passes');
  const denied = accessLogOf(fx, 'node2').filter((l) => l.error !== undefined);
  assert.ok(denied.some((l) => String(l.error).includes(`explicitly denied by ${NS}/deny-neighbour`)), 'the access log names the policy');
  assert.ok(denied.some((l) => String(l.error).includes(`explicitly denied by ${NS}/deny-mesh-9000`)));
  const metrics = await httpGetIn(`${fx.name}.node2`, 15020, '/stats/prometheus');
  assert.ok(sumSamples(metrics, 'istio_tcp_connections_failed_total', { reporter: 'destination', source_principal: NEIGHBOUR_ID, response_flags: 'DENY' }) >= 1, 'denied connection counted with DENY');
  await deletePolicies(['deny-neighbour', 'deny-mesh-9000']);

  await applyAndSettle([
    policy('allow-client', { ...selector, action: 'ALLOW', rules: [{ from: [{ source: { principals: ['cluster.local/ns/mesh/sa/client'] } }] }] }),
  ], async () => !(await reaches('neighbour', ip.server!, 8080)), 'ALLOW-list in force');
  assert.equal(await reaches('client', ip.server!, 8080), true, 'the allowed principal passes');
  assert.ok(accessLogOf(fx, 'node2').some((l) => String(l.error ?? '').includes('allow policies exist, but none allowed')));
  await deletePolicies(['allow-client']);
  await fx.waitFor('policies gone', async () => (await reaches('neighbour', ip.server!, 8080)) || undefined, 15_000, 300);

  // Live revocation: an open connection that a new DENY matches is closed.
  const hold = startToolIn(await fx.netnsOf(NS, 'neighbour'), tool, ['hold', ip.server!, '7070']);
  background.push(hold);
  await hold.waitForLine((l) => l === 'open', 10_000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(hold.lines.some((l) => l.startsWith('closed')), false);
  await fx.apply([policy('deny-neighbour-live', { ...selector, action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/ns/mesh/sa/neighbour'] } }] }] })]);
  const applied = Date.now();
  await hold.waitForLine((l) => l.startsWith('closed'), 5_000);
  const ms = Date.now() - applied;
  t.diagnostic(`open connection closed ${ms} ms after the DENY was stored`);
  assert.ok(ms <= 1000, `closed within 1 s of the policy (took ${ms} ms)`);
  await deletePolicies(['deny-neighbour-live']);
  await fx.waitFor('live deny gone', async () => (await reaches('neighbour', ip.server!, 8080)) || undefined, 15_000, 300);
});

test('PeerAuthentication: STRICT refuses plaintext from an un-enrolled pod, PERMISSIVE accepts it', { timeout: 60_000 }, async () => {
  const plain = await send('outsider', ip.server!, 8080, 16, '', 'plain');
  assert.equal(plain.reply, `peer=${ip.outsider} bytes=16 sha=${plain.sha}`, 'default (PERMISSIVE) accepts plaintext; source IP kept');
  await applyAndSettle([policy('strict', { mtls: { mode: 'STRICT' } }, 'PeerAuthentication')],
    async () => !(await reaches('outsider', ip.server!, 8080, 'plain')), 'STRICT in force');
  assert.equal(await reaches('client', ip.server!, 8080), true, 'mTLS clients still pass under STRICT');
  await applyAndSettle([policy('strict', { mtls: { mode: 'PERMISSIVE' } }, 'PeerAuthentication')],
    async () => reaches('outsider', ip.server!, 8080, 'plain'), 'PERMISSIVE in force');
  await deletePolicies(['strict'], 'peerauthentication');
});

function pidOf(role: string): number | undefined {
  try {
    return Number(readFileSync(join(fx.dataDir, 'run', `${role}.pid`), 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

function supervisorPid(): number {
  return Number(readFileSync(join(fx.dataDir, 'run', 'supervisor.pid'), 'utf8').trim());
}

/** Running (a zombie whose parent has not reaped it yet counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A bulk exchange client → host:port run straight in the client's netns (works without the control plane). */
async function clientReaches(host: string, port: number): Promise<boolean> {
  const r = await runToolIn<SendResult>(clientNetns, tool, ['send', host, String(port), '1000'], 15_000);
  return r.ok && r.reply.startsWith(`peer=${ip.client} bytes=1000`);
}

test('control plane stopped: existing and new connections between known workloads keep working', { timeout: 60_000 }, async () => {
  const hold = startToolIn(clientNetns, tool, ['hold', vip, '7070']);
  background.push(hold);
  await hold.waitForLine((l) => l === 'open', 10_000);
  // Freeze the supervisor so it does not restart the control plane, then kill the control plane.
  const sup = supervisorPid();
  const cp = pidOf('controlplane')!;
  process.kill(sup, 'SIGSTOP');
  stopped.push(sup);
  try {
    process.kill(cp, 'SIGKILL');
    await fx.waitFor('control plane gone', async () => !alive(cp), 5_000, 50);
    await new Promise((r) => setTimeout(r, 1500)); // ztunnels notice the lost xDS stream
    assert.equal(await clientReaches(ip.server!, 8080), true, 'a new connection to the pod works');
    assert.equal(await clientReaches(vip, 80), true, 'a new connection to the service works');
    assert.equal(hold.lines.some((l) => l.startsWith('closed')), false, 'the open connection is still open');
  } finally {
    process.kill(sup, 'SIGCONT');
    stopped.splice(stopped.indexOf(sup), 1);
  }
  await fx.waitFor('control plane restarted', async () => {
    const pid = pidOf('controlplane');
    return pid !== undefined && pid !== cp && alive(pid);
  }, 20_000, 100);
  await fx.waitFor('control plane answers', async () => (await fx.cli(['get', 'namespace', NS], { allowFail: true })).code === 0, 30_000, 200);
  hold.stop();
  assert.equal(await clientReaches(vip, 80), true, 'and after the control plane is back');
});

for (const node of ['node1', 'node2']) {
  test(`ztunnel on ${node} killed under a connection loop: new connections succeed within 2 s of its restart`, { timeout: 90_000 }, async (t) => {
    // Long enough that a replacement slow to start on a loaded machine still comes up while the loop runs.
    const loop = startToolIn(clientNetns, tool, ['loop', vip, '7070', '20000']);
    background.push(loop);
    await new Promise((r) => setTimeout(r, 1500));
    const old = pidOf(`ztunnel-${node}`)!;
    const killedAt = Date.now();
    process.kill(old, 'SIGKILL');
    const next = await fx.waitFor('ztunnel restarted', async () => {
      const pid = pidOf(`ztunnel-${node}`);
      return pid !== undefined && pid !== old && alive(pid) ? pid : undefined;
    }, 20_000, 20);
    // "Its restart" is when the new process says it started (its own log line's time), not when it was spawned:
    // loading and starting Node on a loaded machine is not the recovery being measured.
    const restartedAt = await fx.waitFor('the new ztunnel logged "ztunnel started"', async () => startedAt(node, next), 30_000, 100);
    const line = await loop.waitForLine((l) => l.startsWith('['), 40_000);
    const results = JSON.parse(line) as Array<{ t: number; ok: boolean; err?: string }>;
    assert.equal(results[0]?.ok, true, 'the loop worked before the kill');
    const firstFailure = results.find((r) => !r.ok && r.t >= killedAt - 100);
    assert.ok(firstFailure, 'the kill interrupted new connections (the test can observe an outage)');
    const recovered = results.find((r) => r.ok && r.t > firstFailure.t);
    assert.ok(recovered, `connections succeed again (timeline: ${JSON.stringify(results.map((r) => ({ dt: r.t - killedAt, ok: r.ok, err: r.err })))})`);
    t.diagnostic(`${node}: killed → new process logged 'ztunnel started' ${restartedAt - killedAt} ms (supervisor backoff 500 ms), started → first new connection ok ${recovered.t - restartedAt} ms, total outage ${recovered.t - killedAt} ms`);
    assert.ok(recovered.t - restartedAt <= 2000, `recovered ${recovered.t - restartedAt} ms after the restart`);
    assert.ok(results.slice(results.indexOf(recovered)).every((r) => r.ok), 'and keep succeeding');
  });
}
