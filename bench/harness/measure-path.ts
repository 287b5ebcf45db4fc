// Measures every figure of one prepared path, phase by phase: iperf3 (1 and 8 streams), the fixed-rate HTTP load,
// wrk's max rate at 32 connections, the connection rate, and idle-connection memory; proxy CPU and peak RSS from
// /proc over each phase's measured window. A failed phase yields an error figure; the other phases still run.
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { runIn, spawnIn } from '../../src/platform/index.js';
import type { PreparedPath } from './bench-path.js';
import type { BenchProfile } from './bench-profile.js';
import { FIGURES, type FigureId, type FigureValue, type PhaseDetail, type ProcessUsage } from './figures.js';
import { isAlive, round, startUsageWindow, totalPrivateMiB, totalRssKiB } from './proc-stats.js';

const CLIENT_SCRIPT = fileURLToPath(new URL('./client/main.js', import.meta.url));
/** How often, and how far apart, a run that iperf3's server refused as busy is tried again (≤ 5 s in all). */
const IPERF_BUSY_ATTEMPTS = 20;
const IPERF_BUSY_WAIT_MS = 250;

type IperfReport = { error?: string; end?: { sum_received?: { bits_per_second: number; bytes: number; seconds: number } } };

export interface PathMeasurement {
  figures: Partial<Record<FigureId, FigureValue>>;
  details: Record<string, PhaseDetail>;
}

const sumCpu = (u: ProcessUsage[]) => u.reduce((s, p) => s + p.cpuSeconds, 0);
const sumPeak = (u: ProcessUsage[]) => u.reduce((s, p) => s + p.peakRssMiB, 0);
const sumPrivate = (u: ProcessUsage[]) => u.reduce((s, p) => s + p.privateMiB, 0);

