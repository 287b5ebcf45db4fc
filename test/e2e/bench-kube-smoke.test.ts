// e2e: the Kubernetes control-plane benchmark (bench/kube) at a tiny size still runs end to end against a real
// kube-apiserver and prints every figure and the ratio line; nothing about speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../../src/platform/index.js';

const BENCH = fileURLToPath(new URL('../../bench/kube/run.js', import.meta.url));

test('bench kube smoke: 20 pods, 4 services, 6 pods of churn', { timeout: 180_000 }, async () => {
  const { stdout } = await runCommand([process.execPath, BENCH, '20', '4', '6'], { timeoutMs: 170_000 });
  assert.match(stdout, /^embedded store \(baseline\) +start +\d+ ms +indexed +\d+ ms +full push +\d+ ms +\+6 pods: written +\d+ ms, at the client +\d+ ms$/m);
  assert.match(stdout, /^kube-apiserver informers +start +\d+ ms +indexed +\d+ ms +full push +\d+ ms +\+6 pods: written +\d+ ms, at the client +\d+ ms$/m);
  assert.match(stdout, /^ratio kube \/ embedded: start→indexed \d+\.\d\d×, full push \d+\.\d\d×, churn at the client \d+\.\d\d×$/m);
});
