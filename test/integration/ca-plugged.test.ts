// Plugged-in CA (Istio's `cacerts` layout): the CA signs as the given intermediate, chains are leaf, ca-cert, root
// bundle and pass `openssl verify`; broken directories fail at startup with a message naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { openFileStore } from '../../src/controlplane/store/file-store.js';
import { startCaServer } from '../../src/controlplane/ca/index.js';
import { exited, runAmbit, startControlPlane } from './helpers/cli-harness.js';
import { silentLogger } from '../../src/lib/log.js';
import { readNodeToken } from '../../src/lib/certs/node-token.js';
import { createCaClient } from '../../src/lib/certs/ca-client.js';
import { CertificateManager } from '../../src/lib/certs/certificate-manager.js';
import { x509, ECDSA_SHA256 } from '../../src/lib/certs/x509.js';
import { generateP256KeyPair, privateKeyToPem, splitCertificates } from '../../src/lib/certs/proxy-x509.js';

async function makeCacerts(dir: string): Promise<{ rootPem: string; caPem: string; otherKeyPem: string }> {
  const rootKeys = await generateP256KeyPair();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=Test Root, O=example',
    keys: rootKeys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true), await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey)],
  });
  const caKeys = await generateP256KeyPair();
  const ca = await x509.X509CertificateGenerator.create({
    subject: 'CN=Test Intermediate, O=example',
    issuer: root.subjectName,
    publicKey: caKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: ECDSA_SHA256,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 30 * 86_400_000),
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true), await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey), await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey)],
  });
  const rootPem = root.toString('pem') + '\n';
  const caPem = ca.toString('pem') + '\n';
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'ca-cert.pem'), caPem);
  await writeFile(join(dir, 'ca-key.pem'), await privateKeyToPem(caKeys.privateKey), { mode: 0o600 });
  await writeFile(join(dir, 'cert-chain.pem'), caPem + rootPem); // Istio's usual content: ca-cert then root
  await writeFile(join(dir, 'root-cert.pem'), rootPem);
  return { rootPem, caPem, otherKeyPem: await privateKeyToPem((await generateP256KeyPair()).privateKey) };
}

test('a plugged-in intermediate signs leaves; chains are leaf, ca-cert, root bundle', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-ca-plug-'));
  const store = await openFileStore(join(dir, 'store'));
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const cacerts = join(dir, 'cacerts');
  const { rootPem, caPem, otherKeyPem } = await makeCacerts(cacerts);
  const ca = await startCaServer({ dataDir: dir, pluggedCaDir: cacerts, source: store, listen: { host: '127.0.0.1', port: 0 }, metrics: new Registry(), log: silentLogger() });
  t.after(() => ca.close());
  assert.equal(ca.rootBundlePem(), rootPem);
  assert.equal(ca.status().mode, 'plugged-in');
  await assert.rejects(ca.rotateRoot(), /plugged-in certificate/);

  await store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
  await store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns1' }, spec: { nodeName: 'n1', serviceAccountName: 'sa1', containers: [] } });
  let token: string | undefined;
  for (let i = 0; i < 200 && !token; i++) {
    token = await readNodeToken(dir, 'n1');
    if (!token) await new Promise((r) => setTimeout(r, 20));
  }
  const client = createCaClient({ address: `127.0.0.1:${ca.port}`, rootCertPem: rootPem, token });
  const manager = new CertificateManager({ signer: client.signer });
  t.after(() => {
    manager.close();
    client.close();
  });
  const cert = await manager.fetch('spiffe://cluster.local/ns/ns1/sa/sa1');
  assert.equal(cert.certChainPem.length, 2);
  assert.equal(cert.certChainPem[1], splitCertificates(caPem)[0]);
  assert.deepEqual(cert.rootsPem, [splitCertificates(rootPem)[0]]);
  await writeFile(join(dir, 'leaf.pem'), cert.certChainPem[0]!);
  const r = spawnSync('openssl', ['verify', '-CAfile', join(cacerts, 'root-cert.pem'), '-untrusted', join(cacerts, 'ca-cert.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);

  // Broken directories: each names the offending file.
  const broken = join(dir, 'broken');
  await makeCacerts(broken);
  await writeFile(join(broken, 'ca-key.pem'), otherKeyPem);
  await assert.rejects(startCaServer({ dataDir: join(dir, 'b1'), pluggedCaDir: broken, source: store, listen: { host: '127.0.0.1', port: 0 }, metrics: new Registry(), log: silentLogger() }), (err: Error) => {
    assert.equal(err.message, `plugged-in CA: ${join(broken, 'ca-key.pem')} is not the private key of ${join(broken, 'ca-cert.pem')}`);
    return true;
  });
  await unlink(join(broken, 'cert-chain.pem'));
  await assert.rejects(startCaServer({ dataDir: join(dir, 'b2'), pluggedCaDir: broken, source: store, listen: { host: '127.0.0.1', port: 0 }, metrics: new Registry(), log: silentLogger() }), /cert-chain\.pem: file not found/);
  const foreign = join(dir, 'foreign');
  await makeCacerts(foreign);
  await writeFile(join(foreign, 'root-cert.pem'), (await (async () => {
    const other = join(dir, 'other');
    return (await makeCacerts(other)).rootPem;
  })()));
  await assert.rejects(startCaServer({ dataDir: join(dir, 'b3'), pluggedCaDir: foreign, source: store, listen: { host: '127.0.0.1', port: 0 }, metrics: new Registry(), log: silentLogger() }), /does not chain to any certificate in/);
});

test('--cacerts-dir (an optional cacerts Secret\'s mount): the plugged-in CA when it holds ca-key.pem, else the self-managed root', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-cacerts-dir-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const caMode = async (dataDir: string, cacerts: string): Promise<string> => {
    const child = await startControlPlane(dataDir, ['--cacerts-dir', cacerts]);
    try {
      const r = await runAmbit(dataDir, ['ca', 'show', '-o', 'json']);
      return (JSON.parse(r.stdout) as { mode: string }).mode;
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
  };
  // An empty mount (the Secret does not exist): nothing plugged in.
  await mkdir(join(dir, 'empty'));
  assert.equal(await caMode(join(dir, 'dd1'), join(dir, 'empty')), 'self-managed');
  await makeCacerts(join(dir, 'cacerts'));
  assert.equal(await caMode(join(dir, 'dd2'), join(dir, 'cacerts')), 'plugged-in');
});
