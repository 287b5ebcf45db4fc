// Unit tests (no root, Unix sockets in a temp dir): SEQPACKET messages, fd passing, limits, close and EOF.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  connectSeqpacket, listenSeqpacket, SeqpacketClosedError, type SeqpacketConnection, type SeqpacketOptions,
} from './seqpacket.js';
import { PlatformArgumentError, SyscallError } from './platform-errors.js';
import { nativeAddon } from './native-addon.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-seqpacket-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A connected pair: `client` connected to `server`'s accepted side. */
async function pair(t: TestContext, opts: SeqpacketOptions = {}): Promise<{ client: SeqpacketConnection; server: SeqpacketConnection; dir: string }> {
  const dir = tempDir(t);
  const listener = listenSeqpacket(join(dir, 's.sock'), opts);
  t.after(() => listener.close());
  const accepted = new Promise<SeqpacketConnection>((resolve) => listener.once('connection', resolve));
  const client = connectSeqpacket(join(dir, 's.sock'), opts);
  const server = await accepted;
  t.after(() => {
    client.close();
    server.close();
  });
  return { client, server, dir };
}

const openFds = () => readdirSync('/proc/self/fd').length;

test('messages keep their boundaries and order, in both directions', { timeout: 10_000 }, async (t) => {
  const { client, server } = await pair(t);
  const sent = Array.from({ length: 200 }, (_, i) => `message-${i}`.padEnd(10 + (i % 50), '.'));
  const receiving = (async () => {
    const got: string[] = [];
    for (let i = 0; i < sent.length; i++) got.push((await server.receive())!.data.toString());
    return got;
  })();
  await Promise.all(sent.map((m) => client.send(Buffer.from(m))));
  assert.deepEqual(await receiving, sent);
  await server.send(Buffer.from('ack'));
  assert.equal((await client.receive())?.data.toString(), 'ack');
});

test('an fd passed with SCM_RIGHTS refers to the same open file on the receiving side', { timeout: 10_000 }, async (t) => {
  const { client, server, dir } = await pair(t);
  writeFileSync(join(dir, 'f'), 'payload');
  const fd = openSync(join(dir, 'f'), 'r');
  await client.send(Buffer.from('add'), fd);
  closeSync(fd);
  const msg = await server.receive();
  assert.equal(msg?.data.toString(), 'add');
  assert.equal(msg?.fds.length, 1);
  assert.equal(readFileSync(msg!.fds[0], 'utf8'), 'payload');
  closeSync(msg!.fds[0]);
});

test('a message longer than 1 KiB or with too many fds is reported and dropped; the channel stays usable', { timeout: 10_000 }, async (t) => {
  const { client, server, dir } = await pair(t);
  writeFileSync(join(dir, 'f'), 'x');
  const before = openFds();
  await client.send(Buffer.alloc(1025, 7));
  await assert.rejects(server.receive(), (err: unknown) => err instanceof SyscallError && err.sysCode === 'EMSGSIZE' &&
    err.message.includes('message of 1025 bytes exceeds the 1024-byte limit'));
  const a = openSync(join(dir, 'f'), 'r');
  const b = openSync(join(dir, 'f'), 'r');
  await client.send(Buffer.from('two fds'), [a, b]);
  closeSync(a);
  closeSync(b);
  await assert.rejects(server.receive(), (err: unknown) => err instanceof SyscallError && err.sysCode === 'EMSGSIZE' &&
    err.message.includes('more than 1 file descriptors'));
  assert.equal(openFds(), before, 'descriptors of dropped messages are closed');
  await client.send(Buffer.alloc(1024, 1));
  assert.equal((await server.receive())?.data.length, 1024);
});

test('receive resolves null once the peer closes; operations after close are refused', { timeout: 10_000 }, async (t) => {
  const { client, server } = await pair(t);
  const pending = server.receive();
  client.close();
  assert.equal(await pending, null);
  assert.equal(await server.receive(), null);
  await assert.rejects(client.send(Buffer.from('x')), SeqpacketClosedError);
  await assert.rejects(client.receive(), SeqpacketClosedError);
  await assert.rejects(server.send(Buffer.from('to nobody')), (err: unknown) => err instanceof SyscallError && err.sysCode === 'EPIPE');
});

test('close rejects a pending receive', { timeout: 10_000 }, async (t) => {
  const { server } = await pair(t);
  const pending = server.receive();
  server.close();
  await assert.rejects(pending, SeqpacketClosedError);
});

test('a stale socket file is replaced; a live listener or a regular file is not', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'z.sock');
  const first = listenSeqpacket(path);
  assert.throws(() => listenSeqpacket(path), (err: unknown) => err instanceof SyscallError && err.sysCode === 'EADDRINUSE' &&
    err.message.includes('in use by a live listener'));
  first.close();
  // A stale socket file, as a crashed listener leaves it: bound, then closed without unlinking.
  nativeAddon().closeFd(nativeAddon().seqpacketListen(path, 1));
  const second = listenSeqpacket(path);
  t.after(() => second.close());
  const accepted = new Promise<SeqpacketConnection>((resolve) => second.once('connection', resolve));
  const c = connectSeqpacket(path);
  (await accepted).close();
  c.close();
  writeFileSync(join(dir, 'plain'), '');
  assert.throws(() => listenSeqpacket(join(dir, 'plain')), (err: unknown) => err instanceof PlatformArgumentError &&
    err.message.includes('exists and is not a socket'));
  assert.throws(() => connectSeqpacket(join(dir, 'missing.sock')), (err: unknown) => err instanceof SyscallError && err.sysCode === 'ENOENT');
  assert.throws(() => listenSeqpacket('x'.repeat(200)), (err: unknown) => err instanceof PlatformArgumentError &&
    /a Unix socket path is 1-107 bytes/.test(err.message));
});
