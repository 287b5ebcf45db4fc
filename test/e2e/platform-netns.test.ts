// e2e (root): the netns toolkit, nft change monitoring, listeners placed in a pod netns, and netns fds passed over
// SEQPACKET (ZDS style).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type net from 'node:net';
import {
  applyNft, CommandError, connectFromNetns, connectSeqpacket, createNetns, createSocketInNetns, createVethPair, deleteNetns,
  deleteNftTable, ipIn, listenInNetns, listenSeqpacket, listNetns, listNftRuleset, listNftTable, netnsInode, netnsPath, NftMonitor,
  runCommand, runIn, setNetnsSysctl, SyscallError, type SeqpacketConnection,
} from '../../src/platform/index.js';

let seq = 0;
/** A fresh named netns (loopback up), deleted when the test ends. */
async function scratchNetns(t: TestContext, role: string): Promise<string> {
  const name = `test-ns${++seq}-${role}-${process.pid}`;
  t.after(() => deleteNetns(name, { ignoreMissing: true }));
  await createNetns(name);
  return name;
}

function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

test('netns toolkit: create, list, veth with addresses, run inside, delete; failures name the command', { timeout: 30_000 }, async (t) => {
  const a = await scratchNetns(t, 'a');
  const b = await scratchNetns(t, 'b');
  assert.ok((await listNetns()).includes(a));
  await createVethPair(
    { netns: a, name: 'eth0', addresses: ['10.250.10.2/24', 'fd00:250:10::2/64'] },
    { netns: b, name: 'eth0', addresses: ['10.250.10.1/24', 'fd00:250:10::1/64'] },
  );
  const addrs = (await runIn(a, ['ip', '-br', 'addr', 'show', 'dev', 'eth0'])).stdout;
  assert.match(addrs, /10\.250\.10\.2\/24/);
  assert.match(addrs, /fd00:250:10::2\/64/);
  // Both families reach across the veth at once (IPv6 without waiting for duplicate address detection).
  const srv = await listenInNetns(b, { host: '::', port: 7000 }, (s) => s.end('v6'));
  t.after(() => srv.close());
  const c = await connectFromNetns(a, { host: 'fd00:250:10::1', port: 7000, timeoutMs: 5000 });
  // Read to the end before closing: destroying with unread data would reset the server's socket.
  let got = '';
  c.setEncoding('utf8').on('data', (d: string) => (got += d));
  await new Promise((resolve) => c.once('end', resolve));
  c.end();
  assert.equal(got, 'v6');

  // A failing command surfaces as a CommandError carrying the command line and its stderr.
  await assert.rejects(createNetns(a), (err: unknown) => err instanceof CommandError &&
    err.message.startsWith(`command failed: ip netns add ${a} (exit 1): `) && /exists/i.test(err.message));
  await assert.rejects(ipIn(a, ['route', 'add', 'default', 'via', '10.250.77.1']), (err: unknown) =>
    err instanceof CommandError && err.message.includes(`ip -n ${a} route add default via 10.250.77.1`) && err.stderr.length > 0);

  // nftables: apply atomically, read back, a syntax error applies nothing and is reported, delete the table.
  await applyNft(a, 'table inet ambit_t {\n  chain c { type filter hook output priority 0; policy accept;\n  }\n}\n');
  assert.match(await listNftRuleset(a), /table inet ambit_t/);
  await assert.rejects(applyNft(a, 'table inet broken { chain c { nonsense }'), (err: unknown) =>
    err instanceof CommandError && err.message.includes(`ip netns exec ${a} nft -f -`) && /syntax error/i.test(err.stderr));
  await deleteNftTable(a, 'inet', 'ambit_t');
  await deleteNftTable(a, 'inet', 'ambit_t', { ignoreMissing: true });
  assert.doesNotMatch(await listNftRuleset(a), /ambit_t/);

  await deleteNetns(b);
  assert.ok(!(await listNetns()).includes(b));
  await deleteNetns(b, { ignoreMissing: true });
  await assert.rejects(deleteNetns(b), CommandError);
});

