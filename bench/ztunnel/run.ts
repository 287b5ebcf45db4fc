// Benchmark: ztunnel data path on loopback — one HBONE stream's throughput vs direct TCP, new connections per
// second through both proxies, and RBAC evaluation cost with 10,000 non-matching GLOBAL DENY policies.
// Usage: node dist/bench/ztunnel/run.js [MiB=512] [connections=2000]
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
import { PolicySet, authorize } from '../../src/ztunnel/policy/authorization.js';

const mib = Number(process.argv[2] ?? 512);
const conns = Number(process.argv[3] ?? 2000);
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
await new Promise<void>((r) => sink.listen(9000, SERVER, r));
await new Promise<void>((r) => echo.listen(9001, SERVER, r));

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

const bytes = mib * 1024 * 1024;
const direct = await pump(net.connect({ host: SERVER, port: 9000 }), bytes);
const viaMesh = await pump(await sockets.captureConnect({ ip: CLIENT, port: client.addresses.outbound.port }, { ip: SERVER, port: 9000 }, CLIENT), bytes);
out(`throughput, one stream, ${mib} MiB: direct TCP ${direct.toFixed(2)} Gb/s, via ztunnel (outbound → HBONE mTLS → inbound) ${viaMesh.toFixed(2)} Gb/s, ratio ${(viaMesh / direct).toFixed(3)}`);

async function connectionRate(open: () => Promise<net.Socket>): Promise<number> {
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
  return conns / ((performance.now() - t0) / 1000);
}
const directRate = await connectionRate(async () => {
  const s = net.connect({ host: SERVER, port: 9001 });
  await new Promise((r) => s.once('connect', r));
  return s;
});
const meshRate = await connectionRate(() => sockets.captureConnect({ ip: CLIENT, port: client.addresses.outbound.port }, { ip: SERVER, port: 9001 }, CLIENT));
out(`connections (new connection + 1-byte echo, ${conns} at concurrency 32): direct ${directRate.toFixed(0)}/s, via ztunnel ${meshRate.toFixed(0)}/s, ratio ${(meshRate / directRate).toFixed(3)}, HBONE connections pooled`);

const deny = Array.from({ length: 10_000 }, (_, i) => policy(
  { name: `deny-${i}`, namespace: 'istio-system', scope: 'GLOBAL', action: 'DENY', rules: Array.from({ length: 10 }, () => ({ clauses: [{ matches: [match({ principals: [{ kind: 'exact', value: `cluster.local/ns/x${i}/sa/none` }] })] }] })) },
));
const set = new PolicySet(deny);
const facts = { srcIp: '10.0.0.1', dstIp: '10.0.0.2', dstPort: 80, srcIdentity: 'spiffe://cluster.local/ns/a/sa/b' };
const evals = 50;
const t0 = performance.now();
for (let i = 0; i < evals; i++) if (!authorize(set, { namespace: 'bench', authorizationPolicies: [] }, facts).allowed) throw new Error('unexpected deny');
out(`rbac: 10,000 GLOBAL DENY policies x 10 rules (none matching): ${((performance.now() - t0) / evals).toFixed(2)} ms per evaluation`);

await Promise.all([client.stop(100), server.stop(100)]);
sink.close();
echo.close();
certs.close();
inputs.connections.close();
