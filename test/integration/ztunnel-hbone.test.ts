// Loopback integration: HBONE server, client and pool with real TLS 1.3 + HTTP/2 CONNECT on 127.0.0.1.
// Proves: bytes both ways, half-close, server-speaks-first, SPIFFE checks on both ends, 400s for bad requests,
// the advertised HTTP/2 settings, and the pool's stream limit, single-flight creation, key isolation, idle release.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { H2Connection } from '../../src/hbone/h2/h2-connection.js';
import type { H2Headers } from '../../src/hbone/h2/h2-stream.js';
import { ErrorCode } from '../../src/hbone/h2/frames.js';
import type tls from 'node:tls';
import { once } from 'node:events';
import { createTestCa, type TestCa } from '../../src/ztunnel/testing/test-ca.js';
import { HboneServer, respondStatus, type HboneStreamHandler, type HboneStreamRequest } from '../../src/hbone/hbone-server.js';
import { connectHbone, type HboneClientConnection } from '../../src/hbone/hbone-client.js';
import { HbonePool, type PoolKey } from '../../src/hbone/pool.js';
import { ConnectRejectedError, TlsHandshakeError, flagFor } from '../../src/hbone/proxy-errors.js';
import { STREAM_WINDOW_BYTES, SERVER_MAX_CONCURRENT_STREAMS } from '../../src/hbone/hbone-protocol.js';
import type { WorkloadCertificate } from '../../src/lib/certs/certificate-manager.js';

const SERVER_ID = 'spiffe://cluster.local/ns/server/sa/srv';
const CLIENT_ID = 'spiffe://cluster.local/ns/client/sa/cli';

interface Running {
  hbone: HboneServer;
  port: number;
  requests: HboneStreamRequest[];
}

async function startServer(t: { after(fn: () => unknown): void }, cert: WorkloadCertificate, handler: HboneStreamHandler): Promise<Running> {
  const requests: HboneStreamRequest[] = [];
  const hbone = new HboneServer({
    certificate: cert,
    handler: (req) => {
      requests.push(req);
      return handler(req);
    },
  });
  const tcp = net.createServer((s) => hbone.handleConnection(s));
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    hbone.destroy();
    await new Promise((resolve) => tcp.close(resolve));
  });
  return { hbone, port: (tcp.address() as net.AddressInfo).port, requests };
}

async function dial(port: number, cert: WorkloadCertificate, expected: string[]): Promise<HboneClientConnection> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  return connectHbone({ socket, certificate: cert, expectedIdentities: expected, target: `127.0.0.1:${port}`, handshakeTimeoutMs: 5000 });
}

/** Reads a stream to its end. */
async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Echo handler: answers 200, then sends back everything and finishes after the client's END_STREAM. */
const echo: HboneStreamHandler = ({ stream }) => {
  stream.respond({ ':status': 200 });
  stream.pipe(stream);
};

let ca: TestCa;
let serverCert: WorkloadCertificate;
let clientCert: WorkloadCertificate;

test.before(async () => {
  ca = await createTestCa();
  serverCert = await ca.issue(SERVER_ID);
  clientCert = await ca.issue(CLIENT_ID);
});

test('CONNECT carries bytes both ways; half-close: client shuts write and still reads the reply', { timeout: 15_000 }, async (t) => {
  const srv = await startServer(t, serverCert, async ({ stream }) => {
    stream.respond({ ':status': 200 });
    const got = await readAll(stream); // the client's END_STREAM ends this
    stream.end(`got ${got.length} bytes: ${got.toString()}`);
  });
  const conn = await dial(srv.port, clientCert, [SERVER_ID]);
  t.after(() => conn.destroy());
  const stream = await conn.openStream('10.1.2.3:8080', { traceparent: '00-0123456789abcdef0123456789abcdef-0123456789abcdef-00' });
  stream.end('hello');
  assert.equal((await readAll(stream)).toString(), 'got 5 bytes: hello');
  const req = srv.requests[0]!;
  assert.equal(req.authority.text, '10.1.2.3:8080');
  assert.equal(req.authority.port, 8080);
  assert.equal(req.peerIdentity, CLIENT_ID);
  assert.equal(req.peerAddress.ip, '127.0.0.1');
  assert.equal(req.headers.traceparent, '00-0123456789abcdef0123456789abcdef-0123456789abcdef-00');
});

