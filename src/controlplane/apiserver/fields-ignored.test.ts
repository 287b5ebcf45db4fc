// Unit tests: maintenance of the FieldsIgnored status condition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withFieldsIgnored } from './fields-ignored.js';

const T1 = '2026-01-01T00:00:00Z';
const T2 = '2026-01-02T00:00:00Z';

test('sets, updates, keeps the transition time while True, and removes the condition', () => {
  const s1 = withFieldsIgnored(undefined, [{ path: 'spec.a', reason: 'not yet' }, { path: 'spec.b', reason: 'later' }], 1, T1);
  assert.deepEqual(s1, {
    conditions: [{ type: 'FieldsIgnored', status: 'True', reason: 'UnsupportedField', message: 'spec.a: not yet; spec.b: later', lastTransitionTime: T1, observedGeneration: 1 }],
  });
  const other = { type: 'Ready', status: 'True' as const, reason: 'R', message: '' };
  const s2 = withFieldsIgnored({ ...s1, conditions: [other, ...s1!.conditions!], phase: 'x' }, [{ path: 'spec.a', reason: 'not yet' }], 2, T2);
  assert.deepEqual(s2!.conditions!.map((c) => [c.type, c.message, c.lastTransitionTime, c.observedGeneration]), [
    ['Ready', '', undefined, undefined],
    ['FieldsIgnored', 'spec.a: not yet', T1, 2],
  ]);
  assert.equal(s2!.phase, 'x');
  const s3 = withFieldsIgnored(s2, [], 3, T2);
  assert.deepEqual(s3, { phase: 'x', conditions: [other] });
  assert.equal(withFieldsIgnored(s1, [], 2, T2), undefined, 'an emptied status disappears');
  assert.equal(withFieldsIgnored(undefined, [], 1, T1), undefined);
  // The input is untouched.
  assert.equal(s1!.conditions!.length, 1);
});

test('a status writer that leaves the condition out does not reset its transition time (the stored one counts)', () => {
  const stored = withFieldsIgnored(undefined, [{ path: 'spec.a', reason: 'not yet' }], 1, T1)!;
  const fromWriter = { conditions: [{ type: 'Ready', status: 'True' as const, reason: 'R', message: '' }] };
  const next = withFieldsIgnored(fromWriter, [{ path: 'spec.a', reason: 'not yet' }], 1, T2, stored);
  assert.deepEqual(next!.conditions!.map((c) => [c.type, c.lastTransitionTime]), [['Ready', undefined], ['FieldsIgnored', T1]]);
  // Without a stored condition it is new: now.
  assert.equal(withFieldsIgnored(fromWriter, [{ path: 'spec.a', reason: 'not yet' }], 1, T2, undefined)!.conditions![1]!.lastTransitionTime, T2);
});
