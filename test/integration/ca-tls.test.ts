// Loopback integration: port 15012's TLS (CA + xDS) refuses session resumption, before and after the serving
// certificate is replaced (root rotation), so a client's certificate is checked on every connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import { openFileStore } from '../../src/controlplane/store/file-store.js';
import { startCaServer } from '../../src/controlplane/ca/index.js';
import { silentLogger } from '../../src/lib/log.js';

/** One TLS 1.3 connection with ALPN h2 (as gRPC), optionally offering `session`; resolves after the tickets arrived. */
function connect(port: number, session?: Buffer): Promise<{ reused: boolean; ticket?: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'], rejectUnauthorized: false, session });
    let ticket: Buffer | undefined;
    let reused = false;
    const timer = setTimeout(() => reject(new Error('no outcome within 5 s')), 5000);
    s.on('session', (t: Buffer) => (ticket = t));
    s.on('secureConnect', () => {
      reused = s.isSessionReused();
      // The server's SETTINGS and its tickets follow the handshake; read a little, then leave.
      setTimeout(() => s.destroy(), 200);
    });
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ reused, ticket });
    });
  });
}

test('CA/xDS port: an offered session is never resumed, also after the serving certificate changed', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-ca-tls-'));
  const store = await openFileStore(join(dir, 'store'));
  const ca = await startCaServer({ dataDir: dir, store, listen: { host: '127.0.0.1', port: 0 }, metrics: new Registry(), log: silentLogger() });
  t.after(async () => {
    await ca.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  for (const phase of ['first serving certificate', 'after root rotation']) {
    const first = await connect(ca.port);
    assert.ok(first.ticket, `${phase}: the server sent a ticket the client can offer`);
    const second = await connect(ca.port, first.ticket);
    assert.equal(second.reused, false, `${phase}: the offered session was not resumed`);
    if (phase === 'first serving certificate') await ca.rotateRoot();
  }
});
