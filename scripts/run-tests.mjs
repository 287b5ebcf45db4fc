// Runs every test tier with Node's own test runner in one invocation (one summary for CI to read).
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

const files = [...unit, ...integration, ...e2e];
if (files.length === 0) {
  process.stderr.write('FAIL: no test files found under dist/ (did the build run?)\n');
  process.exit(1);
}
process.stdout.write(`running ${unit.length} unit, ${integration.length} integration, ${e2e.length} e2e test files\n`);
const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...files], {
  stdio: 'inherit',
});
child.on('exit', (code, signal) => process.exit(signal ? 1 : code ?? 1));
