// Chaining ambit-cni into a node's primary conflist: after the primary plugins, once, idempotent, waiting while
// there is no conflist; the shim runs this build's `cni-plugin`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installCniPlugin } from './cni-install.js';

test('installs the shim and chains the plugin after the primary one, idempotently', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-cni-install-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const confDir = join(dir, 'net.d');
  const binDir = join(dir, 'bin');
  mkdirSync(confDir);
  mkdirSync(binDir);
  const cfg = { confDir, binDir, socketPath: '/run/ambit/cni.sock', selfCommand: ['/usr/bin/node', "/opt/it's/main.js"] };
  assert.equal(installCniPlugin(cfg), undefined, 'no conflist yet: nothing to chain into');
  const shim = readFileSync(join(binDir, 'ambit-cni'), 'utf8');
  assert.match(shim, /^#!\/bin\/sh\n/);
  assert.match(shim, /exec '\/usr\/bin\/node' '\/opt\/it'\\''s\/main\.js' cni-plugin\n$/);
  assert.equal(statSync(join(binDir, 'ambit-cni')).mode & 0o777, 0o755);

  writeFileSync(join(confDir, '20-other.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'other', plugins: [{ type: 'bridge' }] }));
  writeFileSync(join(confDir, '10-primary.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'primary', plugins: [{ type: 'ptp' }, { type: 'portmap' }] }));
  const path = installCniPlugin(cfg);
  assert.equal(path, join(confDir, '10-primary.conflist'), 'the first conflist by name is the primary');
  const conf = JSON.parse(readFileSync(path!, 'utf8')) as { plugins: Array<{ type: string; nodeAgentSocket?: string }> };
  assert.deepEqual(conf.plugins.map((p) => p.type), ['ptp', 'portmap', 'ambit-cni']);
  assert.equal(conf.plugins[2]!.nodeAgentSocket, '/run/ambit/cni.sock');
  const once = readFileSync(path!, 'utf8');
  installCniPlugin(cfg);
  assert.equal(readFileSync(path!, 'utf8'), once, 'a second install changes nothing');
  assert.doesNotMatch(readFileSync(join(confDir, '20-other.conflist'), 'utf8'), /ambit-cni/);
});
