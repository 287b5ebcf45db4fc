// ReconcileLoop: coalescing, no overlap, errors do not stop the loop, stop waits for the running pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReconcileLoop } from './reconcile-loop.js';

test('requests during a pass coalesce into exactly one more pass; passes never overlap', async () => {
  let active = 0;
  let maxActive = 0;
  let passes = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const loop = new ReconcileLoop(async () => {
    active++;
    maxActive = Math.max(maxActive, active);
    passes++;
    if (passes === 1) await gate;
    active--;
  }, () => assert.fail('no error expected'));
  loop.request();
  loop.request();
  loop.request();
  loop.request();
  release();
  await loop.idle();
  assert.equal(passes, 2);
  assert.equal(maxActive, 1);
});

test('a failing pass is reported and later requests still run; stop() waits and refuses new passes', async () => {
  const errors: unknown[] = [];
  let passes = 0;
  const loop = new ReconcileLoop(async () => {
    passes++;
    if (passes === 1) throw new Error('boom');
  }, (err) => errors.push(err));
  loop.request();
  await loop.idle();
  loop.request();
  await loop.stop();
  loop.request();
  await loop.idle();
  assert.equal(passes, 2);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /boom/);
});
