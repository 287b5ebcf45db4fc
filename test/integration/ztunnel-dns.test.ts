// Loopback integration: ztunnel's DNS proxy on real UDP and TCP sockets on 127.0.0.1, answering from a ProxyState
// and forwarding to a fake upstream nameserver (a real UDP+TCP server this test runs). Proves: mesh names in every
// short form resolve to the VIP with TTL 30 over UDP and TCP (also through Node's own c-ares resolver), the CNAME for
// search-domain names, NOERROR/empty for a known name without AAAA, headless answers; unknown names are forwarded
// with a fresh id and the upstream's answer (or NXDOMAIN) relayed with the client's id; a truncated upstream
// answer is retried over TCP and re-truncated for a 512-byte UDP client; SERVFAIL without an upstream, with a dead
// one, or for an unknown requester; FORMERR for malformed queries, silence for headerless bytes and responses;
// several pipelined TCP queries; Istio's DNS metrics; nothing answers after stop().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/lib/log.js';
import { service, workload } from '../../src/ztunnel/testing/builders.js';
import { ProxyState } from '../../src/ztunnel/state/proxy-state.js';
import {
  Rcode, RecordType, emptyFlags, parseDnsMessage, responseTo, serializeDnsMessage, type DnsMessage, type DnsRecord,
} from '../../src/lib/dns/dns-message.js';
import { DnsMetrics } from '../../src/ztunnel/dns/dns-metrics.js';
import { DnsProxy, type DnsRequester } from '../../src/ztunnel/dns/dns-proxy.js';
import { LoopbackDnsSockets } from '../../src/ztunnel/dns/dns-sockets.js';
import { TcpFrameReader, frameTcp, type Nameserver } from '../../src/ztunnel/dns/dns-upstream.js';

const HEADLESS_ENDPOINTS = 60;
const BIG_UPSTREAM_ANSWERS = 100;
const REQUESTER: DnsRequester = { namespace: 'mesh', network: '', canonicalService: 'client', canonicalRevision: 'v1' };

function meshState(): ProxyState {
  const state = new ProxyState();
  state.apply({
    services: [
      service({ name: 'echo', namespace: 'mesh', vips: ['10.96.0.20'] }),
      service({ name: 'db', namespace: 'mesh', vips: [] }),
    ],
    workloads: Array.from({ length: HEADLESS_ENDPOINTS }, (_, i) => workload({
      name: `db-${i}`, namespace: 'mesh', addresses: [`10.244.${1 + (i >> 8)}.${i & 0xff}`], services: { 'mesh/db.mesh.svc.cluster.local': [] },
    })),
  });
  return state;
}

/** A fake upstream nameserver on one UDP and one TCP port; records the ids it was sent. */
interface FakeUpstream {
  server: Nameserver;
  seenIds: number[];
  seenTcp: number;
  close(): Promise<void>;
}

function upstreamAnswer(query: DnsMessage, tcp: boolean): DnsMessage {
  const q = query.questions[0]!;
  const a = (address: string): DnsRecord => ({ name: q.name, type: RecordType.A, class: 1, ttl: 300, data: { kind: 'a', address } });
  const name = q.name.toLowerCase();
  if (name === 'www.upstream.test') return responseTo(query, Rcode.NOERROR, [a('192.0.2.1')]);
  if (name === 'big.upstream.test') {
    if (!tcp) {
      const r = responseTo(query, Rcode.NOERROR);
      r.flags.tc = true;
      return r;
    }
    return responseTo(query, Rcode.NOERROR, Array.from({ length: BIG_UPSTREAM_ANSWERS }, (_, i) => a(`198.51.100.${i}`)));
  }
  return responseTo(query, Rcode.NXDOMAIN);
}

/** A UDP socket and a TCP server on the same ephemeral port (retried when the TCP side of a pick is taken). */
async function bindPair(onTcp: (s: net.Socket) => void): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const port = udp.address().port;
    const tcp = net.createServer(onTcp);
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => resolve());
      });
      return { udp, tcp, port };
    } catch (err) {
      udp.close();
      if (attempt >= 5) throw err;
    }
  }
}

