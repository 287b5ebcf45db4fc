// Unit tests for data dir precedence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveDataDir, socketPathIn } from './data-dir.js';

test('--data-dir beats AMBIT_DATA_DIR beats the per-user default', () => {
  assert.equal(resolveDataDir({ flag: '/a', env: '/b', isRoot: true, homeDir: '/home/u' }), '/a');
  assert.equal(resolveDataDir({ env: '/b', isRoot: true, homeDir: '/home/u' }), '/b');
  assert.equal(resolveDataDir({ flag: '', env: '', isRoot: true, homeDir: '/home/u' }), '/var/lib/ambit');
  assert.equal(resolveDataDir({ isRoot: false, homeDir: '/home/u' }), '/home/u/.ambit');
  assert.equal(socketPathIn('/x'), '/x/ambit.sock');
});
