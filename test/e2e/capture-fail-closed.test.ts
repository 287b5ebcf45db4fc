// e2e (root): capture fails closed when a pod's rules vanish (issue 11, item 5). Under a steady request loop between
// two enrolled pods on different nodes, the client's and then the server's whole nftables rule set is flushed from
// inside the pod (what root in a pod can do): tcpdump on both nodes' fabric links and on the pods' links (towards the
// pods) finds no byte of the loop's plaintext marker, an un-enrolled caller never gets past the server's STRICT +
// ALLOW-only policy, the node agent
// re-applies the rules from the change itself (the latency is measured with an nft monitor), and the node guard
// follows PeerAuthentication port-level modes and enrolment: a released pod is reachable in plaintext again and
// `cluster delete` leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { NftMonitor, runCommand, spawnIn } from '../../src/platform/index.js';
import { podVethName } from '../../src/sandbox/cluster-layout.js';
import { SandboxFixture } from '../../src/sandbox/testing/sandbox-fixture.js';

/**
 * CommonJS source; `node tool.cjs server` echoes on 7070; `node tool.cjs load HOST PORT MS MARKER` opens one
 * connection after another for MS ms, each sending MARKER and waiting for its echo (1 s bound), then prints
 * {ok, failed, errors, okAt} (okAt: start times of the successful ones).
 */
const TOOL_SOURCE = String.raw`
const net = require('net');
const [mode, host, port, ms, marker] = process.argv.slice(2);
if (mode === 'server') {
  net.createServer((s) => { s.on('error', () => {}); s.pipe(s); }).listen(7070, () => console.log('listening'));
} else {
  const until = Date.now() + Number(ms);
  const line = marker + '\n';
  let ok = 0, failed = 0;
  const errors = {};
  const okAt = [];
  const once = () => new Promise((resolve) => {
    const t = Date.now();
    const s = net.connect({ host, port: Number(port) });
    let got = '';
    let done = false;
    const end = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      if (err) { failed++; errors[err] = (errors[err] || 0) + 1; } else { ok++; okAt.push(t); }
      resolve();
    };
    const timer = setTimeout(() => end('timeout'), 1000);
    s.on('error', (e) => end(e.code || e.message));
    s.on('connect', () => s.write(line));
    s.on('data', (d) => { got += d; if (got === line) end(); });
    s.on('close', () => end('closed early'));
  });
  (async () => {
    while (Date.now() < until) await once();
    process.stdout.write(JSON.stringify({ ok, failed, errors, okAt }) + '\n');
  })();
}
`;

interface LoadResult {
  ok: number;
  failed: number;
  errors: Record<string, number>;
  okAt: number[];
}

const REDIRECTION = 'ambient.istio.io/redirection';
const NS = 'mesh';

/** Runs the tool in a netns until it exits; its parsed JSON line. */
function runLoad(netns: string, tool: string, host: string, port: number, ms: number, marker: string): Promise<LoadResult> {
  const child = spawnIn(netns, [process.execPath, tool, 'load', host, String(port), String(ms), marker], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`load in ${netns} did not finish: ${err}`));
    }, ms + 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as LoadResult);
      } catch {
        reject(new Error(`load in ${netns} printed no result (stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)})`));
      }
    });
  });
}

/** tcpdump writing every packet of `iface` in `netns` to `file`; `stop()` returns the file's bytes. */
async function startCapture(netns: string, iface: string, file: string): Promise<{ stop(): Promise<Buffer> }> {
  const child: ChildProcess = spawnIn(netns, ['tcpdump', '-i', iface, '-n', '-U', '-s', '0', '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited: ${err}`));
    });
  });
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 300)); // the last packets
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
      return readFileSync(file);
    },
  };
}

/**
 * Flushes a pod's whole rule set and times the repair: from just before the flush command starts to the moment an
 * `nft monitor` in the pod sees the agent's table created again (an upper bound: it includes the flush itself).
 */
