// Unit tests of the demo's step reporting: statuses, timings, summary and exit codes never overstate what ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { DEMO_EXIT, DemoReporter, DemoStepFailed, StepNotShown, exitCodeOf, renderSummary } from './demo-steps.js';

function sink(): { out: Writable; text: () => string } {
  let buf = '';
  return { out: new Writable({ write(c: Buffer, _e, done) { buf += c.toString(); done(); } }), text: () => buf };
}

test('a passing, a not-shown and a failing step are reported as such, with their durations', async () => {
  const s = sink();
  let now = 0;
  const rep = new DemoReporter(s.out, () => now);
  await rep.step('first', 'ambit check', async (c) => { c.say('detail line'); now += 1234; });
  await rep.step('second', undefined, async () => { now += 100; throw new StepNotShown('no ztunnel'); });
  await assert.rejects(rep.step('third', undefined, async () => { throw new Error('boom'); }), DemoStepFailed);
  assert.deepEqual(rep.outcomes.map((o) => [o.title, o.status, o.seconds, o.reason]), [
    ['first', 'ok', 1.2, undefined], ['second', 'not-shown', 0.1, 'no ztunnel'], ['third', 'failed', 0, 'boom'],
  ]);
  assert.match(s.text(), /==> 1\. first\n {4}\$ ambit check\n {4}detail line\n {4}ok \(1\.2 s\)\n/);
  assert.match(s.text(), /NOT SHOWN \(0\.1 s\): no ztunnel/);
  assert.match(s.text(), /FAILED \(0\.0 s\): boom/);
  const summary = renderSummary(rep.outcomes);
  assert.match(summary, /^ {3}1\. first +ok +1\.2 s$/m);
  assert.match(summary, /^ {2}NOT SHOWN: second: no ztunnel$/m);
  assert.match(summary, /^ {2}FAILED: third: boom$/m);
  assert.equal(exitCodeOf(rep.outcomes), DEMO_EXIT.failed);
});

test('exit codes: all ok → 0, something not shown → 3 (incomplete), a continueOnFailure failure still → 1', async () => {
  const rep = new DemoReporter(sink().out);
  await rep.step('a', undefined, async () => undefined);
  assert.equal(exitCodeOf(rep.outcomes), DEMO_EXIT.ok);
  await rep.step('b', undefined, async () => { throw new StepNotShown('x'); });
  assert.equal(exitCodeOf(rep.outcomes), DEMO_EXIT.incomplete);
  assert.equal(await rep.step('c', undefined, async () => { throw new Error('y'); }, { continueOnFailure: true }), undefined);
  assert.equal(exitCodeOf(rep.outcomes), DEMO_EXIT.failed);
});
