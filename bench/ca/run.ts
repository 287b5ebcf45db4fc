// Benchmark: certificates signed per second by the CA, end to end over gRPC/TLS on loopback (authentication,
// CSR checks, node authorization against the store, signing, protobuf). CSRs are generated before the clock
// starts, so the figure is the CA's. Run pinned to one core: `taskset -c 0 node dist/bench/ca/run.js [count] [concurrency]`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { openFileStore } from '../../src/controlplane/store/file-store.js';
import { startCaServer } from '../../src/controlplane/ca/index.js';
import { silentLogger } from '../../src/lib/log.js';
import { ensureNodeToken } from '../../src/lib/certs/node-token.js';
import { createCaClient } from '../../src/lib/certs/ca-client.js';
import { createWorkloadCsr, generateP256KeyPair } from '../../src/lib/certs/proxy-x509.js';

const count = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 16);
const identity = 'spiffe://cluster.local/ns/bench/sa/app';

const dir = await mkdtemp(join(tmpdir(), 'ambit-ca-bench-'));
const store = await openFileStore(join(dir, 'store'));
await store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'bench-node' } });
// A realistic namespace: 200 pods on 10 nodes, one of them the caller's.
for (let i = 0; i < 200; i++) {
  await store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${i}`, namespace: 'bench' }, spec: { nodeName: i === 199 ? 'bench-node' : `node-${i % 10}`, serviceAccountName: i === 199 ? 'app' : `sa${i % 20}`, containers: [] } });
}
const ca = await startCaServer({ dataDir: dir, source: store, listen: { host: '127.0.0.1', port: 0 }, metrics: new Registry(), log: silentLogger() });
const token = await ensureNodeToken(dir, 'bench-node');
const client = createCaClient({ address: `127.0.0.1:${ca.port}`, rootCertPem: ca.rootBundlePem(), token });

const csrs: string[] = [];
for (let i = 0; i < Math.min(count, 64); i++) csrs.push(await createWorkloadCsr(identity, await generateP256KeyPair()));
// Warm up the channel, JIT and caches.
for (let i = 0; i < 50; i++) await client.signer(csrs[i % csrs.length]!, identity);

let next = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      const chain = await client.signer(csrs[i % csrs.length]!, identity);
      if (chain.length < 2) throw new Error('short chain');
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
process.stdout.write(
  `ca: ${count} certificates over gRPC/TLS, concurrency ${concurrency}: ${(count / seconds).toFixed(0)} certs/s wall ` +
    `(${seconds.toFixed(2)} s), ${(count / cpuSeconds).toFixed(0)} certs per CPU-second (client and server in this one process)\n`,
);
client.close();
await ca.close();
await store.close();
await rm(dir, { recursive: true, force: true });
