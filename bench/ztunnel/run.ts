// Benchmark: ztunnel data path on loopback — one HBONE stream's throughput vs direct TCP, new connections per
// second through both proxies, small request/response exchanges over 4 kept-alive connections, and RBAC evaluation
// cost with 10,000 non-matching GLOBAL DENY policies. Every phase also reports this process's CPU time per unit
// (client, server and both proxies share the process, so the direct figure is the non-proxy share).
// Usage: node dist/bench/ztunnel/run.js [MiB=512] [connections=2000] [phases=throughput,connections,rr,rbac]
import net from 'node:net';
import { pino } from 'pino';
import { CertificateManager } from '../../src/lib/certs/certificate-manager.js';
import { createTestCa } from '../../src/ztunnel/testing/test-ca.js';
import { match, policy, workload } from '../../src/ztunnel/testing/builders.js';
import { ProxyState } from '../../src/ztunnel/state/proxy-state.js';
import { ZtunnelMetrics } from '../../src/ztunnel/metrics.js';
import { ConnectionManager } from '../../src/ztunnel/proxy/connection-manager.js';
import { LoopbackSocketFactory } from '../../src/ztunnel/proxy/socket-factory.js';
import { PodProxy } from '../../src/ztunnel/proxy/pod-proxy.js';
import { DEFAULT_PROXY_CONFIG, type ProxyInputs } from '../../src/ztunnel/proxy/proxy-inputs.js';
import { createHostnameResolver } from '../../src/ztunnel/proxy/hostname-resolver.js';
import { PolicySet, authorize } from '../../src/ztunnel/policy/authorization.js';

const mib = Number(process.argv[2] ?? 512);
const conns = Number(process.argv[3] ?? 2000);
const phases = new Set((process.argv[4] ?? 'throughput,connections,rr,rbac').split(','));
const out = (line: string) => process.stdout.write(`${line}\n`);
const CLIENT = '127.91.0.2';
const SERVER = '127.91.0.3';

const ca = await createTestCa();
const state = new ProxyState();
state.apply({ workloads: [
  workload({ name: 'client', namespace: 'bench', serviceAccount: 'client', addresses: [CLIENT] }),
  workload({ name: 'server', namespace: 'bench', serviceAccount: 'server', addresses: [SERVER] }),
] });
const certs = new CertificateManager({ signer: ca.signer });
const sockets = new LoopbackSocketFactory();
const inputs: ProxyInputs = {
  config: { ...DEFAULT_PROXY_CONFIG, hbonePort: 25008 }, state, certs, metrics: new ZtunnelMetrics(),
  connections: new ConnectionManager(state), sockets, log: pino({ level: 'silent' }), accessLog: pino({ level: 'silent' }),
  resolveHostname: createHostnameResolver(),
};
const ports = { outbound: 0, inboundPlaintext: 0, hbone: 25008 };
const client = await PodProxy.start(inputs, { uid: 'c', info: { name: 'client', namespace: 'bench', serviceAccount: 'client' } }, { bindIp: CLIENT, ports });
const server = await PodProxy.start(inputs, { uid: 's', info: { name: 'server', namespace: 'bench', serviceAccount: 'server' } }, { bindIp: SERVER, ports });

// Sink on 9000 (counts bytes, replies with the count at EOF) and echo on 9001.
const sink = net.createServer({ allowHalfOpen: true }, (s) => {
  let n = 0;
  s.on('data', (c: Buffer) => (n += c.length));
  s.on('end', () => s.end(String(n)));
});
const echo = net.createServer((s) => s.pipe(s));
// Request/response server on 9002: every 64-byte request gets a 1 KiB response.
const RR_REQUEST = 64;
const RR_RESPONSE = Buffer.alloc(1024, 1);
const rrServer = net.createServer((s) => {
  s.setNoDelay(true);
  let pending = 0;
  s.on('data', (c: Buffer) => {
    pending += c.length;
    while (pending >= RR_REQUEST) {
      pending -= RR_REQUEST;
      s.write(RR_RESPONSE);
    }
  });
});
await new Promise<void>((r) => sink.listen(9000, SERVER, r));
await new Promise<void>((r) => echo.listen(9001, SERVER, r));
await new Promise<void>((r) => rrServer.listen(9002, SERVER, r));

/** CPU microseconds of this process since `since`. */
function cpuSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return d.user + d.system;
}
const MIB_BYTES = 1024 * 1024;
const mibOf = (n: number) => (n / MIB_BYTES).toFixed(0);

async function pump(socket: net.Socket, bytes: number): Promise<number> {
  const chunk = Buffer.alloc(256 * 1024, 7);
  const t0 = performance.now();
  const reply = new Promise<string>((resolve) => {
    let s = '';
    socket.on('data', (c: Buffer) => (s += c.toString()));
    socket.on('end', () => resolve(s));
  });
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  }
  socket.end();
  const got = Number(await reply);
  if (got !== bytes) throw new Error(`sink got ${got} of ${bytes} bytes`);
  return (bytes * 8) / ((performance.now() - t0) / 1000) / 1e9;
}

