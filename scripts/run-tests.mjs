// Runs every test tier with Node's own test runner and ends with one plain line `total: N passed, N failed`.
// Tiers: unit (dist/src/**/*.test.js), integration (dist/test/integration), e2e (dist/test/e2e, root only).
// The e2e tier never skips silently: if it has tests and this machine cannot run them, the run fails.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync, spawn } from 'node:child_process';

function findTests(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

const unit = findTests('dist/src');
const integration = findTests('dist/test/integration');
const e2e = findTests('dist/test/e2e');

// Why the e2e tier cannot run here, or null when it can.
function e2eBlocker() {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root';
  for (const [bin, args] of [['nft', ['--version']], ['ip', ['-V']]]) {
    const r = spawnSync(bin, args, { stdio: 'ignore' });
    if (r.error || r.status !== 0) return `'${bin}' is not usable (install it: apt-get install -y nftables iproute2)`;
  }
  const probe = `ambit-probe-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return null;
}

if (e2e.length > 0) {
  const why = e2eBlocker();
  if (why) {
    process.stderr.write(`\nFAIL: the e2e tier (${e2e.length} files under test/e2e) cannot run: ${why}.\n` +
      'The e2e tier is required; run the tests as root on Linux with nftables installed.\n');
    process.exit(1);
  }
}

if (unit.length + integration.length + e2e.length === 0) {
  process.stderr.write('FAIL: no test files found under dist/ (did the build run?)\n');
  process.exit(1);
}
process.stdout.write(`running ${unit.length} unit, ${integration.length} integration, ${e2e.length} e2e test files\n`);

// Runs one batch with Node's test runner, echoing its TAP output and counting its top-level summary.
function runBatch(files, concurrency) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=300000', ...files], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const counts = { pass: 0, fail: 0 };
    let partial = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const text = partial + chunk.toString();
      const lines = text.split('\n');
      partial = lines.pop();
      for (const line of lines) {
        const m = /^# (pass|fail) (\d+)$/.exec(line);
        if (m) counts[m[1]] += Number(m[2]);
      }
    });
    child.on('exit', (code, signal) => resolve({ ok: !signal && code === 0, ...counts }));
  });
}

// Unit and loopback integration tests share the two cores; e2e tests build whole clusters of network
// namespaces and processes, so they run one file at a time to keep their timing bounds meaningful.
const batches = [];
if (unit.length + integration.length > 0) batches.push(await runBatch([...unit, ...integration], 2));
if (e2e.length > 0) batches.push(await runBatch(e2e, 1));
const passed = batches.reduce((n, b) => n + b.pass, 0);
const failed = batches.reduce((n, b) => n + b.fail, 0);
const ok = batches.every((b) => b.ok) && failed === 0;
process.stdout.write(`\ntotal: ${passed} passed, ${failed} failed\n`);
process.exit(ok ? 0 : 1);
