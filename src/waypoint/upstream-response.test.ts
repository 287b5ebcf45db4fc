// Upstream answers that finish in the tick they arrive, through a real HTTP/2 CONNECT tunnel (as the waypoint's
// upstream sessions ride HBONE streams): the relay started afterwards still completes, trailers-only answers are
// flagged as such, and a reset before the relay started still fails the relay.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Exchange, Headers } from './exchange.js';
import { h1Response, h2Response, type BodySource } from './upstream-response.js';

type App = (s: http2.ServerHttp2Stream) => void;

/** An h2c app behind a CONNECT tunnel (the tunnel's server pipes each stream to a TCP connection to the app). */
async function tunnelledSession(t: TestContext, app: App): Promise<http2.ClientHttp2Session> {
  const appServer = http2.createServer();
  appServer.on('stream', app);
  const tunnelServer = http2.createServer();
  tunnelServer.on('stream', (s) => {
    const c = net.connect((appServer.address() as net.AddressInfo).port, '127.0.0.1', () => {
      s.respond({ ':status': 200 });
      s.pipe(c).pipe(s);
    });
    c.on('error', () => s.destroy());
  });
  for (const srv of [appServer, tunnelServer]) await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const outer = http2.connect(`http://127.0.0.1:${(tunnelServer.address() as net.AddressInfo).port}`);
  const tunnel = outer.request({ ':method': 'CONNECT', ':authority': 'app:80' });
  const session = http2.connect('http://app', { createConnection: () => tunnel as unknown as net.Socket });
  t.after(() => {
    session.destroy();
    outer.destroy();
    appServer.close();
    tunnelServer.close();
  });
  return session;
}

const body = (payload: string): BodySource => ({ attach: (sink) => (sink.write(Buffer.from(payload)), sink.end()) });

/** The client side of a relay: collects the body. */
function sink(): Exchange & { received: Buffer[] } {
  const received: Buffer[] = [];
  return { received, write: (c: Buffer) => (received.push(c), true), onDrain: () => undefined } as unknown as Exchange & { received: Buffer[] };
}

/** Starts the relay a macrotask after the head arrived, the latest point the proxy might, bounded at 2 s. */
async function relayLater(res: Awaited<ReturnType<typeof h2Response>>, to: Exchange): Promise<Headers | undefined> {
  await new Promise((r) => setImmediate(r));
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the relay never settled')), 2_000)));
  return Promise.race([res.relay(to), hung]).finally(() => clearTimeout(timer));
}

test('h2 trailers-only answer (gRPC error) through a tunnel: flagged endStream, and a late relay still settles', { timeout: 30_000 }, async (t) => {
  const session = await tunnelledSession(t, (s) => {
    s.resume();
    s.on('end', () => s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '9', 'grpc-message': 'asked%20to%20fail' }, { endStream: true }));
  });
  for (let i = 0; i < 50; i++) {
    const res = await h2Response(session.request({ ':method': 'POST', ':path': '/echo.Echo/Say' }), body('x'));
    assert.equal(res.endStream, true);
    assert.equal(res.headers['grpc-status'], '9');
    assert.equal(await relayLater(res, sink()), undefined);
  }
});

test('h2 answer with body and trailers in one write through a tunnel: a late relay gets both', { timeout: 30_000 }, async (t) => {
  const session = await tunnelledSession(t, (s) => {
    s.resume();
    s.on('end', () => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      s.once('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0', 'x-trailer': 'done' }));
      s.end(Buffer.from('\0\0\0\0\x02hi'));
    });
  });
  for (let i = 0; i < 50; i++) {
    const res = await h2Response(session.request({ ':method': 'POST', ':path': '/echo.Echo/Say' }), body('x'));
    assert.equal(res.endStream, false);
    const to = sink();
    const trailers = await relayLater(res, to);
    assert.equal(trailers?.['x-trailer'], 'done');
    assert.equal(Buffer.concat(to.received).toString('latin1'), '\0\0\0\0\x02hi');
  }
});

test('h2 upstream connection lost after the head, before the relay started: the relay fails instead of waiting', { timeout: 30_000 }, async (t) => {
  const session = await tunnelledSession(t, (s) => {
    s.resume();
    s.on('end', () => {
      s.respond({ ':status': 200 });
      s.write('partial');
      setTimeout(() => s.session?.destroy(), 20);
    });
  });
  const res = await h2Response(session.request({ ':method': 'POST', ':path': '/' }), body('x'));
  await new Promise((r) => setTimeout(r, 100));
  await assert.rejects(relayLater(res, sink()), /upstream reset the stream \(code \d+\)/);
});

test('HTTP/1.1 answer already complete before the relay started: the relay settles with the body', { timeout: 30_000 }, async (t) => {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('short'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  // As the waypoint's agents do, the agent makes its own connections (there: HBONE streams).
  const agent = new http.Agent({ keepAlive: true });
  (agent as unknown as { createConnection: () => net.Socket }).createConnection = () => net.connect(port, '127.0.0.1');
  t.after(() => {
    agent.destroy();
    server.close();
  });
  const res = await h1Response(agent, 'POST', '/', 'app', { 'content-length': '1' }, body('x'), () => undefined);
  await new Promise((r) => setTimeout(r, 50));
  const to = sink();
  assert.equal(await relayLater(res, to), undefined);
  assert.equal(Buffer.concat(to.received).toString(), 'short');
});
