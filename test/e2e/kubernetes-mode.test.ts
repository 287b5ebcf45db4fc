// e2e (root): `ambit cluster create --kubernetes` — a real kube-apiserver, etcd, controller manager and scheduler with
// the sandbox as their kubelet; Ambit's control plane takes config from the API server. Everything the user does
// here goes through the built kubectl: apps applied as a Deployment are scheduled by the real scheduler onto the
// sandbox nodes, `kubectl label namespace` enrols them with no restart (mTLS on 15008, the client's pod IP kept),
// an AuthorizationPolicy applied with kubectl is enforced and its status written back, deleting it restores traffic,
// a deleted pod is stopped and its deletion confirmed, and `cluster delete` leaves nothing running. The node agent and
// ztunnel are the DaemonSets of `ambit install`, scheduled by the real controller manager and scheduler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxFixture } from '../../src/sandbox/testing/sandbox-fixture.js';
import { cniPluginExecutable, runCommand } from '../../src/platform/index.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const KUBE_VERSION = 'v1.37.2';

interface Pod {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string; conditions?: Array<{ type: string; status: string }> };
}

function apps(node: string): string {
  const container = (name: string, command: string[], env: Record<string, string> = {}) => ({
    name, image: 'ambit/sample-apps:dev', command, env: Object.entries(env).map(([n, value]) => ({ name: n, value })),
  });
  const docs = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'echo', namespace: 'shop' } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'client', namespace: 'shop' } },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'echo', namespace: 'shop' },
      spec: {
        replicas: 2, selector: { matchLabels: { app: 'echo' } },
        template: {
          metadata: { labels: { app: 'echo' } },
          spec: { serviceAccountName: 'echo', containers: [container('echo', [node, `${REPO}examples/apps/echo-http.mjs`], { PORT: '8080' })] },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: 'shop' }, spec: { selector: { app: 'echo' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
    {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: 'shop', labels: { app: 'client' } },
      spec: { serviceAccountName: 'client', containers: [container('client', ['sleep', 'infinity'])] },
    },
  ];
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs });
}

interface MeshPod {
  metadata: { name: string; labels?: Record<string, string>; ownerReferences?: Array<{ kind: string }> };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string };
}

const DENY = JSON.stringify({
  apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'deny-client', namespace: 'shop' },
  spec: { selector: { matchLabels: { app: 'echo' } }, action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/client'] } }] }] },
});

const WAYPOINT = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'waypoint', namespace: 'shop' },
    spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] } },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'echo', namespace: 'shop' },
    spec: {
      parentRefs: [{ group: '', kind: 'Service', name: 'echo', port: 80 }],
      rules: [{ filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'x-ambit-waypoint', value: 'shop' }] } }], backendRefs: [{ name: 'echo', port: 80 }] }],
    } },
] });

