// Unit tests for kubectl-style AGE formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAge, humanDuration } from './age.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

test('humanDuration follows kubectl thresholds', () => {
  const cases: Array<[number, string]> = [
    [-1500, '0s'],
    [-2500, '<invalid>'],
    [0, '0s'],
    [5 * S, '5s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [3 * M + 12 * S, '3m12s'],
    [9 * M + 59 * S, '9m59s'],
    [10 * M + 30 * S, '10m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [3 * H + 5 * M, '3h5m'],
    [7 * H + 59 * M, '7h59m'],
    [8 * H + 30 * M, '8h'],
    [47 * H, '47h'],
    [2 * D, '2d'],
    [2 * D + 4 * H, '2d4h'],
    [7 * D + 23 * H, '7d23h'],
    [8 * D + 5 * H, '8d'],
    [729 * D, '729d'],
    [730 * D, '2y'],
    [3 * 365 * D + 10 * D, '3y10d'],
    [9 * 365 * D, '9y'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
});

test('formatAge reads RFC 3339 timestamps and copes with missing ones', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  assert.equal(formatAge('2024-05-01T11:56:48Z', now), '3m12s');
  assert.equal(formatAge(undefined, now), '<unknown>');
  assert.equal(formatAge('yesterday', now), '<unknown>');
});
