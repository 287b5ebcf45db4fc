// Unit tests: the nesting walk (iterative, exact at the limit), the object size check and safe echoing of user strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_NESTING_DEPTH, formatBytes, nestingProblem, objectSizeProblem } from './limits.js';
import { objectRef, printable, quoted } from './meta.js';

function nested(levels: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

test('nesting: the limit is inclusive and the first offender is named by its path', () => {
  assert.equal(MAX_NESTING_DEPTH, 100);
  assert.equal(nestingProblem(nested(100)), undefined);
  const p = nestingProblem({ spec: { ok: [1, 2], 'odd key': nested(99) } });
  assert.equal(p?.path, `spec["odd key"]${'.k[0]'.repeat(49)}`);
  assert.match(p!.reason, /nested more than 100 levels deep/);
  assert.equal(nestingProblem('scalar'), undefined);
  assert.deepEqual(nestingProblem({ a: { b: {} } }, 2), { path: 'a.b', reason: 'nested more than 2 levels deep (maps and lists inside each other)' });
});

test('nesting: a million levels are measured without a stack overflow', () => {
  const deep = nested(1_000_000);
  assert.throws(() => structuredClone(deep), RangeError, 'recursive walks overflow on this input');
  const p = nestingProblem(deep);
  assert.ok(p);
  assert.equal(p.path.match(/\.k|\[0\]/g)?.length, 100, 'the offender is 100 steps below the root');
});

test('object size: over 1.5 MiB is refused naming the largest top-level field', () => {
  assert.equal(objectSizeProblem({ kind: 'Pod', spec: { a: 'x'.repeat(1000) } }), undefined);
  const p = objectSizeProblem({ kind: 'Pod', metadata: { name: 'x' }, spec: { a: 'x'.repeat(1_600_000) } });
  assert.equal(p?.path, 'spec');
  assert.match(p!.reason, /^the object is 1\.53 MiB \(\d+ bytes\) as JSON, more than the 1\.5 MiB \(1572864 bytes\) an object may have; spec holds/);
  assert.equal(formatBytes(262144), '256 KiB (262144 bytes)');
  assert.equal(formatBytes(100), '100 bytes');
});

test('user strings are echoed escaped and bounded', () => {
  assert.equal(printable('web'), 'web');
  assert.equal(quoted('web'), "'web'");
  assert.equal(printable('a\u0000b'), '"a\\u0000b"');
  assert.equal(printable('a\u0085\u2028'), '"a\\u0085\\u2028"');
  assert.equal(quoted('x\ny'), '"x\\ny"');
  const long = printable('k'.repeat(10_000));
  assert.equal(long, `"${'k'.repeat(512)}"… (10000 characters)`);
  assert.equal(objectRef({ kind: 'Pod', metadata: { name: 'a\u0000b', namespace: 'n' } }), 'Pod/n/"a\\u0000b"');
  assert.equal(printable('x'.repeat(253)), 'x'.repeat(253), 'valid names are never quoted');
});
