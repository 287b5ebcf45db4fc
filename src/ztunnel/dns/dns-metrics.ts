// The DNS proxy's Prometheus metrics with Istio's names and labels (PROTOCOLS.md §9.1), on ztunnel's registry.
import { Counter, Histogram, type Registry } from 'prom-client';

type DnsMetricLabel = 'request_query_type' | 'request_protocol' | 'source_canonical_service' | 'source_canonical_revision';

export type DnsMetricLabels = Record<DnsMetricLabel, string>;

const LABEL_NAMES: DnsMetricLabel[] = ['request_query_type', 'request_protocol', 'source_canonical_service', 'source_canonical_revision'];

/** One set per ztunnel process (prom-client refuses a second registration of the same name on a registry). */
export class DnsMetrics {
  readonly requests: Counter<DnsMetricLabel>;
  readonly upstreamRequests: Counter<DnsMetricLabel>;
  readonly upstreamFailures: Counter<DnsMetricLabel>;
  /** Seconds per forwarded request (all upstream attempts included). */
  readonly upstreamDuration: Histogram<DnsMetricLabel>;

  constructor(registry: Registry) {
    const registers = [registry];
    const labelNames = LABEL_NAMES;
    this.requests = new Counter({ name: 'istio_dns_requests_total', help: 'Total number of DNS requests', labelNames, registers });
    this.upstreamRequests = new Counter({ name: 'istio_dns_upstream_requests_total', help: 'Total number of DNS requests forwarded upstream', labelNames, registers });
    this.upstreamFailures = new Counter({ name: 'istio_dns_upstream_failures_total', help: 'Total number of DNS requests that failed upstream', labelNames, registers });
    this.upstreamDuration = new Histogram({
      name: 'istio_dns_upstream_request_duration_seconds', help: 'Total time in seconds of DNS requests forwarded upstream',
      labelNames, buckets: [0.0005, 0.001, 0.01, 0.1, 1, 5], registers,
    });
  }
}
