// Loopback integration: the HBONE server's (15008) TLS hardening with real TLS 1.3 clients. Proves that a client
// offering a session from an earlier connection gets a full handshake whose client-certificate check runs again
// (an expired certificate is refused instead of resumed), and that a client certificate from a foreign CA is
// refused with one log line naming the peer and the reason and a `ambit_tls_handshake_failures_total` increment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { pino } from 'pino';
import { createTestCa } from '../../src/ztunnel/testing/test-ca.js';
import { HboneServer } from '../../src/hbone/hbone-server.js';
import { ZtunnelMetrics } from '../../src/ztunnel/metrics.js';
import type { HandshakeFailureReason } from '../../src/lib/certs/handshake-failure.js';
import type { WorkloadCertificate } from '../../src/lib/certs/certificate-manager.js';

const SERVER_ID = 'spiffe://cluster.local/ns/server/sa/srv';
const CLIENT_ID = 'spiffe://cluster.local/ns/client/sa/cli';

interface LogLine { level: number; msg: string; 'src.addr'?: string; reason?: string }

async function startServer(t: { after(fn: () => unknown): void }, cert: WorkloadCertificate) {
  const failures: HandshakeFailureReason[] = [];
  const logs: LogLine[] = [];
  const metrics = new ZtunnelMetrics();
  const hbone = new HboneServer({
    certificate: cert,
    log: pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) }),
    handler: ({ stream }) => void stream.respond({ ':status': 200 }, { endStream: true }),
    onHandshakeFailure: (reason) => {
      failures.push(reason);
      metrics.tlsHandshakeFailures.inc({ reason });
    },
  });
  const tcp = net.createServer((s) => hbone.handleConnection(s));
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    hbone.destroy();
    await new Promise((resolve) => tcp.close(resolve));
  });
  return { port: (tcp.address() as net.AddressInfo).port, failures, logs, metrics };
}

interface Attempt { reused: boolean; ticket?: Buffer; closedWithoutData: boolean; localPort: number }

/**
 * One raw TLS 1.3 client connection (ALPN h2, mesh certificate), optionally offering `session`. Waits for the
 * server's first bytes (its HTTP/2 SETTINGS: the server accepted us) or the close, and keeps any ticket.
 * `trustServer` skips the client's check of the server certificate.
 */
function attempt(port: number, cert: WorkloadCertificate, session?: Buffer, trustServer = false): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1', port, ...cert.tlsOptions(), minVersion: 'TLSv1.3', ALPNProtocols: ['h2'], session,
      checkServerIdentity: () => undefined, ...(trustServer ? { rejectUnauthorized: false } : {}),
    });
    let ticket: Buffer | undefined;
    let gotData = false;
    let reused = false;
    let localPort = 0;
    const timer = setTimeout(() => reject(new Error('no outcome within 5 s')), 5000);
    s.on('session', (t: Buffer) => (ticket = t));
    s.on('secureConnect', () => {
      reused = s.isSessionReused();
      localPort = s.localPort ?? 0;
    });
    s.on('data', () => {
      gotData = true;
      // Linger briefly so the post-handshake tickets arrive, then leave.
      setTimeout(() => s.destroy(), 200);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ reused, ticket, closedWithoutData: !gotData, localPort });
    });
  });
}

test('hbone 15008: a resumption attempt gets a full handshake, so an expired client certificate is refused', async (t) => {
  const ca = await createTestCa();
  const srv = await startServer(t, await ca.issue(SERVER_ID));
  // Valid now, expired two seconds from now (issued with a backdated not-before).
  const shortLived = await ca.issue(CLIENT_ID, { validForMs: 1500 });
  const first = await attempt(srv.port, shortLived);
  assert.equal(first.closedWithoutData, false, 'the first connection (valid certificate) is accepted');
  assert.ok(first.ticket, 'the server sent a session ticket the client can offer');
  await new Promise((r) => setTimeout(r, 2000));
  const second = await attempt(srv.port, shortLived, first.ticket);
  assert.equal(second.reused, false, 'the offered session was not resumed');
  assert.equal(second.closedWithoutData, true, 'the expired certificate was checked again and refused');
  assert.deepEqual(srv.failures, ['certificate_expired']);
});

test('hbone 15008: a client certificate from a foreign CA is refused, logged once with peer and reason, and counted', async (t) => {
  const ca = await createTestCa();
  const foreignCa = await createTestCa('foreign root');
  const srv = await startServer(t, await ca.issue(SERVER_ID));
  // The foreign client does not know our root either: it skips its own check so the server's is the one tested.
  const outcome = await attempt(srv.port, await foreignCa.issue(CLIENT_ID), undefined, true);
  assert.equal(outcome.closedWithoutData, true);
  // The server reports after it closed; give its event loop a turn.
  for (let i = 0; i < 50 && srv.failures.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(srv.failures, ['unknown_ca']);
  const lines = srv.logs.filter((l) => l.msg.startsWith('hbone tls handshake failed'));
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 40, 'logged as a warning');
  assert.equal(lines[0]!['src.addr'], `127.0.0.1:${outcome.localPort}`);
  assert.equal(lines[0]!.reason, 'unknown_ca');
  assert.match(lines[0]!.msg, /does not chain to a trusted mesh root/);
  const body = (await srv.metrics.render()).body;
  assert.match(body, /^ambit_tls_handshake_failures_total\{reason="unknown_ca"\} 1$/m);
});

test('hbone 15008: a client without a certificate gets the certificate_required alert and is counted', async (t) => {
  const ca = await createTestCa();
  const srv = await startServer(t, await ca.issue(SERVER_ID));
  const s = tls.connect({ host: '127.0.0.1', port: srv.port, ca: [ca.rootPem], minVersion: 'TLSv1.3', ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
  const [err] = (await once(s, 'error')) as [Error & { code?: string }];
  assert.equal(err.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
  for (let i = 0; i < 50 && srv.failures.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(srv.failures, ['certificate_required']);
});
