// e2e (root): the data-path benchmark's smoke profile, end to end through its CLI — a real sandbox cluster, every
// path, every phase at tiny sizes. Asserts only that every runnable path produced every figure and that paths
// that cannot run say why; nothing about speed. Needs iperf3, wrk, stunnel4 and haproxy (scripts/setup.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIGURES } from '../../bench/harness/figures.js';
import { RESULT_FILES, type BenchReportJson } from '../../bench/harness/report.js';

const MAIN = fileURLToPath(new URL('../../bench/harness/main.js', import.meta.url));
/** The baselines need only Debian tools, and Ambit's two paths only this build: all must run, or something rotted. */
const ALWAYS_RUNNABLE = ['direct', 'ambit-l4', 'stunnel', 'ambit-l7', 'haproxy'];

function runSmoke(outDir: string, timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, '--smoke', '--no-install', '--out', outDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // SIGINT first: the harness then still deletes its cluster.
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

test('bench smoke: every runnable path produces every figure; the others say why not', { timeout: 270_000 }, async (t) => {
  const outDir = mkdtempSync(join(tmpdir(), 'ambit-bench-smoke-test-'));
  t.after(() => rmSync(outDir, { recursive: true, force: true }));
  const { code, stderr } = await runSmoke(outDir, 240_000); // a guard against a hung run, not a pace: a loaded machine is slow
  assert.equal(code, 0, `the smoke run failed:\n${stderr}`);

  const report = JSON.parse(readFileSync(join(outDir, RESULT_FILES.json), 'utf8')) as BenchReportJson;
  assert.deepEqual(report.paths.map((p) => p.id), ['direct', 'ambit-l4', 'stunnel', 'ambit-l7', 'haproxy']);
  for (const path of report.paths) {
    if (path.notAvailable !== undefined) {
      assert.ok(!ALWAYS_RUNNABLE.includes(path.id), `${path.id} must run on this machine, but: ${path.notAvailable}`);
      assert.match(path.notAvailable, /\S{3}/, `${path.id} names a reason`);
      continue;
    }
    for (const f of FIGURES) {
      const v = path.figures[f.id];
      if (path.id === 'direct' && f.proxy) {
        assert.ok(v?.notApplicable, `direct: ${f.id} is not applicable (no proxy)`);
        continue;
      }
      assert.equal(typeof v?.value, 'number', `${path.id}: ${f.id} has a value (got ${JSON.stringify(v)})`);
      assert.ok(Number.isFinite(v!.value), `${path.id}: ${f.id} = ${v!.value}`);
      // Memory per idle connection is an RSS difference: at smoke sizes (a few hundred connections, ~MiBs) a
      // collection in a proxy can outweigh it, so only its presence is checked; every other figure is ≥ 0.
      if (f.id !== 'idleConnMemory') assert.ok(v!.value! >= 0, `${path.id}: ${f.id} = ${v!.value}`);
      if (f.id.startsWith('throughput') || f.id === 'maxRps' || f.id === 'connRate') assert.ok(v!.value! > 0, `${path.id}: ${f.id} > 0`);
      assert.equal(typeof v!.vsDirect === 'number' || path.id === 'direct' || f.proxy, true, `${path.id}: ${f.id} has a ratio to direct`);
    }
    // Paths with proxies report the processes charged to them.
    if (path.id !== 'direct') assert.ok((path.details.latency?.processes ?? []).length > 0, `${path.id}: proxy processes recorded`);
  }
  // The peer ratio is there whenever both ends ran.
  const l4 = report.paths.find((p) => p.id === 'ambit-l4')!;
  if (!l4.notAvailable) assert.equal(typeof l4.figures.p99?.vsPeer, 'number', 'ambit-l4 ÷ stunnel ratio');

  const md = readFileSync(join(outDir, RESULT_FILES.markdown), 'utf8');
  for (const p of report.paths) {
    if (p.notAvailable) assert.ok(md.includes(`not available: ${p.notAvailable}`), `the Markdown says why ${p.id} did not run`);
  }
  assert.match(md, /\| figure \| unit \|/);
  const svg = readFileSync(join(outDir, RESULT_FILES.chart), 'utf8');
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  for (const p of report.paths.filter((x) => !x.notAvailable)) assert.ok(svg.includes(p.title.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')), `chart shows ${p.id}`);
  assert.ok(existsSync(join(outDir, RESULT_FILES.chart)));
});
