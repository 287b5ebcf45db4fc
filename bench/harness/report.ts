// Turns a benchmark run into its published forms: JSON (every figure with its ratios to direct and to the peer,
// and the per-phase details) and a Markdown page with the machine, the figure and ratio tables, and the method.
import { FIGURES, ratioOf, type FigureId, type FigureValue, type PathId, type PathResult, type PhaseDetail } from './figures.js';
import type { BenchRun } from './run-benchmark.js';

const LATENCY_IDS = ['p50', 'p90', 'p99', 'p999'] as const;

export interface FigureWithRatios {
  value?: number;
  notApplicable?: string;
  error?: string;
  /** value ÷ direct's value. */
  vsDirect?: number;
  /** value ÷ the peer's value (stunnel for L4 paths, HAProxy for L7 paths). */
  vsPeer?: number;
}

export interface BenchReportJson {
  schema: 'ambit-bench-data-path/1';
  command: string;
  profile: BenchRun['profile'];
  machine: BenchRun['machine'];
  startedAt: string;
  durationSeconds: number;
  figures: Array<{ id: FigureId; label: string; unit: string; better: string }>;
  paths: Array<Omit<PathResult, 'figures'> & { figures: Partial<Record<FigureId, FigureWithRatios>>; addedLatencyMs?: Record<string, number> }>;
}

const r4 = (n: number) => Math.round(n * 10_000) / 10_000;

export function buildReportJson(run: BenchRun, command: string): BenchReportJson {
  const byId = new Map(run.paths.map((p) => [p.id, p]));
  const direct = byId.get('direct');
  return {
    schema: 'ambit-bench-data-path/1',
    command,
    profile: run.profile,
    machine: run.machine,
    startedAt: run.startedAt,
    durationSeconds: run.durationSeconds,
    figures: FIGURES.map((f) => ({ id: f.id, label: f.label, unit: f.unit, better: f.better })),
    paths: run.paths.map((p) => {
      const peer = p.peer ? byId.get(p.peer) : undefined;
      const figures: Partial<Record<FigureId, FigureWithRatios>> = {};
      for (const f of FIGURES) {
        const v = p.figures[f.id];
        if (!v) continue;
        const out: FigureWithRatios = { ...v };
        const vd = p.id !== 'direct' ? ratioOf(v, direct?.figures[f.id]) : undefined;
        const vp = peer ? ratioOf(v, peer.figures[f.id]) : undefined;
        if (vd !== undefined) out.vsDirect = r4(vd);
        if (vp !== undefined) out.vsPeer = r4(vp);
        figures[f.id] = out;
      }
      const added = addedLatency(p, direct);
      return { ...p, figures, ...(added ? { addedLatencyMs: added } : {}) };
    }),
  };
}

/** Latency percentiles minus direct's (ms): what the path adds. */
function addedLatency(p: PathResult, direct: PathResult | undefined): Record<string, number> | undefined {
  if (!direct || p.id === 'direct') return undefined;
  const out: Record<string, number> = {};
  for (const id of LATENCY_IDS) {
    const a = p.figures[id];
    const b = direct.figures[id];
    if (a && b && 'value' in a && 'value' in b) out[id] = r4(a.value - b.value);
  }
  return Object.keys(out).length ? out : undefined;
}

function cell(v: FigureValue | undefined, path: PathResult): string {
  if (path.notAvailable) return 'not available';
  if (!v) return '—';
  if ('value' in v) return formatNumber(v.value);
  if ('notApplicable' in v) return 'n/a';
  return `error (see JSON)`;
}

