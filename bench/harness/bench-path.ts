// What a benchmarked data path is: how to build it in the bench cluster and where the client then sends its traffic.
// Adding a path (e.g. Ambit L4, Ambit L7) is writing one `BenchPath` and listing it in paths/index.ts.
import type { BenchCluster, PathTargets } from './bench-cluster.js';
import type { BenchPki } from './pki.js';
import type { PathId } from './figures.js';
import type { ProxyProcess } from './proc-stats.js';

/** Everything a path may use to build itself. */
export interface PathEnvironment {
  cluster: BenchCluster;
  pki: BenchPki;
  /** One line of progress for the operator (stderr). */
  progress(line: string): void;
}

/** A path, built and ready to carry traffic. */
export interface PreparedPath {
  /** The netns the client tools run in (the client pod's). */
  clientNetns: string;
  /** Where the client sends each kind of traffic. */
  targets: PathTargets;
  /** The processes whose CPU and memory are charged to this path (empty: no proxy on the path). */
  proxies: ProxyProcess[];
  /** How the path is built, one line each, for the report. */
  description: string[];
  /** Undoes what prepare() did beyond what BenchCluster.close() removes anyway (may be a no-op). */
  close(): Promise<void>;
}

/** A path that cannot run on this machine or build, and why (reported as "not available: <reason>"). */
export interface UnavailablePath {
  notAvailable: string;
}

export interface BenchPath {
  id: PathId;
  title: string;
  layer: 'none' | 'L4' | 'L7';
  /** The competitor figures are compared with besides direct (stunnel for L4, HAProxy for L7). */
  peer?: PathId;
  prepare(env: PathEnvironment): Promise<PreparedPath | UnavailablePath>;
}

export function isUnavailable(p: PreparedPath | UnavailablePath): p is UnavailablePath {
  return 'notAvailable' in p;
}