export async function measurePath(path: PreparedPath, profile: BenchProfile, progress: (line: string) => void): Promise<PathMeasurement> {
  const figures: PathMeasurement['figures'] = {};
  const details: PathMeasurement['details'] = {};
  const hasProxies = path.proxies.length > 0;
  const set = (id: FigureId, value: number) => void (figures[id] = { value: round(value, value < 10 ? 4 : 1) });
  const fail = (ids: FigureId[], err: unknown) => {
    const error = (err as Error).message ?? String(err);
    for (const id of ids) if (!figures[id]) figures[id] = { error };
    progress(`  failed: ${error}`);
  };
  const checkProxies = () => {
    const dead = path.proxies.filter((p) => !isAlive(p.pid));
    if (dead.length) throw new Error(`proxy process(es) died: ${dead.map((p) => `${p.name} (pid ${p.pid})`).join(', ')}`);
  };

  // --- throughput ---
  const iperfRuns: Array<{ bytes: number; usage: ProcessUsage[] }> = [];
  for (const streams of [1, 8] as const) {
    const id: FigureId = streams === 1 ? 'throughput1' : 'throughput8';
    const length = 'seconds' in profile.iperf ? ['--time', String(profile.iperf.seconds)] : ['--bytes', profile.iperf.bytes];
    progress(`  iperf3, ${streams} stream(s), ${length.join(' ')}`);
    try {
      const argv = ['iperf3', '--client', path.targets.iperf.host, '--port', String(path.targets.iperf.port), ...length,
        '--parallel', String(streams), '--json'];
      let report: IperfReport;
      let usage: ProcessUsage[];
      // iperf3's server serves one test at a time and calls itself busy until it has seen the previous test's
      // connections close; through a proxy that close arrives a moment later, so wait for it (bounded).
      for (let attempt = 1; ; attempt++) {
        const window = startUsageWindow(path.proxies);
        const { stdout } = await runIn(path.clientNetns, argv, { timeoutMs: (('seconds' in profile.iperf ? profile.iperf.seconds : 0) + 30) * 1000 });
        usage = window.finish();
        report = JSON.parse(stdout) as IperfReport;
        if (!report.error?.includes('server is busy') || attempt >= IPERF_BUSY_ATTEMPTS) break;
        await sleep(IPERF_BUSY_WAIT_MS);
      }
      checkProxies();
      if (report.error) throw new Error(`iperf3: ${report.error}`);
      const sum = report.end?.sum_received;
      if (!sum) throw new Error('iperf3 printed no end.sum_received');
      set(id, sum.bits_per_second / 1e9);
      iperfRuns.push({ bytes: sum.bytes, usage });
      details[id] = { command: argv.join(' '), seconds: sum.seconds, ...(hasProxies ? { processes: usage } : {}), extra: { bytes: sum.bytes } };
    } catch (err) {
      fail([id], err);
    }
  }
  if (hasProxies) {
    if (iperfRuns.length) {
      const bytes = iperfRuns.reduce((s, r) => s + r.bytes, 0);
      set('cpuPerGB', iperfRuns.reduce((s, r) => s + sumCpu(r.usage), 0) / (bytes / 1e9));
      set('rssDuringThroughput', Math.max(...iperfRuns.map((r) => sumPeak(r.usage))));
    } else {
      fail(['cpuPerGB', 'rssDuringThroughput'], new Error('no iperf3 run succeeded'));
    }
  }

  // --- fixed-rate latency ---
  const l = profile.latency;
  progress(`  fixed-rate HTTP: ${l.rate} rps, ${l.connections} connections, ${l.seconds} s (+${l.warmupSeconds} s warm-up)`);
  try {
    let window: ReturnType<typeof startUsageWindow> | undefined;
    const args = ['latency', path.targets.http.host, String(path.targets.http.port), String(l.rate), String(l.connections), String(l.warmupSeconds), String(l.seconds)];
    const result = await runClient(path.clientNetns, args, (event) => {
      if (event.event === 'measuring') window = startUsageWindow(path.proxies);
    }, (l.warmupSeconds + l.seconds + 30) * 1000);
    const usage = window?.finish() ?? [];
    checkProxies();
    for (const p of ['p50', 'p90', 'p99', 'p999'] as const) set(p, Number(result[p]));
    const requests = Number(result.requests);
    if (hasProxies) {
      set('cpuPer1kRequests', sumCpu(usage) / (requests / 1000));
      set('rssAtFixedRate', sumPeak(usage));
      set('privateAtFixedRate', sumPrivate(usage));
    }
    details.latency = { command: `client ${args.join(' ')}`, seconds: l.seconds, ...(hasProxies ? { processes: usage } : {}),
      extra: { requests, achievedRps: round(Number(result.achievedRps), 1), maxMs: round(Number(result.max), 3), meanMs: round(Number(result.mean), 3) } };
  } catch (err) {
    fail(['p50', 'p90', 'p99', 'p999', ...(hasProxies ? ['cpuPer1kRequests', 'rssAtFixedRate', 'privateAtFixedRate'] as FigureId[] : [])], err);
  }

  // --- max rps (wrk, closed loop) ---
  const m = profile.maxRps;
  progress(`  wrk: ${m.connections} connections, ${m.seconds} s`);
  try {
    const url = `http://${path.targets.http.host}:${path.targets.http.port}/`;
    const argv = ['wrk', '--threads', String(m.threads), '--connections', String(m.connections), '--duration', `${m.seconds}s`, '--timeout', '5s', url];
    const window = startUsageWindow(path.proxies);
    const { stdout } = await runIn(path.clientNetns, argv, { timeoutMs: (m.seconds + 30) * 1000 });
    const usage = window.finish();
    checkProxies();
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
    if (!rps) throw new Error(`wrk printed no Requests/sec: ${stdout.trim().split('\n').slice(-3).join(' | ')}`);
    const bad = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
    const socketErrors = /Socket errors: ([^\n]+)/.exec(stdout);
    if (bad) throw new Error(`wrk: ${bad[1]} non-2xx responses`);
    set('maxRps', Number(rps[1]));
    details.maxRps = { command: argv.join(' '), seconds: m.seconds, ...(hasProxies ? { processes: usage } : {}),
      extra: socketErrors ? { socketErrors: socketErrors[1]!.trim() } : {} };
  } catch (err) {
    fail(['maxRps'], err);
  }

  // --- connection rate ---
  const c = profile.connRate;
  progress(`  connection rate: ${c.concurrency} parallel loops, ${c.seconds} s`);
  try {
    const args = ['connrate', path.targets.echo.host, String(path.targets.echo.port), String(c.concurrency), String(c.seconds)];
    const window = startUsageWindow(path.proxies);
    const result = await runClient(path.clientNetns, args, () => undefined, (c.seconds + 30) * 1000);
    const usage = window.finish();
    checkProxies();
    set('connRate', Number(result.perSecond));
    details.connRate = { command: `client ${args.join(' ')}`, seconds: c.seconds, ...(hasProxies ? { processes: usage } : {}),
      extra: { connections: Number(result.connections), meanMs: round(Number(result.meanMs), 3) } };
  } catch (err) {
    fail(['connRate'], err);
  }

  // --- idle connection memory ---
  if (hasProxies) {
    const n = profile.idleConnections;
    progress(`  ${n} idle connections`);
    try {
      details.idleConnMemory = await measureIdleMemory(path, n, profile.settleMs);
      set('idleConnMemory', Number(details.idleConnMemory.extra!.kibPerConnection));
      checkProxies();
    } catch (err) {
      fail(['idleConnMemory'], err);
    }
  }

  for (const f of FIGURES) {
    if (f.proxy && !hasProxies) figures[f.id] = { notApplicable: 'no proxy on this path' };
    figures[f.id] ??= { error: 'not measured' };
  }
  return { figures, details };
}

