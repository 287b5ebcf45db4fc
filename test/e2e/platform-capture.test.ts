// e2e (root): in-pod capture with nftables, proving the VERIFIED.md mechanism through src/platform.
// Each test builds a "pod" and a "node" netns joined by a veth (10.250.N.0/24, fd00:250:N::/64), deleted after.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import {
  applyNft, connectFromNetns, createNetns, createVethPair, deleteNetns, ipIn, listenInNetns, originalDestination,
  SyscallError,
} from '../../src/platform/index.js';

const MARK = 0x539;

interface PodNode {
  pod: string;
  node: string;
  podIp: string;
  nodeIp: string;
  podIp6: string;
  nodeIp6: string;
}

let seq = 0;
/** A pod netns and a node netns joined by a veth; removed when the test ends, pass or fail. */
async function podAndNode(t: TestContext): Promise<PodNode> {
  const n = ++seq;
  const pod = `test-cap${n}-pod-${process.pid}`;
  const node = `test-cap${n}-node-${process.pid}`;
  t.after(async () => {
    await deleteNetns(pod, { ignoreMissing: true });
    await deleteNetns(node, { ignoreMissing: true });
  });
  await createNetns(pod);
  await createNetns(node);
  const topo = { pod, node, podIp: `10.250.${n}.2`, nodeIp: `10.250.${n}.1`, podIp6: `fd00:250:${n}::2`, nodeIp6: `fd00:250:${n}::1` };
  await createVethPair(
    { netns: pod, name: 'eth0', addresses: [`${topo.podIp}/24`, `${topo.podIp6}/64`] },
    { netns: node, name: 'vpod', addresses: [`${topo.nodeIp}/24`, `${topo.nodeIp6}/64`] },
  );
  return topo;
}

/**
 * The VERIFIED.md rule set (IPv4). Only the layout differs: nft 1.0.6 refuses a rule followed by `}` on the same
 * line ("unexpected '}', expecting newline or semicolon"), so each closing brace sits on its own line.
 */
const VERIFIED_RULES_V4 = `
table inet ambit {
  chain prerouting_mangle { type filter hook prerouting priority mangle; policy accept;
    meta mark & 0xfff == 0x539 ct mark set ct mark & 0xfffff000 | 0x111
  }
  chain output_mangle { type route hook output priority mangle; policy accept;
    ct mark & 0xfff == 0x111 meta mark set meta mark & 0xfffff000 | 0x111
  }
  chain output_nat { type nat hook output priority -100; policy accept;
    meta l4proto tcp meta mark & 0xfff == 0x111 accept
    oif lo ip daddr != 127.0.0.1 accept
    meta l4proto tcp meta mark & 0xfff != 0x539 ip daddr != 127.0.0.1 redirect to :15001
  }
  chain prerouting_nat { type nat hook prerouting priority -100; policy accept;
    meta l4proto tcp meta mark & 0xfff != 0x539 ip daddr != 127.0.0.1 tcp dport != 15008 redirect to :15006
  }
}
`;

/** The same rules for IPv6 (loopback ::1 instead of 127.0.0.1). */
const RULES_V6 = VERIFIED_RULES_V4.replaceAll('ip daddr != 127.0.0.1', 'ip6 daddr != ::1');

/** The policy route that delivers the app's replies to a spoofed source back to ztunnel's transparent socket. */
async function addSpoofReplyRoute(pod: string, family: 4 | 6): Promise<void> {
  const f = family === 6 ? ['-6'] : [];
  await ipIn(pod, [...f, 'rule', 'add', 'fwmark', '0x111/0xfff', 'pref', '32764', 'lookup', '100']);
  await ipIn(pod, [...f, 'route', 'add', 'local', family === 6 ? '::/0' : '0.0.0.0/0', 'dev', 'lo', 'table', '100']);
}

