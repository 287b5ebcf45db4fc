// Hostname patterns: exact names and `*.` wildcards (one or more labels), any case, trailing dot ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostnameMatches } from './hostname-match.js';

test('exact and wildcard hostnames', () => {
  assert.ok(hostnameMatches('shop.example.test', 'SHOP.example.test.'));
  assert.ok(!hostnameMatches('shop.example.test', 'blog.example.test'));
  assert.ok(hostnameMatches('*.example.test', 'a.b.example.test'));
  assert.ok(!hostnameMatches('*.example.test', 'example.test'));
  assert.ok(!hostnameMatches('*.example.test', 'badexample.test'));
});
