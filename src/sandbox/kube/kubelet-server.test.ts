// The sandbox kubelet API over real TLS and real WebSockets on loopback. A pod's netns is stood in for by loopback
// (dialPod connects to 127.0.0.1), and kube-apiserver, which relays a port-forward upgrade to the kubelet with only
// its path rewritten, by a small relay doing exactly that; the real pair is exercised in the Kubernetes e2e.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import WebSocket from 'ws';
import { silentLogger } from '../../lib/log.js';
import { ApiClient } from '../../controlplane/client/index.js';
import { createKubePki, type KubePki } from './kube-pki.js';
import { createKubeletApi, type KubeletPod } from './kubelet-server.js';

interface Kubelet {
  port: number;
  pki: KubePki;
  logDir: string;
}

async function listen(server: net.Server, t: TestContext): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => {
    (server as http.Server).closeAllConnections?.();
    server.close(() => r());
  }));
  return (server.address() as net.AddressInfo).port;
}

/** A kubelet for node `n1` running pod `shop/echo`, whose ports are loopback ports. */
async function startKubelet(t: TestContext): Promise<Kubelet> {
  const pki = await createKubePki(['127.0.0.1'], ['127.0.0.1']);
  const logDir = mkdtempSync(join(tmpdir(), 'ambit-kubelet-'));
  t.after(() => rmSync(logDir, { recursive: true, force: true }));
  const pods: KubeletPod[] = [{ namespace: 'shop', name: 'echo', node: 'n1', netns: 'unused' }, { namespace: 'shop', name: 'elsewhere', node: 'n2', netns: 'unused' }];
  const server = createKubeletApi({
    node: 'n1',
    findPod: (ns, name) => pods.find((p) => p.namespace === ns && p.name === name),
    dialPod: (_pod, port) => new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    }),
    logPath: (pod, container) => join(logDir, `${pod.name}-${container}.log`),
    tls: { caPem: pki.caCertPem, ...pki.kubeletServing },
    log: silentLogger(),
  });
  return { port: await listen(server, t), pki, logDir };
}

/** A WebSocket to the kubelet as the API server (its client certificate) or as a caller without one. */
function kubeletSocket(k: Kubelet, path: string, as: 'apiserver' | 'stranger' = 'apiserver'): WebSocket {
  const cert = as === 'apiserver' ? { cert: k.pki.kubeletClient.certPem, key: k.pki.kubeletClient.keyPem } : {};
  return new WebSocket(`wss://127.0.0.1:${k.port}${path}`, ['v4.channel.k8s.io'], { ca: k.pki.caCertPem, ...cert });
}

/** Collects every message until the socket closes, or fails with the refusal's status and text. */
function transcript(ws: WebSocket, send?: Buffer): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    ws.on('open', () => send && ws.send(send));
    ws.on('message', (m: Buffer) => got.push(m));
    ws.on('close', () => resolve(got));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(new Error(`${res.statusCode} ${body.trim()}`)));
    });
    ws.on('error', reject);
  });
}

async function echoServer(t: TestContext): Promise<number> {
  // Answers one line upper-cased, then closes (so the forwarded connection ends and the kubelet closes the socket).
  return listen(net.createServer((s) => s.once('data', (d) => s.end(d.toString().toUpperCase()))), t);
}

test('port-forward: the port on both channels first, then the pod port\'s bytes on the data channel', async (t) => {
  const k = await startKubelet(t);
  const port = await echoServer(t);
  const msgs = await transcript(kubeletSocket(k, `/portForward/shop/echo?port=${port}`), Buffer.from([0, ...Buffer.from('hello\n')]));
  const portBytes = [port & 0xff, port >> 8];
  assert.deepEqual([...msgs[0]!], [0, ...portBytes]);
  assert.deepEqual([...msgs[1]!], [1, ...portBytes]);
  const data = Buffer.concat(msgs.slice(2).filter((m) => m[0] === 0).map((m) => m.subarray(1))).toString();
  assert.equal(data, 'HELLO\n');
  assert.ok(!msgs.slice(2).some((m) => m[0] === 1), 'no error');
});

test('port-forward: a refused port is reported on the error channel; bad requests are refused with the reason', async (t) => {
  const k = await startKubelet(t);
  const probe = net.createServer();
  const free = await new Promise<number>((r) => probe.listen(0, '127.0.0.1', () => r((probe.address() as net.AddressInfo).port)));
  await new Promise<void>((r) => probe.close(() => r()));
  const msgs = await transcript(kubeletSocket(k, `/portForward/shop/echo?port=${free}`));
  const error = msgs.filter((m) => m[0] === 1).map((m) => m.subarray(1)).slice(1).map((b) => b.toString()).join('');
  assert.match(error, new RegExp(`error forwarding port ${free} to pod shop/echo: .*ECONNREFUSED`));

  await assert.rejects(transcript(kubeletSocket(k, '/portForward/shop/echo')), /^Error: 400 query parameter "port" is required/);
  await assert.rejects(transcript(kubeletSocket(k, '/portForward/shop/echo?port=0')), /400 "0" is not a port/);
  await assert.rejects(transcript(kubeletSocket(k, '/portForward/shop/elsewhere?port=80')), /404 pod shop\/elsewhere is not running on node n1/);
  // No client certificate: the TLS handshake itself is refused.
  await assert.rejects(transcript(kubeletSocket(k, '/portForward/shop/echo?port=80', 'stranger')), /certificate|socket hang up|ECONNRESET/);
});

