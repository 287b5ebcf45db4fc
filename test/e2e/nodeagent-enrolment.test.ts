// e2e (root): the node agent in a real sandbox cluster — enrolment installs in-pod rules without restarting pods,
// fails closed without ztunnel, keeps every node's guard in step with enrolment, hands pods over ZDS (ack ⇒
// `enabled`), repairs flushed rules, survives its own restart without touching healthy pods, and un-enrolment
// restores direct connectivity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsInode, runCommand } from '../../src/platform/index.js';
import { ZdsTestClient } from '../../src/nodeagent/testing/zds-test-client.js';
import { SandboxFixture } from '../../src/sandbox/testing/sandbox-fixture.js';

/** A server container command: answers every connection with `hello from <pod> <ip> <node>` and closes. */
function helloServer(port: number): string[] {
  return [process.execPath, '-e',
    `require("net").createServer(s=>s.end("hello from "+process.env.POD_NAME+" "+process.env.POD_IP+" "+process.env.NODE_NAME+"\\n")).listen(${port},()=>console.log("listening on ${port}"))`];
}

const REDIRECTION = 'ambient.istio.io/redirection';

/** The pod's own processes in its netns (the node agent's `nft monitor` of the pod sits there too: not the pod's). */
async function netnsPids(netns: string): Promise<string> {
  const pids = (await runCommand(['ip', 'netns', 'pids', netns])).stdout.split(/\s+/).filter(Boolean);
  const cmdline = (pid: string) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  };
  return pids.filter((pid) => cmdline(pid) !== 'nft\0monitor\0').sort().join(',');
}

/** The mesh pod addresses in a node's guard table (node-guard.ts); undefined when the table is absent. */
async function guardMeshPods(nodeNetns: string): Promise<string[] | undefined> {
  const listing = await runCommand(['ip', 'netns', 'exec', nodeNetns, 'nft', 'list', 'set', 'inet', 'ambit_guard', 'mesh_pods']).then((r) => r.stdout, () => undefined);
  if (listing === undefined) return undefined;
  return (/elements = \{([^}]*)\}/.exec(listing)?.[1] ?? '').split(',').map((e) => e.trim()).filter(Boolean).sort();
}

async function ambitTable(netns: string): Promise<string | undefined> {
  return runCommand(['ip', 'netns', 'exec', netns, 'nft', '-a', 'list', 'table', 'inet', 'ambit']).then((r) => r.stdout, () => undefined);
}