function flusher(netns: string): { flush(): Promise<void>; repairsMs: number[]; close(): void } {
  const repairsMs: number[] = [];
  let flushedAt: number | undefined;
  const monitor = new NftMonitor(netns, {
    transaction(lines) {
      if (flushedAt === undefined || !lines.some((l) => l.startsWith('add table inet ambit'))) return;
      repairsMs.push(performance.now() - flushedAt);
      flushedAt = undefined;
    },
    exit: () => undefined,
  });
  return {
    repairsMs,
    async flush() {
      flushedAt = performance.now();
      await runCommand(['ip', 'netns', 'exec', netns, 'nft', 'flush', 'ruleset']);
    },
    close: () => monitor.close(),
  };
}

/** The bytes of the packets in `pcap` that match a tcpdump `filter`. */
async function packetsMatching(pcap: string, filter: string): Promise<Buffer> {
  const out = `${pcap}.${filter.replace(/\W+/g, '_')}.pcap`;
  await runCommand(['tcpdump', '-r', pcap, '-w', out, filter], { timeoutMs: 20_000 });
  return readFileSync(out);
}

async function guardTable(nodeNetns: string): Promise<string> {
  return (await runCommand(['ip', 'netns', 'exec', nodeNetns, 'nft', 'list', 'table', 'inet', 'ambit_guard'])).stdout;
}

/** The elements line of one set in a `nft list table` listing ('' when the set is empty). */
function setElements(listing: string, set: string): string {
  const block = new RegExp(`set ${set} \\{([^}]*)\\}`).exec(listing)?.[1] ?? '';
  return /elements = \{([^}]*)/.exec(block)?.[1] ?? '';
}

