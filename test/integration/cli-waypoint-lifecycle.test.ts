// `ambit waypoint generate|apply|status|delete` against a real control plane and its waypoint controller (the
// sandbox's pod runner is played by helpers/fake-kubelet.ts: no network namespaces in this tier). Proves: the
// generated Gateway, apply's output and namespace enrolment, the Pod (running `ambit waypoint run`) and Service the
// controller makes, Gateway status from AddressNotAssigned to Programmed with the Service's address, mesh route
// status (Accepted, ResolvedRefs), delete unbinding the namespace and the controller removing what it made, and
// the CLI's refusals (reserved name, names with --all, bad --for).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lines, runAmbit, startControlPlane } from './helpers/cli-harness.js';
import { fakeRunWaypoint } from './helpers/fake-kubelet.js';
import { ApiClient } from '../../src/controlplane/client/index.js';
import { kindByName, type KubeObject } from '../../src/api/index.js';

const GATEWAY = kindByName('Gateway')!;
const NAMESPACE = kindByName('Namespace')!;
const POD = kindByName('Pod')!;
const SERVICE = kindByName('Service')!;
const HTTPROUTE = kindByName('HTTPRoute')!;

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const programmed = (gw: KubeObject) => (gw.status?.conditions ?? []).find((c) => c.type === 'Programmed');

