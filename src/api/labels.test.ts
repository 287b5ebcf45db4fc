// Label selectors: parsing every operator of the kubectl string form, refusing malformed selectors, and matching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelKeyError, labelValueError, matchLabels, parseLabelSelector, selectorMatches, type LabelRequirement } from './labels.js';

function reqs(text: string): LabelRequirement[] {
  const r = parseLabelSelector(text);
  assert.ok(r.ok, `${text}: ${r.ok ? '' : r.error}`);
  return r.requirements;
}

test('parses every operator', () => {
  assert.deepEqual(reqs('app=web'), [{ key: 'app', op: 'in', values: ['web'] }]);
  assert.deepEqual(reqs('app==web'), [{ key: 'app', op: 'in', values: ['web'] }]);
  assert.deepEqual(reqs('app!=web'), [{ key: 'app', op: 'notin', values: ['web'] }]);
  assert.deepEqual(reqs('env in (prod, staging)'), [{ key: 'env', op: 'in', values: ['prod', 'staging'] }]);
  assert.deepEqual(reqs('env notin (dev)'), [{ key: 'env', op: 'notin', values: ['dev'] }]);
  assert.deepEqual(reqs('istio.io/dataplane-mode'), [{ key: 'istio.io/dataplane-mode', op: 'exists', values: [] }]);
  assert.deepEqual(reqs('!canary'), [{ key: 'canary', op: 'doesnotexist', values: [] }]);
  assert.deepEqual(reqs('tier='), [{ key: 'tier', op: 'in', values: [''] }]);
});

test('parses combined requirements, commas inside parentheses and surrounding spaces', () => {
  assert.deepEqual(reqs(' app = web , env in (a,b), !x,y '), [
    { key: 'app', op: 'in', values: ['web'] },
    { key: 'env', op: 'in', values: ['a', 'b'] },
    { key: 'x', op: 'doesnotexist', values: [] },
    { key: 'y', op: 'exists', values: [] },
  ]);
});

test('an empty selector selects everything', () => {
  assert.deepEqual(reqs(''), []);
  assert.deepEqual(reqs('   '), []);
  assert.equal(selectorMatches([], undefined), true);
});

test('refuses malformed selectors with a reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['env in (a', /unbalanced parentheses/],
    ['env in a)', /unbalanced parentheses/],
    ['app=web,', /empty requirement/],
    [',', /empty requirement/],
    ['app=web c', /cannot parse requirement/],
    ['env in prod', /cannot parse requirement/],
    ['-app=web', /invalid label key '-app'/],
    ['app=-web', /invalid label value '-web'/],
    ['app=a=b', /invalid label value 'a=b'/],
    [`${'k'.repeat(64)}=v`, /invalid label key/],
    [`app=${'v'.repeat(64)}`, /invalid label value/],
    ['Bad_Prefix/app=x', /invalid label key/],
    ['env in ()', /'in' needs at least one value/],
    ['env notin ( )', /'notin' needs at least one value/],
  ];
  for (const [text, why] of cases) {
    const r = parseLabelSelector(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.error, why, text);
  }
});

test('matches every operator, including absent keys', () => {
  const labels = { app: 'web', env: 'prod', canary: '' };
  const m = (text: string): boolean => selectorMatches(reqs(text), labels);
  assert.equal(m('app=web'), true);
  assert.equal(m('app=api'), false);
  assert.equal(m('app!=api'), true);
  assert.equal(m('app!=web'), false);
  assert.equal(m('missing!=x'), true, '!= matches an absent key, as in Kubernetes');
  assert.equal(m('env in (dev, prod)'), true);
  assert.equal(m('env in (dev)'), false);
  assert.equal(m('missing in (x)'), false);
  assert.equal(m('env notin (dev)'), true);
  assert.equal(m('env notin (prod)'), false);
  assert.equal(m('missing notin (x)'), true);
  assert.equal(m('canary'), true, 'exists with an empty value');
  assert.equal(m('missing'), false);
  assert.equal(m('!missing'), true);
  assert.equal(m('!canary'), false);
  assert.equal(m('app=web,env=prod'), true);
  assert.equal(m('app=web,env=dev'), false);
  assert.equal(selectorMatches(reqs('app'), undefined), false);
  assert.equal(selectorMatches(reqs('!app'), undefined), true);
});

test('matchLabels needs every pair; an empty map matches everything', () => {
  assert.equal(matchLabels({ app: 'web' }, { app: 'web', v: '1' }), true);
  assert.equal(matchLabels({ app: 'web', v: '2' }, { app: 'web', v: '1' }), false);
  assert.equal(matchLabels({ app: 'web' }, undefined), false);
  assert.equal(matchLabels({}, undefined), true);
});

test('label key and value rules', () => {
  assert.equal(labelKeyError('istio.io/use-waypoint'), undefined);
  assert.equal(labelKeyError('app.kubernetes.io/name'), undefined);
  assert.notEqual(labelKeyError('a/b/c'), undefined);
  assert.notEqual(labelKeyError(''), undefined);
  assert.notEqual(labelKeyError(`${'p'.repeat(254)}/name`), undefined);
  assert.equal(labelValueError(''), undefined);
  assert.equal(labelValueError('v1.2_beta-3'), undefined);
  assert.notEqual(labelValueError('has space'), undefined);
  assert.notEqual(labelValueError('trailing-'), undefined);
});