test('enrolment: in-pod rules, fail closed, ZDS hand-off, drift repair, agent restart, un-enrolment', { timeout: 60_000 }, async (t) => {
  const fx = await SandboxFixture.create(t, 2, { withoutZtunnel: true });
  await fx.apply([
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'server', namespace: 'default', labels: { app: 'hello' } },
      spec: { nodeName: 'node2', containers: [{ name: 'app', command: helloServer(8080) }] } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: 'default' },
      spec: { nodeName: 'node1', serviceAccountName: 'sleeper', containers: [{ name: 'app', command: ['sleep', 'infinity'] }] } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'hello', namespace: 'default' },
      spec: { selector: { app: 'hello' }, ports: [{ port: 80, targetPort: 8080 }] } },
  ]);
  const server = await fx.running('default', 'server');
  const client = await fx.running('default', 'client');
  const serverIp = (server.status as { podIP: string }).podIP;
  const clientNetns = await fx.netnsOf('default', 'client');
  const serverNetns = await fx.netnsOf('default', 'server');
  await fx.waitFor('server listening', async () => (await fx.cli(['logs', 'server'])).stdout.includes('listening'));
  const greeting = `hello from server ${serverIp} node2`;
  assert.equal(await fx.connect('default', 'client', serverIp, 8080), greeting);
  const pidsBefore = { client: await netnsPids(clientNetns), server: await netnsPids(serverNetns) };

  // Enrol the namespace: both pods get rules and `pending`, their processes stay the same.
  await fx.cli(['label', 'namespace', 'default', 'istio.io/dataplane-mode=ambient']);
  for (const name of ['client', 'server']) {
    await fx.waitFor(`${name} pending`, async () => (await fx.pod('default', name)).metadata.annotations?.[REDIRECTION] === 'pending');
  }
  for (const ns of [clientNetns, serverNetns]) assert.match((await ambitTable(ns)) ?? '', /redirect to :15001/);
  assert.match((await runCommand(['ip', '-n', clientNetns, 'rule'])).stdout, /fwmark 0x111\/0xfff lookup 100/);
  assert.deepEqual({ client: await netnsPids(clientNetns), server: await netnsPids(serverNetns) }, pidsBefore, 'no pod restarted');
  // Both nodes' guards know both mesh pods (the guard holds every enrolled pod of the cluster).
  const clientIp = (client.status as { podIP: string }).podIP;
  for (const node of [`${fx.name}.node1`, `${fx.name}.node2`]) {
    await fx.waitFor(`${node} guard lists both pods`, async () => (await guardMeshPods(node))?.join() === [clientIp, serverIp].sort().join());
  }
  // No ztunnel listens on 15001/15006: captured connections fail instead of going around the mesh.
  assert.match(await fx.connect('default', 'client', serverIp, 8080), /^ERR /);
  assert.match(await fx.connect('default', 'client', 'hello', 80), /^ERR /);

  // A ztunnel stand-in on node1 receives the client pod (with its netns) and acks: the annotation turns `enabled`.
  const zds = new ZdsTestClient(join(fx.dataDir, 'nodes', 'node1', 'zds.sock'));
  t.after(() => zds.close());
  const add = await zds.waitFor((r) => r.kind === 'add' && r.uid === client.metadata.uid);
  assert.deepEqual({ name: add.name, namespace: add.namespace, sa: add.serviceAccount, fds: add.fdCount },
    { name: 'client', namespace: 'default', sa: 'sleeper', fds: 1 });
  assert.equal(add.netnsInode, netnsInode(clientNetns), 'the fd passed is the pod netns');
  await zds.waitFor((r) => r.kind === 'snapshot');
  assert.ok(zds.requests.every((r) => r.kind === 'add' ? r.fdCount === 1 : r.fdCount === 0));
  await fx.waitFor('client enabled', async () => (await fx.pod('default', 'client')).metadata.annotations?.[REDIRECTION] === 'enabled');
  assert.equal((await fx.pod('default', 'server')).metadata.annotations?.[REDIRECTION], 'pending', 'node2 has no ztunnel');

  // Drift: a flushed rule set is back from the change itself (an nft monitor), not from the 5 s backstop timer.
  await runCommand(['ip', 'netns', 'exec', clientNetns, 'nft', 'flush', 'ruleset']);
  const flushedAt = Date.now();
  await fx.waitFor('rules repaired', async () => (await ambitTable(clientNetns)) !== undefined, 10_000, 20);
  const repairMs = Date.now() - flushedAt;
  assert.ok(repairMs <= 1000, `repaired after ${repairMs} ms`);
  t.diagnostic(`flushed rules repaired after ${repairMs} ms`);
  // The guard in the node's netns (out of any pod's reach) is repaired by the backstop timer.
  await runCommand(['ip', 'netns', 'exec', `${fx.name}.node1`, 'nft', 'delete', 'table', 'inet', 'ambit_guard']);
  await fx.waitFor('guard repaired', async () => (await guardMeshPods(`${fx.name}.node1`))?.length === 2, 12_000, 200);

  // Restarting node1's agent changes nothing for the healthy client pod (same rule handles, same processes).
  const tableBefore = await fx.waitFor('repaired table stable', async () => {
    const a = await ambitTable(clientNetns);
    await new Promise((r) => setTimeout(r, 300));
    return a !== undefined && a === (await ambitTable(clientNetns)) ? a : undefined;
  });
  const guardBefore = await guardMeshPods(`${fx.name}.node1`);
  const pidFile = join(fx.dataDir, 'run', 'nodeagent-node1.pid');
  const oldAgent = Number(readFileSync(pidFile, 'utf8'));
  process.kill(oldAgent, 'SIGTERM');
  await fx.waitFor('agent restarted and adopted', async () => {
    const log = readFileSync(join(fx.dataDir, 'logs', 'nodeagent-node1.log'), 'utf8');
    return Number(readFileSync(pidFile, 'utf8')) !== oldAgent && log.split('adopted installed capture rules').length > 1;
  });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await ambitTable(clientNetns), tableBefore, 'rules untouched by the restart');
  assert.deepEqual(await guardMeshPods(`${fx.name}.node1`), guardBefore, 'the guard reconciled to the same pods');
  assert.equal(await netnsPids(clientNetns), pidsBefore.client);
  assert.equal((await fx.pod('default', 'client')).metadata.annotations?.[REDIRECTION], 'enabled');

  // Un-enrol: rules and annotations go, direct connectivity is back, processes still the same.
  await fx.cli(['label', 'namespace', 'default', 'istio.io/dataplane-mode-']);
  for (const name of ['client', 'server']) {
    await fx.waitFor(`${name} released`, async () => (await fx.pod('default', name)).metadata.annotations?.[REDIRECTION] === undefined);
  }
  for (const ns of [clientNetns, serverNetns]) assert.equal(await ambitTable(ns), undefined);
  for (const node of [`${fx.name}.node1`, `${fx.name}.node2`]) {
    await fx.waitFor(`${node} guard released both pods`, async () => (await guardMeshPods(node))?.length === 0);
  }
  assert.doesNotMatch((await runCommand(['ip', '-n', clientNetns, 'rule'])).stdout, /lookup 100/);
  assert.equal(await fx.connect('default', 'client', serverIp, 8080), greeting);
  assert.equal(await fx.connect('default', 'client', 'hello', 80), greeting);
  assert.deepEqual({ client: await netnsPids(clientNetns), server: await netnsPids(serverNetns) }, pidsBefore);

  assert.deepEqual(await fx.deleteAndFindLeftovers(), { netns: [], processes: [], files: [], etcNetns: [] });
});

