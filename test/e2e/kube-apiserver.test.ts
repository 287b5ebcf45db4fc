// e2e (root): the real Kubernetes parts built from the Go modules: versions, RBAC'd admin access through the built
// kubectl, the controller manager turning a Deployment into a ReplicaSet and Pods, the scheduler binding them to a Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CommandError } from '../../src/platform/index.js';
import { KubeFixture } from '../../src/sandbox/testing/kube-fixture.js';

const KUBE_VERSION = 'v1.37.2';

interface Obj {
  metadata: { name: string; namespace?: string; ownerReferences?: Array<{ kind: string; name: string }> };
  spec?: { nodeName?: string; replicas?: number };
  status?: { phase?: string };
}

/** A Node as a kubelet registers it (status included, which Node creation keeps): Ready, room for pods. */
function fakeFreeNode(name: string): object {
  return {
    apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' } },
    status: {
      capacity: { cpu: '4', memory: '8Gi', pods: '110' },
      allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'registered by the test',
        lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString() }],
    },
  };
}

test('kube-apiserver, controller manager and scheduler built from the Go modules run and work together', { timeout: 240_000 }, async (t) => {
  const started = Date.now();
  const kube = await KubeFixture.start(t);
  t.diagnostic(`control plane ready in ${Date.now() - started} ms at ${kube.cp.apiServerUrl}`);

  const version = JSON.parse(await kube.kubectl(['version', '-o', 'json'])) as Record<string, { gitVersion: string }>;
  assert.equal(version.clientVersion?.gitVersion, KUBE_VERSION, 'the built kubectl reports its version');
  assert.equal(version.serverVersion?.gitVersion, KUBE_VERSION, 'the built kube-apiserver reports its version');

  // RBAC is on: the admin (system:masters) may do anything, an unknown user nothing.
  assert.equal((await kube.kubectl(['auth', 'can-i', '*', '*', '--all-namespaces'])).trim(), 'yes');
  await assert.rejects(kube.kubectl(['auth', 'can-i', 'list', 'secrets', '--as=someone']),
    (e: unknown) => e instanceof CommandError && e.exitCode === 1, 'an unbound user is refused');

  await kube.kubectl(['create', 'namespace', 'shop']);
  // The service-account controller (controller manager) gives every namespace its `default` ServiceAccount.
  await kube.waitFor('ServiceAccount shop/default', async () => (await kube.getJson(['serviceaccounts', '-n', 'shop'])).items
    .some((sa) => (sa as unknown as Obj).metadata.name === 'default'));
  await kube.kubectl(['create', 'deployment', 'web', '-n', 'shop', '--image=registry.invalid/web:1', '--replicas=2']);

  // The deployment controller makes a ReplicaSet owned by the Deployment; the ReplicaSet controller makes its Pods.
  const rs = await kube.waitFor('a ReplicaSet for deployment web', async () => (await kube.getJson<{ items: Obj[] }>(['replicasets', '-n', 'shop'])).items
    .find((r) => r.metadata.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === 'web')));
  assert.equal(rs.spec?.replicas, 2);
  const pods = await kube.waitFor('two pods of web', async () => {
    const items = (await kube.getJson<{ items: Obj[] }>(['pods', '-n', 'shop'])).items
      .filter((p) => p.metadata.ownerReferences?.some((o) => o.kind === 'ReplicaSet' && o.name === rs.metadata.name));
    return items.length === 2 ? items : undefined;
  });
  for (const p of pods) assert.equal(p.status?.phase, 'Pending', 'no kubelet runs them');
  assert.ok(pods.every((p) => !p.spec?.nodeName), 'no node yet, so nothing is scheduled');

  // A Node appears: the scheduler binds both pods to it (after the node lifecycle controller lifts the not-ready
  // taint that admission puts on every new Node).
  await kube.kubectl(['create', '-f', '-'], { input: JSON.stringify(fakeFreeNode('worker-1')) });
  await kube.waitFor('both pods bound to worker-1', async () => {
    const items = (await kube.getJson<{ items: Obj[] }>(['pods', '-n', 'shop'])).items;
    return items.length === 2 && items.every((p) => p.spec?.nodeName === 'worker-1');
  }, 90_000, 500);

  const pids = kube.cp.pids();
  assert.equal(pids.length, 4, 'etcd, kube-apiserver, kube-controller-manager and kube-scheduler are running');
  await kube.cp.stop();
  // Running means present and not a zombie (an orphan waits for init to reap it).
  const alive = pids.filter((pid) => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  });
  assert.deepEqual(alive, [], 'stop leaves no process behind');
});