test('server speaks first: the client reads a banner without sending anything', { timeout: 15_000 }, async (t) => {
  const srv = await startServer(t, serverCert, ({ stream }) => {
    stream.respond({ ':status': 200 });
    stream.write('220 banner\r\n');
  });
  const conn = await dial(srv.port, clientCert, [SERVER_ID]);
  t.after(() => conn.destroy());
  const stream = await conn.openStream('10.1.2.3:25');
  const [first] = await once(stream, 'data') as [Buffer];
  assert.equal(first.toString(), '220 banner\r\n');
});

test('TLS 1.3, ALPN h2, no SNI, 4 MiB stream window and 200 streams advertised', { timeout: 15_000 }, async (t) => {
  let serverTls: tls.TLSSocket | undefined;
  const srv = await startServer(t, serverCert, (req) => {
    serverTls = req.stream.session!.socket as tls.TLSSocket;
    return echo(req);
  });
  const conn = await dial(srv.port, clientCert, [SERVER_ID]);
  t.after(() => conn.destroy());
  const clientTls = conn.session.socket as tls.TLSSocket;
  assert.equal(clientTls.getProtocol(), 'TLSv1.3');
  assert.equal(clientTls.alpnProtocol, 'h2');
  assert.match(clientTls.getCipher().name, /^TLS_AES_(256_GCM_SHA384|128_GCM_SHA256)$/);
  assert.equal(conn.session.remoteSettings!.initialWindowSize, STREAM_WINDOW_BYTES);
  assert.equal(conn.session.remoteSettings!.maxConcurrentStreams, SERVER_MAX_CONCURRENT_STREAMS);
  assert.equal(conn.maxStreams, 100);
  const stream = await conn.openStream('10.0.0.1:80');
  stream.end('x');
  await readAll(stream);
  assert.equal((serverTls as unknown as { servername?: string | false }).servername, false, 'no SNI was sent');
});

test('a 16 MiB transfer arrives intact through one stream', { timeout: 30_000 }, async (t) => {
  const srv = await startServer(t, serverCert, echo);
  const conn = await dial(srv.port, clientCert, [SERVER_ID]);
  t.after(() => conn.destroy());
  const stream = await conn.openStream('10.0.0.1:80');
  const payload = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
  const reading = readAll(stream);
  stream.end(payload);
  const back = await reading;
  assert.equal(back.length, payload.length);
  assert.ok(back.equals(payload));
});

test('client refuses a server whose SPIFFE id is not expected (TLS_FAILURE)', { timeout: 15_000 }, async (t) => {
  const srv = await startServer(t, serverCert, echo);
  await assert.rejects(dial(srv.port, clientCert, ['spiffe://cluster.local/ns/other/sa/x']), (err: unknown) => {
    assert.ok(err instanceof TlsHandshakeError);
    assert.equal(flagFor(err), 'TLS_FAILURE');
    assert.match((err as Error).message, /not one of the expected identities/);
    return true;
  });
  assert.equal(srv.hbone.sessionCount, 0);
});

test('server refuses a client certificate from another CA or another trust domain', { timeout: 15_000 }, async (t) => {
  const srv = await startServer(t, serverCert, echo);
  const otherCa = await createTestCa('foreign root');
  const foreign = await otherCa.issue(CLIENT_ID);
  // The foreign client trusts our server's root so the failure is the server's refusal.
  const foreignTrustingUs = Object.assign(Object.create(Object.getPrototypeOf(foreign)), foreign, {
    tlsOptions: () => ({ ...foreign.tlsOptions(), ca: [ca.rootPem] }),
  }) as WorkloadCertificate;
  await assert.rejects(async () => {
    const c = await dial(srv.port, foreignTrustingUs, [SERVER_ID]);
    await c.openStream('10.0.0.1:80');
  });
  const otherTd = await ca.issue('spiffe://other.domain/ns/client/sa/cli');
  await assert.rejects(async () => {
    const c = await dial(srv.port, otherTd, [SERVER_ID]);
    await c.openStream('10.0.0.1:80');
  });
  assert.equal(srv.requests.length, 0, 'no stream reached the handler');
});

