// Unit tests (no root, loopback only): argument checks and error shapes of the netns socket wrappers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, statSync } from 'node:fs';
import net from 'node:net';
import {
  bindUdpInNetns, connectFromNetns, createSocketInNetns, listenInNetns, netnsInode, originalDestination, setSocketMark,
  socketFd,
} from './netns-sockets.js';
import { PlatformArgumentError, SyscallError } from './platform-errors.js';

const isArgError = (pattern: RegExp) => (err: unknown) => err instanceof PlatformArgumentError && pattern.test(err.message);

test('listener and connection options are validated with messages naming the field', async () => {
  await assert.rejects(listenInNetns(null, { host: 'localhost', port: 80 }),
    isArgError(/^listenInNetns: host "localhost" is not an IPv4 or IPv6 address$/));
  await assert.rejects(listenInNetns(null, { host: '127.0.0.1', port: 65536 }),
    isArgError(/^listenInNetns: port 65536 is invalid: must be an integer from 0 to 65535$/));
  await assert.rejects(listenInNetns(null, { host: '127.0.0.1', port: 0, mark: -1 }),
    isArgError(/^createSocketInNetns: mark -1 is invalid/));
  await assert.rejects(listenInNetns('bad/name', { host: '127.0.0.1', port: 0 }),
    isArgError(/^createSocketInNetns: netns name "bad\/name" is invalid/));
  await assert.rejects(listenInNetns(-3, { host: '127.0.0.1', port: 0 }), isArgError(/netns fd -3 is invalid/));
  await assert.rejects(connectFromNetns(null, { host: '127.0.0.1', port: 0 }), isArgError(/^connectFromNetns: port 0 is invalid/));
  await assert.rejects(connectFromNetns(null, { host: '127.0.0.1', port: 80, localAddress: '::1' }),
    isArgError(/^connectFromNetns: localAddress ::1 and host 127.0.0.1 are of different IP families$/));
  await assert.rejects(connectFromNetns(null, { host: '::1', port: 80, timeoutMs: 0 }), isArgError(/timeoutMs 0 is invalid/));
  await assert.rejects(connectFromNetns(null, { host: '::1', port: 80, transparent: 1 as unknown as boolean }),
    isArgError(/transparent must be true or false/));
  assert.throws(() => createSocketInNetns(null, { family: 5 as 4 }), isArgError(/family 5 must be 4 or 6/));
  assert.throws(() => createSocketInNetns(null, { family: 4, bindIp: '::' }), isArgError(/bindIp :: is not an IPv4 address/));
  assert.throws(() => createSocketInNetns(null, { family: 4, type: 'dgram', listen: 5 }), isArgError(/listen applies to stream sockets only/));
  assert.throws(() => netnsInode('a b'), isArgError(/^netnsInode: netns name "a b" is invalid/));
});

test('listen and connect in the current netns over loopback, IPv4 and IPv6', { timeout: 10_000 }, async (t) => {
  for (const host of ['127.0.0.1', '::1']) {
    const server = await listenInNetns(null, { host, port: 0 }, (s) => s.end(`hello ${s.remoteAddress}`));
    t.after(() => server.close());
    const { port } = server.address() as net.AddressInfo;
    const socket = await connectFromNetns(null, { host, port, timeoutMs: 5000 });
    assert.ok(socketFd(socket) >= 0);
    let got = '';
    socket.setEncoding('utf8').on('data', (d: string) => (got += d));
    await new Promise((resolve) => socket.once('end', resolve));
    assert.equal(got, `hello ${host}`);
    socket.destroy();
  }
});

test('refused connections, unredirected sockets and closed sockets give coded errors', { timeout: 10_000 }, async (t) => {
  const probe = await listenInNetns(null, { host: '127.0.0.1', port: 0 });
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve)); // now nothing listens on that port
  await assert.rejects(connectFromNetns(null, { host: '127.0.0.1', port, timeoutMs: 5000 }), (err: unknown) =>
    err instanceof SyscallError && err.sysCode === 'ECONNREFUSED' && err.step === 'connect' &&
    err.message === `connectFromNetns 127.0.0.1:${port}: connect failed: ECONNREFUSED`);

  const server = await listenInNetns(null, { host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = await connectFromNetns(null, { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  const serverSide = await accepted;
  assert.throws(() => originalDestination(serverSide), (err: unknown) =>
    err instanceof SyscallError && err.sysCode === 'ENOENT' && err.step === 'getsockopt SO_ORIGINAL_DST');
  client.destroy();
  serverSide.destroy();
  assert.throws(() => socketFd(client), isArgError(/^socketFd: the socket has no open file descriptor/));
  assert.throws(() => setSocketMark(client, 2 ** 32), isArgError(/mark 4294967296 is invalid/));
});

test('a netns is identified by its inode; non-namespace files are refused', () => {
  assert.equal(netnsInode('/proc/self/ns/net'), statSync('/proc/self/ns/net').ino);
  assert.throws(() => netnsInode('/etc/hostname'), (err: unknown) =>
    err instanceof SyscallError && err.sysCode === 'EINVAL' && /not a namespace file/.test(err.message));
  assert.throws(() => netnsInode('/proc/self/ns/uts'), (err: unknown) =>
    err instanceof SyscallError && /not a network namespace/.test(err.message));
});

test('a UDP socket bound through the addon works as a dgram.Socket', { timeout: 10_000 }, async (t) => {
  const udp = await bindUdpInNetns(null, { host: '127.0.0.1', port: 0 });
  t.after(() => udp.close());
  const got = new Promise<string>((resolve) => udp.once('message', (m) => resolve(m.toString())));
  udp.send('dns?', udp.address().port, '127.0.0.1');
  assert.equal(await got, 'dns?');
});

test('a failed netns switch leaves the calling thread in its own netns', () => {
  const home = netnsInode('/proc/thread-self/ns/net');
  const notNs = openSync('/etc/hostname', 'r');
  try {
    assert.throws(() => createSocketInNetns(notNs, { family: 4 }), (err: unknown) =>
      err instanceof SyscallError && err.step === 'setns' && err.sysCode === 'EINVAL');
  } finally {
    closeSync(notNs);
  }
  assert.equal(netnsInode('/proc/thread-self/ns/net'), home);
});

test('reusePort lets a second listener bind a port a first one holds; without it the bind fails', { timeout: 10_000 }, async (t) => {
  const first = await listenInNetns(null, { host: '127.0.0.1', port: 0, reusePort: true });
  t.after(() => first.close());
  const { port } = first.address() as net.AddressInfo;
  await assert.rejects(listenInNetns(null, { host: '127.0.0.1', port }), (err: unknown) => err instanceof SyscallError && err.sysCode === 'EADDRINUSE');
  const second = await listenInNetns(null, { host: '127.0.0.1', port, reusePort: true }, (s) => s.end('second'));
  t.after(() => second.close());
  await new Promise<void>((resolve) => first.close(() => resolve()));
  // The first one is gone: every new connection lands on the second.
  const socket = await connectFromNetns(null, { host: '127.0.0.1', port, timeoutMs: 5000 });
  let got = '';
  socket.setEncoding('utf8').on('data', (d: string) => (got += d));
  await new Promise((resolve) => socket.once('end', resolve));
  socket.destroy();
  assert.equal(got, 'second');
});