test('a listener created in a pod netns by this process accepts a connection made from inside that netns', { timeout: 30_000 }, async (t) => {
  const pod = await scratchNetns(t, 'pod');
  const received: string[] = [];
  const server = await listenInNetns(pod, { host: '127.0.0.1', port: 7001 }, (socket) => {
    socket.on('data', (d) => {
      received.push(d.toString());
      socket.end(`echo:${d.toString()}`);
    });
  });
  t.after(() => server.close());
  // The client is a separate process started inside the pod netns, where 127.0.0.1:7001 is the pod's loopback.
  const script = "const s=require('net').connect(7001,'127.0.0.1',()=>s.write('hi'));" +
    "let d='';s.on('data',c=>d+=c);s.on('end',()=>process.stdout.write(d));";
  const { stdout } = await runIn(pod, [process.execPath, '-e', script], { timeoutMs: 10_000 });
  assert.equal(stdout, 'echo:hi');
  assert.deepEqual(received, ['hi']);
  // Another netns has no such listener (same address and port, different namespace).
  const other = await scratchNetns(t, 'other');
  await assert.rejects(connectFromNetns(other, { host: '127.0.0.1', port: 7001, timeoutMs: 5000 }),
    (err: unknown) => err instanceof SyscallError && err.sysCode === 'ECONNREFUSED');
});