test('non-CONNECT requests and bad authorities get 400 from the server', { timeout: 15_000 }, async (t) => {
  const srv = await startServer(t, serverCert, echo);
  const conn = await dial(srv.port, clientCert, [SERVER_ID]);
  t.after(() => conn.destroy());
  const get = conn.session.request([[':method', 'GET'], [':scheme', 'https'], [':path', '/'], [':authority', '10.0.0.1:80']]);
  const [h] = await once(get, 'response') as [H2Headers];
  assert.equal(h[':status'], '400');
  get.destroy();
  for (const bad of ['10.0.0.1', '10.0.0.1:0', '10.0.0.1:99999', '-bad:80']) {
    await assert.rejects(conn.openStream(bad), (err: unknown) => err instanceof ConnectRejectedError && err.status === 400 && flagFor(err) === 'CONNECT');
  }
  assert.equal(srv.requests.length, 0);
});

test('handler statuses reach the client: 401 maps to DENY, 503 to CONNECT', { timeout: 15_000 }, async (t) => {
  const srv = await startServer(t, serverCert, ({ stream, authority }) => respondStatus(stream, authority.port === 1 ? 401 : 503));
  const conn = await dial(srv.port, clientCert, [SERVER_ID]);
  t.after(() => conn.destroy());
  await assert.rejects(conn.openStream('10.0.0.1:1'), (err: unknown) => err instanceof ConnectRejectedError && err.status === 401 && flagFor(err) === 'DENY');
  await assert.rejects(conn.openStream('10.0.0.1:2'), (err: unknown) => err instanceof ConnectRejectedError && err.status === 503 && flagFor(err) === 'CONNECT');
});

test('pool: 150 concurrent streams use exactly 2 connections (limit 100, single-flight)', { timeout: 30_000 }, async (t) => {
  const srv = await startServer(t, serverCert, echo);
  let dials = 0;
  const pool = new HbonePool({
    connect: async () => {
      dials++;
      return dial(srv.port, clientCert, [SERVER_ID]);
    },
  });
  t.after(() => pool.destroy());
  const key: PoolKey = { srcIdentity: CLIENT_ID, expectedIdentities: [SERVER_ID], dst: `127.0.0.1:${srv.port}`, srcIp: '127.0.0.1' };
  const streams = await Promise.all(Array.from({ length: 150 }, () => pool.openStream(key, '10.0.0.1:80')));
  assert.equal(dials, 2);
  assert.equal(srv.hbone.sessionCount, 2);
  assert.deepEqual(pool.stats().map((s) => [s.connections, s.streams]), [[2, 150]]);
  // Every stream still works.
  const replies = await Promise.all(streams.map(async (s, i) => {
    const r = readAll(s);
    s.end(`n${i}`);
    return (await r).toString();
  }));
  assert.deepEqual(replies, streams.map((_, i) => `n${i}`));
  // Freed slots are reused: no third connection.
  const again = await pool.openStream(key, '10.0.0.1:80');
  again.end();
  await readAll(again);
  assert.equal(dials, 2);
});

