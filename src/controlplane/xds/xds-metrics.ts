// The xDS server's Prometheus metrics under istiod's names (pilot_*), so existing dashboards keep working.
// `type` is the short resource type: Address, Authorization, WaypointConfig.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface XdsMetrics {
  /** Responses sent, by type (istiod: pilot_xds_pushes). */
  pushes: Counter<'type'>;
  /** Seconds to compute and write one debounced push to every client, by type. */
  pushTime: Histogram<'type'>;
  /** Connected xDS streams. */
  connected: Gauge;
  /** NACKs received, by type (istiod: pilot_total_xds_rejects). */
  rejects: Counter<'type'>;
  /** Bytes of resources sent, by type. */
  bytes: Counter<'type'>;
  /** Streams refused for missing or bad credentials. */
  authFailures: Counter;
}

export function registerXdsMetrics(registry: Registry): XdsMetrics {
  return {
    pushes: new Counter({ name: 'pilot_xds_pushes', help: 'Pilot build and send errors for lds, rds, cds and eds; here: Delta xDS responses sent, by resource type.', labelNames: ['type'], registers: [registry] }),
    pushTime: new Histogram({
      name: 'pilot_xds_push_time',
      help: 'Total time in seconds Pilot takes to push lds, rds, cds and eds; here: time to push one debounced change of a resource type to every client.',
      labelNames: ['type'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 3, 5, 10, 20, 30],
      registers: [registry],
    }),
    connected: new Gauge({ name: 'pilot_xds', help: 'Number of endpoints connected to this pilot using XDS.', registers: [registry] }),
    rejects: new Counter({ name: 'pilot_total_xds_rejects', help: 'Total number of XDS responses from pilot rejected by proxy (NACKs), by type.', labelNames: ['type'], registers: [registry] }),
    bytes: new Counter({ name: 'pilot_xds_config_size_bytes_total', help: 'Bytes of xDS resources sent, by type.', labelNames: ['type'], registers: [registry] }),
    authFailures: new Counter({ name: 'pilot_xds_auth_failures_total', help: 'xDS streams refused because the caller could not be authenticated.', registers: [registry] }),
  };
}
