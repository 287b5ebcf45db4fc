// `npm run bench`: the data-path benchmark — direct, Ambit L4, stunnel, Ambit L7 and HAProxy between two pods on
// different sandbox nodes — writing data-path.{md,json} and data-path-latency.svg. Run as root.
// Usage: node dist/bench/harness/main.js [--smoke] [--out DIR] [--paths direct,stunnel,…] [--no-install] [--idle N]
//   --idle N: the idle-connection step opens two batches of N (default 1,000) — e.g. 5000 for 10,000 held at once.
//   default out dir: bench/results (full) or a new temp dir (smoke); tools missing are apt-installed unless --no-install.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FULL_PROFILE, SMOKE_PROFILE } from './bench-profile.js';
import { ALL_PATHS } from './paths/index.js';
import { RESULT_FILES, buildReportJson, reportMarkdown } from './report.js';
import { latencyChartSvg } from './latency-chart.js';
import { runBenchmark } from './run-benchmark.js';
import { installMissingTools } from './tools.js';

const startedAt = process.hrtime.bigint();
const progress = (line: string) => process.stderr.write(`bench [${(Number(process.hrtime.bigint() - startedAt) / 1e9).toFixed(1).padStart(5)} s] ${line}\n`);

interface BenchArgs { smoke: boolean; out?: string; paths?: string[]; install: boolean; idle?: number }

function parseArgs(argv: string[]): BenchArgs {
  const opts: BenchArgs = { smoke: false, install: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--smoke') opts.smoke = true;
    else if (a === '--no-install') opts.install = false;
    else if (a === '--out' && argv[i + 1]) opts.out = argv[++i];
    else if (a === '--idle' && argv[i + 1]) {
      opts.idle = Number(argv[++i]);
      if (!Number.isInteger(opts.idle) || opts.idle < 1 || opts.idle > 20_000) throw new Error(`--idle: a whole number of connections from 1 to 20000, got ${JSON.stringify(argv[i])}`);
    } else if (a === '--paths' && argv[i + 1]) opts.paths = argv[++i]!.split(',').map((s) => s.trim()).filter(Boolean);
    else throw new Error(`unknown argument ${JSON.stringify(a)} (usage: [--smoke] [--out DIR] [--paths ${ALL_PATHS.map((p) => p.id).join(',')}] [--no-install] [--idle N])`);
  }
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('the benchmark builds network namespaces: run it as root');
  const paths = opts.paths
    ? opts.paths.map((id) => {
      const p = ALL_PATHS.find((x) => x.id === id);
      if (!p) throw new Error(`--paths: unknown path "${id}" (known: ${ALL_PATHS.map((x) => x.id).join(', ')})`);
      return p;
    })
    : ALL_PATHS;
  if (opts.install) {
    const still = await installMissingTools(progress);
    if (still.length) throw new Error(`still missing after apt-get: ${still.join(', ')}`);
  }
  const base = opts.smoke ? SMOKE_PROFILE : FULL_PROFILE;
  const profile = opts.idle ? { ...base, idleConnections: opts.idle } : base;
  const outDir = opts.out ?? (opts.smoke ? mkdtempSync(join(tmpdir(), 'ambit-bench-smoke-')) : 'bench/results');
  mkdirSync(outDir, { recursive: true });
  const abort = new AbortController();
  process.once('SIGINT', () => {
    progress('interrupted: finishing the current phase, then deleting the cluster (Ctrl-C again to quit at once)');
    abort.abort(new Error('interrupted'));
    process.once('SIGINT', () => process.exit(130));
  });
  const run = await runBenchmark({ profile, paths, progress, signal: abort.signal });
  const flags = [...(opts.paths ? ['--paths', opts.paths.join(',')] : []), ...(opts.idle ? ['--idle', String(opts.idle)] : [])];
  const command = opts.smoke ? 'node dist/bench/harness/main.js --smoke' : `npm run bench${flags.length ? ` -- ${flags.join(' ')}` : ''}`;
  const json = buildReportJson(run, command);
  writeFileSync(join(outDir, RESULT_FILES.json), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(outDir, RESULT_FILES.markdown), reportMarkdown(json, RESULT_FILES.chart));
  writeFileSync(join(outDir, RESULT_FILES.chart), latencyChartSvg(run.paths,
    `${profile.latency.rate} rps, ${profile.latency.connections} connections, 1 KiB responses, ${profile.latency.seconds} s — ${run.machine.cpus} CPUs, ${run.startedAt.slice(0, 10)}`));
  progress(`done in ${run.durationSeconds} s: ${join(outDir, RESULT_FILES.markdown)}, ${RESULT_FILES.json}, ${RESULT_FILES.chart}`);
  process.stdout.write(`${join(outDir, RESULT_FILES.json)}\n`);
}

main().then(() => process.exit(0), (err: Error) => {
  progress(`failed: ${err.message}`);
  process.exit(1);
});
