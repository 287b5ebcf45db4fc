// e2e: the control plane on a real kube-apiserver keeps a correct mesh view across an API-server restart. While the
// API server is down its watches fail and are retried; on return the resumed watch is too old for the restarted
// server (410 Gone), so the control plane lists again and diffs: the change made after the restart arrives, and no
// workload is lost or announced twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runControlPlane } from '../../src/controlplane/controlplane.js';
import type { KubeSource } from '../../src/controlplane/kube/kube-source.js';
import { loadKubeconfig } from '../../src/controlplane/client/kubeconfig.js';
import { ADDRESS_TYPE_URL } from '../../src/lib/xds/type-urls.js';
import { silentLogger } from '../../src/lib/log.js';
import { runCommand } from '../../src/platform/index.js';
import { KubeFixture } from '../../src/sandbox/testing/kube-fixture.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const PODS = 20;

function pod(i: number): object {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${i}`, namespace: 'shop', labels: { app: 'shop' } },
    spec: { nodeName: 'node1', containers: [{ name: 'c', image: 'ambit/sample-apps', command: ['sleep', 'infinity'] }] },
  };
}

test('control plane on Kubernetes: API-server restart and 410 Gone lose and duplicate nothing', { timeout: 200_000 }, async (t) => {
  const kube = await KubeFixture.start(t);
  const crds = (await runCommand([process.execPath, MAIN, 'install', '--print-crds'])).stdout;
  await kube.kubectl(['apply', '-f', '-'], { input: crds, timeoutMs: 60_000 });
  await kube.kubectl(['create', 'namespace', 'shop']);
  await kube.waitFor('ServiceAccount shop/default', async () => /default/.test(await kube.kubectl(['get', 'serviceaccounts', '-n', 'shop', '-o', 'name'])));
  const setRunning = async (i: number) => {
    await kube.kubectl(['patch', 'pod', `p${i}`, '-n', 'shop', '--subresource=status', '--type=merge', '-p',
      JSON.stringify({ status: { phase: 'Running', podIP: `10.244.1.${i + 1}`, podIPs: [{ ip: `10.244.1.${i + 1}` }] } })]);
  };
  for (let i = 1; i <= PODS; i++) {
    await kube.kubectl(['create', '-f', '-'], { input: JSON.stringify(pod(i)) });
    await setRunning(i);
  }

  const dataDir = mkdtempSync(join(tmpdir(), 'ambit-kcp-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const cp = await runControlPlane({ dataDir, grpc: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', log: silentLogger(), kube: loadKubeconfig(kube.cp.kubeconfig) });
  t.after(() => cp.close());
  const source = cp.store as KubeSource;
  const workloads = () => cp.xds.index.stats().resources[ADDRESS_TYPE_URL] ?? 0;
  const names = () => cp.store.list({ group: '', kind: 'Pod', namespace: 'shop' }).items.map((p) => p.metadata.name).sort();
  assert.equal(names().length, PODS, 'every pod listed at start');
  // Addresses: the pods' workloads, and the API server's own `kubernetes` Service.
  const addresses = workloads();
  assert.equal(addresses, PODS + 1, 'every pod indexed as a workload, plus default/kubernetes');

  const seen = { ADDED: new Map<string, number>(), MODIFIED: new Map<string, number>(), DELETED: new Map<string, number>() };
  const watch = cp.store.watch({ group: '', kind: 'Pod', namespace: 'shop' }, (ev) => {
    const m = seen[ev.type];
    m.set(ev.object.metadata.name, (m.get(ev.object.metadata.name) ?? 0) + 1);
  });
  t.after(() => watch.close());
  const listsBefore = source.stats.lists;

  // Anything written after the last pod event moves the cluster's version on: a watch resumed from the pods'
  // last version is then older than what a restarted API server keeps.
  await kube.kubectl(['create', 'configmap', 'bump', '-n', 'shop', '--from-literal=k=v']);
  await kube.cp.restartApiServer(1000);
  await kube.kubectl(['delete', 'pod', 'p1', '-n', 'shop', '--grace-period=0', '--force']);
  await kube.kubectl(['create', '-f', '-'], { input: JSON.stringify(pod(PODS + 1)) });
  await setRunning(PODS + 1);

  const want = [...Array.from({ length: PODS - 1 }, (_, i) => `p${i + 2}`), `p${PODS + 1}`].sort();
  await kube.waitFor('the control plane caught up after the restart', async () => JSON.stringify(names()) === JSON.stringify(want) && workloads() === addresses, 60_000, 200);
  assert.ok(source.stats.expired >= 1, `the resumed watch expired (410 Gone) at least once (stats ${JSON.stringify(source.stats)})`);
  assert.ok(source.stats.lists > listsBefore, 'and the control plane listed again');
  // No duplicates: only the new pod was added; the relist announced nothing twice; the deleted pod went once.
  assert.deepEqual([...seen.ADDED.entries()], [[`p${PODS + 1}`, 1]]);
  assert.deepEqual([...seen.DELETED.entries()], [['p1', 1]]);
  for (const [name, n] of seen.MODIFIED) assert.ok(name === `p${PODS + 1}` || name === 'p1', `${name} was not re-announced by the relist (${n} MODIFIED)`);
});
