// Unit tests (real files in a temp dir): the handover record round-trips, garbage reads as absent, and a draining
// process waits for another pid's `ready`, stops waiting at `stopping`, and gives up at its timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readHandover, waitForSuccessor, writeHandover } from './handover-file.js';

function tempFile(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-handover-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'ztunnel-node1.handover');
}

test('records round-trip; an absent or malformed file reads as no record', (t) => {
  const path = tempFile(t);
  assert.equal(readHandover(path), undefined);
  writeHandover(path, { state: 'ready', pid: 42 });
  assert.deepEqual(readHandover(path), { state: 'ready', pid: 42 });
  writeHandover(path, { state: 'draining', pid: 42 });
  assert.deepEqual(readHandover(path), { state: 'draining', pid: 42 });
  writeFileSync(path, 'ready\n');
  assert.equal(readHandover(path), undefined);
});

test('a draining process waits for another pid to say ready, not for its own', { timeout: 5000 }, async (t) => {
  const path = tempFile(t);
  writeHandover(path, { state: 'ready', pid: 100 }); // its own, stale
  const started = Date.now();
  setTimeout(() => writeHandover(path, { state: 'ready', pid: 200 }), 200);
  assert.equal(await waitForSuccessor(path, 100, 3000, 10), 'successor-ready');
  assert.ok(Date.now() - started >= 180, 'not before the replacement said so');
});

test('stopping ends the wait at once; without either the wait times out', { timeout: 5000 }, async (t) => {
  const path = tempFile(t);
  writeHandover(path, { state: 'draining', pid: 100 });
  setTimeout(() => writeHandover(path, { state: 'stopping', pid: 0 }), 50);
  assert.equal(await waitForSuccessor(path, 100, 3000, 10), 'no-successor');
  writeHandover(path, { state: 'draining', pid: 100 });
  const started = Date.now();
  assert.equal(await waitForSuccessor(path, 100, 150, 10), 'timeout');
  assert.ok(Date.now() - started >= 150);
});