test('waypoint lifecycle: generate, apply --enroll-namespace, controller, status, route status, delete', { timeout: 90_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ambit-waypoint-life-'));
  const cp = await startControlPlane(dataDir);
  const api = new ApiClient({ endpoint: { socketPath: join(dataDir, 'ambit.sock') } });
  t.after(async () => {
    api.close();
    cp.kill('SIGKILL');
    await new Promise((r) => cp.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  });
  const file = join(dataDir, 'objects.yaml');
  writeFileSync(file, `
apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { istio.io/dataplane-mode: ambient } }
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: shop }
spec: { selector: { app: echo }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: lone, namespace: shop, labels: { istio.io/use-waypoint: none } }
spec: { selector: { app: lone }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
`);
  assert.equal((await runAmbit(dataDir, ['apply', '-f', file])).code, 0);

  const generated = await runAmbit(dataDir, ['waypoint', 'generate', '-n', 'shop', '--for', 'workload']);
  assert.equal(generated.code, 0, generated.stderr);
  assert.equal(generated.stdout, [
    'apiVersion: gateway.networking.k8s.io/v1', 'kind: Gateway', 'metadata:', '  name: waypoint', '  namespace: shop', '  labels:',
    '    istio.io/waypoint-for: workload', 'spec:', '  gatewayClassName: istio-waypoint', '  listeners:', '    - name: mesh', '      port: 15008',
    '      protocol: HBONE', '',
  ].join('\n'));

  // apply --enroll-namespace binds the namespace only once the waypoint is programmed.
  const applying = runAmbit(dataDir, ['waypoint', 'apply', '-n', 'shop', '--enroll-namespace', '--waypoint-timeout', '30s']);

  // The controller: a Pod running this build's `waypoint run`, a Service, and status saying what it waits for.
  const pod = await until('the waypoint pod', async () => (await api.list(POD, { namespace: 'shop' })).items.find((p) => p.metadata.name.startsWith('waypoint-')));
  assert.match(pod.metadata.name, /^waypoint-[b-z2-9]{5}$/);
  const spec = pod.spec as { serviceAccountName: string; containers: Array<{ command: string[]; readinessProbe: unknown }> };
  assert.equal(spec.serviceAccountName, 'waypoint');
  const cmd = spec.containers[0]!.command;
  assert.deepEqual(cmd.slice(cmd.indexOf('-n'), cmd.indexOf('--xds-address') + 1), ['-n', 'shop', 'waypoint', 'run', '--name', 'waypoint', '--xds-address']);
  assert.deepEqual(spec.containers[0]!.readinessProbe, { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 1 });
  assert.equal(pod.metadata.labels?.['gateway.istio.io/managed'], 'istio.io-mesh-controller');
  const svc = await api.get(SERVICE, 'shop', 'waypoint');
  assert.deepEqual((svc.spec as { ports: Array<{ name: string; port: number }> }).ports.map((p) => `${p.name}:${p.port}`), ['mesh:15008', 'status-port:15021']);
  const pending = await until('Programmed=False', async () => {
    const gw = await api.get(GATEWAY, 'shop', 'waypoint');
    return programmed(gw)?.status === 'False' ? gw : undefined;
  });
  assert.equal(programmed(pending)?.reason, 'AddressNotAssigned');
  const waiting = await runAmbit(dataDir, ['waypoint', 'status', '-n', 'shop', '--no-wait']);
  assert.equal(waiting.code, 1, 'status exits 1 while a waypoint is not programmed');
  assert.match(waiting.stdout, /^waypoint +False +Programmed +AddressNotAssigned +waiting for the waypoint Service to get an address$/m);
  assert.equal((await api.get(NAMESPACE, undefined, 'shop')).metadata.labels?.['istio.io/use-waypoint'], undefined, 'not bound before the waypoint is ready');

  await fakeRunWaypoint(api, 'shop', 'waypoint', '10.96.0.77');
  const applied = await applying;
  assert.equal(applied.code, 0, applied.stderr);
  assert.deepEqual(lines(applied.stdout), ['waypoint shop/waypoint applied', 'namespace shop labeled with "istio.io/use-waypoint: waypoint"']);
  assert.equal((await api.get(NAMESPACE, undefined, 'shop')).metadata.labels?.['istio.io/use-waypoint'], 'waypoint');
  const ready = await until('Programmed=True', async () => {
    const gw = await api.get(GATEWAY, 'shop', 'waypoint');
    return programmed(gw)?.status === 'True' ? gw : undefined;
  });
  assert.deepEqual((ready.status as { addresses: unknown[] }).addresses, [{ type: 'IPAddress', value: '10.96.0.77' }]);
  const st = await runAmbit(dataDir, ['waypoint', 'status', '-n', 'shop', '--waypoint-timeout', '5s']);
  assert.equal(st.code, 0, st.stdout);
  assert.deepEqual(lines(st.stdout), [
    'NAME       STATUS   TYPE         REASON       MESSAGE',
    'waypoint   True     Programmed   Programmed   Resource programmed, assigned to service(s) waypoint.shop.svc.cluster.local:15008',
  ]);

  // Mesh route status: bound parent accepted, missing backend reported; a Service without a waypoint is not accepted.
  await api.create({
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'split', namespace: 'shop' },
    spec: {
      parentRefs: [{ group: '', kind: 'Service', name: 'echo', port: 80 }, { group: '', kind: 'Service', name: 'lone' }],
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/ext' } }], filters: [{ type: 'ExtensionRef', extensionRef: { group: 'example.io', kind: 'Filter', name: 'x' } }], backendRefs: [{ name: 'echo', port: 80 }] },
        { backendRefs: [{ name: 'echo', port: 80 }, { name: 'gone', port: 80 }] },
      ],
    },
  });
  const route = await until('route status', async () => {
    const r = await api.get(HTTPROUTE, 'shop', 'split');
    return (r.status as { parents?: unknown[] } | undefined)?.parents?.length === 2 ? r : undefined;
  });
  const parents = (route.status as { parents: Array<{ parentRef: { name: string }; controllerName: string; conditions: Array<{ type: string; status: string; reason: string; message: string }> }> }).parents;
  const cond = (parent: string, type: string) => parents.find((p) => p.parentRef.name === parent)!.conditions.find((c) => c.type === type)!;
  assert.equal(parents[0]!.controllerName, 'istio.io/gateway-controller');
  assert.deepEqual([cond('echo', 'Accepted').status, cond('echo', 'Accepted').reason], ['True', 'Accepted']);
  assert.match(cond('echo', 'Accepted').message, /bound to waypoint shop\/waypoint/);
  assert.deepEqual([cond('echo', 'ResolvedRefs').status, cond('echo', 'ResolvedRefs').reason], ['False', 'BackendNotFound']);
  assert.match(cond('echo', 'ResolvedRefs').message, /Service shop\/gone does not exist/);
  // What the waypoints' routing engine cannot enforce is in the status too (Gateway API's PartiallyInvalid).
  assert.deepEqual([cond('echo', 'PartiallyInvalid').status, cond('echo', 'PartiallyInvalid').reason], ['True', 'UnsupportedValue']);
  assert.match(cond('echo', 'PartiallyInvalid').message, /spec\.rules\[0\]\.filters\[0\]: filter ExtensionRef is not supported/);
  assert.deepEqual([cond('lone', 'Accepted').status, cond('lone', 'Accepted').reason], ['False', 'NoMatchingParent']);
  assert.match(cond('lone', 'Accepted').message, /uses no waypoint/);

  // Refusals.
  const none = await runAmbit(dataDir, ['waypoint', 'apply', '-n', 'shop', '--name', 'none']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /"none" is a reserved value/);
  const both = await runAmbit(dataDir, ['waypoint', 'delete', 'waypoint', '--all', '-n', 'shop']);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /cannot use waypoint names together with --all/);
  const badFor = await runAmbit(dataDir, ['waypoint', 'apply', '-n', 'shop', '--for', 'pods']);
  assert.equal(badFor.code, 1);
  assert.match(badFor.stderr, /--for: "pods" is not one of service, workload, all, none/);

  // Delete: the namespace is unbound, the Gateway goes, and the controller removes the Pod and Service it made.
  const deleted = await runAmbit(dataDir, ['waypoint', 'delete', 'waypoint', '-n', 'shop']);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.deepEqual(lines(deleted.stdout), ['namespace shop unlabeled "istio.io/use-waypoint"', 'waypoint shop/waypoint deleted']);
  assert.equal((await api.get(NAMESPACE, undefined, 'shop')).metadata.labels?.['istio.io/use-waypoint'], undefined);
  await until('the waypoint pod and service removed', async () =>
    !(await api.list(POD, { namespace: 'shop' })).items.some((p) => p.metadata.name.startsWith('waypoint-'))
    && !(await api.list(SERVICE, { namespace: 'shop' })).items.some((s) => s.metadata.name === 'waypoint'));
});