/** Collects accepted sockets of a listener, in order. */
function acceptQueue(): { onConnection: (s: net.Socket) => void; next: () => Promise<net.Socket>; count: () => number } {
  const ready: net.Socket[] = [];
  const waiters: Array<(s: net.Socket) => void> = [];
  let total = 0;
  return {
    onConnection: (s) => {
      total++;
      const w = waiters.shift();
      if (w) w(s);
      else ready.push(s);
    },
    next: () => {
      const s = ready.shift();
      return s ? Promise.resolve(s) : new Promise((resolve) => waiters.push(resolve));
    },
    count: () => total,
  };
}

function closeAll(t: TestContext, ...items: Array<net.Server | net.Socket>): void {
  t.after(() => {
    for (const i of items) {
      if (i instanceof net.Server) i.close();
      else i.destroy();
    }
  });
}

/** Reads from `socket` until `n` bytes arrived (without ending the socket, unlike breaking out of for-await). */
function readBytes(socket: net.Socket, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (chunk: Buffer) => {
      got += chunk.toString('utf8');
      if (got.length < n) return;
      socket.off('data', onData).off('error', reject).off('end', onEnd);
      socket.pause();
      resolve(got);
    };
    const onEnd = () => reject(new Error(`stream ended after ${got.length} of ${n} bytes`));
    socket.on('data', onData).once('error', reject).once('end', onEnd);
    socket.resume();
  });
}

/** The outbound experiment: app in pod → redirected to 15001 → original dst → marked upstream reaches the far server. */
async function outbound(t: TestContext, family: 4 | 6): Promise<void> {
  const topo = await podAndNode(t);
  await applyNft(topo.pod, family === 4 ? VERIFIED_RULES_V4 : RULES_V6);
  const farIp = family === 4 ? topo.nodeIp : topo.nodeIp6;
  const podIp = family === 4 ? topo.podIp : topo.podIp6;

  const captured = acceptQueue();
  const far = acceptQueue();
  const capture = await listenInNetns(topo.pod, { host: family === 4 ? '0.0.0.0' : '::', port: 15001, mark: MARK }, captured.onConnection);
  const farServer = await listenInNetns(topo.node, { host: farIp, port: 8080 }, far.onConnection);
  closeAll(t, capture, farServer);

  // The app dials the far server; the rules send it to 15001 instead.
  const app = await connectFromNetns(topo.pod, { host: farIp, port: 8080, timeoutMs: 5000 });
  const inbound = await captured.next();
  closeAll(t, app, inbound);
  assert.deepEqual(originalDestination(inbound), { ip: farIp, port: 8080, family });
  assert.equal(inbound.remoteAddress, podIp);

  // ztunnel's upstream socket carries mark 0x539: not captured again, reaches the far server from the pod's IP.
  const upstream = await connectFromNetns(topo.pod, { host: farIp, port: 8080, mark: MARK, timeoutMs: 5000 });
  const atFar = await far.next();
  closeAll(t, upstream, atFar);
  assert.equal(atFar.remoteAddress, podIp);
  assert.equal(captured.count(), 1, 'the marked upstream must not be re-captured');
  upstream.write('ping');
  assert.equal(await readBytes(atFar, 4), 'ping');

  // Control: the same dial without the mark is captured.
  const unmarked = await connectFromNetns(topo.pod, { host: farIp, port: 8080, timeoutMs: 5000 });
  closeAll(t, unmarked, await captured.next());
  assert.equal(captured.count(), 2);
  assert.equal(far.count(), 1);
}

test('IPv4: a connection redirected by the VERIFIED rules reports the dialed address; marked upstreams bypass capture', { timeout: 30_000 }, async (t) => {
  await outbound(t, 4);
});

test('IPv6: the same capture and original destination with ip6 rules', { timeout: 30_000 }, async (t) => {
  await outbound(t, 6);
});

