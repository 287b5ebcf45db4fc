// Ambit's HBONE codec against two independent HTTP/2 stacks, both directions, over real mTLS on loopback:
// Debian's python3-h2 (its own framing, HPACK with Huffman and the dynamic table, flow control) and nghttp2 as
// Node's node:http2. Each run moves megabytes through CONNECT streams and checks them by SHA-256, so windows,
// WINDOW_UPDATE pacing and END_STREAM are exercised, not just the handshake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { createTestCa, type TestCa } from '../../src/ztunnel/testing/test-ca.js';
import { HboneServer } from '../../src/hbone/hbone-server.js';
import { connectHbone } from '../../src/hbone/hbone-client.js';
import type { WorkloadCertificate } from '../../src/lib/certs/certificate-manager.js';

const SERVER_ID = 'spiffe://cluster.local/ns/server/sa/srv';
const CLIENT_ID = 'spiffe://cluster.local/ns/client/sa/cli';

let ca: TestCa;
let serverCert: WorkloadCertificate;
let clientCert: WorkloadCertificate;

test.before(async () => {
  ca = await createTestCa();
  serverCert = await ca.issue(SERVER_ID);
  clientCert = await ca.issue(CLIENT_ID);
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Writes `payload` in 64 KiB pieces (respecting backpressure), ends, and resolves with everything read back. */
async function roundTrip(stream: Duplex, payload: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const ended = once(stream, 'end');
  for (let at = 0; at < payload.length; at += 65_536) {
    if (!stream.write(payload.subarray(at, at + 65_536))) await once(stream, 'drain');
  }
  stream.end();
  await ended;
  return Buffer.concat(chunks);
}

/** An HBONE server whose handler answers 200 and echoes, on 127.0.0.1. */
async function echoServer(t: { after(fn: () => unknown): void }): Promise<number> {
  const hbone = new HboneServer({
    certificate: serverCert,
    handler: ({ stream }) => {
      stream.respond({ ':status': 200, 'x-echo': 'yes' });
      stream.pipe(stream);
    },
  });
  const tcp = net.createServer((s) => hbone.handleConnection(s));
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    hbone.destroy();
    await new Promise((resolve) => tcp.close(resolve));
  });
  return (tcp.address() as net.AddressInfo).port;
}

async function dial(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  return connectHbone({ socket, certificate: clientCert, expectedIdentities: [SERVER_ID], target: `127.0.0.1:${port}`, handshakeTimeoutMs: 5000 });
}

// A python3-h2 HBONE echo server: mTLS, ALPN h2, CONNECT → 200 (with a header whose value h2 Huffman-codes and
// indexes), DATA echoed within the flow-control windows h2 tracks, END_STREAM after the echo drained.
const PY_SERVER = String.raw`
import socket, ssl, sys
import h2.config, h2.connection, h2.events
cert, key, ca = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(ca)
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols(['h2'])
lsock = socket.socket()
lsock.bind(('127.0.0.1', 0))
lsock.listen(1)
print(lsock.getsockname()[1], flush=True)
raw, _ = lsock.accept()
sock = ctx.wrap_socket(raw, server_side=True)
# h2's inbound validator insists on :path even for CONNECT (RFC 9113 §8.5 forbids it there): turned off.
conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, validate_inbound_headers=False))
conn.initiate_connection()
sock.sendall(conn.data_to_send())
pending, ended = {}, set()
def flush(sid):
    buf = pending.get(sid, b'')
    while buf:
        n = min(len(buf), conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
        if n <= 0:
            break
        conn.send_data(sid, buf[:n])
        buf = buf[n:]
    pending[sid] = buf
    if not buf and sid in ended:
        conn.end_stream(sid)
        ended.discard(sid)
while True:
    data = sock.recv(1 << 20)
    if not data:
        break
    for ev in conn.receive_data(data):
        if isinstance(ev, h2.events.RequestReceived):
            h = dict(ev.headers)
            ok = h.get(b':method') == b'CONNECT' and h.get(b'x-hbone-test') == b'interop'
            conn.send_headers(ev.stream_id, [(':status', '200' if ok else '400'), ('x-served-by', 'python3-h2 echo server for ambit')])
            if not ok:
                conn.end_stream(ev.stream_id)
        elif isinstance(ev, h2.events.DataReceived):
            conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            pending[ev.stream_id] = pending.get(ev.stream_id, b'') + ev.data
            flush(ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            ended.add(ev.stream_id)
            flush(ev.stream_id)
        elif isinstance(ev, h2.events.WindowUpdated):
            for sid in list(pending):
                flush(sid)
    sock.sendall(conn.data_to_send())
`;

