// Loopback integration: port 15012's TLS (CA + xDS) refuses session resumption, before and after the serving
// certificate is replaced (root rotation), so a client's certificate is checked on every connection; a client
// certificate from a foreign CA is reported as untrusted, not as missing credentials.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { istioCertificateServiceDefinition, IstioCertificateRequestSchema } from '../../src/lib/certs/ca-service.js';
import { createWorkloadCsr, generateP256KeyPair } from '../../src/lib/certs/proxy-x509.js';
import { createTestCa } from '../../src/ztunnel/testing/test-ca.js';
import { startIndexedXds } from './helpers/indexed-xds.js';
import { aggregatedDiscoveryServiceDefinition } from '../../src/lib/xds/ads-service.js';
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
  const ca = await startCaServer({ dataDir: dir, source: store, listen: { host: '127.0.0.1', port: 0 }, metrics: new Registry(), log: silentLogger() });
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

test('CA and xDS on one port: a client certificate from a foreign CA is reported as untrusted', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-ca-tls-'));
  const store = await openFileStore(join(dir, 'store'));
  const ca = await startCaServer({ dataDir: dir, source: store, listen: { host: '127.0.0.1', port: 0 }, metrics: new Registry(), log: silentLogger() });
  t.after(async () => {
    await ca.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const identity = 'spiffe://cluster.local/ns/default/sa/web';
  const foreign = (await (await createTestCa('foreign root')).issue(identity)).tlsOptions();
  const Client = grpc.makeGenericClientConstructor(istioCertificateServiceDefinition, 'IstioCertificateService');
  const creds = grpc.credentials.createSsl(Buffer.from(ca.rootBundlePem()), Buffer.from(foreign.key), Buffer.from(foreign.cert));
  const client = new Client(`127.0.0.1:${ca.port}`, creds, { 'grpc.ssl_target_name_override': 'ambit-controlplane' });
  t.after(() => client.close());
  const req = create(IstioCertificateRequestSchema, { csr: await createWorkloadCsr(identity, await generateP256KeyPair()), validityDuration: 0n });
  const err = await new Promise<grpc.ServiceError | null>((resolve) => {
    (client as unknown as { CreateCertificate: (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void })
      .CreateCertificate(req, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e) => resolve(e));
  });
  assert.ok(err, 'the call was refused');
  assert.equal(err.code, grpc.status.UNAUTHENTICATED);
  assert.match(err.details, /^client certificate not trusted: it does not verify against the mesh trust bundle \([A-Z_]+\)$/);

  // xDS shares the port (as in controlplane.ts) and reports the same.
  const xds = await startIndexedXds({ source: store, log: silentLogger(), metrics: new Registry(), grpcServer: ca.grpcServer, nodeTokens: ca.nodeTokens, untrustedCertificate: (p) => ca.untrustedCertificate(p) });
  t.after(() => xds.close());
  const Ads = grpc.makeGenericClientConstructor(aggregatedDiscoveryServiceDefinition, 'ADS');
  const ads = new Ads(`127.0.0.1:${ca.port}`, creds, { 'grpc.ssl_target_name_override': 'ambit-controlplane' });
  t.after(() => ads.close());
  const stream = (ads as unknown as { DeltaAggregatedResources(md: grpc.Metadata): grpc.ClientDuplexStream<unknown, unknown> }).DeltaAggregatedResources(new grpc.Metadata());
  stream.on('data', () => undefined);
  const xdsErr = await new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
  assert.equal(xdsErr.code, grpc.status.UNAUTHENTICATED);
  assert.match(xdsErr.details, /client certificate not trusted: it does not verify against the mesh trust bundle \([A-Z_]+\)/);
});