test('Kubernetes mode: kubectl drives the mesh on a real API server with the sandbox as kubelet', { timeout: 280_000 }, async (t) => {
  const started = Date.now();
  const fx = await SandboxFixture.create(t, 2, { kubernetes: true });
  t.diagnostic(`cluster with Kubernetes ready in ${Date.now() - started} ms`);

  const version = JSON.parse(await fx.kubectl(['version', '-o', 'json'])) as Record<string, { gitVersion: string }>;
  assert.equal(version.clientVersion?.gitVersion, KUBE_VERSION);
  assert.equal(version.serverVersion?.gitVersion, KUBE_VERSION);
  const nodes = JSON.parse(await fx.kubectl(['get', 'nodes', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; spec: { podCIDR: string }; status: { conditions: Array<{ type: string; status: string }>; addresses?: Array<{ type: string; address: string }> } }> };
  assert.deepEqual(nodes.items.map((n) => n.metadata.name).sort(), ['node1', 'node2']);
  for (const n of nodes.items) assert.equal(n.status.conditions.find((c) => c.type === 'Ready')?.status, 'True', `${n.metadata.name} is Ready`);
  // Every Istio and Gateway API kind Ambit serves has its CRD.
  const crds = await fx.kubectl(['get', 'crd', '-o', 'name']);
  for (const crd of ['authorizationpolicies.security.istio.io', 'peerauthentications.security.istio.io', 'httproutes.gateway.networking.k8s.io', 'gateways.gateway.networking.k8s.io']) {
    assert.match(crds, new RegExp(`customresourcedefinition.apiextensions.k8s.io/${crd.replace(/\./g, '\\.')}$`, 'm'));
  }

  // The node components are the DaemonSets of `ambit install`, placed by the real controller manager and scheduler: one
  // pod of each per node, the node agent on the host network (the node's IP), ztunnel on the pod network.
  const daemonSets = (JSON.parse(await fx.kubectl(['get', 'daemonsets', '-n', 'istio-system', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; status: { desiredNumberScheduled: number; numberReady: number } }> }).items;
  assert.deepEqual(daemonSets.map((d) => [d.metadata.name, d.status.desiredNumberScheduled, d.status.numberReady]).sort(), [['ambit-nodeagent', 2, 2], ['ztunnel', 2, 2]]);
  const components = (JSON.parse(await fx.kubectl(['get', 'pods', '-n', 'istio-system', '-o', 'json'])) as { items: MeshPod[] }).items;
  for (const app of ['ambit-nodeagent', 'ztunnel']) {
    const placed = components.filter((p) => p.metadata.labels?.['app'] === app);
    assert.deepEqual(placed.map((p) => p.spec.nodeName).sort(), ['node1', 'node2'], `${app}: one pod per node`);
    for (const p of placed) {
      assert.equal(p.metadata.ownerReferences?.[0]?.kind, 'DaemonSet', `${p.metadata.name} belongs to its DaemonSet`);
      assert.equal(p.status.phase, 'Running');
      const nodeIp = nodes.items.find((n) => n.metadata.name === p.spec.nodeName)!.status.addresses?.find((a) => a.type === 'InternalIP')?.address;
      if (app === 'ambit-nodeagent') assert.equal(p.status.podIP, nodeIp, 'the node agent runs on the host network');
      else {
        // The cluster's address slot depends on what else runs on the machine: compare with the node's own range.
        const podCidr = nodes.items.find((n) => n.metadata.name === p.spec.nodeName)!.spec.podCIDR;
        assert.ok((p.status.podIP ?? '').startsWith(podCidr.replace(/0\/24$/, '')), `ztunnel runs on the pod network (${p.status.podIP} in ${podCidr})`);
      }
    }
  }

  await fx.kubectl(['apply', '-f', '-'], { input: apps(process.execPath) });
  const pods = async () => (JSON.parse(await fx.kubectl(['get', 'pods', '-n', 'shop', '-o', 'json'])) as { items: Pod[] }).items;
  const all = await fx.waitFor('3 shop pods Running and Ready', async () => {
    const items = await pods();
    return items.length === 3 && items.every((p) => p.status.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? items : undefined;
  }, 60_000, 500);
  for (const p of all) assert.ok(['node1', 'node2'].includes(p.spec.nodeName ?? ''), `${p.metadata.name} scheduled onto a sandbox node, got ${p.spec.nodeName}`);
  const wide = await fx.kubectl(['get', 'pods', '-n', 'shop', '-o', 'wide']);
  const clientPod = all.find((p) => p.metadata.name === 'client')!;
  assert.match(wide, new RegExp(`^client +1/1 +Running +0 +\\S+ +${clientPod.status.podIP!.replace(/\./g, '\\.')} +${clientPod.spec.nodeName} `, 'm'));
  const clientIp = all.find((p) => p.metadata.name === 'client')!.status.podIP!;
  // Pod networks come from each node's CNI chain: ptp + host-local (the IP is host-local's lease), then ambit-cni,
  // which the node agent chained into the node's conflist and from whose reports alone it learns pods' netns.
  const ipam = (p: Pod) => join(fx.dataDir, 'nodes', p.spec.nodeName!, 'cni', 'ipam', 'ambit-sandbox', p.status.podIP!);
  for (const p of all) assert.ok(existsSync(ipam(p)), `${p.metadata.name}'s IP ${p.status.podIP} is a host-local lease on ${p.spec.nodeName}`);
  for (const node of ['node1', 'node2']) {
    // The node's /etc/cni/net.d: the node agent pod's hostPath volume (node-files.ts).
    const conflist = JSON.parse(readFileSync(join(fx.dataDir, 'nodes', node, 'root', 'etc', 'cni', 'net.d', '10-ambit-sandbox.conflist'), 'utf8')) as { plugins: Array<{ type: string }> };
    assert.deepEqual(conflist.plugins.map((x) => x.type), ['ptp', 'ambit-cni'], `${node}'s conflist chains ambit-cni after ptp`);
    // The executable the runtime runs is the static one this build made (a node's host has no Node.js).
    assert.ok(readFileSync(join(fx.dataDir, 'nodes', node, 'root', 'opt', 'cni', 'bin', 'ambit-cni')).equals(readFileSync(cniPluginExecutable())), `${node} runs the static ambit-cni`);
  }
  const curl = () => fx.cli(['exec', 'client', '-n', 'shop', '--', 'curl', '-sS', '--max-time', '3', 'http://echo.shop/'], { allowFail: true });

  // Plain traffic first: not enrolled, no capture annotation.
  const plain = await curl();
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, new RegExp(`caller=(::ffff:)?${clientIp.replace(/\./g, '\\.')}:`));

  // Enrol with kubectl: the node agents capture every pod (no restart), traffic is mTLS through ztunnel.
  await fx.kubectl(['label', 'namespace', 'shop', 'istio.io/dataplane-mode=ambient']);
  await fx.waitFor('every shop pod captured', async () => (await pods()).every((p) => p.metadata.annotations?.['ambient.istio.io/redirection'] === 'enabled'), 30_000, 300);
  const restarts = (await pods()).map((p) => p.metadata.name).sort();
  assert.deepEqual(restarts, all.map((p) => p.metadata.name).sort(), 'the same pods, none restarted');
  const meshed = await fx.waitFor('traffic through the mesh', async () => {
    const r = await curl();
    return r.code === 0 ? r.stdout : undefined;
  });
  assert.match(meshed, new RegExp(`caller=(::ffff:)?${clientIp.replace(/\./g, '\\.')}:`), 'the server sees the client pod IP');
  // Each ztunnel is its DaemonSet's pod on the pod network: scraped at its pod IP, as Prometheus would.
  const meshPods = (JSON.parse(await fx.kubectl(['get', 'pods', '-n', 'istio-system', '-o', 'json'])) as { items: MeshPod[] }).items;
  const ztunnels = meshPods.filter((p) => p.metadata.labels?.['app'] === 'ztunnel');
  const metrics = (await Promise.all(ztunnels.map((z) =>
    runCommand(['ip', 'netns', 'exec', `${fx.name}.${z.spec.nodeName}`, 'curl', '-s', `${z.status.podIP}:15020/stats/prometheus`]).then((r) => r.stdout)))).join('\n');
  assert.match(metrics, /istio_tcp_connections_opened_total\{[^}]*reporter="destination"[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/client"[^}]*\}/);
  assert.match(metrics, /connection_security_policy="mutual_tls"/);
  // On Kubernetes the ztunnels proved their node with their pods' service-account tokens: no bootstrap token exists.
  for (const node of ['node1', 'node2']) assert.ok(!existsSync(join(fx.dataDir, 'nodes', node, 'token')), `no bootstrap token for ${node}`);

  // The verbs that read mesh state, through the API server as istioctl's do: ztunnel admin (its pod's loopback) by
  // port-forward, which the API server relays to the sandbox kubelet over its cluster egress. The control plane runs
  // outside the cluster here, so proxy-status and x describe read it from the data dir's socket.
  const ambitKube = (args: string[]) => runCommand([process.execPath, fx.mainScript, '--kubeconfig', join(fx.dataDir, 'kubeconfig'), ...args]);
  const clientNode = all.find((p) => p.metadata.name === 'client')!.spec.nodeName!;
  const workloads = (await ambitKube(['ztunnel-config', 'workloads'])).stdout;
  assert.match(workloads, new RegExp(`^shop +client +${clientIp.replace(/\./g, '\\.')} +${clientNode} +None +HBONE`, 'm'));
  const certs = (await ambitKube(['ztunnel-config', 'certificates', '--node', clientNode])).stdout;
  assert.match(certs, /^spiffe:\/\/cluster\.local\/ns\/shop\/sa\/client +Leaf +Available +true /m);
  const status = JSON.parse((await ambitKube(['--data-dir', fx.dataDir, 'proxy-status', '-o', 'json'])).stdout) as Array<{ kind: string; caller: string }>;
  assert.deepEqual(status.filter((r) => r.kind === 'ztunnel').map((r) => r.caller).sort(), ['node/node1', 'node/node2']);
  const described = (await ambitKube(['--data-dir', fx.dataDir, 'x', 'describe', 'pod', 'client', '-n', 'shop'])).stdout;
  assert.match(described, new RegExp(`^Certificate: +Available.* \\(ztunnel on ${clientNode}\\)$`, 'm'));
  // kubectl logs and the API server's pod proxy take the same way in (kubelet API, cluster egress).
  const echoPod = all.find((p) => p.metadata.labels?.['app'] === 'echo')!;
  assert.match(await fx.kubectl(['logs', '-n', 'shop', echoPod.metadata.name]), /^echo \S+ listening on :8080$/m);
  const proxied = JSON.parse(await fx.kubectl(['get', '--raw', `/api/v1/namespaces/shop/pods/${echoPod.metadata.name}:8080/proxy/`])) as { pod: string; headers: Record<string, string> };
  assert.equal(proxied.pod, echoPod.metadata.name, 'the API server reached the pod itself');
  assert.equal(proxied.headers['x-forwarded-uri'], `/api/v1/namespaces/shop/pods/${echoPod.metadata.name}:8080/proxy/`);

  // An AuthorizationPolicy applied with kubectl: enforced, its status written back by the control plane; deleted → allowed.
  await fx.kubectl(['apply', '-f', '-'], { input: DENY });
  await fx.waitFor('the client refused', async () => (await curl()).code !== 0, 20_000, 300);
  const policy = JSON.parse(await fx.kubectl(['get', 'authorizationpolicy', 'deny-client', '-n', 'shop', '-o', 'json'])) as { status?: { conditions?: Array<{ type: string; status: string; reason: string }> } };
  assert.ok(policy.status?.conditions?.some((c) => c.type === 'ZtunnelAccepted' && c.status === 'True'), `status: ${JSON.stringify(policy.status)}`);
  await fx.kubectl(['delete', 'authorizationpolicy', 'deny-client', '-n', 'shop']);
  await fx.waitFor('the client allowed again', async () => (await curl()).code === 0, 20_000, 300);

  // A waypoint applied with kubectl: the control plane deploys it (a Deployment of the Ambit image, its own service account,
  // a projected token and the root ConfigMap, as on a real cluster), the Gateway turns Programmed, and once the
  // namespace uses it an HTTPRoute's L7 filter shows on the answers.
  await fx.kubectl(['apply', '-f', '-'], { input: WAYPOINT });
  const programmed = await fx.waitFor('the waypoint Gateway Programmed', async () => {
    const gw = JSON.parse(await fx.kubectl(['get', 'gateway', 'waypoint', '-n', 'shop', '-o', 'json'])) as { status?: { conditions?: Array<{ type: string; status: string }>; addresses?: Array<{ value: string }> } };
    return gw.status?.conditions?.some((c) => c.type === 'Programmed' && c.status === 'True') ? gw : undefined;
  }, 60_000, 500);
  assert.ok(programmed.status?.addresses?.[0]?.value, 'the Gateway has its Service address');
  // Ambit's own CLI verbs talk to the API server directly with --kubeconfig.
  assert.match((await ambitKube(['waypoint', 'status', '-n', 'shop'])).stdout, /^waypoint +True +Programmed +Programmed /m);
  assert.match((await ambitKube(['get', 'pods', '-n', 'shop'])).stdout, /^client +1\/1 +Running /m);
  // The waypoint is a Deployment named after the Gateway (as Istio makes it): its ReplicaSet made the pod.
  const deployment = JSON.parse(await fx.kubectl(['get', 'deployment', 'waypoint', '-n', 'shop', '-o', 'json'])) as { metadata: { ownerReferences?: Array<{ kind: string; name: string }> }; status: { readyReplicas?: number } };
  assert.deepEqual(deployment.metadata.ownerReferences?.map((r) => [r.kind, r.name]), [['Gateway', 'waypoint']]);
  assert.equal(deployment.status.readyReplicas, 1);
  const wpPod = (JSON.parse(await fx.kubectl(['get', 'pods', '-n', 'shop', '-l', 'gateway.networking.k8s.io/gateway-name=waypoint', '-o', 'json'])) as { items: Array<{ metadata: { ownerReferences?: Array<{ kind: string }> }; spec: { serviceAccountName: string; containers: Array<{ image: string; command?: string[] }> } }> }).items[0]!;
  assert.equal(wpPod.metadata.ownerReferences?.[0]?.kind, 'ReplicaSet', 'the pod belongs to the Deployment\'s ReplicaSet');
  assert.equal(wpPod.spec.serviceAccountName, 'waypoint');
  assert.equal(wpPod.spec.containers[0]!.image, 'ambit/ambit:0.1.0');
  assert.equal(wpPod.spec.containers[0]!.command, undefined, 'the image entry point, as on a real cluster');
  await fx.kubectl(['label', 'namespace', 'shop', 'istio.io/use-waypoint=waypoint']);
  const viaWaypoint = await fx.waitFor('answers through the waypoint', async () => {
    const r = await fx.cli(['exec', 'client', '-n', 'shop', '--', 'curl', '-sS', '-i', '--max-time', '3', 'http://echo.shop/'], { allowFail: true });
    return /^x-ambit-waypoint: shop\r?$/mi.test(r.stdout) ? r.stdout : undefined;
  }, 30_000, 500);
  assert.match(viaWaypoint, /^HTTP\/1\.1 200/m);
  await fx.kubectl(['label', 'namespace', 'shop', 'istio.io/use-waypoint-']);
  await fx.kubectl(['delete', 'gateway', 'waypoint', '-n', 'shop']);
  // The garbage collector removes the Deployment (owned by the Gateway), its ReplicaSet and its pod.
  await fx.waitFor('the waypoint Deployment and pod removed', async () =>
    (await fx.kubectl(['get', 'deployments,pods', '-n', 'shop', '-l', 'gateway.networking.k8s.io/gateway-name=waypoint', '-o', 'name'])).trim() === '', 60_000, 500);

  // kubectl delete waits for the kubelet: the sandbox stops the pod and confirms, the ReplicaSet replaces it.
  const victimPod = all.find((p) => p.metadata.labels?.['app'] === 'echo')!;
  const victim = victimPod.metadata.name;
  await fx.kubectl(['delete', 'pod', victim, '-n', 'shop', '--wait=true', '--timeout=30s'], { timeoutMs: 40_000 });
  await fx.waitFor('the echo Deployment back at 2 ready pods', async () => {
    const echo = (await pods()).filter((p) => p.metadata.labels?.['app'] === 'echo' && p.status.phase === 'Running');
    return echo.length === 2 && !echo.some((p) => p.metadata.name === victim);
  }, 60_000, 500);
  assert.ok(!existsSync(ipam(victimPod)), 'CNI DEL released the deleted pod\'s IP');

  // A control plane that runs in the cluster (as `ambit install` puts it) is read through its pod: port-forward to
  // its monitoring port, where the debug endpoints answer the pod's loopback only. A second control plane with its
  // own empty embedded store (so it changes nothing in this mesh) stands in for it, run as a pod of the Ambit image.
  await fx.kubectl(['apply', '-f', '-'], { input: JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'controlplane-probe', namespace: 'istio-system', labels: { app: 'ambit-controlplane' } },
    spec: { containers: [{ name: 'controlplane', image: 'ambit/ambit:sandbox', args: ['--data-dir', join(fx.dataDir, 'probe-controlplane'), 'controlplane', '--grpc-listen', '127.0.0.1:0', '--metrics-listen', '0.0.0.0:15014'] }] },
  }) });
  const inCluster = await fx.waitFor('proxy-status read from the control plane pod', async () => {
    try {
      return (await ambitKube(['proxy-status'])).stdout;
    } catch {
      return undefined;
    }
  }, 30_000, 500);
  assert.equal(inCluster, 'No ztunnel, waypoint or node agent is connected.\n', 'the empty stand-in answered, not the sandbox\'s control plane');
  const probe = (JSON.parse(await fx.kubectl(['get', 'pod', 'controlplane-probe', '-n', 'istio-system', '-o', 'json'])) as Pod);
  const fromNode = (path: string) => runCommand(['ip', 'netns', 'exec', `${fx.name}.${probe.spec.nodeName}`, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `${probe.status.podIP}:15014${path}`]).then((r) => r.stdout);
  assert.equal(await fromNode('/debug/xds/clients'), '403', 'debug endpoints refuse callers on the pod network');
  assert.equal(await fromNode('/metrics'), '200', 'metrics stay open to Prometheus');

  const left = await fx.deleteAndFindLeftovers();
  assert.deepEqual(left, { netns: [], processes: [], files: [], etcNetns: [] }, 'cluster delete stops the Kubernetes parts too');
});
