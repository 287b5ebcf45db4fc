// Loopback integration: after a control-plane outage the xDS client (ztunnel's, with its default backoff and
// channel options) is back within 5 s of the server's return. With the old backoff (doubling to 15 s, gRPC's
// channel backoff to 120 s) a 12 s outage left it waiting about 8 s more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { openFileStore } from '../../src/controlplane/store/file-store.js';
import type { XdsServer } from '../../src/controlplane/xds/xds-server.js';
import { startIndexedXds } from './helpers/indexed-xds.js';
import { silentLogger } from '../../src/lib/log.js';
import { x509, ECDSA_SHA256 } from '../../src/lib/certs/x509.js';
import { generateP256KeyPair, privateKeyToPem } from '../../src/lib/certs/proxy-x509.js';
import { ADDRESS_TYPE_URL } from '../../src/lib/xds/type-urls.js';
import { decodeAddress } from '../../src/lib/xds/workload-codec.js';
import { XdsClient } from '../../src/lib/xds/xds-client.js';
import { jitteredDelay } from '../../src/lib/control-plane-backoff.js';

const OUTAGE_MS = 12_000;
const TARGET_MS = 5_000;

async function selfSigned(): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateP256KeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=ambit-controlplane', keys, signingAlgorithm: ECDSA_SHA256,
    notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3_600_000),
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }])],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await privateKeyToPem(keys.privateKey) };
}

test('jittered backoff waits between half and all of the step', () => {
  assert.equal(jitteredDelay(2000, () => 0), 1000);
  assert.equal(jitteredDelay(2000, () => 0.999999), 2000);
  assert.equal(jitteredDelay(10, () => 0.5), 8);
});

test(`xDS client reconnects within ${TARGET_MS / 1000} s after a ${OUTAGE_MS / 1000} s control-plane outage`, { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-xds-reconnect-'));
  const store = await openFileStore(join(dir, 'store'));
  t.after(async () => {
    await store.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  const { certPem, keyPem } = await selfSigned();
  const start = (port: number): Promise<XdsServer> => startIndexedXds({
    source: store, log: silentLogger(), metrics: new Registry(),
    listen: { host: '127.0.0.1', port, credentials: grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(keyPem), cert_chain: Buffer.from(certPem) }], false) },
    nodeTokens: { authenticate: async (tok) => (tok === 'tok' ? { kind: 'node', node: 'node-1' } : undefined) },
  });
  let server = await start(0);
  t.after(() => server.close());
  const port = server.port!;
  // Defaults on purpose: no `backoff`, no reconnect channel options — what ztunnel runs with.
  const client = new XdsClient({
    address: `127.0.0.1:${port}`, credentials: grpc.credentials.createSsl(Buffer.from(certPem)), token: () => 'tok',
    node: { id: 'ztunnel~10.10.0.2~ztunnel.istio-system~istio-system.svc.cluster.local' },
    types: [{ typeUrl: ADDRESS_TYPE_URL, decode: decodeAddress }],
    channelOptions: { 'grpc.ssl_target_name_override': 'localhost' },
  });
  t.after(() => client.close());
  client.start();
  await client.synchronized();
  assert.equal(client.status().connected, true);

  await server.close();
  await new Promise((r) => setTimeout(r, OUTAGE_MS));
  assert.equal(client.status().connected, false);
  server = await start(port);
  const back = performance.now();
  while (!client.status().connected && performance.now() - back < TARGET_MS + 10_000) await new Promise((r) => setTimeout(r, 50));
  const took = performance.now() - back;
  assert.ok(client.status().connected, 'the client came back at all');
  assert.ok(took < TARGET_MS, `reconnected ${Math.round(took)} ms after the control plane was back (target < ${TARGET_MS} ms)`);
});
