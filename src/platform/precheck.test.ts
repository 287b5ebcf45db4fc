// Unit tests of the prerequisite verdicts: each failure carries its fix; warnings and skips are not failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BINARIES, FEATURES, blockingFailures, checkBinary, checkFeature, checkHostPort, checkKernelRelease, checkNodeVersion, checkRoot } from './precheck.js';

test('root, Node and kernel verdicts', () => {
  assert.equal(checkRoot(0).status, 'pass');
  const nonRoot = checkRoot(1000);
  assert.equal(nonRoot.status, 'fail');
  assert.match(nonRoot.fix!, /run as root/);
  assert.equal(checkNodeVersion('v20.11.1').status, 'pass');
  assert.equal(checkNodeVersion('v22.0.0').status, 'pass');
  assert.equal(checkNodeVersion('v18.19.0').status, 'fail');
  assert.equal(checkKernelRelease('6.1.0-18-amd64').status, 'pass');
  assert.equal(checkKernelRelease('5.4.0').status, 'pass');
  assert.equal(checkKernelRelease('4.19.0-20-amd64').status, 'fail');
  assert.equal(checkKernelRelease('garbage').status, 'warn');
});

test('binaries: missing required ones fail with the Debian package to install; curl only warns', () => {
  const nft = BINARIES.find((b) => b.name === 'nft')!;
  const missing = checkBinary(nft, { ok: false, error: 'nft not found (is it installed and on PATH?)' });
  assert.deepEqual([missing.status, missing.fix], ['fail', 'apt-get install -y nftables']);
  const ok = checkBinary(nft, { ok: true, output: 'nftables v1.0.6 (Lester Gooch #5)\n' });
  assert.deepEqual([ok.status, ok.detail], ['pass', 'nftables v1.0.6 (Lester Gooch #5)']);
  const curl = checkBinary(BINARIES.find((b) => b.name === 'curl')!, { ok: false, error: 'curl not found' });
  assert.deepEqual([curl.status, curl.fix], ['warn', 'apt-get install -y curl']);
});

test('features, ports and what blocks', () => {
  const nat = checkFeature(FEATURES.nat, { ok: false, error: 'Error: Could not process rule: No such file or directory' });
  assert.equal(nat.status, 'fail');
  assert.match(nat.fix!, /modprobe nft_nat/);
  const skipped = checkFeature(FEATURES.conntrack, 'not-run', 'needs root');
  assert.deepEqual([skipped.status, skipped.detail], ['skip', 'not checked: needs root']);
  const port = checkHostPort('127.0.0.1', 15012, 'control plane CA/xDS', { ok: false, error: 'in use' });
  assert.equal(port.status, 'warn');
  assert.deepEqual(blockingFailures([nat, skipped, port, checkRoot(0)]).map((r) => r.id), ['kernel-nat']);
});