test('port-forward end to end: ApiClient through an API-server-like relay reads JSON from a pod\'s loopback port', async (t) => {
  const k = await startKubelet(t);
  const app = await listen(http.createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url }))), t);
  // The relay: an HTTPS "API server" that forwards the upgrade to the kubelet, rewriting only the path and query
  // (…/pods/<p>/portforward?ports=N → /portForward/<ns>/<p>?port=N) and authenticating with its kubelet client cert.
  const relay = https.createServer({ cert: k.pki.servingCertPem, key: k.pki.servingKeyPem });
  relay.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    const url = new URL(req.url!, 'https://x');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/.exec(url.pathname);
    assert.ok(m, req.url);
    assert.equal(req.headers.authorization, 'Bearer admin-token');
    const upstream = tls.connect({ port: k.port, host: '127.0.0.1', ca: k.pki.caCertPem, cert: k.pki.kubeletClient.certPem, key: k.pki.kubeletClient.keyPem }, () => {
      const headers = Object.entries(req.headers).filter(([h]) => h !== 'host').map(([h, v]) => `${h}: ${String(v)}\r\n`).join('');
      upstream.write(`GET /portForward/${m[1]}/${m[2]}?port=${url.searchParams.get('ports')} HTTP/1.1\r\nhost: kubelet\r\n${headers}\r\n`);
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
  });
  const relayPort = await listen(relay, t);
  const api = new ApiClient({ endpoint: { kube: { server: `https://127.0.0.1:${relayPort}`, caPem: k.pki.caCertPem, token: 'admin-token' } }, timeoutMs: 5000 });
  t.after(() => api.close());
  assert.deepEqual(await api.podPortGetJson('shop', 'echo', app, '/config_dump'), { path: '/config_dump' });
  // Twice on the same client: every GET is its own forwarded connection.
  assert.deepEqual(await api.podPortGetJson('shop', 'echo', app, '/again'), { path: '/again' });
  await assert.rejects(api.podPortGetJson('shop', 'elsewhere', app, '/'), /port-forward to pod shop\/elsewhere port \d+: the API server answered 404: pod shop\/elsewhere is not running on node n1/);
});

test('container logs: whole, last lines, byte-limited, followed; unsupported options are refused by name', async (t) => {
  const k = await startKubelet(t);
  const file = join(k.logDir, 'echo-echo.log');
  writeFileSync(file, 'one\ntwo\nthree\n');
  const get = (path: string, as: 'apiserver' | 'stranger' = 'apiserver') => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const cert = as === 'apiserver' ? { cert: k.pki.kubeletClient.certPem, key: k.pki.kubeletClient.keyPem } : {};
    https.get({ host: '127.0.0.1', port: k.port, path, ca: k.pki.caCertPem, ...cert, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
        if (path.includes('follow=true') && body.includes('four\n')) res.destroy();
      });
      const done = () => resolve({ status: res.statusCode!, body });
      res.on('end', done).on('close', done);
    }).on('error', reject);
  });
  assert.deepEqual(await get('/containerLogs/shop/echo/echo'), { status: 200, body: 'one\ntwo\nthree\n' });
  assert.deepEqual(await get('/containerLogs/shop/echo/echo?tailLines=2'), { status: 200, body: 'two\nthree\n' });
  assert.deepEqual(await get('/containerLogs/shop/echo/echo?limitBytes=5'), { status: 200, body: 'one\nt' });
  const followed = get('/containerLogs/shop/echo/echo?follow=true&tailLines=1');
  setTimeout(() => appendFileSync(file, 'four\n'), 300);
  assert.equal((await followed).body, 'three\nfour\n');
  assert.deepEqual(await get('/containerLogs/shop/echo/echo?timestamps=true'), { status: 400, body: 'log option timestamps=true is not supported by the sandbox kubelet (it keeps one plain log per container)\n' });
  assert.equal((await get('/containerLogs/shop/echo/nope')).status, 404);
  await assert.rejects(get('/containerLogs/shop/echo/echo', 'stranger'), /certificate|socket hang up|ECONNRESET/);
  assert.match((await get('/portForward/shop/echo?port=80')).body, /WebSocket upgrade with subprotocol v4\.channel\.k8s\.io; the sandbox kubelet does not speak SPDY/);
});
