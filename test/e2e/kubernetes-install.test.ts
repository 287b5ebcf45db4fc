// e2e: the Helm chart and `ambit install` against real parts built from the Go modules — helm lint passes, `helm
// template` renders exactly the objects `ambit install --dry-run` prints, the API server accepts them in a
// server-side dry-run apply, and `ambit install` / `ambit uninstall --purge` apply and remove them for real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { runCommand } from '../../src/platform/index.js';
import { KubeFixture } from '../../src/sandbox/testing/kube-fixture.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = `${ROOT}dist/src/main.js`;
const CHART = `${ROOT}manifests/ambit`;

type Obj = { kind: string; metadata: { name: string; namespace?: string } };

function docs(text: string): Obj[] {
  return parseAllDocuments(text).map((d) => d.toJSON() as Obj).filter((o) => o && typeof o === 'object');
}

const keyOf = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

test('Helm chart: lint, template = ambit install --dry-run, server-side dry run, install and uninstall', { timeout: 240_000 }, async (t) => {
  const helm = (await runCommand([`${ROOT}scripts/kube/build.sh`, '--print-helm'])).stdout.trim();
  assert.match((await runCommand([helm, 'version', '--short'])).stdout, /^v4\./);
  const lint = await runCommand([helm, 'lint', CHART]);
  assert.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);

  const rendered = (await runCommand([helm, 'template', 'ambit', CHART, '--namespace', 'mesh-system', '--include-crds', '--set', 'image=registry.example/ambit:9'])).stdout;
  const ours = (await runCommand([process.execPath, MAIN, '-n', 'mesh-system', 'install', '--dry-run', '--image', 'registry.example/ambit:9'])).stdout;
  const a = new Map(docs(rendered).map((o) => [keyOf(o), o]));
  const b = new Map(docs(ours).map((o) => [keyOf(o), o]));
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), 'the same objects');
  for (const [k, o] of a) assert.deepEqual(o, b.get(k), `${k} rendered the same by helm and ambit install`);
  assert.ok(a.size > 20, `CRDs, RBAC, control plane, ztunnel and node agent (got ${a.size})`);

  const kube = await KubeFixture.start(t);
  await kube.kubectl(['create', 'namespace', 'mesh-system']);
  const dry = await kube.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: rendered, timeoutMs: 60_000 });
  for (const k of a.keys()) {
    const [kind, , name] = k.split('/');
    assert.match(dry, new RegExp(`^${kind!.toLowerCase()}[^/\\s]*/${name} serverside-applied \\(server dry run\\)$`, 'm'), `${k} passes the server-side dry run`);
  }

  const ambit = (args: string[]) => runCommand([process.execPath, MAIN, '--kubeconfig', kube.cp.kubeconfig, ...args], { timeoutMs: 60_000 });
  const installed = await ambit(['install', '--image', 'registry.example/ambit:9']);
  assert.match(installed.stdout, /^daemonset\/ztunnel -n istio-system applied$/m);
  assert.match(installed.stdout, /^Ambit installed in namespace istio-system/m);
  const ds = JSON.parse(await kube.kubectl(['get', 'daemonset', 'ztunnel', '-n', 'istio-system', '-o', 'json'])) as { spec: { template: { spec: { containers: Array<{ image: string }> } } } };
  assert.equal(ds.spec.template.spec.containers[0]!.image, 'registry.example/ambit:9');
  assert.match(await kube.kubectl(['get', 'crd', 'authorizationpolicies.security.istio.io', '-o', 'name']), /authorizationpolicies/);
  // Applying again changes nothing and fails nothing (server-side apply is idempotent).
  await ambit(['install', '--image', 'registry.example/ambit:9']);

  const removed = await ambit(['uninstall', '--purge']);
  assert.match(removed.stdout, /^deployment\/ambit-controlplane -n istio-system deleted$/m);
  assert.match(removed.stdout, /^customresourcedefinition\/authorizationpolicies\.security\.istio\.io deleted$/m);
  // The API server finalizes a deleted CRD on its own time (its CRs are removed first): gone, or on its way out.
  const crdsLeft = JSON.parse(await kube.kubectl(['get', 'crd', '-o', 'json'])) as { items: Array<{ metadata: { name: string; deletionTimestamp?: string } }> };
  for (const crd of crdsLeft.items.filter((c) => /istio\.io|gateway\.networking\.k8s\.io/.test(c.metadata.name))) {
    assert.ok(crd.metadata.deletionTimestamp, `${crd.metadata.name} is being deleted`);
  }
  assert.equal((await kube.kubectl(['get', 'daemonsets,deployments', '-n', 'istio-system', '-o', 'name'])).trim(), '');

  // Without a cluster, install says what it needs instead of touching anything.
  const refused = await runCommand([process.execPath, MAIN, '--data-dir', '/nonexistent', 'install']).then(() => undefined, (e: { stderr: string }) => e.stderr);
  assert.match(refused ?? '', /install needs a Kubernetes cluster: pass --kubeconfig/);
});
