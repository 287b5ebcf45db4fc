// `ambit x describe pod` against a real control plane (no sandbox): a pod enrolled through its namespace, a DENY
// policy selecting it, and a namespace that asks for a waypoint that does not exist. The page must say why the pod
// is enrolled, what the policy refuses, that no waypoint fronts it and why, and give commands that fix it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAmbit, startControlPlane } from './helpers/cli-harness.js';
import { ApiClient } from '../../src/controlplane/client/index.js';

const FIXTURE = `
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: { istio.io/dataplane-mode: ambient, istio.io/use-waypoint: shop-waypoint }
---
apiVersion: v1
kind: Pod
metadata: { name: cart, namespace: shop, labels: { app: cart } }
spec:
  serviceAccountName: cart
  nodeName: node1
  containers: [{ name: cart, command: [sleep, infinity], ports: [{ name: http, containerPort: 8080 }] }]
---
apiVersion: v1
kind: Service
metadata: { name: cart, namespace: shop }
spec:
  selector: { app: cart }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-frontend, namespace: shop }
spec:
  selector: { matchLabels: { app: cart } }
  action: DENY
  rules:
    - from: [{ source: { principals: [cluster.local/ns/shop/sa/frontend] } }]
      to: [{ operation: { ports: ["8080"] } }]
`;

test('x describe pod explains a denied pod with a missing waypoint', { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ambit-xdescribe-'));
  const cp = await startControlPlane(dataDir);
  const api = new ApiClient({ endpoint: { socketPath: join(dataDir, 'ambit.sock') } });
  t.after(async () => {
    api.close();
    if (cp.exitCode === null && cp.signalCode === null) {
      cp.kill('SIGKILL');
      await new Promise((r) => cp.once('exit', r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
  const file = join(dataDir, 'fixture.yaml');
  writeFileSync(file, FIXTURE);
  const applied = await runAmbit(dataDir, ['apply', '-f', file]);
  assert.equal(applied.code, 0, applied.stderr);
  // What the sandbox would report for a running pod: the control plane makes a workload record only for pods with an IP.
  await api.updateStatus({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'cart', namespace: 'shop' }, status: { phase: 'Running', podIP: '10.244.1.7', hostIP: '10.10.0.11' } });

  // The ambient index is eventually consistent with the store: poll until the policy reached the workload.
  let out = '';
  for (let i = 0; i < 50; i++) {
    const r = await runAmbit(dataDir, ['x', 'describe', 'pod', 'cart', '-n', 'shop']);
    assert.equal(r.code, 0, r.stderr);
    out = r.stdout;
    if (out.includes('DENY  shop/deny-frontend') && out.includes('REFUSED')) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const ambit = `ambit --data-dir ${dataDir}`;
  // Who and where.
  assert.match(out, /^Pod: +shop\/cart$/m);
  assert.match(out, /^Node: +node1 \(10\.10\.0\.11\)$/m);
  assert.match(out, /^Identity: +spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart$/m);
  // Enrolment and why (namespace label), and that nothing captured it yet (no node agent here).
  assert.match(out, /^Ambient mode: +ENROLLED — namespace shop is labelled istio\.io\/dataplane-mode=ambient and the pod has no label of its own$/m);
  assert.match(out, /Capture: +not yet: the node agent on node1 has not installed capture rules/);
  assert.match(out, /protocol HBONE \(mTLS\)/);
  // Certificate: no ztunnel runs, and the page says so rather than guessing.
  assert.match(out, /^Certificate: +not checked: ztunnel admin for node node1 is not reachable .*is ztunnel running on node1\?$/m);
  // The DENY policy, what it refuses, and the effect.
  assert.match(out, /^ {2}DENY {2}shop\/deny-frontend {2}\(selects this pod\)$/m);
  assert.match(out, /^ +denies: from principal cluster\.local\/ns\/shop\/sa\/frontend and to port 8080$/m);
  assert.match(out, /Effect: +connections matching a DENY rule above are refused; everything else is allowed/);
  // The waypoint: requested by the namespace label and missing, so traffic to the Service is refused (fail closed) —
  // with the reason; traffic to the pod itself is not service traffic, so it stays direct.
  assert.match(out, /^ {2}Service cart (\S+ )?\(80->8080\): +REFUSED — bound to a waypoint that is not ready \(WaypointIsNotReady\): waypoint Gateway shop\/shop-waypoint \(from the istio\.io\/use-waypoint label of namespace shop\) does not exist; traffic is refused until it does \(fail closed\)$/m);
  assert.match(out, /^ {2}To the pod itself: +direct — namespace shop's istio\.io\/use-waypoint label asks for shop\/shop-waypoint, but waypoint Gateway shop\/shop-waypoint does not exist$/m);
  // Hints a newcomer can act on: exact commands.
  assert.match(out, /^Hints:$/m);
  assert.ok(out.includes(`shop/deny-frontend (DENY) refuses from principal cluster.local/ns/shop/sa/frontend and to port 8080; if that is not intended: \`${ambit} delete authorizationpolicy deny-frontend -n shop\``), out);
  assert.ok(out.includes(`\`${ambit} label namespace shop istio.io/use-waypoint-\``), out);

  // The hinted command works: after it, the policy is gone from the page.
  const del = await runAmbit(dataDir, ['delete', 'authorizationpolicy', 'deny-frontend', '-n', 'shop']);
  assert.equal(del.code, 0, del.stderr);
  for (let i = 0; i < 50; i++) {
    out = (await runAmbit(dataDir, ['x', 'describe', 'pod', 'cart', '-n', 'shop'])).stdout;
    if (!out.includes('deny-frontend')) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.match(out, /Policies \(ztunnel, L4\): none apply/);

  // A pod that does not exist: one clear error line, exit 1.
  const missing = await runAmbit(dataDir, ['x', 'describe', 'pod', 'nope', '-n', 'shop']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'error: pod "nope" not found in namespace shop\n');
});

test('x describe pod: an opted-out pod is explained as not enrolled, with no enrol hint', { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ambit-xdescribe-'));
  const cp = await startControlPlane(dataDir);
  t.after(async () => {
    cp.kill('SIGKILL');
    await new Promise((r) => cp.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  });
  const file = join(dataDir, 'f.yaml');
  writeFileSync(file, `
apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { istio.io/dataplane-mode: ambient } }
---
apiVersion: v1
kind: Pod
metadata: { name: legacy, namespace: shop, labels: { istio.io/dataplane-mode: none } }
spec: { containers: [{ name: app, command: [sleep, infinity] }] }
`);
  assert.equal((await runAmbit(dataDir, ['apply', '-f', file])).code, 0);
  const r = await runAmbit(dataDir, ['x', 'describe', 'pod', 'legacy', '-n', 'shop']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Ambient mode: +NOT enrolled — the pod is labelled istio\.io\/dataplane-mode=none, which opts it out whatever its namespace says$/m);
  assert.match(r.stdout, /^Node: +<not scheduled>$/m);
  assert.match(r.stdout, /^Certificate: +not checked: the pod is not scheduled on a node yet$/m);
  assert.doesNotMatch(r.stdout, /to enroll it/);
});