const meshConnect = (port: number) => sockets.captureConnect({ ip: CLIENT, port: client.addresses.outbound.port }, { ip: SERVER, port }, CLIENT);
const directConnect = async (port: number) => {
  const s = net.connect({ host: SERVER, port });
  await new Promise((r) => s.once('connect', r));
  return s;
};

if (phases.has('throughput')) {
  const bytes = mib * 1024 * 1024;
  let c0 = process.cpuUsage();
  const direct = await pump(net.connect({ host: SERVER, port: 9000 }), bytes);
  const directCpu = cpuSince(c0) / 1e6 / (bytes / 1e9);
  c0 = process.cpuUsage();
  const viaMesh = await pump(await meshConnect(9000), bytes);
  const meshCpu = cpuSince(c0) / 1e6 / (bytes / 1e9);
  out(`throughput, one stream, ${mib} MiB: direct TCP ${direct.toFixed(2)} Gb/s, via ztunnel (outbound → HBONE mTLS → inbound) ${viaMesh.toFixed(2)} Gb/s, ratio ${(viaMesh / direct).toFixed(3)}; process CPU s/GB direct ${directCpu.toFixed(2)}, via ztunnel ${meshCpu.toFixed(2)}`);
}

async function connectionRate(open: () => Promise<net.Socket>): Promise<{ rate: number; cpuUs: number }> {
  const c0 = process.cpuUsage();
  const concurrency = 32;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < conns) {
      const s = await open();
      s.write('x');
      await new Promise((r) => s.once('data', r));
      s.destroy();
    }
  }));
  return { rate: conns / ((performance.now() - t0) / 1000), cpuUs: cpuSince(c0) / conns };
}
if (phases.has('connections')) {
  const before = client.pool.connectionsCreated;
  const d = await connectionRate(() => directConnect(9001));
  const m = await connectionRate(() => meshConnect(9001));
  out(`connections (new connection + 1-byte echo, ${conns} at concurrency 32): direct ${d.rate.toFixed(0)}/s, via ztunnel ${m.rate.toFixed(0)}/s, ratio ${(m.rate / d.rate).toFixed(3)}; process CPU µs/connection direct ${d.cpuUs.toFixed(0)}, via ztunnel ${m.cpuUs.toFixed(0)}; HBONE connections opened ${client.pool.connectionsCreated - before}`);
}

/** `count` request/response exchanges spread over 4 connections, one in flight per connection. */
async function requestResponse(open: () => Promise<net.Socket>, count: number): Promise<{ rate: number; cpuUs: number }> {
  const sockets = await Promise.all(Array.from({ length: 4 }, open));
  const request = Buffer.alloc(RR_REQUEST, 2);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => {
    s.setNoDelay(true);
    let left = count / 4;
    let got = 0;
    s.on('data', (c: Buffer) => {
      got += c.length;
      while (got >= RR_RESPONSE.length) {
        got -= RR_RESPONSE.length;
        if (--left === 0) return resolve();
        s.write(request);
      }
    });
    s.write(request);
  })));
  const rate = count / ((performance.now() - t0) / 1000);
  const cpuUs = cpuSince(c0) / count;
  for (const s of sockets) s.destroy();
  return { rate, cpuUs };
}
if (phases.has('rr')) {
  const count = 20_000;
  const d = await requestResponse(() => directConnect(9002), count);
  const m = await requestResponse(() => meshConnect(9002), count);
  out(`request/response (64 B → 1 KiB, ${count} over 4 connections, closed loop): direct ${d.rate.toFixed(0)}/s, via ztunnel ${m.rate.toFixed(0)}/s; process CPU µs/request direct ${d.cpuUs.toFixed(0)}, via ztunnel ${m.cpuUs.toFixed(0)} (proxy share ≈ ${(m.cpuUs - d.cpuUs).toFixed(0)} µs for two ztunnels)`);
}

if (phases.has('rbac')) {
  const deny = Array.from({ length: 10_000 }, (_, i) => policy(
    { name: `deny-${i}`, namespace: 'istio-system', scope: 'GLOBAL', action: 'DENY', rules: Array.from({ length: 10 }, () => ({ clauses: [{ matches: [match({ principals: [{ kind: 'exact', value: `cluster.local/ns/x${i}/sa/none` }] })] }] })) },
  ));
  const set = new PolicySet(deny);
  const facts = { srcIp: '10.0.0.1', dstIp: '10.0.0.2', dstPort: 80, srcIdentity: 'spiffe://cluster.local/ns/a/sa/b' };
  const evals = 50;
  const t0 = performance.now();
  for (let i = 0; i < evals; i++) if (!authorize(set, { namespace: 'bench', authorizationPolicies: [] }, facts).allowed) throw new Error('unexpected deny');
  out(`rbac: 10,000 GLOBAL DENY policies x 10 rules (none matching): ${((performance.now() - t0) / evals).toFixed(2)} ms per evaluation`);
}
const mem = process.memoryUsage();
out(`memory at the end: rss ${mibOf(mem.rss)} MiB, heap used ${mibOf(mem.heapUsed)} MiB, external ${mibOf(mem.external)} MiB, peak rss ${mibOf(process.resourceUsage().maxRSS * 1024)} MiB`);

await Promise.all([client.stop(100), server.stop(100)]);
sink.close();
echo.close();
rrServer.close();
certs.close();
inputs.connections.close();
