// Unit tests: loading the native addon, and how its thrown errors are translated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNativeAddon, nativeAddon, toPlatformError } from './native-addon.js';
import { NativeAddonMissingError, PlatformArgumentError, SyscallError } from './platform-errors.js';

test('a missing addon is reported with the fix, not a stack trace', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-noaddon-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.throws(() => loadNativeAddon(dir), (err: unknown) =>
    err instanceof NativeAddonMissingError && err.code === 'PLATFORM_NATIVE_MISSING' &&
    err.message.startsWith('native addon missing: run npm install (needs g++ and python3)') &&
    err.message.includes('native/build/Release/ambit_net.node'));
});

test('the built addon is found from this module and exports every primitive', () => {
  const addon = nativeAddon();
  for (const fn of ['socketInNetns', 'connectFd', 'socketError', 'originalDst', 'setMark', 'closeFd', 'netnsInode',
    'seqpacketListen', 'seqpacketConnect', 'seqpacketAccept', 'sendFds', 'recvFds', 'pollStart', 'pollWatch', 'pollClose', 'trimHeap']) {
    assert.equal(typeof (addon as unknown as Record<string, unknown>)[fn], 'function', fn);
  }
});

test('the addon rejects malformed arguments with TypeErrors instead of crashing', () => {
  const addon = nativeAddon() as unknown as Record<string, (...args: unknown[]) => unknown>;
  assert.throws(() => addon.socketInNetns(null, { family: 5 }), { name: 'TypeError', message: 'options.family must be 4 or 6' });
  assert.throws(() => addon.socketInNetns(null, { family: 4, bindPort: 70000 }), TypeError);
  assert.throws(() => addon.socketInNetns(null, { family: 4, bindIp: '::1' }), /bindIp must be an IP address of the socket's family/);
  assert.throws(() => addon.socketInNetns(null, { family: 4, transparent: 'yes' }), /options.transparent must be a boolean/);
  assert.throws(() => addon.socketInNetns({}, { family: 4 }), TypeError);
  assert.throws(() => addon.socketInNetns(null), TypeError);
  assert.throws(() => addon.connectFd(-1, '127.0.0.1', 80), /fd must be an integer/);
  assert.throws(() => addon.connectFd(0, 'not-an-ip', 80), /ip must be an IPv4 or IPv6 address/);
  assert.throws(() => addon.sendFds(0, 'text', []), /bytes must be a Uint8Array/);
  assert.throws(() => addon.sendFds(0, Buffer.alloc(1), [1.5]), /fd must be an integer/);
  assert.throws(() => addon.recvFds(0, 0, 1), /maxBytes must be an integer/);
  assert.throws(() => addon.pollWatch({}, true, false), /handle must come from pollStart/);
  assert.throws(() => addon.pollStart(0, 'cb'), /callback must be a function/);
});

test('native errors carry errno name and failed step, and become SyscallErrors with context', () => {
  const addon = nativeAddon();
  let raw: unknown;
  try {
    addon.socketInNetns('/nonexistent/netns', { family: 4 });
  } catch (err) {
    raw = err;
  }
  assert.ok(raw instanceof Error);
  assert.equal((raw as NodeJS.ErrnoException).code, 'ENOENT');
  assert.equal((raw as NodeJS.ErrnoException).syscall, 'open netns');
  assert.equal(raw.message, 'open netns /nonexistent/netns failed: ENOENT (No such file or directory)');
  const wrapped = toPlatformError('create socket in /nonexistent/netns', raw);
  assert.ok(wrapped instanceof SyscallError);
  assert.equal(wrapped.code, 'PLATFORM_SYSCALL');
  assert.equal(wrapped.sysCode, 'ENOENT');
  assert.equal(wrapped.step, 'open netns');
  assert.equal(wrapped.message, 'create socket in /nonexistent/netns: open netns /nonexistent/netns failed: ENOENT (No such file or directory)');
  assert.ok(toPlatformError('x', new TypeError('bad')) instanceof PlatformArgumentError);
});
