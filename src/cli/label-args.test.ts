// Unit tests for label argument parsing, the overwrite rule and kubectl's outcome words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliError } from './cli-context.js';
import { applyLabelChanges, isLabelSpec, labelOutcome, overwriteError, parseLabelSpecs } from './label-args.js';

test('k=v sets, k- removes, names are not label specs', () => {
  assert.equal(isLabelSpec('app=web'), true);
  assert.equal(isLabelSpec('app-'), true);
  assert.equal(isLabelSpec('web'), false);
  assert.deepEqual(parseLabelSpecs(['app=web', 'tier-', 'istio.io/dataplane-mode=ambient']), {
    set: { app: 'web', 'istio.io/dataplane-mode': 'ambient' },
    remove: ['tier'],
  });
  assert.deepEqual(parseLabelSpecs(['empty=']).set, { empty: '' });
});

test('bad specs are refused', () => {
  assert.throws(() => parseLabelSpecs(['a=b=c']), CliError);
  assert.throws(() => parseLabelSpecs(['bad key=v']), CliError);
  assert.throws(() => parseLabelSpecs(['k=-bad-']), CliError);
  assert.throws(() => parseLabelSpecs(['a=b', 'a-']), CliError);
});

test('an existing key needs --overwrite even for the same value (kubectl wording)', () => {
  const changes = parseLabelSpecs(['app=api']);
  assert.equal(overwriteError({ app: 'web' }, changes), "'app' already has a value (web), and --overwrite is false");
  assert.equal(overwriteError({ app: 'api' }, changes), "'app' already has a value (api), and --overwrite is false");
  assert.equal(overwriteError({ other: 'x' }, changes), undefined);
  assert.equal(overwriteError(undefined, changes), undefined);
});

test('merge patch and outcome words', () => {
  const set = parseLabelSpecs(['app=web']);
  const r1 = applyLabelChanges({}, set);
  assert.deepEqual(r1.patch, { app: 'web' });
  assert.equal(labelOutcome(set, r1.patch), 'labeled');

  const rm = parseLabelSpecs(['app-']);
  const r2 = applyLabelChanges({ app: 'web', keep: 'y' }, rm);
  assert.deepEqual(r2.patch, { app: null });
  assert.deepEqual(r2.next, { keep: 'y' });
  assert.equal(labelOutcome(rm, r2.patch), 'unlabeled');

  const r3 = applyLabelChanges({ keep: 'y' }, rm);
  assert.deepEqual(r3.patch, {});
  assert.equal(labelOutcome(rm, r3.patch), 'not labeled');

  const same = parseLabelSpecs(['app=web']);
  assert.equal(labelOutcome(same, applyLabelChanges({ app: 'web' }, same).patch), 'not labeled');
});
