// The few questions the dashboard asks of mesh metrics, written once and answered two ways: by the embedded window
// (metrics-window.ts, scraping every proxy itself) or as PromQL by a real Prometheus (prometheus-source.ts). Both
// answer `sum by (labels) (rate(metric{match}[range]))` and `histogram_quantile(q, sum by (le, labels) (rate(…)))`,
// so the graph is the same whichever is used.

/** The labels an edge is keyed by (Istio's standard metric labels). */
const EDGE_LABELS = [
  'reporter', 'source_workload', 'source_workload_namespace', 'destination_service', 'destination_service_name',
  'destination_service_namespace', 'destination_workload', 'destination_workload_namespace', 'connection_security_policy',
] as const;

export interface RateQuery {
  metric: string;
  by: readonly string[];
  /** Label → anchored regular expression, as PromQL's `=~`. */
  match?: Readonly<Record<string, string>>;
}

export interface QuantileQuery {
  quantile: number;
  /** The histogram's base name (`_bucket` is added). */
  histogram: string;
  by: readonly string[];
  match?: Readonly<Record<string, string>>;
}

export interface SeriesValue {
  labels: Record<string, string>;
  value: number;
}

/** Where the dashboard's numbers come from. */
export interface MetricsSource {
  /** `embedded` or `prometheus <url>`, for the page's header. */
  readonly description: string;
  rate(q: RateQuery, rangeSeconds: number): Promise<SeriesValue[]>;
  quantile(q: QuantileQuery, rangeSeconds: number): Promise<SeriesValue[]>;
}

/** The rate window every graph number is computed over. */
export const RATE_RANGE_SECONDS = 60;

export const TRAFFIC_QUERIES = {
  requests: { metric: 'istio_requests_total', by: EDGE_LABELS },
  errors: { metric: 'istio_requests_total', by: EDGE_LABELS, match: { response_code: '5..|0' } },
  tcpOpened: { metric: 'istio_tcp_connections_opened_total', by: EDGE_LABELS },
  tcpSent: { metric: 'istio_tcp_sent_bytes_total', by: EDGE_LABELS },
  tcpReceived: { metric: 'istio_tcp_received_bytes_total', by: EDGE_LABELS },
} as const satisfies Record<string, RateQuery>;

export const LATENCY_QUERY: QuantileQuery = { quantile: 0.99, histogram: 'istio_request_duration_milliseconds', by: EDGE_LABELS };

function selector(match: Readonly<Record<string, string>> | undefined): string {
  const parts = Object.entries(match ?? {}).map(([k, v]) => `${k}=~${JSON.stringify(v)}`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export function rateToPromQl(q: RateQuery, range: number): string {
  return `sum by (${q.by.join(',')}) (rate(${q.metric}${selector(q.match)}[${range}s]))`;
}

export function quantileToPromQl(q: QuantileQuery, range: number): string {
  return `histogram_quantile(${q.quantile}, sum by (le,${q.by.join(',')}) (rate(${q.histogram}_bucket${selector(q.match)}[${range}s])))`;
}

/**
 * Prometheus' histogram_quantile over one group's buckets (`le` → rate): the bucket holding rank q·total, linearly
 * interpolated inside it (lower bound 0 for the first). NaN when nothing was observed.
 */
export function bucketQuantile(q: number, buckets: ReadonlyArray<{ le: number; value: number }>): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1);
  if (!total || total.le !== Infinity || total.value <= 0) return NaN;
  const rank = q * total.value;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.value >= rank) {
      if (b.le === Infinity) return prevLe;
      if (b.value === prevCount) return b.le;
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.value - prevCount);
    }
    prevLe = b.le;
    prevCount = b.value;
  }
  return prevLe;
}