test('Ambit client → python3-h2 server: three concurrent CONNECT streams echo 3 × 2 MiB intact', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-h2-interop-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { key, cert } = serverCert.tlsOptions();
  await writeFile(join(dir, 'server.py'), PY_SERVER);
  await writeFile(join(dir, 'cert.pem'), cert as string);
  await writeFile(join(dir, 'key.pem'), key as string, { mode: 0o600 });
  await writeFile(join(dir, 'ca.pem'), ca.rootPem);
  const py = spawn('/usr/bin/python3', [join(dir, 'server.py'), join(dir, 'cert.pem'), join(dir, 'key.pem'), join(dir, 'ca.pem')]);
  let stderr = '';
  py.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  t.after(() => py.kill('SIGKILL'));
  const [portLine] = await once(py.stdout, 'data') as [Buffer];
  const conn = await dial(Number(portLine.toString().trim()));
  t.after(() => conn.destroy());
  const payloads = [0, 1, 2].map(() => randomBytes(2 * 1024 * 1024));
  const streams = await Promise.all(payloads.map(() => conn.openStream('10.0.0.9:8080', { 'x-hbone-test': 'interop' })));
  const echoed = await Promise.all(streams.map((s, i) => roundTrip(s, payloads[i])));
  echoed.forEach((e, i) => assert.equal(sha(e), sha(payloads[i]), `stream ${i} intact (python said: ${stderr})`));
  // A header python3-h2 Huffman-coded and added to its dynamic table decoded right on every response.
  await assert.rejects(conn.openStream('10.0.0.9:8080'), /400/);
});

test('node:http2 (nghttp2) client → Ambit server: an 8 MiB CONNECT echo, PING answered, response headers read', { timeout: 60_000 }, async (t) => {
  const port = await echoServer(t);
  const { key, cert } = clientCert.tlsOptions();
  const session = http2.connect(`https://127.0.0.1:${port}`, { key, cert, ca: ca.rootPem, checkServerIdentity: () => undefined, settings: { initialWindowSize: 1024 * 1024 } });
  t.after(() => session.destroy());
  await once(session, 'remoteSettings');
  const rtt = await new Promise<number>((resolve, reject) => session.ping((err, ms) => (err ? reject(err) : resolve(ms))));
  assert.ok(rtt >= 0);
  const stream = session.request({ ':method': 'CONNECT', ':authority': '10.0.0.9:8080' }, { endStream: false });
  const [headers] = await once(stream, 'response') as [http2.IncomingHttpHeaders];
  assert.equal(headers[':status'], 200);
  assert.equal(headers['x-echo'], 'yes');
  const payload = randomBytes(8 * 1024 * 1024);
  assert.equal(sha(await roundTrip(stream, payload)), sha(payload));
});

test('Ambit client → node:http2 (nghttp2) server: an 8 MiB CONNECT echo, then the server\'s GOAWAY stops new streams', { timeout: 60_000 }, async (t) => {
  const { key, cert } = serverCert.tlsOptions();
  const server = http2.createSecureServer({ key, cert, ca: ca.rootPem, requestCert: true, rejectUnauthorized: true, settings: { initialWindowSize: 256 * 1024 } });
  server.on('stream', (stream, headers) => {
    if (headers[':method'] !== 'CONNECT') return stream.respond({ ':status': 400 }, { endStream: true });
    stream.respond({ ':status': 200 });
    stream.pipe(stream);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s: http2.ServerHttp2Session) => sessions.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sessions) s.destroy();
    server.close();
  });
  const conn = await dial((server.address() as net.AddressInfo).port);
  t.after(() => conn.destroy());
  const stream = await conn.openStream('10.0.0.9:8080');
  const payload = randomBytes(8 * 1024 * 1024);
  assert.equal(sha(await roundTrip(stream, payload)), sha(payload));
  const goaway = once(conn.session, 'goaway');
  for (const s of sessions) s.close();
  await goaway;
  assert.equal(conn.usable, false, 'no new streams after GOAWAY');
});