/** The inbound experiment: client on the node → redirected to 15006 → transparent upstream makes the app see the client. */
async function inbound(t: TestContext, family: 4 | 6): Promise<void> {
  const topo = await podAndNode(t);
  await applyNft(topo.pod, family === 4 ? VERIFIED_RULES_V4 : RULES_V6);
  await addSpoofReplyRoute(topo.pod, family);
  const podIp = family === 4 ? topo.podIp : topo.podIp6;
  const clientIp = family === 4 ? topo.nodeIp : topo.nodeIp6;
  const any = family === 4 ? '0.0.0.0' : '::';

  const captured = acceptQueue();
  const appConns = acceptQueue();
  const capture = await listenInNetns(topo.pod, { host: any, port: 15006, mark: MARK }, captured.onConnection);
  const app = await listenInNetns(topo.pod, { host: any, port: 9090 }, appConns.onConnection);
  closeAll(t, capture, app);

  // A client on the node dials the pod's app port; the pod's prerouting rule sends it to 15006.
  const client = await connectFromNetns(topo.node, { host: podIp, port: 9090, timeoutMs: 5000 });
  const accepted = await captured.next();
  closeAll(t, client, accepted);
  assert.deepEqual(originalDestination(accepted), { ip: podIp, port: 9090, family });
  assert.equal(accepted.remoteAddress, clientIp);

  // ztunnel delivers to the app from the client's own address (IP_TRANSPARENT, mark 0x539).
  const upstream = await connectFromNetns(topo.pod, {
    host: podIp, port: 9090, localAddress: clientIp, mark: MARK, transparent: true, timeoutMs: 5000,
  });
  const atApp = await appConns.next();
  closeAll(t, upstream, atApp);
  assert.equal(atApp.remoteAddress, clientIp, 'the app must see the original client address');
  assert.equal(upstream.localAddress, clientIp);
  // Bytes flow both ways: the app's replies to the spoofed source come back through the policy route.
  upstream.write('hello');
  assert.equal(await readBytes(atApp, 5), 'hello');
  atApp.write('world');
  assert.equal(await readBytes(upstream, 5), 'world');
  assert.equal(appConns.count(), 1);
}

test('inbound IPv4: a transparent upstream bound to the client address makes the app see the original source', { timeout: 30_000 }, async (t) => {
  await inbound(t, 4);
});

test('inbound IPv6: the same with ip6 rules and an IPv6 policy route', { timeout: 30_000 }, async (t) => {
  await inbound(t, 6);
});

test('binding a foreign source address needs transparent (or freebind)', { timeout: 30_000 }, async (t) => {
  const topo = await podAndNode(t);
  const app = await listenInNetns(topo.pod, { host: '0.0.0.0', port: 9090 });
  closeAll(t, app);
  await assert.rejects(
    connectFromNetns(topo.pod, { host: topo.podIp, port: 9090, localAddress: '10.250.200.9', timeoutMs: 5000 }),
    (err: unknown) => err instanceof SyscallError && err.sysCode === 'EADDRNOTAVAIL' && err.step === 'bind',
  );
});

test('connecting from a netns with nothing listening is refused with ECONNREFUSED', { timeout: 30_000 }, async (t) => {
  const topo = await podAndNode(t);
  await assert.rejects(
    connectFromNetns(topo.pod, { host: topo.nodeIp, port: 8081, timeoutMs: 5000 }),
    (err: unknown) => err instanceof SyscallError && err.sysCode === 'ECONNREFUSED' && /connectFromNetns 10\.250\.\d+\.1:8081/.test(err.message),
  );
  // The listener really is per netns: one in the node netns is invisible from the pod's loopback.
  const nodeOnly = await listenInNetns(topo.node, { host: '127.0.0.1', port: 8082 });
  closeAll(t, nodeOnly);
  await assert.rejects(connectFromNetns(topo.pod, { host: '127.0.0.1', port: 8082, timeoutMs: 5000 }), /ECONNREFUSED/);
  const ok = await connectFromNetns(topo.node, { host: '127.0.0.1', port: 8082, timeoutMs: 5000 });
  ok.destroy();
  await once(ok, 'close');
});
