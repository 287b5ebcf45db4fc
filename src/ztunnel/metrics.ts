// ztunnel's Prometheus metrics with Istio's names and label sets (PROTOCOLS.md §9.1), on a private registry.
import { Counter, Gauge, Registry } from 'prom-client';
import type { ResponseFlag } from '../hbone/proxy-errors.js';

/** The traffic label set; every value is a string and missing facts render `unknown`. */
export interface TrafficLabels {
  reporter: 'source' | 'destination';
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
  request_protocol: 'tcp';
  response_flags: ResponseFlag;
  connection_security_policy: 'mutual_tls' | 'unknown';
}

const TRAFFIC_LABEL_NAMES: ReadonlyArray<keyof TrafficLabels> = [
  'reporter', 'source_workload', 'source_canonical_service', 'source_canonical_revision', 'source_workload_namespace',
  'source_principal', 'source_app', 'source_version', 'source_cluster', 'destination_service',
  'destination_service_namespace', 'destination_service_name', 'destination_workload', 'destination_canonical_service',
  'destination_canonical_revision', 'destination_workload_namespace', 'destination_principal', 'destination_app',
  'destination_version', 'destination_cluster', 'request_protocol', 'response_flags', 'connection_security_policy',
];

export const UNKNOWN = 'unknown';

/** Connection metrics of one ztunnel process. */
export class ZtunnelMetrics {
  readonly registry: Registry;
  readonly opened: Counter<keyof TrafficLabels>;
  readonly closed: Counter<keyof TrafficLabels>;
  readonly failed: Counter<keyof TrafficLabels>;
  readonly receivedBytes: Counter<keyof TrafficLabels>;
  readonly sentBytes: Counter<keyof TrafficLabels>;
  readonly socketsOpen: Gauge<'reporter'>;
  readonly activeProxies: Gauge<string>;
  readonly pendingProxies: Gauge<string>;
  readonly proxiesStarted: Counter<string>;
  readonly proxiesStopped: Counter<string>;
  readonly tlsHandshakeFailures: Counter<'reason'>;

  constructor(opts: { registry?: Registry; buildTag?: string } = {}) {
    this.registry = opts.registry ?? new Registry();
    const labelNames = [...TRAFFIC_LABEL_NAMES];
    const registers = [this.registry];
    this.opened = new Counter({ name: 'istio_tcp_connections_opened_total', help: 'The total number of TCP connections opened', labelNames, registers });
    this.closed = new Counter({ name: 'istio_tcp_connections_closed_total', help: 'The total number of TCP connections closed', labelNames, registers });
    this.failed = new Counter({ name: 'istio_tcp_connections_failed_total', help: 'The total number of TCP connections that failed to establish', labelNames, registers });
    this.receivedBytes = new Counter({ name: 'istio_tcp_received_bytes_total', help: 'The size of total bytes received during request in case of a TCP connection', labelNames, registers });
    this.sentBytes = new Counter({ name: 'istio_tcp_sent_bytes_total', help: 'The size of total bytes sent during response in case of a TCP connection', labelNames, registers });
    this.socketsOpen = new Gauge({ name: 'istio_tcp_sockets_open', help: 'The current number of open TCP sockets', labelNames: ['reporter'], registers });
    this.activeProxies = new Gauge({ name: 'workload_manager_active_proxy_count', help: 'The total number of active workload proxies', registers });
    this.pendingProxies = new Gauge({ name: 'workload_manager_pending_proxy_count', help: 'The total number of pending workload proxies', registers });
    this.proxiesStarted = new Counter({ name: 'workload_manager_proxies_started_total', help: 'The total number of proxies started', registers });
    this.proxiesStopped = new Counter({ name: 'workload_manager_proxies_stopped_total', help: 'The total number of proxies stopped', registers });
    // Not an Istio metric (ztunnel has none for this): refused mTLS clients on 15008, by reason.
    this.tlsHandshakeFailures = new Counter({ name: 'ambit_tls_handshake_failures_total', help: 'HBONE TLS handshakes that failed or were refused, by reason', labelNames: ['reason'], registers });
    const build = new Gauge({ name: 'istio_build', help: 'Istio component build info', labelNames: ['component', 'tag'], registers });
    build.set({ component: 'ztunnel', tag: opts.buildTag ?? 'unknown' }, 1);
  }

  /** The Prometheus text exposition of every metric. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
