// The benchmark's figures: their ids, units, which direction is better, and the result shapes the report reads.

/** Every figure measured for every path, in report order. */
export const FIGURES = [
  { id: 'throughput1', label: 'iperf3 throughput, 1 stream', unit: 'Gb/s', better: 'higher', proxy: false },
  { id: 'throughput8', label: 'iperf3 throughput, 8 streams', unit: 'Gb/s', better: 'higher', proxy: false },
  { id: 'p50', label: 'latency p50 at fixed rate', unit: 'ms', better: 'lower', proxy: false },
  { id: 'p90', label: 'latency p90 at fixed rate', unit: 'ms', better: 'lower', proxy: false },
  { id: 'p99', label: 'latency p99 at fixed rate', unit: 'ms', better: 'lower', proxy: false },
  { id: 'p999', label: 'latency p99.9 at fixed rate', unit: 'ms', better: 'lower', proxy: false },
  { id: 'maxRps', label: 'max requests/s, 32 connections', unit: 'req/s', better: 'higher', proxy: false },
  { id: 'connRate', label: 'new connections/s (connect, 1-byte echo, close)', unit: 'conn/s', better: 'higher', proxy: false },
  { id: 'cpuPer1kRequests', label: 'proxy CPU per 1000 requests (= vCPU at 1000 rps)', unit: 'CPU s', better: 'lower', proxy: true },
  { id: 'rssAtFixedRate', label: 'proxy peak RSS during the fixed-rate run', unit: 'MiB', better: 'lower', proxy: true },
  { id: 'privateAtFixedRate', label: 'proxy private memory (RssAnon) after the fixed-rate run', unit: 'MiB', better: 'lower', proxy: true },
  { id: 'cpuPerGB', label: 'proxy CPU per GB transferred (iperf3 runs)', unit: 'CPU s', better: 'lower', proxy: true },
  { id: 'rssDuringThroughput', label: 'proxy peak RSS during the iperf3 runs', unit: 'MiB', better: 'lower', proxy: true },
  { id: 'idleConnMemory', label: 'proxy memory per idle tunnelled connection', unit: 'KiB', better: 'lower', proxy: true },
] as const;

export type FigureId = (typeof FIGURES)[number]['id'];
export type FigureInfo = (typeof FIGURES)[number];

/**
 * One figure of one path: a number, or why there is none. `notApplicable` is for figures that cannot exist on the
 * path by construction (proxy CPU on the direct path); `error` is for a measurement that was attempted and failed.
 */
export type FigureValue =
  | { value: number }
  | { notApplicable: string }
  | { error: string };

export type PathId = 'direct' | 'ambit-l4' | 'stunnel' | 'ambit-l7' | 'haproxy';

/** Per-process figures behind the proxy totals (JSON only). */
export interface ProcessUsage {
  name: string;
  pid: number;
  cpuSeconds: number;
  peakRssMiB: number;
  /** Anonymous (private) resident memory at the window's end: RSS without shared file pages such as the binary. */
  privateMiB: number;
}

export interface PhaseDetail {
  /** What ran, e.g. `iperf3 -P 8 -t 10`. */
  command: string;
  seconds: number;
  /** Proxy processes' CPU and peak RSS over the measured window (absent on paths without proxies). */
  processes?: ProcessUsage[];
  extra?: Record<string, number | string>;
}

export interface PathResult {
  id: PathId;
  title: string;
  layer: 'none' | 'L4' | 'L7';
  /** The path each figure is compared with besides direct (stunnel for L4, HAProxy for L7). */
  peer?: PathId;
  /** Set when the path could not run at all: every figure is then missing and the report says this reason. */
  notAvailable?: string;
  /** How the path is built (one line each), for the report. */
  description: string[];
  figures: Partial<Record<FigureId, FigureValue>>;
  details: Record<string, PhaseDetail>;
}

/** A ratio of a path's figure to a reference path's figure, when both are numbers and the reference is non-zero. */
export function ratioOf(a: FigureValue | undefined, b: FigureValue | undefined): number | undefined {
  if (!a || !b || !('value' in a) || !('value' in b) || b.value === 0) return undefined;
  return a.value / b.value;
}
