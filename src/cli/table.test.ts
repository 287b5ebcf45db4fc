// Unit tests for kubectl-style table rendering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRow, renderTable } from './table.js';

test('columns are left-aligned three spaces apart with no trailing spaces', () => {
  const text = renderTable(['NAME', 'READY', 'AGE'], [['web', '1/1', '5s'], ['productpage-v1', '0/1', '3m12s']]);
  assert.equal(text, 'NAME             READY   AGE\nweb              1/1     5s\nproductpage-v1   0/1     3m12s\n');
});

test('a cell wider than its column pushes the rest right', () => {
  assert.equal(formatRow(['a-very-long-name', 'x'], [4, 1]), 'a-very-long-name   x');
});

test('an empty last cell leaves no trailing spaces', () => {
  assert.equal(formatRow(['web', ''], [5, 3]), 'web');
});
