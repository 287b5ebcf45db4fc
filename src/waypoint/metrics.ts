// The waypoint's Prometheus metrics with Istio's names, label sets and buckets (ISTIO-API.md §6.2), reporter="waypoint":
// request count, duration and sizes per HTTP/gRPC request, and the istio_tcp_* counters for TCP routes.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The standard label set; every value is a string and missing facts render `unknown`. */
export interface RequestLabels {
  reporter: 'waypoint';
  source_workload: string;
  source_canonical_service: string;
  source_canonical_revision: string;
  source_workload_namespace: string;
  source_principal: string;
  source_app: string;
  source_version: string;
  source_cluster: string;
  destination_service: string;
  destination_service_namespace: string;
  destination_service_name: string;
  destination_workload: string;
  destination_canonical_service: string;
  destination_canonical_revision: string;
  destination_workload_namespace: string;
  destination_principal: string;
  destination_app: string;
  destination_version: string;
  destination_cluster: string;
  request_protocol: 'http' | 'grpc' | 'tcp';
  response_code: string;
  grpc_response_status: string;
  response_flags: string;
  connection_security_policy: 'mutual_tls';
}

export type TcpLabels = Omit<RequestLabels, 'response_code' | 'grpc_response_status'>;

const REQUEST_LABEL_NAMES: ReadonlyArray<keyof RequestLabels> = [
  'reporter', 'source_workload', 'source_canonical_service', 'source_canonical_revision', 'source_workload_namespace',
  'source_principal', 'source_app', 'source_version', 'source_cluster', 'destination_service',
  'destination_service_namespace', 'destination_service_name', 'destination_workload', 'destination_canonical_service',
  'destination_canonical_revision', 'destination_workload_namespace', 'destination_principal', 'destination_app',
  'destination_version', 'destination_cluster', 'request_protocol', 'response_code', 'grpc_response_status',
  'response_flags', 'connection_security_policy',
];
const TCP_LABEL_NAMES = REQUEST_LABEL_NAMES.filter((n) => n !== 'response_code' && n !== 'grpc_response_status') as ReadonlyArray<keyof TcpLabels>;

/** Istio's default buckets for istio_request_duration_milliseconds. */
const DURATION_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
/** Istio's buckets for istio_request_bytes / istio_response_bytes (powers of ten, 1 B to 1 GB). */
const SIZE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000];

export class WaypointMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<keyof RequestLabels>;
  readonly duration: Histogram<keyof RequestLabels>;
  readonly requestBytes: Histogram<keyof RequestLabels>;
  readonly responseBytes: Histogram<keyof RequestLabels>;
  readonly tcpOpened: Counter<keyof TcpLabels>;
  readonly tcpClosed: Counter<keyof TcpLabels>;
  readonly tcpReceived: Counter<keyof TcpLabels>;
  readonly tcpSent: Counter<keyof TcpLabels>;
  readonly tlsHandshakeFailures: Counter<'reason'>;

  constructor(buildTag: string) {
    const registers = [this.registry];
    const labelNames = [...REQUEST_LABEL_NAMES];
    const tcp = [...TCP_LABEL_NAMES];
    this.requests = new Counter({ name: 'istio_requests_total', help: 'Total requests handled by the waypoint', labelNames, registers });
    this.duration = new Histogram({ name: 'istio_request_duration_milliseconds', help: 'Request duration in milliseconds', labelNames, buckets: DURATION_BUCKETS_MS, registers });
    this.requestBytes = new Histogram({ name: 'istio_request_bytes', help: 'Request sizes (headers and body) in bytes', labelNames, buckets: SIZE_BUCKETS, registers });
    this.responseBytes = new Histogram({ name: 'istio_response_bytes', help: 'Response sizes (headers and body) in bytes', labelNames, buckets: SIZE_BUCKETS, registers });
    this.tcpOpened = new Counter({ name: 'istio_tcp_connections_opened_total', help: 'The total number of TCP connections opened', labelNames: tcp, registers });
    this.tcpClosed = new Counter({ name: 'istio_tcp_connections_closed_total', help: 'The total number of TCP connections closed', labelNames: tcp, registers });
    this.tcpReceived = new Counter({ name: 'istio_tcp_received_bytes_total', help: 'The size of total bytes received during request in case of a TCP connection', labelNames: tcp, registers });
    this.tcpSent = new Counter({ name: 'istio_tcp_sent_bytes_total', help: 'The size of total bytes sent during response in case of a TCP connection', labelNames: tcp, registers });
    this.tlsHandshakeFailures = new Counter({ name: 'ambit_tls_handshake_failures_total', help: 'HBONE TLS handshakes that failed or were refused, by reason', labelNames: ['reason'], registers });
    const build = new Gauge({ name: 'istio_build', help: 'Istio component build info', labelNames: ['component', 'tag'], registers });
    build.set({ component: 'waypoint', tag: buildTag }, 1);
  }

  /**
   * Telemetry metrics overrides: the Istio metrics named (REQUEST_COUNT, …, ALL_METRICS) are no longer reported; a
   * metric enabled again starts from zero, as a new series would.
   */
  setDisabled(names: readonly string[]): void {
    const all = names.includes('ALL_METRICS');
    const byName: Array<[string, Counter<string> | Histogram<string>]> = [
      ['REQUEST_COUNT', this.requests], ['REQUEST_DURATION', this.duration], ['REQUEST_SIZE', this.requestBytes], ['RESPONSE_SIZE', this.responseBytes],
      ['TCP_OPENED_CONNECTIONS', this.tcpOpened], ['TCP_CLOSED_CONNECTIONS', this.tcpClosed], ['TCP_SENT_BYTES', this.tcpSent], ['TCP_RECEIVED_BYTES', this.tcpReceived],
    ];
    for (const [istioName, metric] of byName) {
      const off = all || names.includes(istioName);
      const name = (metric as unknown as { name: string }).name;
      const registered = this.registry.getSingleMetric(name) !== undefined;
      if (off && registered) this.registry.removeSingleMetric(name);
      else if (!off && !registered) {
        metric.reset();
        this.registry.registerMetric(metric);
      }
    }
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