test('a pod created in an enrolled namespace starts only once its capture rules are in; pod label opts out', { timeout: 60_000 }, async (t) => {
  const fx = await SandboxFixture.create(t, 1, { withoutZtunnel: true });
  await fx.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mesh', labels: { 'istio.io/dataplane-mode': 'ambient' } } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'late', namespace: 'mesh' },
      spec: { containers: [{ name: 'app', command: ['sh', '-c', 'nft list table inet ambit >/dev/null 2>&1 && echo captured-at-start || echo open-at-start; sleep infinity'] }] } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'optout', namespace: 'mesh', labels: { 'istio.io/dataplane-mode': 'none' } },
      spec: { containers: [{ name: 'app', command: ['sleep', 'infinity'] }] } },
  ]);
  await fx.running('mesh', 'late');
  await fx.running('mesh', 'optout');
  await fx.waitFor('late logged', async () => (await fx.cli(['logs', 'late', '-n', 'mesh'])).stdout.trim().length > 0);
  assert.equal((await fx.cli(['logs', 'late', '-n', 'mesh'])).stdout.trim(), 'captured-at-start');
  assert.equal((await fx.pod('mesh', 'late')).metadata.annotations?.[REDIRECTION], 'pending');
  assert.equal(await ambitTable(await fx.netnsOf('mesh', 'optout')), undefined);
  assert.equal((await fx.pod('mesh', 'optout')).metadata.annotations?.[REDIRECTION], undefined);
  assert.deepEqual(await fx.deleteAndFindLeftovers(), { netns: [], processes: [], files: [], etcNetns: [] });
});