/** How often `text` occurs in `bytes`. */
function occurrences(bytes: Buffer, text: string): number {
  const needle = Buffer.from(text);
  let n = 0;
  for (let i = bytes.indexOf(needle); i >= 0; i = bytes.indexOf(needle, i + needle.length)) n++;
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a flushed pod rule set leaks no plaintext and bypasses no policy; rules come back from the change itself', { timeout: 240_000 }, async (t) => {
  const fx = await SandboxFixture.create(t, 2);
  const tool = join(fx.dataDir, '..', 'fail-closed-tool.cjs');
  writeFileSync(tool, TOOL_SOURCE);
  const podSpec = (name: string, namespace: string, node: string, sa: string, command: string[]) => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { app: name } },
    spec: { nodeName: node, serviceAccountName: sa, containers: [{ name: 'app', command }] },
  });
  await fx.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'istio.io/dataplane-mode': 'ambient' } } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'plain' } },
    { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'strict', namespace: NS }, spec: { mtls: { mode: 'STRICT' } } },
    { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'allow-client', namespace: NS },
      spec: { selector: { matchLabels: { app: 'server' } }, action: 'ALLOW', rules: [{ from: [{ source: { principals: [`cluster.local/ns/${NS}/sa/client`] } }] }] } },
    podSpec('server', NS, 'node2', 'server', [process.execPath, tool, 'server']),
    podSpec('client', NS, 'node1', 'client', ['sleep', 'infinity']),
    podSpec('outsider', 'plain', 'node1', 'outsider', ['sleep', 'infinity']),
  ]);
  const server = await fx.running(NS, 'server');
  const client = await fx.running(NS, 'client');
  await fx.running('plain', 'outsider');
  const serverIp = (server.status as { podIP: string }).podIP;
  const clientIp = (client.status as { podIP: string }).podIP;
  const clientNetns = await fx.netnsOf(NS, 'client');
  const serverNetns = await fx.netnsOf(NS, 'server');
  const outsiderNetns = await fx.netnsOf('plain', 'outsider');
  const [node1, node2] = [`${fx.name}.node1`, `${fx.name}.node2`];
  for (const name of ['client', 'server']) {
    await fx.waitFor(`${name} enabled`, async () => (await fx.pod(NS, name)).metadata.annotations?.[REDIRECTION] === 'enabled', 30_000);
  }
  await fx.waitFor('server listening', async () => (await fx.cli(['logs', 'server', '-n', NS])).stdout.includes('listening'));
  await fx.waitFor('mesh carries client → server', async () => (await runLoad(clientNetns, tool, serverIp, 7070, 300, 'warmup')).ok > 0, 30_000, 500);

  // The guard: both pods are mesh pods on both nodes; the STRICT server is in node2's strict set.
  for (const node of [node1, node2]) {
    const mesh = setElements(await guardTable(node), 'mesh_pods');
    assert.ok(mesh.includes(clientIp) && mesh.includes(serverIp), `${node} guard lists both mesh pods: ${mesh}`);
  }
  assert.ok(setElements(await guardTable(node2), 'strict_pods').includes(serverIp));
  assert.equal((await runLoad(outsiderNetns, tool, serverIp, 7070, 300, 'probe')).ok, 0, 'STRICT + ALLOW-only refuse the outsider');

  const marker = `AMBIT-CANARY-${Date.now().toString(36)}-PLAINTEXT`;
  const pcap = (name: string) => join(fx.dataDir, '..', `${name}.pcap`);
  const links = [
    { name: 'client link', netns: node1, iface: podVethName(client.metadata.uid!), file: pcap('client-link') },
    { name: 'node1 fabric link', netns: node1, iface: 'eth0', file: pcap('node1-fabric') },
    { name: 'node2 fabric link', netns: node2, iface: 'eth0', file: pcap('node2-fabric') },
    { name: 'server link', netns: node2, iface: podVethName(server.metadata.uid!), file: pcap('server-link') },
  ];
  const captures = await Promise.all(links.map((l) => startCapture(l.netns, l.iface, l.file)));
  const repairs = { client: flusher(clientNetns), server: flusher(serverNetns) };
  t.after(() => {
    repairs.client.close();
    repairs.server.close();
  });
  await sleep(300); // the monitors subscribe

  const LOAD_MS = 9000;
  const started = Date.now();
  const loads = Promise.all([
    runLoad(clientNetns, tool, serverIp, 7070, LOAD_MS, marker),
    runLoad(clientNetns, tool, serverIp, 7070, LOAD_MS, marker),
    runLoad(outsiderNetns, tool, serverIp, 7070, LOAD_MS, `${marker}-outsider`),
  ]);
  await sleep(1500);
  await repairs.client.flush();
  await sleep(1500);
  await repairs.server.flush();
  await sleep(1500);
  await Promise.all([repairs.client.flush(), repairs.server.flush()]);
  await sleep(1000);
  await repairs.client.flush();
  const lastFlush = Date.now();
  const [loadA, loadB, outsider] = await loads;
  const pcaps = await Promise.all(captures.map(async (c, i) => ({ ...links[i]!, bytes: await c.stop() })));

  const repairMs = [...repairs.client.repairsMs, ...repairs.server.repairsMs];
  t.diagnostic(`repair latency (flush issued → table re-created) ms: client ${repairs.client.repairsMs.map((m) => m.toFixed(1)).join(', ')}; server ${repairs.server.repairsMs.map((m) => m.toFixed(1)).join(', ')}`);
  t.diagnostic(`client loads: ${JSON.stringify({ ok: loadA.ok + loadB.ok, failed: loadA.failed + loadB.failed, errors: [loadA.errors, loadB.errors] })}; outsider: ${JSON.stringify({ ok: outsider.ok, failed: outsider.failed, errors: outsider.errors })}`);
  for (const p of pcaps) t.diagnostic(`${p.name}: ${p.bytes.length} pcap bytes`);

  // No plaintext past the node: the marker never crossed either node's fabric link, nor reached either pod over its
  // link. What a pod itself puts on its own link the node cannot prevent: a connection the app had open through
  // ztunnel when its rules were flushed loses its NAT binding (the kernel drops NAT state with the last nat hook) and
  // its next segment leaves the pod as it is; so does, from the server, the app's reply to a connection ztunnel had
  // just opened. The guard resets those at the node, which the fabric links and the peer's link show.
  const ownSegments: string[] = [];
  for (const p of pcaps) {
    assert.ok(p.bytes.length > 10_000, `${p.name} captured the load's traffic`);
    const podIp = p.name === 'client link' ? clientIp : p.name === 'server link' ? serverIp : undefined;
    const inspected = podIp ? await packetsMatching(p.file, `dst host ${podIp}`) : p.bytes;
    assert.equal(inspected.includes(Buffer.from(marker)), false, `${p.name} carried the plaintext marker`);
    if (podIp) ownSegments.push(`${p.name}: ${occurrences(await packetsMatching(p.file, `src host ${podIp}`), marker)}`);
  }
  t.diagnostic(`segments with the marker a flushed pod put on its own link (reset by the guard): ${ownSegments.join(', ')}`);
  // No policy bypass: not one of the outsider's requests was answered.
  assert.ok(outsider.failed > 0);
  assert.equal(outsider.ok, 0, `the outsider got past STRICT + ALLOW-only ${outsider.ok} times`);
  // The rules came back from each flush (3 for the client, 2 for the server), each within a bound well under the old
  // 5 s timer; the mesh carried the load before, between and after the flushes.
  assert.equal(repairs.client.repairsMs.length, 3, 'every client flush repaired');
  assert.equal(repairs.server.repairsMs.length, 2, 'every server flush repaired');
  for (const ms of repairMs) assert.ok(ms < 1000, `repaired within 1 s (took ${ms.toFixed(1)} ms)`);
  const okAt = [...loadA.okAt, ...loadB.okAt];
  assert.ok(okAt.length > 20, `the mesh carried the load (${okAt.length} requests answered)`);
  assert.ok(okAt.some((at) => at > lastFlush + 200), 'requests succeed again after the flushes');
  assert.ok(okAt.some((at) => at < started + 1500), 'requests succeeded before the flushes');

  // Port-level PERMISSIVE under a STRICT namespace (and no ALLOW-only policy): the guard lets plaintext to that
  // port through to ztunnel, which accepts it.
  await fx.apply([{ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'server-7070', namespace: NS },
    spec: { selector: { matchLabels: { app: 'server' } }, portLevelMtls: { '7070': { mode: 'PERMISSIVE' } } } }]);
  await fx.cli(['delete', 'authorizationpolicy', 'allow-client', '-n', NS]);
  await fx.waitFor('the guard lets plaintext to the PERMISSIVE port', async () => setElements(await guardTable(node2), 'plaintext_ports').includes(`${serverIp} . 7070`));
  await fx.waitFor('outsider reaches the PERMISSIVE port', async () => (await runLoad(outsiderNetns, tool, serverIp, 7070, 300, 'permissive')).ok > 0, 15_000, 300);

  // Un-enrolling the server releases it from the guard: the outsider reaches it in plaintext again.
  await fx.cli(['label', 'pod', 'server', '-n', NS, 'istio.io/dataplane-mode=none']);
  await fx.waitFor('server released', async () => (await fx.pod(NS, 'server')).metadata.annotations?.[REDIRECTION] === undefined, 30_000);
  await fx.waitFor('server left the guard sets', async () => {
    const [g1, g2] = [await guardTable(node1), await guardTable(node2)];
    return !setElements(g1, 'mesh_pods').includes(serverIp) && !setElements(g2, 'mesh_pods').includes(serverIp) && !setElements(g2, 'strict_pods').includes(serverIp);
  });
  await fx.waitFor('outsider reaches the released server', async () => (await runLoad(outsiderNetns, tool, serverIp, 7070, 300, 'after')).ok > 0, 15_000, 300);

  assert.deepEqual(await fx.deleteAndFindLeftovers(), { netns: [], processes: [], files: [], etcNetns: [] });
});
