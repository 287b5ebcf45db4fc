// Process groups: output goes to the log file, stop() ends the leader and anything it forked, a missing program
// shows as a start error, and a process that ignores SIGTERM is killed after the grace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessGroup } from './process-group.js';

/** Running (not a zombie: an orphan waits for this machine's init to reap it, which may take a while). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitForText(file: string, re: RegExp): Promise<RegExpExecArray> {
  for (let i = 0; i < 100; i++) {
    const m = re.exec(readFileSync(file, 'utf8'));
    if (m) return m;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${re} never appeared in ${file}`);
}

test('stop() ends the leader and the helpers it forked; output lands in the log file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-pg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'out.log');
  const g = ProcessGroup.start({ argv: ['sh', '-c', 'sleep 300 & echo "helper $!"; wait'], logFile: log });
  const helper = Number((await waitForText(log, /helper (\d+)/))[1]);
  assert.ok(alive(helper) && alive(g.pid));
  const exit = await g.stop(2_000);
  assert.equal(exit.signal, 'SIGTERM');
  for (let i = 0; i < 40 && alive(helper); i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(alive(helper), false, 'the forked helper is gone too');
  assert.deepEqual(await g.stop(), exit, 'stop is idempotent');
});

test('a program that ignores SIGTERM is killed after the grace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-pg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'out.log');
  const g = ProcessGroup.start({ argv: ['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 1; done'], logFile: log });
  await waitForText(log, /ready/);
  const t0 = Date.now();
  const exit = await g.stop(300);
  assert.equal(exit.signal, 'SIGKILL');
  assert.ok(Date.now() - t0 < 3_000);
});

test('a missing program is reported as a start error, not a crash', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-pg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const g = ProcessGroup.start({ argv: [join(dir, 'no-such-program')], logFile: join(dir, 'out.log') });
  const exit = await g.exited;
  assert.equal(exit.code, null);
  assert.match(String(g.startError?.message), /ENOENT/);
});
