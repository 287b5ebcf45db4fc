// `ambit waypoint list` against a real control plane: only Gateways of class istio-waypoint, Istio's columns,
// the traffic type a waypoint really takes (own label > class label > service), -n and -A, and the empty case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lines, runAmbit, startControlPlane } from './helpers/cli-harness.js';
import { ApiClient } from '../../src/controlplane/client/index.js';
import { fakeRunWaypoint } from './helpers/fake-kubelet.js';

const GATEWAYS = `
apiVersion: v1
kind: Namespace
metadata: { name: shop }
---
apiVersion: v1
kind: Namespace
metadata: { name: bank }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: waypoint, namespace: shop }
spec:
  gatewayClassName: istio-waypoint
  listeners: [{ name: mesh, port: 15008, protocol: HBONE }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: per-pod, namespace: shop, labels: { istio.io/waypoint-for: workload, istio.io/rev: canary } }
spec:
  gatewayClassName: istio-waypoint
  listeners: [{ name: mesh, port: 15008, protocol: HBONE }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ingress, namespace: shop }
spec:
  gatewayClassName: istio
  listeners: [{ name: http, port: 80, protocol: HTTP }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: bank-waypoint, namespace: bank, labels: { istio.io/waypoint-for: all } }
spec:
  gatewayClassName: istio-waypoint
  listeners: [{ name: mesh, port: 15008, protocol: HBONE }]
`;

test('waypoint list: waypoints only, with revision, traffic type and programmed state', { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ambit-waypoint-list-'));
  const cp = await startControlPlane(dataDir);
  const api = new ApiClient({ endpoint: { socketPath: join(dataDir, 'ambit.sock') } });
  t.after(async () => {
    api.close();
    cp.kill('SIGKILL');
    await new Promise((r) => cp.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  });

  const empty = await runAmbit(dataDir, ['waypoint', 'list', '-n', 'shop']);
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout, 'No waypoints found in namespace shop.\n');

  const file = join(dataDir, 'gw.yaml');
  writeFileSync(file, GATEWAYS);
  const applied = await runAmbit(dataDir, ['apply', '-f', file]);
  assert.equal(applied.code, 0, applied.stderr);
  // The control plane's waypoint controller programs `shop/waypoint` once its pod runs and its Service has an address.
  await fakeRunWaypoint(api, 'shop', 'waypoint', '10.96.0.50');
  for (let i = 0; i < 100 && !/^waypoint +default +service +True$/m.test((await runAmbit(dataDir, ['waypoint', 'list', '-n', 'shop'])).stdout); i++) await new Promise((r) => setTimeout(r, 100));

  const ns = await runAmbit(dataDir, ['waypoint', 'list', '-n', 'shop']);
  assert.equal(ns.code, 0, ns.stderr);
  assert.deepEqual(lines(ns.stdout), [
    'NAME       REVISION   TRAFFIC TYPE   PROGRAMMED',
    'per-pod    canary     workload       False',
    'waypoint   default    service        True',
  ]);

  const all = await runAmbit(dataDir, ['waypoint', 'list', '-A']);
  assert.deepEqual(lines(all.stdout), [
    'NAMESPACE   NAME            REVISION   TRAFFIC TYPE   PROGRAMMED',
    'bank        bank-waypoint   default    all            False',
    'shop        per-pod         canary     workload       False',
    'shop        waypoint        default    service        True',
  ]);

  // The traffic type falls back to the GatewayClass's label.
  writeFileSync(file, `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: istio-waypoint, labels: { istio.io/waypoint-for: all } }
spec: { controllerName: istio.io/mesh-controller }
`);
  assert.equal((await runAmbit(dataDir, ['apply', '-f', file])).code, 0);
  const withClass = await runAmbit(dataDir, ['waypoint', 'list', '-n', 'shop']);
  assert.match(withClass.stdout, /^waypoint +default +all +True$/m);
  assert.match(withClass.stdout, /^per-pod +canary +workload +False$/m);
});
