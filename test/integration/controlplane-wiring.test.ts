// The assembled control plane: store + REST API + CA + xDS + metrics in one process, exercised through their real ports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runControlPlane } from '../../src/controlplane/index.js';
import { ApiClient } from '../../src/controlplane/client/index.js';
import { createCaClient } from '../../src/lib/certs/ca-client.js';
import { CertificateManager } from '../../src/lib/certs/certificate-manager.js';
import { readNodeToken } from '../../src/lib/certs/node-token.js';
import { silentLogger } from '../../src/lib/log.js';
import { kindByName } from '../../src/api/registry.js';
import * as grpc from '@grpc/grpc-js';
import { XdsClient } from '../../src/lib/xds/xds-client.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../src/lib/xds/type-urls.js';
import { decodeAddress, decodeAuthorization } from '../../src/lib/xds/workload-codec.js';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/stats/prometheus`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The value of an unlabelled sample in a Prometheus text exposition. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `metric ${name} is exposed`);
  return Number(line.split(' ')[1]);
}

test('a node token applied through the API obtains a pod identity from the CA; metrics count it', { timeout: 60_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'ambit-cp-'));
  const cp = await runControlPlane({
    dataDir,
    grpc: { host: '127.0.0.1', port: 0 },
    metrics: { host: '127.0.0.1', port: 0 },
    logLevel: 'silent',
    log: silentLogger(),
  });
  const api = new ApiClient({ endpoint: { socketPath: cp.socketPath } });
  t.after(async () => {
    api.close();
    await cp.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const endpoints = JSON.parse(await readFile(join(dataDir, 'controlplane.json'), 'utf8')) as { grpcPort: number; metricsPort: number };
  assert.equal(endpoints.grpcPort, cp.ports.grpc);
  assert.equal(endpoints.metricsPort, cp.ports.metrics);

  await api.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' } });
  await api.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default' },
    spec: { nodeName: 'node-a', serviceAccountName: 'web', containers: [{ name: 'web', command: ['sleep', '1000'] }] },
  });
  // A pod is a mesh workload once it has an address (the sandbox's pod runner writes this status).
  const web = await api.get(kindByName('Pod')!, 'default', 'web');
  await api.updateStatus({ ...web, status: { phase: 'Running', podIP: '10.244.1.5', podIPs: [{ ip: '10.244.1.5' }] } });
  const token = await waitFor('node token', () => readNodeToken(dataDir, 'node-a'));
  const bundle = await readFile(join(dataDir, 'ca', 'root-cert.pem'), 'utf8');
  const ca = createCaClient({ address: `127.0.0.1:${cp.ports.grpc}`, rootCertPem: bundle, token });
  const certs = new CertificateManager({ signer: ca.signer });
  t.after(() => {
    certs.close();
    ca.close();
  });

  const before = await scrape(cp.ports.metrics!);
  assert.ok(sample(before, 'citadel_server_root_cert_expiry_timestamp') > Date.now() / 1000, 'root expiry is in the future');
  assert.equal(sample(before, 'citadel_server_success_cert_issuance_count'), 0);

  const cert = await certs.fetch('spiffe://cluster.local/ns/default/sa/web');
  assert.ok(cert.tlsOptions().cert, 'a certificate chain was issued');
  await assert.rejects(certs.fetch('spiffe://cluster.local/ns/default/sa/other'), /no pod|not scheduled|may not|denied/i);

  const after = await scrape(cp.ports.metrics!);
  assert.equal(sample(after, 'citadel_server_success_cert_issuance_count'), 1);
  assert.ok(sample(after, 'citadel_server_csr_count') >= 2);

  // The workload xDS service shares the CA's TLS port and its node tokens, as istiod serves both on 15012.
  const xds = new XdsClient({
    address: `127.0.0.1:${cp.ports.grpc}`,
    credentials: grpc.credentials.createSsl(Buffer.from(bundle)),
    token: () => token,
    node: { id: 'ztunnel~10.10.0.2~ztunnel.istio-system~istio-system.svc.cluster.local' },
    types: [
      { typeUrl: ADDRESS_TYPE_URL, decode: decodeAddress },
      { typeUrl: AUTHORIZATION_TYPE_URL, decode: decodeAuthorization },
    ],
    channelOptions: { 'grpc.ssl_target_name_override': 'ambit-controlplane' },
  });
  t.after(() => xds.close());
  xds.start();
  await xds.synchronized();
  const served = [...xds.snapshot().resources(ADDRESS_TYPE_URL).keys()];
  assert.ok(served.includes('Kubernetes//Pod/default/web'), `the pod is served over xDS (got ${served.join(', ')})`);
  const debug = (await api.requestJson('GET', '/debug/ambient')) as Record<string, unknown>;
  assert.equal(typeof debug, 'object');

  // The CA's REST routes are mounted on the API server.
  const info = (await api.requestJson('GET', '/ambit/v1/ca')) as { trustDomain: string };
  assert.equal(info.trustDomain, 'cluster.local');
});