test('pool: different keys never share a connection; failures reach every waiter', { timeout: 15_000 }, async (t) => {
  const srv = await startServer(t, serverCert, echo);
  let dials = 0;
  const pool = new HbonePool({
    connect: async (key) => {
      dials++;
      if (key.srcIp === '127.0.0.9') throw new Error('dial refused');
      return dial(srv.port, clientCert, [...key.expectedIdentities]);
    },
  });
  t.after(() => pool.destroy());
  const base: PoolKey = { srcIdentity: CLIENT_ID, expectedIdentities: [SERVER_ID], dst: `127.0.0.1:${srv.port}`, srcIp: '127.0.0.1' };
  const a = await pool.openStream(base, '10.0.0.1:80');
  const b = await pool.openStream({ ...base, srcIdentity: 'spiffe://cluster.local/ns/client/sa/other' }, '10.0.0.1:80');
  const c = await pool.openStream({ ...base, srcIp: '127.0.0.2' }, '10.0.0.1:80');
  assert.equal(dials, 3);
  for (const s of [a, b, c]) s.close();
  const failing = { ...base, srcIp: '127.0.0.9' };
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => pool.openStream(failing, '10.0.0.1:80')));
  assert.ok(results.every((r) => r.status === 'rejected' && /dial refused/.test(String(r.reason))));
  assert.equal(dials, 4, 'one dial for five waiters');
});

test('pool: a stream the server refused unprocessed (REFUSED_STREAM, as when draining) is retried on a new connection', { timeout: 15_000 }, async (t) => {
  // The first connection refuses its streams the way a server past its GOAWAY does; later ones echo.
  let first: H2Connection | undefined;
  const srv = await startServer(t, serverCert, (req) => {
    first ??= req.stream.session;
    if (req.stream.session === first) {
      req.stream.close(ErrorCode.REFUSED_STREAM);
      return;
    }
    echo(req);
  });
  let dials = 0;
  const pool = new HbonePool({
    connect: async () => {
      dials++;
      return dial(srv.port, clientCert, [SERVER_ID]);
    },
  });
  t.after(() => pool.destroy());
  const key: PoolKey = { srcIdentity: CLIENT_ID, expectedIdentities: [SERVER_ID], dst: `127.0.0.1:${srv.port}`, srcIp: '127.0.0.1' };
  const stream = await pool.openStream(key, '10.0.0.1:80');
  const reply = readAll(stream);
  stream.end('after a refusal');
  assert.equal((await reply).toString(), 'after a refusal');
  assert.equal(dials, 2, 'the refusing connection took no second stream');
  assert.equal(srv.requests.length, 2);
});

test('pool: an idle connection is released and closed after the idle timeout', { timeout: 15_000 }, async (t) => {
  const srv = await startServer(t, serverCert, echo);
  let last: HboneClientConnection | undefined;
  const pool = new HbonePool({
    idleTimeoutMs: 200,
    connect: async () => (last = await dial(srv.port, clientCert, [SERVER_ID])),
  });
  t.after(() => pool.destroy());
  const key: PoolKey = { srcIdentity: CLIENT_ID, expectedIdentities: [SERVER_ID], dst: `127.0.0.1:${srv.port}`, srcIp: '127.0.0.1' };
  const s = await pool.openStream(key, '10.0.0.1:80');
  // While a stream is open the connection is not idle even past the timeout.
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(pool.stats()[0]?.connections, 1);
  s.end();
  await readAll(s);
  await once(last!.session, 'close');
  assert.deepEqual(pool.stats(), []);
});

test('40 streams open at once, each receiving 600 KiB (24 MiB in all, over the 16 MiB connection window): none stalls', { timeout: 30_000 }, async (t) => {
  const PER_STREAM = 600 * 1024;
  const srv = await startServer(t, serverCert, ({ stream }) => {
    stream.respond({ ':status': 200 });
    stream.write(Buffer.alloc(PER_STREAM, 5));
    stream.resume();
    stream.once('end', () => stream.end());
  });
  const conn = await dial(srv.port, clientCert, [SERVER_ID]);
  t.after(() => conn.destroy());
  const streams = await Promise.all(Array.from({ length: 40 }, () => conn.openStream('10.0.0.1:80')));
  // Every stream stays open until every stream got its bytes: the connection window must come back meanwhile.
  await Promise.all(streams.map((s) => new Promise<void>((resolve) => {
    let got = 0;
    s.on('data', (c: Buffer) => {
      got += c.length;
      if (got === PER_STREAM) resolve();
    });
  })));
  for (const s of streams) s.end();
  await Promise.all(streams.map((s) => once(s, 'close')));
});