async function startUpstream(): Promise<FakeUpstream> {
  const seenIds: number[] = [];
  const fake: FakeUpstream = { server: { ip: '127.0.0.1', port: 0 }, seenIds, seenTcp: 0, close: async () => undefined };
  const { udp, tcp, port } = await bindPair((s) => {
    const frames = new TcpFrameReader(0xffff);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      for (const msg of frames.push(d)) {
        fake.seenTcp++;
        s.write(frameTcp(serializeDnsMessage(upstreamAnswer(parseDnsMessage(msg), true))));
      }
    });
  });
  fake.server.port = port;
  udp.on('message', (msg, rinfo) => {
    const q = parseDnsMessage(msg);
    seenIds.push(q.id);
    udp.send(serializeDnsMessage(upstreamAnswer(q, false)), rinfo.port, rinfo.address);
  });
  fake.close = async () => {
    await new Promise<void>((r) => udp.close(() => r()));
    await new Promise<void>((r) => tcp.close(() => r()));
  };
  return fake;
}

function query(name: string, type: number, opts: { id?: number; edns?: number } = {}): Buffer {
  return serializeDnsMessage({
    id: opts.id ?? Math.floor(Math.random() * 0x10000),
    flags: emptyFlags({ rd: true }),
    questions: [{ name, type, class: 1 }],
    answers: [],
    authorities: [],
    additionals: opts.edns ? [{ name: '', type: RecordType.OPT, class: opts.edns, ttl: 0, data: { kind: 'raw', bytes: Buffer.alloc(0) } }] : [],
  });
}

