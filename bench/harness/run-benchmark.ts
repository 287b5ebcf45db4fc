// One benchmark run: builds the sandbox cluster and the run's certificates, prepares and measures each path in
// turn (a path that cannot be built is recorded as not available, with its reason), and tears everything down.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { BenchCluster } from './bench-cluster.js';
import { isUnavailable, type BenchPath, type PathEnvironment } from './bench-path.js';
import type { BenchProfile } from './bench-profile.js';
import type { PathResult } from './figures.js';
import { measurePath } from './measure-path.js';
import { createBenchPki } from './pki.js';
import { describeMachine, missingTools, type MachineDescription } from './tools.js';

export interface BenchRun {
  profile: BenchProfile;
  machine: MachineDescription;
  startedAt: string;
  durationSeconds: number;
  paths: PathResult[];
}

export interface RunOptions {
  profile: BenchProfile;
  paths: readonly BenchPath[];
  progress(line: string): void;
  /** Aborts between phases when set (Ctrl-C): the cluster is still torn down. */
  signal?: AbortSignal;
}

export async function runBenchmark(opts: RunOptions): Promise<BenchRun> {
  const started = process.hrtime.bigint();
  const startedAt = new Date().toISOString();
  const missing = await missingTools();
  if (missing.length) {
    throw new Error(`missing tool(s): ${missing.join(', ')} — install them with: apt-get install -y iperf3 wrk stunnel4 haproxy openssl iproute2`);
  }
  const machine = describeMachine();
  opts.progress(`creating a 2-node sandbox cluster`);
  const cluster = await BenchCluster.create();
  const results: PathResult[] = [];
  try {
    const pkiDir = join(cluster.workDir, 'pki');
    mkdirSync(pkiDir);
    const env: PathEnvironment = { cluster, pki: await createBenchPki(pkiDir), progress: opts.progress };
    for (const path of opts.paths) {
      opts.signal?.throwIfAborted();
      const base = { id: path.id, title: path.title, layer: path.layer, ...(path.peer ? { peer: path.peer } : {}) };
      opts.progress(`path ${path.id}: preparing`);
      let prepared;
      try {
        prepared = await path.prepare(env);
      } catch (err) {
        prepared = { notAvailable: `setting the path up failed: ${(err as Error).message}` };
      }
      if (isUnavailable(prepared)) {
        opts.progress(`path ${path.id}: not available: ${prepared.notAvailable}`);
        results.push({ ...base, notAvailable: prepared.notAvailable, description: [], figures: {}, details: {} });
        continue;
      }
      try {
        const m = await measurePath(prepared, opts.profile, opts.progress);
        results.push({ ...base, description: prepared.description, figures: m.figures, details: m.details });
      } finally {
        await prepared.close();
      }
    }
  } finally {
    opts.progress('deleting the cluster');
    await cluster.close();
  }
  machine.loadAverage.end = Math.round(loadavg()[0]! * 100) / 100;
  return {
    profile: opts.profile,
    machine,
    startedAt,
    durationSeconds: Math.round(Number(process.hrtime.bigint() - started) / 1e9),
    paths: results,
  };
}