test('SCM_RIGHTS: a pod netns fd passed over SEQPACKET is used to open a listener in that netns', { timeout: 30_000 }, async (t) => {
  const pod = await scratchNetns(t, 'pod');
  const other = await scratchNetns(t, 'other');
  const dir = mkdtempSync(join(tmpdir(), 'ambit-zds-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = listenSeqpacket(join(dir, 'ztunnel.sock'));
  t.after(() => server.close());
  const accepted = new Promise<SeqpacketConnection>((resolve) => server.once('connection', resolve));
  const agent = connectSeqpacket(join(dir, 'ztunnel.sock'));
  const ztunnel = await accepted;
  t.after(() => {
    agent.close();
    ztunnel.close();
  });

  // The "node agent" sends an add with the pod's netns fd attached.
  const nsFd = openSync(netnsPath(pod), 'r');
  await agent.send(Buffer.from('add pod-1'), nsFd);
  closeSync(nsFd);
  const msg = await ztunnel.receive();
  assert.ok(msg);
  assert.equal(msg.data.toString(), 'add pod-1');
  assert.equal(msg.fds.length, 1);
  const podFd = msg.fds[0];
  t.after(() => closeSync(podFd));
  assert.equal(netnsInode(podFd), netnsInode(pod));
  const home = netnsInode('/proc/thread-self/ns/net');
  assert.notEqual(netnsInode(podFd), netnsInode(other));

  // The "ztunnel" opens a listener in the pod's netns through the received fd.
  const listener = await listenInNetns(podFd, { host: '127.0.0.1', port: 0 }, (s) => s.end('in-pod'));
  t.after(() => listener.close());
  const port = (listener.address() as net.AddressInfo).port;
  const viaPod = await connectFromNetns(pod, { host: '127.0.0.1', port, timeoutMs: 5000 });
  viaPod.setEncoding('utf8');
  let got = '';
  viaPod.on('data', (d: string) => (got += d));
  await new Promise((resolve) => viaPod.once('end', resolve));
  assert.equal(got, 'in-pod');
  assert.equal(netnsInode('/proc/thread-self/ns/net'), home, 'socket creation must return to the original netns');
  assert.notEqual(home, netnsInode(pod));
  await assert.rejects(connectFromNetns(other, { host: '127.0.0.1', port, timeoutMs: 5000 }),
    (err: unknown) => err instanceof SyscallError && err.sysCode === 'ECONNREFUSED');

  // A message over the 1 KiB ZDS limit is reported, its fd is not leaked, and the channel keeps working.
  const fdsBeforeBig = openFdCount();
  const nsFd2 = openSync(netnsPath(pod), 'r');
  await agent.send(Buffer.alloc(1500, 1), nsFd2);
  closeSync(nsFd2);
  await assert.rejects(ztunnel.receive(), (err: unknown) =>
    err instanceof SyscallError && err.sysCode === 'EMSGSIZE' && /1500 bytes exceeds the 1024-byte limit/.test(err.message));
  assert.equal(openFdCount(), fdsBeforeBig, 'the fd of the dropped message must be closed');
  await agent.send(Buffer.from('snapshot_sent'));
  const next = await ztunnel.receive();
  assert.equal(next?.data.toString(), 'snapshot_sent');
  assert.deepEqual(next?.fds, []);
});

test('nft monitor: one callback per committed transaction with its event lines; a killed monitor reports its exit', { timeout: 30_000 }, async (t) => {
  const ns = await scratchNetns(t, 'mon');
  const transactions: string[][] = [];
  let exited: string | undefined;
  let wake: () => void = () => undefined;
  const monitor = new NftMonitor(ns, {
    transaction: (lines) => {
      transactions.push(lines);
      wake();
    },
    exit: (reason) => {
      exited = reason;
      wake();
    },
  });
  t.after(() => monitor.close());
  const until = async (what: string, done: () => boolean, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (got ${JSON.stringify(transactions)})`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
  };
  // `nft monitor` subscribes asynchronously: touch a table until the first transaction is seen.
  for (let i = 0; i < 50 && transactions.length === 0; i++) {
    await applyNft(ns, 'table inet probe {\n}\n');
    await until('a first transaction', () => transactions.length > 0, 200).catch(() => undefined);
  }
  assert.ok(transactions.length > 0, 'the monitor reported the probe table');
  transactions.length = 0;
  await applyNft(ns, 'table inet t1 {\n  chain c {\n    type filter hook output priority 0; policy accept;\n  }\n}\n');
  await runIn(ns, ['nft', 'flush', 'ruleset']);
  await until('two transactions', () => transactions.length >= 2);
  assert.deepEqual(transactions[0], ['add table inet t1', 'add chain inet t1 c { type filter hook output priority filter; policy accept; }']);
  assert.ok(transactions[1]!.includes('delete table inet t1') && transactions[1]!.includes('delete table inet probe'), JSON.stringify(transactions[1]));
  assert.equal(await listNftTable(ns, 'inet', 't1'), undefined, 'an absent table reads as undefined');
  assert.equal(exited, undefined);
  const pids = (await runCommand(['ip', 'netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean);
  assert.equal(pids.length, 1, 'the monitor is the one process in the netns');
  process.kill(Number(pids[0]), 'SIGKILL');
  await until('the exit report', () => exited !== undefined);
  assert.equal(exited, 'killed by SIGKILL');
  assert.equal(monitor.closed, true);
});

/** Sends `hello` on a connected socket and resolves with what came back before the end, or the error code. */
function exchange(c: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    c.setEncoding('utf8').on('data', (d: string) => (got += d));
    c.once('end', () => resolve(got));
    c.once('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
    c.end('hello');
  });
}

test('reuse-port handover: with tcp_migrate_req a closing listener hands its queued connections to its successor', { timeout: 30_000 }, async (t) => {
  for (const migrate of [false, true]) {
    const ns = await scratchNetns(t, migrate ? 'mig' : 'nomig');
    // Only this netns changes (the host's value stays as it was).
    setNetnsSysctl(ns, 'ipv4/tcp_migrate_req', migrate ? '1' : '0');
    const read = await runIn(ns, ['cat', '/proc/sys/net/ipv4/tcp_migrate_req']);
    assert.equal(read.stdout.trim(), migrate ? '1' : '0');
    // The old listener is a raw fd nobody accepts on: connections the kernel gives it wait in its queue.
    const old = createSocketInNetns(ns, { family: 4, bindIp: '127.0.0.1', bindPort: 7100, listen: 64, reuseAddr: true, reusePort: true });
    const successor = await listenInNetns(ns, { host: '127.0.0.1', port: 7100, reusePort: true }, (s) => {
      s.on('error', () => undefined);
      s.on('data', () => s.end('successor'));
    });
    t.after(() => successor.close());
    // 16 connections are spread over both listeners; those in the old one's queue are not served yet.
    // Every handshake is complete (so each connection sits in one listener's queue) before the old one closes.
    const conns = await Promise.all(Array.from({ length: 16 }, () => connectFromNetns(ns, { host: '127.0.0.1', port: 7100, timeoutMs: 10_000 })));
    closeSync(old);
    const answers = await Promise.all(conns.map(exchange));
    const served = answers.filter((a) => a === 'successor').length;
    if (migrate) assert.equal(served, 16, `every queued connection moved to the successor: ${JSON.stringify(answers)}`);
    else assert.ok(served < 16, `without migration the old queue is reset (the test can see the difference): ${JSON.stringify(answers)}`);
  }
});
