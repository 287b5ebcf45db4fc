// e2e (root): restarts without refused connections in a sandbox cluster. A node agent restarted right after a pod's
// rules were flushed does not make ztunnel stop that pod's proxy; a graceful ztunnel restart (SIGTERM on both
// nodes, one after the other) under 50 new connections/s fails none of them: the replacement takes the pods' ports
// over (SO_REUSEPORT) before the old process closes its listeners; a connection opened before the restart keeps
// working through it and is closed by the old process when its termination grace period ends. A pod un-enrolled
// while its node agent was down leaves ztunnel (an explicit del) once the agent is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readHandover } from '../../src/lib/handover-file.js';
import { runCommand, spawnIn } from '../../src/platform/index.js';
import { SandboxFixture } from '../../src/sandbox/testing/sandbox-fixture.js';

/**
 * CommonJS source; `node restart-tool.cjs <mode> …`:
 * - `server`: echo on 7070.
 * - `rate HOST PORT MS PER_SECOND`: starts a new echo connection at a fixed rate (not waiting for the previous
 *   one) for MS ms; prints {total, failed, failures: [{t, err}]} once every connection settled.
 * - `hold HOST PORT`: one echo connection pinging every 100 ms; prints `open`, then at the end one JSON line
 *   {closedAt, lastEchoAt, pings, echoes, reason}.
 */
const TOOL_SOURCE = String.raw`
const net = require('net');
const [mode, host, portText, arg, rate] = process.argv.slice(2);
const port = Number(portText);
if (mode === 'server') {
  net.createServer((s) => { s.on('error', () => {}); s.pipe(s); }).listen(7070, () => console.log('listening'));
} else if (mode === 'rate') {
  const until = Date.now() + Number(arg);
  let total = 0, settled = 0, stopped = false;
  const failures = [];
  const finish = () => { if (stopped && settled === total) { process.stdout.write(JSON.stringify({ total, failed: failures.length, failures }) + '\n'); process.exit(0); } };
  const once = () => {
    total++;
    const t = Date.now();
    const s = net.connect({ host, port });
    let got = '', done = false;
    const end = (err) => { if (done) return; done = true; clearTimeout(timer); s.destroy(); if (err) failures.push({ t, err }); settled++; finish(); };
    const timer = setTimeout(() => end('timeout'), 5000);
    s.on('error', (e) => end(e.code || e.message));
    s.on('connect', () => s.write('ping\n'));
    s.on('data', (d) => { got += d; if (got === 'ping\n') end(); });
    s.on('close', () => end('closed before the echo'));
  };
  const timer = setInterval(() => {
    if (Date.now() >= until) { clearInterval(timer); stopped = true; finish(); return; }
    once();
  }, 1000 / Number(rate));
} else if (mode === 'hold') {
  const s = net.connect({ host, port });
  let pings = 0, echoes = 0, lastEchoAt = 0, buf = '', reason = 'closed';
  s.on('connect', () => {
    console.log('open');
    const t = setInterval(() => { pings++; s.write('ping\n'); }, 100);
    s.on('close', () => clearInterval(t));
  });
  s.on('data', (d) => { buf += d; while (buf.startsWith('ping\n')) { buf = buf.slice(5); echoes++; lastEchoAt = Date.now(); } });
  s.on('error', (e) => { reason = e.code || e.message; });
  s.on('close', () => { console.log(JSON.stringify({ closedAt: Date.now(), lastEchoAt, pings, echoes, reason })); process.exit(0); });
} else {
  console.error('unknown mode ' + mode);
  process.exit(2);
}
`;

interface Background {
  child: ChildProcess;
  lines: string[];
  waitForLine(pred: (l: string) => boolean, timeoutMs: number): Promise<string>;
  stop(): void;
}

