// Crash safety of the file store: a writer process is SIGKILLed at random moments; no acknowledged write may be lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFileStore } from '../../src/controlplane/store/file-store.js';

const WRITER = fileURLToPath(new URL('./helpers/store-writer.js', import.meta.url));
const TARGET_ACKS = 1000;
const MIN_KILLS = 5;
const DEADLINE_MS = 60_000;

/** A key's state as the writer last described it: absent, or present with a value. */
type KeyState = { present: false } | { present: true; value: string };

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

/** Runs the writer until it has printed `open`, waits a random time, kills it; returns its stdout lines. */
function runAndKill(dir: string, maxDelayMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!timer && out.includes('\n')) timer = setTimeout(() => child.kill('SIGKILL'), Math.random() * maxDelayMs);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited on its own (code ${code}): ${err.trim()}`));
      else resolve(out.split('\n').filter((l) => l !== ''));
    });
  });
}

test('file store: writes acknowledged before a SIGKILL survive it, rvs stay monotonic, no partial files', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const acked = new Map<string, KeyState>();
  let totalAcks = 0;
  let kills = 0;
  let maxAckedRv = 0;
  let killedMidWrite = 0;
  const started = Date.now();
  while ((totalAcks < TARGET_ACKS || kills < MIN_KILLS) && Date.now() - started < DEADLINE_MS) {
    const lines = await runAndKill(dir, 250);
    kills++;
    const inflight = new Map<string, KeyState>();
    for (const line of lines) {
      const [what, key, op, value, rv] = line.split(' ') as [string, string, string, string, string];
      if (what === 'open') {
        assert.ok(Number(key) >= maxAckedRv, `store reopened at version ${key}, below the acknowledged ${maxAckedRv}`);
        continue;
      }
      const state: KeyState = op === 'delete' ? { present: false } : { present: true, value };
      if (what === 'begin') {
        inflight.set(key, state);
      } else if (what === 'ack') {
        const n = Number(rv);
        assert.ok(n > maxAckedRv, `ack at version ${n} after an ack at ${maxAckedRv}: versions must strictly increase`);
        maxAckedRv = n;
        acked.set(key, state);
        inflight.delete(key);
        totalAcks++;
      } else {
        assert.fail(`unexpected writer line '${line}'`);
      }
    }
    killedMidWrite += inflight.size;

    // Before any reopen: only temp files may be incomplete; every object file parses.
    const files = await walk(join(dir, 'objects'));
    for (const f of files) {
      const base = f.slice(f.lastIndexOf('/') + 1);
      if (base.startsWith('.tmp-')) continue;
      assert.ok(base.endsWith('.json'), `unexpected file ${f}`);
      assert.doesNotThrow(() => JSON.parse(readFileSync(f, 'utf8')), `half-written object file ${f}`);
    }

    const store = await openFileStore(dir);
    try {
      assert.ok(Number(store.resourceVersion()) >= maxAckedRv, `store version ${store.resourceVersion()} is below the acknowledged ${maxAckedRv}`);
      for (let i = 0; i < 100; i++) {
        const key = `k${String(i).padStart(3, '0')}`;
        const obj = store.get({ group: '', kind: 'Service', namespace: 'default', name: key });
        const actual: KeyState = obj ? { present: true, value: (obj.spec as { value: string }).value } : { present: false };
        const allowed = [acked.get(key) ?? { present: false }];
        const pending = inflight.get(key);
        if (pending) allowed.push(pending);
        assert.ok(
          allowed.some((s) => JSON.stringify(s) === JSON.stringify(actual)),
          `${key}: found ${JSON.stringify(actual)}, expected one of ${JSON.stringify(allowed)} (run ${kills})`,
        );
        acked.set(key, actual); // the truth from here on
      }
    } finally {
      await store.close();
    }
    const left = (await walk(dir)).filter((f) => f.slice(f.lastIndexOf('/') + 1).startsWith('.tmp-'));
    assert.deepEqual(left, [], 'temp files remain after reopening');
  }
  t.diagnostic(`${kills} kills, ${totalAcks} acknowledged writes, ${killedMidWrite} writes in flight at a kill, final version ${maxAckedRv}, ${Date.now() - started} ms`);
  assert.ok(totalAcks >= TARGET_ACKS, `only ${totalAcks} acknowledged writes within ${DEADLINE_MS} ms`);
  assert.ok(kills >= MIN_KILLS);
});