/**
 * Memory per idle connection, in two batches of `count`: the first batch brings the proxies to a steady state
 * (pools, heap growth, collection of the previous phases' garbage) and the baseline is read with it open; the
 * figure is the growth the second batch causes. A single batch measured against a baseline read right after the
 * load phases mixes the connections' cost with whatever the garbage collector frees meanwhile.
 */
async function measureIdleMemory(path: PreparedPath, count: number, settleMs: number): Promise<PhaseDetail> {
  const args = ['idle', path.targets.echo.host, String(path.targets.echo.port), String(count)];
  const settle = () => new Promise((r) => setTimeout(r, settleMs));
  let before = 0;
  let after = 0;
  let privateAllOpen = 0;
  const started = process.hrtime.bigint();
  await runClient(path.clientNetns, args, async (event, first) => {
    if (event.event !== 'ready') return;
    try {
      await settle();
      before = totalRssKiB(path.proxies);
      await runClient(path.clientNetns, args, async (e, second) => {
        if (e.event !== 'ready') return;
        await settle();
        after = totalRssKiB(path.proxies);
        privateAllOpen = totalPrivateMiB(path.proxies);
        second.stdin?.end();
      }, 120_000);
    } finally {
      first.stdin?.end();
    }
  }, 240_000);
  return {
    command: `client idle ${path.targets.echo.host} ${path.targets.echo.port} ${count} (twice: baseline with the first batch open)`,
    seconds: round(Number(process.hrtime.bigint() - started) / 1e9, 1),
    extra: {
      connections: count, rssBeforeKiB: before, rssIdleKiB: after, kibPerConnection: round((after - before) / count, 2),
      // Both batches open (2 × count idle connections): what the proxies hold privately, in total.
      privateMiBWithAllOpen: privateAllOpen,
    },
  };
}

type ClientEvent = Record<string, unknown> & { event?: string };

/**
 * Runs the bench client in `netns`; `onEvent` sees every JSON line; resolves with the `result` line (or the last
 * event when the mode prints none), rejects with the client's stderr on failure or after `timeoutMs`.
 */
function runClient(netns: string, args: string[], onEvent: (e: ClientEvent, child: import('node:child_process').ChildProcess) => void | Promise<void>, timeoutMs: number): Promise<ClientEvent> {
  return new Promise((resolve, reject) => {
    const child = spawnIn(netns, [process.execPath, CLIENT_SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    let last: ClientEvent = {};
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        last = JSON.parse(line) as ClientEvent;
      } catch {
        return;
      }
      Promise.resolve(onEvent(last, child)).catch((err: Error) => {
        stderr += err.message;
        child.kill('SIGKILL');
      });
    });
    child.on('error', (err) => reject(err));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(last);
      else reject(new Error(`bench client ${args[0]} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no output'}`));
    });
  });
}
