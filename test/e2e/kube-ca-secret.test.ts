// e2e: on a real kube-apiserver the self-managed CA root outlives the control plane's data dir (an emptyDir in a
// pod): the first control plane saves it to the Secret istio-system/ambit-ca, a restarted one with an empty data dir
// takes the same root back, a rotation is saved and survives the next restart, two control planes starting at once
// end up with one root, and a Secret that is not an Ambit CA is refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runControlPlane } from '../../src/controlplane/controlplane.js';
import { loadKubeconfig } from '../../src/controlplane/client/kubeconfig.js';
import { silentLogger } from '../../src/lib/log.js';
import { runCommand } from '../../src/platform/index.js';
import { KubeFixture } from '../../src/sandbox/testing/kube-fixture.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

test('Kubernetes: the CA root is kept in its Secret across control plane restarts, rotations and races', { timeout: 200_000 }, async (t) => {
  const kube = await KubeFixture.start(t);
  const crds = (await runCommand([process.execPath, MAIN, 'install', '--print-crds'])).stdout;
  await kube.kubectl(['apply', '-f', '-'], { input: crds, timeoutMs: 60_000 });
  await kube.kubectl(['create', 'namespace', 'istio-system']);
  const start = async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ambit-ca-secret-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const cp = await runControlPlane({ dataDir, grpc: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', log: silentLogger(), kube: loadKubeconfig(kube.cp.kubeconfig) });
    return { cp, dataDir };
  };
  const secretKeys = async () => {
    const s = JSON.parse(await kube.kubectl(['get', 'secret', 'ambit-ca', '-n', 'istio-system', '-o', 'json'])) as { type: string; data: Record<string, string> };
    return { type: s.type, keys: Object.keys(s.data).sort() };
  };

  const first = await start();
  const root = first.cp.ca.rootBundlePem();
  const saved = await secretKeys();
  assert.equal(saved.type, 'Opaque');
  assert.equal(saved.keys.filter((k) => /^roots\.[^.]+\.root-key\.pem$/.test(k)).length, 1, `the signing root's key is saved: ${saved.keys.join(', ')}`);
  assert.ok(saved.keys.includes('state.json') && saved.keys.includes('root-cert.pem'));
  await first.cp.close();

  // A new pod: empty data dir, same root.
  const second = await start();
  assert.equal(second.cp.ca.rootBundlePem(), root, 'the restarted control plane took the root back from the Secret');
  const roots = join(second.dataDir, 'ca', 'roots');
  const keyFile = join(roots, readdirSync(roots)[0]!, 'root-key.pem');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the restored key is 0600');

  // A rotation is saved (asynchronously), and the next control plane comes back with both roots.
  const rotation = await second.cp.ca.rotateRoot();
  const rotated = second.cp.ca.rootBundlePem();
  await kube.waitFor('the rotation saved to the Secret', async () => (await secretKeys()).keys.includes(`roots.${rotation.newRootId}.root-key.pem`), 20_000, 250);
  await second.cp.close();
  const third = await start();
  assert.equal(third.cp.ca.rootBundlePem(), rotated, 'both roots of the rotation are back');
  assert.equal(third.cp.ca.status().roots.find((r) => r.role === 'signing')?.id, rotation.newRootId);
  await third.cp.close();

  // Two control planes starting at once with no Secret: one creates it, the other adopts that root.
  await kube.kubectl(['delete', 'secret', 'ambit-ca', '-n', 'istio-system']);
  const [a, b] = await Promise.all([start(), start()]);
  assert.equal(a.cp.ca.rootBundlePem(), b.cp.ca.rootBundlePem(), 'one root for both');
  assert.notEqual(a.cp.ca.rootBundlePem(), rotated, 'a new root, since the Secret was deleted');
  await Promise.all([a.cp.close(), b.cp.close()]);

  // A Secret of that name that is not an Ambit CA: refused by name, nothing half-read.
  await kube.kubectl(['delete', 'secret', 'ambit-ca', '-n', 'istio-system']);
  await kube.kubectl(['create', 'secret', 'generic', 'ambit-ca', '-n', 'istio-system', '--from-literal=ca-key.pem=x']);
  await assert.rejects(start(), /the CA Secret istio-system\/ambit-ca is not an Ambit CA: unexpected key\(s\) ca-key\.pem \(delete it to start a new root\)/);
});
