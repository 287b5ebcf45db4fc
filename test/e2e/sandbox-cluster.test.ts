// e2e (root): the sandbox cluster through the real CLI — pods across two nodes, Service VIP and names, exec,
// logs, restart policies, idempotent create, a second coexisting cluster, and a delete that leaves nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SandboxFixture } from '../../src/sandbox/testing/sandbox-fixture.js';

/** A server container command: answers every connection with `hello from <pod> <ip> <node>` and closes. */
function helloServer(port: number): string[] {
  return [process.execPath, '-e',
    `require("net").createServer(s=>s.end("hello from "+process.env.POD_NAME+" "+process.env.POD_IP+" "+process.env.NODE_NAME+"\\n")).listen(${port},()=>console.log("listening on ${port}"))`];
}

test('two-node cluster: pods reach each other by IP, Service VIP and names; delete leaves nothing', { timeout: 120_000 }, async (t) => {
  const fx = await SandboxFixture.create(t, 2);
  await fx.apply([
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'server', namespace: 'default', labels: { app: 'hello' } },
      spec: { nodeName: 'node2', containers: [{ name: 'app', command: helloServer(8080), ports: [{ name: 'web', containerPort: 8080 }] }] } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: 'default' },
      spec: { nodeName: 'node1', containers: [{ name: 'app', command: ['sleep', 'infinity'], env: [{ name: 'GREETING', value: 'hi' }] }] } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unplaced', namespace: 'default' },
      spec: { containers: [{ name: 'app', command: ['sleep', 'infinity'] }] } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'hello', namespace: 'default' },
      spec: { selector: { app: 'hello' }, ports: [{ name: 'tcp', port: 80, targetPort: 'web' }] } },
  ]);
  const server = await fx.running('default', 'server');
  const client = await fx.running('default', 'client');
  const serverIp = (server.status as { podIP: string }).podIP;
  assert.match(serverIp, /^10\.\d+\.2\.\d+$/, 'server gets an address from node2\'s pod range');
  assert.match((client.status as { podIP: string }).podIP, /^10\.\d+\.1\.\d+$/);
  assert.match(String((server.status as { hostIP?: string }).hostIP), /^10\.10\.\d+\.12$/);
  // The unplaced pod was scheduled onto the least-loaded node (each node had one pod: the lowest, node1).
  const unplaced = await fx.running('default', 'unplaced');
  assert.equal((unplaced.spec as { nodeName?: string }).nodeName, 'node1');

  await fx.waitFor('server listening', async () => (await fx.cli(['logs', 'server'])).stdout.includes('listening on 8080'));
  assert.equal(await fx.connect('default', 'client', serverIp, 8080), `hello from server ${serverIp} node2`);
  const svc = JSON.parse((await fx.cli(['get', 'service', 'hello', '-o', 'json'])).stdout) as { spec: { clusterIP?: string } };
  const vip = await fx.waitFor('a VIP', async () => {
    const s = JSON.parse((await fx.cli(['get', 'service', 'hello', '-o', 'json'])).stdout) as { spec: { clusterIP?: string } };
    return s.spec.clusterIP;
  });
  assert.ok(svc !== undefined);
  assert.match(vip, /^10\.\d+\.0\.\d+$/);
  for (const host of [vip, 'hello', 'hello.default', 'hello.default.svc.cluster.local']) {
    assert.equal(await fx.connect('default', 'client', host, 80), `hello from server ${serverIp} node2`, `via ${host}`);
  }

  // exec passes stdout and the exit code through; the container env carries the pod facts.
  const env = await fx.cli(['exec', 'client', '--', 'sh', '-c', 'echo $POD_NAME $POD_NAMESPACE $NODE_NAME $GREETING $POD_IP']);
  assert.equal(env.stdout.trim(), `client default node1 hi ${(client.status as { podIP: string }).podIP}`);
  assert.equal((await fx.cli(['exec', 'client', '--', 'sh', '-c', 'exit 7'], { allowFail: true })).code, 7);

  // info names nodes, pods and processes.
  const info = JSON.parse((await fx.cli(['cluster', 'info', '-o', 'json'])).stdout) as {
    nodes: Array<{ netns: string }>; pods: Array<{ name: string; netns: string }>; processes: Array<{ role: string; pid: number | null }>;
  };
  assert.deepEqual(info.nodes.map((n) => n.netns), [`${fx.name}.node1`, `${fx.name}.node2`]);
  assert.ok(info.pods.some((p) => p.name === 'server' && p.netns === `${fx.name}.default.server`));
  for (const role of ['supervisor', 'controlplane', 'nodeagent-node1', 'nodeagent-node2']) {
    assert.ok(info.processes.find((p) => p.role === role)?.pid, `${role} runs`);
  }

  // Create again: a no-op on a running cluster.
  const again = await fx.cli(['cluster', 'create', '--name', fx.name, '--nodes', '2']);
  assert.match(again.stderr, /already running/);

  // Deleting a pod frees its netns and files.
  const serverNetns = await fx.netnsOf('default', 'server');
  await fx.cli(['delete', 'pod', 'server']);
  await fx.waitFor('server netns gone', async () => !(await import('../../src/platform/index.js').then((p) => p.listNetns())).includes(serverNetns));
  assert.equal(await fx.connect('default', 'client', vip, 80).then((s) => s.startsWith('ERR')), true, 'no endpoint left behind the VIP');

  const left = await fx.deleteAndFindLeftovers();
  assert.deepEqual(left, { netns: [], processes: [], files: [], etcNetns: [] });
});

