// Chaining ambit-cni into a node's primary conflist: after the primary plugins, once, idempotent, waiting while
// there is no conflist; the executable is copied into the bin dir, replaced (by rename) only when it changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installCniPlugin } from './cni-install.js';

test('installs the executable and chains the plugin after the primary one, idempotently', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-cni-install-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const confDir = join(dir, 'net.d');
  const binDir = join(dir, 'bin');
  mkdirSync(confDir);
  mkdirSync(binDir);
  const pluginExecutable = join(dir, 'built-ambit-cni');
  writeFileSync(pluginExecutable, 'build 1', { mode: 0o600 });
  const cfg = { confDir, binDir, socketPath: '/run/ambit/cni.sock', pluginExecutable };
  assert.equal(installCniPlugin(cfg), undefined, 'no conflist yet: nothing to chain into');
  const installed = join(binDir, 'ambit-cni');
  assert.equal(readFileSync(installed, 'utf8'), 'build 1');
  assert.equal(statSync(installed).mode & 0o777, 0o755);
  const inode = statSync(installed).ino;
  installCniPlugin(cfg);
  assert.equal(statSync(installed).ino, inode, 'the same executable is left alone');
  writeFileSync(pluginExecutable, 'build 2');
  installCniPlugin(cfg);
  assert.equal(readFileSync(installed, 'utf8'), 'build 2', 'a new build replaces it');
  assert.notEqual(statSync(installed).ino, inode, 'by rename: a running copy keeps its file');

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