/** One UDP exchange; undefined when nothing came back within `timeoutMs`. */
async function udpAsk(port: number, packet: Buffer, timeoutMs = 3000): Promise<Buffer | undefined> {
  const s = dgram.createSocket('udp4');
  try {
    return await new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      s.on('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      s.send(packet, port, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}

/** Sends every packet on one TCP connection and collects that many framed replies (by id). */
async function tcpAsk(port: number, packets: Buffer[]): Promise<DnsMessage[]> {
  const s = net.connect(port, '127.0.0.1');
  const frames = new TcpFrameReader(0xffff);
  const replies: DnsMessage[] = [];
  try {
    return await new Promise<DnsMessage[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${replies.length} TCP replies within 5 s`)), 5000);
      s.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      s.on('data', (d: Buffer) => {
        for (const m of frames.push(d)) replies.push(parseDnsMessage(m));
        if (replies.length === packets.length) {
          clearTimeout(timer);
          resolve(replies);
        }
      });
      s.write(Buffer.concat(packets.map(frameTcp)));
    });
  } finally {
    s.destroy();
  }
}

const ips = (m: DnsMessage) => m.answers.map((r) => (r.data.kind === 'cname' ? `CNAME ${r.data.target}` : (r.data as { address: string }).address));

interface Harness {
  proxy: DnsProxy;
  port: number;
  upstream: FakeUpstream;
  registry: Registry;
}

async function harness(t: { after(fn: () => Promise<void>): void }, opts: { nameservers?: Nameserver[]; requester?: DnsRequester | undefined } = {}): Promise<Harness> {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const registry = new Registry();
  const proxy = await DnsProxy.start({
    state: meshState(),
    requester: () => ('requester' in opts ? opts.requester : REQUESTER),
    sockets: new LoopbackDnsSockets(),
    nameservers: () => opts.nameservers ?? [upstream.server],
    clusterDomain: 'cluster.local',
    bindHost: '127.0.0.1',
    port: 0,
    upstreamTimeoutMs: 1500,
    metrics: new DnsMetrics(registry),
    log: silentLogger(),
  });
  t.after(() => proxy.stop());
  assert.equal(proxy.tcpAddress.port, proxy.udpAddress.port, 'UDP and TCP share the port');
  return { proxy, port: proxy.udpAddress.port, upstream, registry };
}

test('mesh names resolve locally over UDP and TCP in every short form, TTL 30; search names get a CNAME', { timeout: 20_000 }, async (t) => {
  const h = await harness(t);
  for (const name of ['echo', 'echo.mesh', 'echo.mesh.svc', 'echo.mesh.svc.cluster.local']) {
    const reply = parseDnsMessage((await udpAsk(h.port, query(name, RecordType.A, { id: 4242 })))!);
    assert.equal(reply.id, 4242);
    assert.equal(reply.flags.rcode, Rcode.NOERROR, name);
    assert.equal(reply.flags.aa, true);
    assert.deepEqual(ips(reply), ['10.96.0.20'], name);
    assert.equal(reply.answers[0]!.ttl, 30);
  }
  const [tcpReply] = await tcpAsk(h.port, [query('echo', RecordType.A)]);
  assert.deepEqual(ips(tcpReply!), ['10.96.0.20']);
  const cname = parseDnsMessage((await udpAsk(h.port, query('echo.mesh.mesh.svc.cluster.local', RecordType.A)))!);
  assert.deepEqual(ips(cname), ['CNAME echo.mesh.svc.cluster.local', '10.96.0.20']);
  const aaaa = parseDnsMessage((await udpAsk(h.port, query('echo', RecordType.AAAA)))!);
  assert.equal(aaaa.flags.rcode, Rcode.NOERROR);
  assert.deepEqual(aaaa.answers, [], 'known name without AAAA: NOERROR, no records');
  assert.deepEqual(h.upstream.seenIds, [], 'nothing above went upstream');

  // An independent client: Node's c-ares resolver pointed at the proxy.
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${h.port}`]);
  assert.deepEqual(await resolver.resolve4('echo.mesh.svc.cluster.local', { ttl: true }), [{ address: '10.96.0.20', ttl: 30 }]);
  assert.deepEqual(await resolver.resolve4('www.upstream.test'), ['192.0.2.1']);
  assert.equal((await resolver.resolve4('big.upstream.test')).length, BIG_UPSTREAM_ANSWERS, 'c-ares retried over TCP after TC');
});

test('headless answers and large answers: truncated for 512-byte UDP clients, whole for EDNS and TCP', { timeout: 20_000 }, async (t) => {
  const h = await harness(t);
  const plain = parseDnsMessage((await udpAsk(h.port, query('db', RecordType.A)))!);
  assert.equal(plain.flags.tc, true);
  assert.ok(plain.answers.length > 0 && plain.answers.length < HEADLESS_ENDPOINTS, `${plain.answers.length} answers in 512 bytes`);
  const edns = parseDnsMessage((await udpAsk(h.port, query('db', RecordType.A, { edns: 4096 })))!);
  assert.equal(edns.flags.tc, false);
  assert.equal(edns.answers.length, HEADLESS_ENDPOINTS);
  assert.equal(edns.additionals.filter((r) => r.type === RecordType.OPT).length, 1, 'EDNS answered with OPT');
  const [tcp] = await tcpAsk(h.port, [query('db', RecordType.A)]);
  assert.equal(tcp!.answers.length, HEADLESS_ENDPOINTS);
  assert.ok(ips(tcp!).every((ip) => ip.startsWith('10.244.')));

  // Upstream says TC over UDP: the proxy asks again over TCP, then truncates for this UDP client.
  const big = parseDnsMessage((await udpAsk(h.port, query('big.upstream.test', RecordType.A)))!);
  assert.equal(big.flags.tc, true);
  assert.ok(big.answers.length < BIG_UPSTREAM_ANSWERS);
  assert.ok(h.upstream.seenTcp >= 1, 'the upstream was asked over TCP');
  const [bigTcp] = await tcpAsk(h.port, [query('big.upstream.test', RecordType.A)]);
  assert.equal(bigTcp!.answers.length, BIG_UPSTREAM_ANSWERS);
});

test('unknown names are forwarded with a fresh id; NXDOMAIN relayed; several pipelined TCP queries answered', { timeout: 20_000 }, async (t) => {
  const h = await harness(t);
  const reply = parseDnsMessage((await udpAsk(h.port, query('www.upstream.test', RecordType.A, { id: 777 })))!);
  assert.equal(reply.id, 777);
  assert.deepEqual(ips(reply), ['192.0.2.1']);
  assert.equal(reply.answers[0]!.ttl, 300, "the upstream's own TTL");
  assert.equal(h.upstream.seenIds.length, 1);
  assert.notEqual(h.upstream.seenIds[0], 777, 'the upstream saw a fresh id');
  const nx = parseDnsMessage((await udpAsk(h.port, query('nope.upstream.test', RecordType.A)))!);
  assert.equal(nx.flags.rcode, Rcode.NXDOMAIN);
  const mx = parseDnsMessage((await udpAsk(h.port, query('echo', RecordType.MX)))!);
  assert.equal(mx.flags.rcode, Rcode.NXDOMAIN, 'non-A/AAAA types are forwarded even for mesh names');

  const replies = await tcpAsk(h.port, [query('echo', RecordType.A, { id: 1 }), query('www.upstream.test', RecordType.A, { id: 2 }), query('zzz', RecordType.A, { id: 3 })]);
  const byId = new Map(replies.map((m) => [m.id, m]));
  assert.deepEqual(ips(byId.get(1)!), ['10.96.0.20']);
  assert.deepEqual(ips(byId.get(2)!), ['192.0.2.1']);
  assert.equal(byId.get(3)!.flags.rcode, Rcode.NXDOMAIN);
});

test('SERVFAIL without an upstream, with a dead upstream, and for an unknown requester', { timeout: 20_000 }, async (t) => {
  const none = await harness(t, { nameservers: [] });
  assert.equal(parseDnsMessage((await udpAsk(none.port, query('www.upstream.test', RecordType.A)))!).flags.rcode, Rcode.SERVFAIL);
  assert.deepEqual(ips(parseDnsMessage((await udpAsk(none.port, query('echo', RecordType.A)))!)), ['10.96.0.20'], 'mesh names need no upstream');

  const deadPort = await new Promise<number>((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const dead = await harness(t, { nameservers: [{ ip: '127.0.0.1', port: deadPort }] });
  const started = Date.now();
  assert.equal(parseDnsMessage((await udpAsk(dead.port, query('www.upstream.test', RecordType.A)))!).flags.rcode, Rcode.SERVFAIL);
  assert.ok(Date.now() - started < 1000, 'a refused upstream fails at once (ICMP), not after the timeout');

  const unknown = await harness(t, { requester: undefined });
  assert.equal(parseDnsMessage((await udpAsk(unknown.port, query('echo', RecordType.A)))!).flags.rcode, Rcode.SERVFAIL);
});

test('malformed queries get FORMERR or silence; Istio DNS metrics count requests; stop() closes both listeners', { timeout: 20_000 }, async (t) => {
  const h = await harness(t);
  const good = query('echo', RecordType.A, { id: 0x0a0b });
  const garbage = Buffer.concat([good.subarray(0, 12), Buffer.from([0xc0, 0xff, 0, 1])]);
  const formErr = parseDnsMessage((await udpAsk(h.port, garbage))!);
  assert.equal(formErr.id, 0x0a0b);
  assert.equal(formErr.flags.rcode, Rcode.FORMERR);
  assert.equal(await udpAsk(h.port, Buffer.from([1, 2, 3]), 300), undefined, 'no header: dropped');
  const asResponse = Buffer.from(good);
  asResponse[2] = asResponse[2]! | 0x80;
  assert.equal(await udpAsk(h.port, asResponse, 300), undefined, 'a response sent to the proxy: dropped');
  const twoQuestions = Buffer.from(good);
  twoQuestions.writeUInt16BE(2, 4);
  const [tcpFormErr] = await tcpAsk(h.port, [Buffer.concat([twoQuestions, twoQuestions.subarray(12)])]);
  assert.equal(tcpFormErr!.flags.rcode, Rcode.FORMERR, 'two questions: FORMERR (over TCP too)');
  assert.deepEqual(ips(parseDnsMessage((await udpAsk(h.port, good))!)), ['10.96.0.20'], 'still serving after garbage');

  await udpAsk(h.port, query('www.upstream.test', RecordType.A));
  await tcpAsk(h.port, [query('echo', RecordType.A)]);
  const text = await h.registry.metrics();
  const sample = (metric: string, labels: string) => Number(new RegExp(`^${metric}\\{${labels}\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  const udpA = 'request_query_type="a",request_protocol="udp",source_canonical_service="client",source_canonical_revision="v1"';
  assert.equal(sample('istio_dns_requests_total', udpA), 2);
  assert.equal(sample('istio_dns_upstream_requests_total', udpA), 1);
  assert.equal(sample('istio_dns_requests_total', udpA.replace('"udp"', '"tcp"')), 1, 'malformed queries are not counted');
  assert.match(text, /istio_dns_upstream_request_duration_seconds_bucket\{le="0.0005"/);

  await h.proxy.stop();
  assert.equal(await udpAsk(h.port, good, 300), undefined, 'UDP closed');
  await assert.rejects(tcpAsk(h.port, [good]), /ECONNREFUSED/, 'TCP closed');
});
