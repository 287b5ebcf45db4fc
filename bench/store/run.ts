// Store + API server benchmark: create and list throughput over the Unix socket, and watch fan-out latency.
// Run: npx tsc -p tsconfig.json && node dist/bench/store/run.js [--objects 50000] [--watchers 100] [--writes 2000] [--concurrency 64]
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileStore } from '../../src/controlplane/store/file-store.js';
import { startApiServer } from '../../src/controlplane/apiserver/api-server.js';
import { silentLogger } from '../../src/lib/log.js';

interface Args {
  objects: number;
  watchers: number;
  writes: number;
  concurrency: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { objects: 50_000, watchers: 100, writes: 2_000, concurrency: 64 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!.replace(/^--/, '') as keyof Args;
    const value = Number(argv[++i]);
    if (!(flag in args) || !Number.isInteger(value) || value < 0) {
      process.stderr.write(`usage: run.js [--objects N] [--watchers N] [--writes N] [--concurrency N] (bad: ${argv[i - 1]} ${argv[i]})\n`);
      process.exit(2);
    }
    args[flag] = value;
  }
  return args;
}

const out = (line: string): void => void process.stdout.write(`${line}\n`);
const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

function memory(): string {
  const m = process.memoryUsage();
  return `rss ${mib(m.rss)}, heap used ${mib(m.heapUsed)}`;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** One request over the shared keep-alive agent; resolves with status and body text. */
function request(agent: http.Agent, socketPath: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, agent, method, path, headers: payload ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

const NAMESPACES = 10;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), 'ambit-bench-store-'));
  const socketPath = join(dir, 'ambit.sock');
  const store = await openFileStore(join(dir, 'store'));
  const server = await startApiServer({ store, socketPath, log: silentLogger() });
  const agent = new http.Agent({ keepAlive: true, maxSockets: args.concurrency });
  const watchReqs: http.ClientRequest[] = [];
  try {
    // fsync runs on libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise): it bounds create rate.
    const threads = process.env.UV_THREADPOOL_SIZE ?? '4 (default)';
    out(`store bench: ${args.objects} objects, ${args.watchers} watchers, ${args.writes} watched writes, concurrency ${args.concurrency}, libuv pool ${threads}, data dir ${dir}`);
    const memBefore = memory();
    out(`memory before: ${memBefore}`);

    // --- Create ---
    let t0 = performance.now();
    await pool(args.objects, args.concurrency, async (i) => {
      const ns = `ns-${i % NAMESPACES}`;
      const obj = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: `svc-${i}`, labels: { app: `app-${i % 100}`, tier: i % 2 ? 'web' : 'db' } },
        spec: { selector: { app: `app-${i % 100}` }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      };
      const r = await request(agent, socketPath, 'POST', `/api/v1/namespaces/${ns}/services`, obj);
      if (r.status !== 201) throw new Error(`create svc-${i}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    });
    const createMs = performance.now() - t0;
    out(`create: ${args.objects} objects in ${(createMs / 1000).toFixed(2)} s = ${Math.round(args.objects / (createMs / 1000))} objects/s`);

    // --- List (all namespaces, 3 rounds, best reported) ---
    let bestListMs = Infinity;
    let listBytes = 0;
    for (let round = 0; round < 3; round++) {
      t0 = performance.now();
      const r = await request(agent, socketPath, 'GET', '/api/v1/services');
      const items = (JSON.parse(r.text) as { items: unknown[] }).items.length;
      const ms = performance.now() - t0;
      if (items !== args.objects) throw new Error(`list returned ${items} objects, expected ${args.objects}`);
      bestListMs = Math.min(bestListMs, ms);
      listBytes = r.text.length;
    }
    t0 = performance.now();
    const listed = store.list({ group: '', kind: 'Service' });
    const t2 = performance.now();
    const serialized = JSON.stringify(listed.items).length;
    const t3 = performance.now();
    out(`list in-process: store.list ${(t2 - t0).toFixed(0)} ms, JSON.stringify ${(t3 - t2).toFixed(0)} ms (${mib(serialized)})`);
    out(`list: ${args.objects} objects (${mib(listBytes)}) in ${bestListMs.toFixed(0)} ms = ${Math.round(args.objects / (bestListMs / 1000))} objects/s (best of 3, incl. client parse)`);

    // --- Watch fan-out ---
    const writes = Math.min(args.writes, args.objects);
    const sentAt = new Map<string, number>(); // rv → time the write was sent
    const seenBy = new Map<string, number>(); // rv → watchers that have it
    const latencies: number[] = [];
    let delivered = 0;
    let lastDelivery = 0;
    let allDone!: () => void;
    const finished = new Promise<void>((resolve) => (allDone = resolve));
    const rvPattern = /"resourceVersion":"(\d+)"/;
    const onLine = (line: string): void => {
      const rv = rvPattern.exec(line)?.[1];
      if (!rv) return;
      delivered++;
      lastDelivery = performance.now();
      const n = (seenBy.get(rv) ?? 0) + 1;
      seenBy.set(rv, n);
      if (n === args.watchers) {
        const sent = sentAt.get(rv);
        if (sent !== undefined) latencies.push(lastDelivery - sent);
        if (latencies.length === writes) allDone();
      }
    };
    await Promise.all(
      Array.from({ length: args.watchers }, () =>
        new Promise<void>((resolve, reject) => {
          const req = http.request({ socketPath, path: '/api/v1/services?watch=1', agent: false }, (res) => {
            let buf = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              buf += chunk;
              let nl: number;
              while ((nl = buf.indexOf('\n')) >= 0) {
                onLine(buf.slice(0, nl));
                buf = buf.slice(nl + 1);
              }
            });
            resolve();
          });
          req.on('error', reject);
          req.end();
          watchReqs.push(req);
        }),
      ),
    );
    const t1 = performance.now();
    await pool(writes, 16, async (i) => {
      const ns = `ns-${i % NAMESPACES}`;
      const started = performance.now();
      const r = await request(agent, socketPath, 'PATCH', `/api/v1/namespaces/${ns}/services/svc-${i}`, { metadata: { labels: { bench: String(i) } } }, 'application/merge-patch+json');
      if (r.status !== 200) throw new Error(`patch svc-${i}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
      const rv = rvPattern.exec(r.text)![1]!;
      sentAt.set(rv, started);
      // The event may have reached every watcher before the response did.
      if (seenBy.get(rv) === args.watchers) {
        latencies.push(performance.now() - started);
        if (latencies.length === writes) allDone();
      }
    });
    const timeout = setTimeout(() => allDone(), 120_000);
    await finished;
    clearTimeout(timeout);
    latencies.sort((a, b) => a - b);
    const fanoutSec = (lastDelivery - t1) / 1000;
    out(`watch: ${writes} writes x ${args.watchers} watchers: ${delivered} events delivered in ${fanoutSec.toFixed(2)} s = ${Math.round(delivered / fanoutSec)} events/s`);
    out(`watch latency (write sent -> all watchers have it): p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies[latencies.length - 1]?.toFixed(1)} ms (${latencies.length}/${writes} complete)`);
    out(`memory after: ${memory()} (before: ${memBefore})`);
  } finally {
    for (const r of watchReqs) r.destroy();
    agent.destroy();
    await server.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`store bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
