// Root rotation end to end: during the overlap an old-root leaf and a new-root leaf complete mutual TLS with each
// other (both directions, each side using the bundle from its own CA response), `openssl verify` agrees, retiring
// is refused until forced, and after retirement the bundle holds only the new root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import { openFileStore } from '../../src/controlplane/store/file-store.js';
import { startCaServer, caRoutes, type CaServer } from '../../src/controlplane/ca/index.js';
import { silentLogger } from '../../src/lib/log.js';
import { readNodeToken } from '../../src/lib/certs/node-token.js';
import { createCaClient } from '../../src/lib/certs/ca-client.js';
import { CertificateManager, type WorkloadCertificate } from '../../src/lib/certs/certificate-manager.js';
import { peerIdentityProblem, peerSpiffeId } from '../../src/lib/certs/tls-identity.js';
import { splitCertificates } from '../../src/lib/certs/proxy-x509.js';

const id = (sa: string): string => `spiffe://cluster.local/ns/default/sa/${sa}`;

/** Mutual TLS between two workload certificates; resolves with the identities each side saw. */
async function mtls(serverCert: WorkloadCertificate, clientCert: WorkloadCertificate): Promise<{ serverSaw: string | undefined; clientSaw: string | undefined }> {
  let serverSaw: string | undefined;
  const server = tls.createServer({ ...serverCert.tlsOptions(), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (s) => {
    serverSaw = peerIdentityProblem(s, { trustDomain: 'cluster.local' }) ?? peerSpiffeId(s);
    s.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as { port: number }).port;
    const sock = tls.connect({ host: '127.0.0.1', port, ...clientCert.tlsOptions(), minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    const clientSaw = await new Promise<string | undefined>((resolve, reject) => {
      sock.once('secureConnect', () => resolve(peerIdentityProblem(sock, new Set([serverCert.identity])) ?? peerSpiffeId(sock)));
      sock.once('error', reject);
    });
    await new Promise<void>((r) => sock.once('close', () => r()).resume());
    return { serverSaw, clientSaw };
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

function opensslVerify(dir: string, bundle: string, leaf: string, untrusted: string[]): { ok: boolean; out: string } {
  mkdirSync(dir, { recursive: true });
  const files = { bundle: join(dir, 'bundle.pem'), leaf: join(dir, 'leaf.pem'), untrusted: join(dir, 'untrusted.pem') };
  writeFileSync(files.bundle, bundle);
  writeFileSync(files.leaf, leaf);
  writeFileSync(files.untrusted, untrusted.join(''));
  const args = ['verify', '-CAfile', files.bundle, ...(untrusted.length ? ['-untrusted', files.untrusted] : []), files.leaf];
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: (r.stdout + r.stderr).trim() };
}

test('rotation: old-root and new-root leaves interoperate during the overlap; retiring drops the old root', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-ca-rot-'));
  const store = await openFileStore(join(dir, 'store'));
  let ca: CaServer = await startCaServer({ dataDir: dir, source: store, listen: { host: '127.0.0.1', port: 0 }, metrics: new Registry(), log: silentLogger() });
  const managers: CertificateManager[] = [];
  const clients: { close(): void }[] = [];
  t.after(async () => {
    for (const m of managers) m.close();
    for (const c of clients) c.close();
    await ca.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  await store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' } });
  for (const sa of ['before', 'after', 'later']) {
    await store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: sa, namespace: 'default' }, spec: { nodeName: 'node-a', serviceAccountName: sa, containers: [] } });
  }
  let token: string | undefined;
  for (let i = 0; i < 200 && !token; i++) {
    token = await readNodeToken(dir, 'node-a');
    if (!token) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(token);
  const oldBundle = ca.rootBundlePem();
  const oldRoot = splitCertificates(oldBundle)[0]!;
  // The proxy keeps trusting the CA through the bundle it had before the rotation (the cross certificate bridges).
  const newManager = (): CertificateManager => {
    const client = createCaClient({ address: `127.0.0.1:${ca.port}`, rootCertPem: oldBundle, token });
    clients.push(client);
    const m = new CertificateManager({ signer: client.signer });
    managers.push(m);
    return m;
  };

  const oldLeaf = await newManager().fetch(id('before'));
  assert.deepEqual(oldLeaf.rootsPem, [oldRoot]);

  const routes = caRoutes(ca);
  const route = (path: string) => routes.find((r) => r.path === path)!;
  const rotated = await route('/ambit/v1/ca/rotate').handler({ url: '/ambit/v1/ca/rotate' } as never, Buffer.alloc(0));
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  const status = ca.status();
  assert.equal(status.roots.length, 2);
  assert.deepEqual(status.roots.map((r) => r.role), ['signing', 'previous']);
  const again = await route('/ambit/v1/ca/rotate').handler({ url: '/ambit/v1/ca/rotate' } as never, Buffer.alloc(0));
  assert.equal(again.status, 409, 'a second rotation waits for retirement');

  const newLeaf = await newManager().fetch(id('after'));
  const newRoot = splitCertificates(ca.rootBundlePem())[0]!;
  assert.notEqual(newRoot, oldRoot);
  assert.deepEqual(newLeaf.rootsPem, [newRoot, oldRoot], 'bundle carries both roots during the overlap');
  assert.equal(newLeaf.certChainPem.length, 2, 'new leaves carry the cross certificate');

  // openssl agrees: the new leaf verifies against the new bundle and against the old root alone (via the cross cert);
  // the old leaf verifies against the new bundle.
  const work = join(dir, 'openssl');
  for (const [name, bundle, leaf, untrusted] of [
    ['new leaf, new bundle', ca.rootBundlePem(), newLeaf.certChainPem[0]!, newLeaf.certChainPem.slice(1)],
    ['new leaf, old root only', oldRoot, newLeaf.certChainPem[0]!, newLeaf.certChainPem.slice(1)],
    ['old leaf, new bundle', ca.rootBundlePem(), oldLeaf.certChainPem[0]!, []],
  ] as const) {
    const r = opensslVerify(work, bundle, leaf, [...untrusted]);
    assert.ok(r.ok, `${name}: ${r.out}`);
  }

  // Mutual TLS both ways, each side with the trust bundle of its own certificate.
  assert.deepEqual(await mtls(oldLeaf, newLeaf), { serverSaw: id('after'), clientSaw: id('before') });
  assert.deepEqual(await mtls(newLeaf, oldLeaf), { serverSaw: id('before'), clientSaw: id('after') });

  // Restart during the overlap keeps both roots and the new signer.
  await ca.close();
  ca = await startCaServer({ dataDir: dir, source: store, listen: { host: '127.0.0.1', port: 0 }, metrics: new Registry(), log: silentLogger() });
  assert.deepEqual(ca.status().roots.map((r) => r.role), ['signing', 'previous']);
  const routes2 = caRoutes(ca);
  const retire = routes2.find((r) => r.path === '/ambit/v1/ca/retire-old-root')!;
  const early = await retire.handler({ url: '/ambit/v1/ca/retire-old-root' } as never, Buffer.alloc(0));
  assert.equal(early.status, 409);
  assert.match((early.body as { message: string }).message, /certificates signed by the old root may be valid until/);
  const bad = await retire.handler({ url: '/ambit/v1/ca/retire-old-root' } as never, Buffer.from('{"force":"yes"}'));
  assert.equal(bad.status, 400);
  const forced = await retire.handler({ url: '/ambit/v1/ca/retire-old-root' } as never, Buffer.from('{"force":true}'));
  assert.equal(forced.status, 200, JSON.stringify(forced.body));
  assert.deepEqual(splitCertificates(ca.rootBundlePem()), [newRoot]);

  // After retirement the serving certificate no longer chains to the old root: a proxy that still holds only
  // the pre-rotation bundle is refused by TLS, and one with the current bundle works.
  await assert.rejects(newManager().fetch(id('later')), /UNAVAILABLE/);
  const client = createCaClient({ address: `127.0.0.1:${ca.port}`, rootCertPem: ca.rootBundlePem(), token });
  clients.push(client);
  const current = new CertificateManager({ signer: client.signer });
  managers.push(current);
  const laterLeaf = await current.fetch(id('later'));
  assert.deepEqual(laterLeaf.rootsPem, [newRoot]);
  assert.equal(laterLeaf.certChainPem.length, 1, 'no cross certificate after retirement');
  const stale = opensslVerify(work, ca.rootBundlePem(), oldLeaf.certChainPem[0]!, []);
  assert.equal(stale.ok, false, 'old-root leaves no longer verify once the old root is retired');
});
