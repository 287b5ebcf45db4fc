// One decision as plain data — what ztunnel or a waypoint decided about a connection or request, the access log's
// facts — and the sink the data path hands it to. No imports: the dashboard's page reads the same type.

/** One side of a decision: as much as the reporter knew. */
export interface DecisionPeer {
  address: string;
  workload?: string;
  namespace?: string;
  identity?: string;
  /** Destination only: the service hostname addressed. */
  service?: string;
}

export type Verdict = 'allowed' | 'denied' | 'failed';

/** One connection (ztunnel) or request (waypoint) outcome: what the access log says, as data. */
export interface DecisionRecord {
  timeMs: number;
  reporter: 'source' | 'destination' | 'waypoint';
  protocol: 'tcp' | 'http' | 'grpc';
  source: DecisionPeer;
  destination: DecisionPeer;
  verdict: Verdict;
  /** namespace/name of the denying policy. */
  policy?: string;
  reason?: string;
  responseCode?: number;
  durationMs: number;
  bytesSent?: number;
  bytesReceived?: number;
  mutualTls: boolean;
  method?: string;
  path?: string;
  responseFlags?: string;
}

/** Where a proxy's data path hands its decisions (DecisionReporter). */
export interface DecisionSink {
  record(d: DecisionRecord): void;
}