function formatNumber(n: number): string {
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  if (n >= 10) return n.toFixed(1);
  if (n >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

const ratioCell = (x: number | undefined) => (x === undefined ? '—' : `${x.toFixed(2)}×`);

export function reportMarkdown(json: BenchReportJson, chartFile: string): string {
  const paths = json.paths as unknown as PathResult[];
  const jp = json.paths;
  const m = json.machine;
  const lines: string[] = [];
  const p = json.profile;
  lines.push(`# Ambit data-path benchmark (${p.name} profile)`, '');
  lines.push(`Produced by \`${json.command}\` on ${json.startedAt} in ${json.durationSeconds} s. Every figure is measured in`,
    'the same run on the same sandbox cluster (client pod on node1, server pod on node2), so compare ratios, not absolutes.', '');
  lines.push('## Machine', '',
    `- CPU: ${m.cpuModel}, ${m.cpus} logical CPUs; memory ${m.memoryGiB} GiB`,
    `- OS: ${m.os}, kernel ${m.kernel}; Node.js ${m.node}`,
    `- tools: ${Object.values(m.tools).join('; ')}`,
    `- 1-minute load average: ${m.loadAverage.start} at the start, ${m.loadAverage.end ?? '?'} at the end (${m.cpus} CPUs; the start value above ${m.cpus} means other work competed with the run; the end value includes the run's own load generators)`, '');
  lines.push('## Paths', '');
  for (const path of paths) {
    if (path.notAvailable) lines.push(`- **${path.title}** (\`${path.id}\`): **not available: ${path.notAvailable}**`);
    else lines.push(`- **${path.title}** (\`${path.id}\`): ${path.description.join('; ')}`);
  }
  lines.push('');
  lines.push('## Figures', '');
  lines.push(`| figure | unit | ${paths.map((x) => x.title).join(' | ')} |`);
  lines.push(`|---|---|${paths.map(() => '---:').join('|')}|`);
  for (const f of FIGURES) {
    lines.push(`| ${f.label} | ${f.unit} | ${paths.map((x) => cell(x.figures[f.id], x)).join(' | ')} |`);
  }
  lines.push('', `Fixed-rate load: ${p.latency.rate} requests/s over ${p.latency.connections} keep-alive connections for ${p.latency.seconds} s ` +
    `(after ${p.latency.warmupSeconds} s warm-up), 1 KiB responses. "n/a": the path has no proxy.`, '');

  // Ratios: every non-direct path against direct; paths with a peer also against the peer.
  const cols: Array<{ head: string; get: (id: FigureId) => number | undefined }> = [];
  for (const x of jp) {
    if (x.id === 'direct' || x.notAvailable) continue;
    cols.push({ head: `${x.title} ÷ direct`, get: (id) => x.figures[id]?.vsDirect });
    if (x.peer) cols.push({ head: `${x.title} ÷ ${titleOf(paths, x.peer)}`, get: (id) => x.figures[id]?.vsPeer });
  }
  lines.push('## Ratios', '');
  if (cols.length === 0) {
    lines.push('No path besides direct produced figures.', '');
  } else {
    lines.push(`| figure | better | ${cols.map((c) => c.head).join(' | ')} |`, `|---|---|${cols.map(() => '---:').join('|')}|`);
    for (const f of FIGURES) lines.push(`| ${f.label} | ${f.better} | ${cols.map((c) => ratioCell(c.get(f.id))).join(' | ')} |`);
    lines.push('');
  }
  const unavailablePeers = jp.filter((x) => x.peer && x.notAvailable);
  if (unavailablePeers.length) {
    lines.push(`Ratios against the peer appear once the compared path runs: ${unavailablePeers.map((x) => `${x.title} ÷ ${titleOf(paths, x.peer!)}`).join(', ')} — not available.`, '');
  }
  lines.push('## Latency added over direct (ms)', '', '| path | p50 | p90 | p99 | p99.9 |', '|---|---:|---:|---:|---:|');
  for (const x of jp) {
    if (x.id === 'direct') continue;
    if (x.notAvailable) lines.push(`| ${x.title} | not available | | | |`);
    else lines.push(`| ${x.title} | ${LATENCY_IDS.map((id) => (x.addedLatencyMs?.[id] !== undefined ? x.addedLatencyMs[id]!.toFixed(3) : '—')).join(' | ')} |`);
  }
  lines.push('', `Istio's published reference (ISTIO-API.md §9): two ztunnels add ≈ 0.17 ms p90 / 0.20 ms p99 at 1000 rps; ztunnel ≈ 0.06 vCPU and 12 MB per 1000 rps.`, '');
  lines.push(`![latency percentiles per path](${chartFile})`, '');
  const errors = jp.flatMap((x) => FIGURES.filter((f) => x.figures[f.id]?.error).map((f) => `- ${x.title}, ${f.label}: ${x.figures[f.id]!.error}`));
  if (errors.length) lines.push('## Failed measurements', '', ...errors, '');
  lines.push('## Method', '',
    `- Throughput: \`iperf3 --parallel 1|8 ${'seconds' in p.iperf ? `--time ${p.iperf.seconds}` : `--bytes ${p.iperf.bytes}`}\`, received bits/s.`,
    '- Latency: the harness\'s own constant-rate generator (bench/harness/client/constant-rate-load.ts): request i is due at i/rate on connection i mod 4, one request in flight per connection; latency counts from the due time when the request had to wait for its connection (coordinated-omission correction, as wrk2), otherwise from the actual write. Percentiles are exact (every sample kept). Debian has no wrk2/fortio and its `wrk` is closed-loop only.',
    `- Max rate: Debian \`wrk --connections ${p.maxRps.connections} --threads ${p.maxRps.threads} --duration ${p.maxRps.seconds}s\` (closed loop).`,
    `- New connections/s: ${p.connRate.concurrency} parallel loops of connect, write 1 byte, read the echo, close, for ${p.connRate.seconds} s.`,
    '- Proxy cost: utime+stime from /proc/<pid>/stat over each phase\'s measured window, summed over the path\'s proxy processes; peak RSS is VmHWM after resetting it (clear_refs 5) at the window\'s start, summed over the processes; private memory is RssAnon at the window\'s end (RSS minus shared file pages: the `node` binary alone maps ≈45 MiB that every Node process on the machine shares). CPU per 1000 requests is taken at the fixed rate (so it equals vCPU at 1000 rps); CPU per GB over both iperf3 runs.',
    `- Idle memory: ${p.idleConnections} idle, echoed connections are opened and held (steady state), then ${p.idleConnections} more; the proxies' RSS growth from the second batch divided by ${p.idleConnections}.${idleTotals(jp, p.idleConnections * 2)}`,
    '- Everything (client, server, proxies) shares the same CPUs: a proxy\'s CPU use also slows the client and the server.', '');
  return `${lines.join('\n')}`;
}

/** "With 2,000 idle connections open the proxies held X MiB private (RssAnon): …" per path that measured it. */
function idleTotals(paths: readonly { title: string; details?: Record<string, PhaseDetail | undefined> }[], open: number): string {
  const parts = paths.flatMap((x) => {
    const mib = x.details?.idleConnMemory?.extra?.privateMiBWithAllOpen;
    return typeof mib === 'number' ? [`${x.title} ${mib} MiB`] : [];
  });
  return parts.length ? ` With all ${open.toLocaleString('en-US')} open, the proxies' private memory (RssAnon, summed): ${parts.join('; ')}.` : '';
}

function titleOf(paths: PathResult[], id: PathId): string {
  return paths.find((x) => x.id === id)?.title ?? id;
}

/** The three result files written by a run. */
export const RESULT_FILES = { json: 'data-path.json', markdown: 'data-path.md', chart: 'data-path-latency.svg' } as const;