test('restart policies, status and a second coexisting cluster', { timeout: 120_000 }, async (t) => {
  const a = await SandboxFixture.create(t, 1);
  const b = await SandboxFixture.create(t, 1);
  const infoA = JSON.parse((await a.cli(['cluster', 'info', '-o', 'json'])).stdout) as { slot: number; nodes: Array<{ podCidr: string }> };
  const infoB = JSON.parse((await b.cli(['cluster', 'info', '-o', 'json'])).stdout) as { slot: number; nodes: Array<{ podCidr: string }> };
  assert.notEqual(infoA.slot, infoB.slot);
  assert.notEqual(infoA.nodes[0]!.podCidr, infoB.nodes[0]!.podCidr);
  // The same name from another data dir is refused with a clear message.
  const clash = await b.cli(['--data-dir', `${b.dataDir}-other`, 'cluster', 'create', '--name', a.name], { allowFail: true });
  assert.notEqual(clash.code, 0);
  assert.match(clash.stderr, new RegExp(`a cluster named "${a.name}" already exists with data dir`));

  await a.apply([
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'once', namespace: 'default' },
      spec: { restartPolicy: 'Never', containers: [{ name: 'app', command: ['sh', '-c', 'echo done; exit 3'] }] } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'retry', namespace: 'default' },
      spec: { restartPolicy: 'OnFailure', containers: [{ name: 'app', command: ['sh', '-c', 'echo attempt; exit 1'] }] } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ok', namespace: 'default' },
      spec: { restartPolicy: 'OnFailure', containers: [{ name: 'app', command: ['true'] }] } },
  ]);
  const phase = async (name: string) => ((await a.pod('default', name)).status as { phase?: string } | undefined)?.phase;
  await a.waitFor('once Failed', async () => (await phase('once')) === 'Failed');
  await a.waitFor('ok Succeeded', async () => (await phase('ok')) === 'Succeeded');
  const restarts = await a.waitFor('retry restarted twice', async () => {
    const st = (await a.pod('default', 'retry')).status as { containerStatuses?: Array<{ restartCount: number }> };
    const n = st.containerStatuses?.[0]?.restartCount ?? 0;
    return n >= 2 ? n : undefined;
  });
  assert.ok(restarts >= 2);
  assert.match((await a.cli(['logs', 'retry'])).stdout, /attempt\nattempt\n/);
  assert.equal((await a.cli(['logs', 'once'])).stdout, 'done\n');

  for (const fx of [b, a]) assert.deepEqual(await fx.deleteAndFindLeftovers(), { netns: [], processes: [], files: [], etcNetns: [] });
});