function startIn(netns: string, argv: string[]): Background {
  const child = spawnIn(netns, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    for (const w of waiters) w();
  });
  child.stderr!.resume();
  return {
    child,
    lines,
    waitForLine(pred, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find(pred);
          if (hit === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching output within ${timeoutMs} ms (got ${JSON.stringify(lines)})`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

interface RateResult {
  total: number;
  failed: number;
  failures: Array<{ t: number; err: string }>;
}

interface HoldResult {
  closedAt: number;
  lastEchoAt: number;
  pings: number;
  echoes: number;
  reason: string;
}

const NS = 'restart';
/** Short, so the test sees the old ztunnel close what is still open when its grace period ends. */
const GRACE_SECONDS = 12;

let fx: SandboxFixture;
let tool: string;
let clientNetns = '';
let serverIp = '';
const background: Background[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

function pidOf(role: string): number | undefined {
  try {
    return Number(readFileSync(join(fx.dataDir, 'run', `${role}.pid`), 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function logOf(role: string): string {
  try {
    return readFileSync(join(fx.dataDir, 'logs', `${role}.log`), 'utf8');
  } catch {
    return '';
  }
}

/** One echo exchange client → server:7070 through the mesh. */
async function reaches(): Promise<boolean> {
  const r = startIn(clientNetns, [process.execPath, tool, 'rate', serverIp, '7070', '500', '4']);
  try {
    const line = await r.waitForLine((l) => l.startsWith('{'), 10_000);
    const res = JSON.parse(line) as RateResult;
    return res.total > 0 && res.failed === 0;
  } catch {
    return false;
  } finally {
    r.stop();
  }
}

test.before(async () => {
  fx = await SandboxFixture.create({ after: (fn) => void cleanups.push(fn) }, 2, { ztunnelGracePeriodSeconds: GRACE_SECONDS });
  tool = join(fx.dataDir, '..', 'restart-tool.cjs');
  writeFileSync(tool, TOOL_SOURCE);
  await fx.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'istio.io/dataplane-mode': 'ambient' } } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'server', namespace: NS },
      spec: { nodeName: 'node2', containers: [{ name: 'app', command: [process.execPath, tool, 'server'] }] } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: NS },
      spec: { nodeName: 'node1', containers: [{ name: 'app', command: ['sleep', 'infinity'] }] } },
  ]);
  serverIp = ((await fx.running(NS, 'server')).status as { podIP: string }).podIP;
  await fx.running(NS, 'client');
  clientNetns = await fx.netnsOf(NS, 'client');
  await fx.waitFor('mesh traffic flows', async () => (await reaches()) || undefined, 30_000, 300);
  for (const node of ['node1', 'node2']) {
    await fx.waitFor(`ztunnel on ${node} ready`, async () => readHandover(join(fx.dataDir, 'run', `ztunnel-${node}.handover`))?.state === 'ready', 20_000, 100);
  }
});

test.after(async () => {
  for (const b of background) b.stop();
  for (const c of cleanups) await c();
});

test('node agent restarted while a pod\'s rules are flushed: that pod\'s proxy keeps running, no connection refused once the rules are back', { timeout: 60_000 }, async (t) => {
  const loop = startIn(clientNetns, [process.execPath, tool, 'rate', serverIp, '7070', '6000', '50']);
  background.push(loop);
  await new Promise((r) => setTimeout(r, 1000));
  const logBefore = logOf('ztunnel-node1').length;
  const agent = pidOf('nodeagent-node1')!;
  // The client's rules vanish and its agent restarts at that very moment: the new agent must re-capture the pod
  // before ztunnel hears a snapshot, and ztunnel must not drop a pod whose netns exists.
  const flushedAt = Date.now();
  await runCommand(['ip', 'netns', 'exec', clientNetns, 'nft', 'flush', 'ruleset']);
  process.kill(agent, 'SIGTERM');
  await fx.waitFor('agent restarted', async () => {
    const pid = pidOf('nodeagent-node1');
    return pid !== undefined && pid !== agent && alive(pid);
  }, 20_000, 50);
  await fx.waitFor('rules re-installed', async () => runCommand(['ip', 'netns', 'exec', clientNetns, 'nft', 'list', 'table', 'inet', 'ambit']).then(() => true, () => false), 15_000, 100);
  const reinstalledAt = Date.now();
  const result = JSON.parse(await loop.waitForLine((l) => l.startsWith('{'), 20_000)) as RateResult;
  const ztunnelLog = logOf('ztunnel-node1').slice(logBefore);
  const at = (f: { t: number; err: string }) => ({ afterFlushMs: f.t - flushedAt, err: f.err });
  t.diagnostic(`agent restart with flushed rules: ${result.total} connections, ${result.failed} failed ${JSON.stringify(result.failures.map(at))}; rules back ${reinstalledAt - flushedAt} ms after the flush`);
  assert.ok(result.total >= 200, `the loop ran (${result.total} connections)`);
  assert.equal(ztunnelLog.includes('pod proxy stopping'), false, `ztunnel kept the pod's proxy:\n${ztunnelLog}`);
  // While the client's rules are flushed its connections leave uncaptured and the node guard resets plaintext between
  // enrolled pods (fail closed); a connection caught mid-way by the flush is cut too (refused or reset, or a timeout
  // when nft rules change under a packet in flight). That is the flush itself, which no restart policy can undo. A
  // proxy taken down would refuse connections after the rules are back (they redirect to ports nobody listens on):
  // none may fail from then on.
  const afterRepair = result.failures.filter((f) => f.err !== 'timeout' && f.t > reinstalledAt);
  assert.deepEqual(afterRepair.map(at), [], 'no connection refused or reset once the rules are back');
});

test('graceful ztunnel restart on both nodes under 50 new connections/s: none fails; an open connection lasts the grace period', { timeout: 120_000 }, async (t) => {
  const hold = startIn(clientNetns, [process.execPath, tool, 'hold', serverIp, '7070']);
  background.push(hold);
  await hold.waitForLine((l) => l === 'open', 10_000);
  const loop = startIn(clientNetns, [process.execPath, tool, 'rate', serverIp, '7070', '20000', '50']);
  background.push(loop);
  await new Promise((r) => setTimeout(r, 1500));

  const restarted: Record<string, { sigterm: number; ready: number; old: number; next: number }> = {};
  for (const node of ['node1', 'node2']) {
    const old = pidOf(`ztunnel-${node}`)!;
    const sigterm = Date.now();
    process.kill(old, 'SIGTERM');
    const handover = join(fx.dataDir, 'run', `ztunnel-${node}.handover`);
    const next = await fx.waitFor(`replacement of ztunnel on ${node} ready`, async () => {
      const r = readHandover(handover);
      return r?.state === 'ready' && r.pid !== old ? r.pid : undefined;
    }, 20_000, 20);
    restarted[node] = { sigterm, ready: Date.now(), old, next };
    assert.equal(pidOf(`ztunnel-${node}`), next, 'the supervisor runs the replacement');
    await new Promise((r) => setTimeout(r, 1500));
  }
  const result = JSON.parse(await loop.waitForLine((l) => l.startsWith('{'), 40_000)) as RateResult;
  const r1 = restarted.node1!;
  t.diagnostic(`restarts: ${JSON.stringify(Object.fromEntries(Object.entries(restarted).map(([n, r]) => [n, { readyAfterMs: r.ready - r.sigterm }])))}; ${result.total} new connections, ${result.failed} failed`);
  assert.ok(result.total >= 750, `the loop ran at about 50/s (${result.total} connections)`);
  assert.deepEqual(result.failures, [], 'no new connection failed across the restarts');

  // The connection opened before the restarts was served by the old processes all along; it ends when the first
  // old ztunnel's grace period does (node1's, counted from when it handed over), not at the SIGTERM.
  const closed = JSON.parse(await hold.waitForLine((l) => l.startsWith('{'), (GRACE_SECONDS + 20) * 1000)) as HoldResult;
  t.diagnostic(`open connection: ${closed.echoes}/${closed.pings} pings echoed, closed ${closed.closedAt - r1.sigterm} ms after node1's SIGTERM (${closed.reason})`);
  assert.ok(closed.lastEchoAt > restarted.node2!.ready, 'the open connection still worked after both restarts');
  assert.ok(closed.closedAt - r1.sigterm >= GRACE_SECONDS * 1000 - 500, `kept for the grace period (closed ${closed.closedAt - r1.sigterm} ms after SIGTERM)`);
  assert.ok(closed.closedAt - r1.ready <= GRACE_SECONDS * 1000 + 5000, `closed once the grace period ended (${closed.closedAt - r1.ready} ms after the handover)`);
  for (const node of ['node1', 'node2']) {
    const { old } = restarted[node]!;
    await fx.waitFor(`old ztunnel on ${node} exited`, async () => !alive(old), (GRACE_SECONDS + 10) * 1000, 200);
  }
  assert.equal(await reaches(), true, 'traffic flows through the replacements');
});

test('a pod un-enrolled while its node agent was down leaves ztunnel once the agent is back', { timeout: 60_000 }, async () => {
  const sup = Number(readFileSync(join(fx.dataDir, 'run', 'supervisor.pid'), 'utf8').trim());
  const agent = pidOf('nodeagent-node1')!;
  const logBefore = logOf('ztunnel-node1').length;
  // Keep node1's agent down (the supervisor frozen) while the namespace leaves the mesh.
  process.kill(sup, 'SIGSTOP');
  try {
    process.kill(agent, 'SIGKILL');
    await fx.waitFor('agent gone', async () => !alive(agent), 5_000, 50);
    await fx.cli(['label', 'namespace', NS, 'istio.io/dataplane-mode-']);
  } finally {
    process.kill(sup, 'SIGCONT');
  }
  // The restarted agent finds the client's leftover rules, removes them and tells ztunnel: the proxy goes.
  await fx.waitFor('client released by ztunnel', async () =>
    /"pod":"restart\/client","uid":"[^"]+","msg":"pod proxy stopping"/.test(logOf('ztunnel-node1').slice(logBefore)), 30_000, 200);
  await fx.waitFor('rules removed', async () => runCommand(['ip', 'netns', 'exec', clientNetns, 'nft', 'list', 'table', 'inet', 'ambit']).then(() => false, () => true), 15_000, 100);
  assert.equal(await reaches(), true, 'plain traffic flows once the pods left the mesh');
});
