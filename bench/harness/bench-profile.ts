// The two sizes of the benchmark: `full` (the published figures, ≤ 15 minutes for five paths on 2 cores) and
// `smoke` (CI: seconds per path, tiny sizes — proves every phase runs, says nothing about speed).

export interface BenchProfile {
  name: 'full' | 'smoke';
  /** iperf3 run length per run (one run with 1 stream, one with 8): seconds, or a byte count (smoke). */
  iperf: { seconds: number } | { bytes: string };
  /** The fixed-rate HTTP load. */
  latency: { rate: number; connections: number; warmupSeconds: number; seconds: number };
  /** Closed-loop HTTP load with wrk for the max request rate. */
  maxRps: { connections: number; threads: number; seconds: number };
  /** Parallel connect/echo/close loops. */
  connRate: { concurrency: number; seconds: number };
  /** Idle tunnelled connections held open for the memory figure. */
  idleConnections: number;
  /** Pause before reading proxy RSS for the idle figure (allocator caches settle), ms. */
  settleMs: number;
}

export const FULL_PROFILE: BenchProfile = {
  name: 'full',
  iperf: { seconds: 10 },
  latency: { rate: 1000, connections: 4, warmupSeconds: 3, seconds: 30 },
  maxRps: { connections: 32, threads: 2, seconds: 10 },
  connRate: { concurrency: 8, seconds: 8 },
  idleConnections: 1000,
  settleMs: 1000,
};

export const SMOKE_PROFILE: BenchProfile = {
  name: 'smoke',
  iperf: { bytes: '32M' },
  latency: { rate: 200, connections: 4, warmupSeconds: 0.2, seconds: 0.5 },
  maxRps: { connections: 32, threads: 2, seconds: 1 },
  connRate: { concurrency: 4, seconds: 0.5 },
  idleConnections: 200,
  settleMs: 200,
};
