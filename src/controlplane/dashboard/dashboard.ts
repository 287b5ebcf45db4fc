// The dashboard assembled inside the control plane: the decision log (DecisionService on the gRPC port), the metrics
// source (the embedded scrape window, or a Prometheus once `--prometheus`/`ambit dashboard --prometheus` names one),
// the mesh snapshot every view reads, the HTTP server, and the admin route on the control plane's API
// (`GET|PUT /ambit/v1/dashboard`) through which only API callers — never dashboard visitors — choose the source.
import type * as grpc from '@grpc/grpc-js';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { KINDS, kindByName } from '../../api/registry.js';
import { DASHBOARD_SETTINGS_PATH, dashboardSocketPath } from '../../lib/dashboard-contract.js';
import { PORT_PROXY_STATS } from '../../lib/mesh-contract.js';
import type { Logger } from '../../lib/log.js';
import { ADDRESS_TYPE_URL } from '../../lib/xds/type-urls.js';
import type { AddressRecord } from '../../lib/xds/workload-records.js';
import type { AmbientIndex } from '../ambient/ambient-index.js';
import type { CaServer } from '../ca/ca-server.js';
import type { ConfigSource } from '../store/store.js';
import type { CallerAuthOptions } from '../xds/caller-auth.js';
import type { XdsServer } from '../xds/xds-server.js';
import { DecisionLog } from './decision-log.js';
import { startDashboardServer, type DashboardServer } from './dashboard-server.js';
import { peerIp, type MeshSnapshot } from './mesh-snapshot.js';
import { MetricsWindow, type ScrapeTarget } from './metrics-window.js';
import { PrometheusSource } from './prometheus-source.js';


interface DashboardDeps {
  dataDir: string;
  source: ConfigSource;
  index: AmbientIndex;
  xds: XdsServer;
  ca: CaServer;
  grpcServer: grpc.Server;
  auth: CallerAuthOptions;
  tcp?: { host: string; port: number };
  token?: string;
  prometheusUrl?: string;
  log: Logger;
}

interface Dashboard {
  readonly server: DashboardServer;
  readonly socketPath: string;
  /** The admin route for the control plane's API server. */
  readonly settingsRoutes: Array<{ method: string; path: string; handler: (req: IncomingMessage, body: Buffer) => Promise<{ status: number; body: unknown }> }>;
  close(): Promise<void>;
}

/** dist/ui/dashboard, next to dist/src (built by scripts/build-dashboard.mjs). */
function assetsDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'ui', 'dashboard');
}

/** Checks a Prometheus base URL named by an API caller. */
function checkPrometheusUrl(value: unknown): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new Error('prometheus: expected a URL string or null');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`prometheus: '${value}' is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`prometheus: '${value}' must be an http:// or https:// URL`);
  return value;
}

export async function startDashboard(d: DashboardDeps): Promise<Dashboard> {
  const decisions = new DecisionLog();
  decisions.serve(d.grpcServer, d.auth, d.log.child({ sub: 'decisions' }));
  const targets = (): ScrapeTarget[] => d.xds.clients()
    .filter((c) => c.kind === 'ztunnel' || c.kind === 'waypoint')
    .map((c) => {
      const ip = peerIp(c.peer);
      return { address: ip.includes(':') ? `[${ip}]:${PORT_PROXY_STATS}` : `${ip}:${PORT_PROXY_STATS}`, labels: { __metrics_path__: '/stats/prometheus', ambit_proxy_kind: c.kind, ambit_proxy: c.nodeId } };
    })
    .sort((a, b) => a.address.localeCompare(b.address));
  const window = new MetricsWindow({ targets, log: d.log.child({ sub: 'metrics-window' }) });
  let prometheus = d.prometheusUrl ? new PrometheusSource(checkPrometheusUrl(d.prometheusUrl)!) : undefined;
  /** The source a request reads; the embedded window scrapes only while it is the source and in use. */
  const metricsSource = () => {
    if (prometheus) return prometheus;
    window.touch();
    return window;
  };
  const snapshot: MeshSnapshot = {
    objects: (kind) => {
      const info = kindByName(kind);
      return info ? d.source.list({ group: info.group, kind }).items : [];
    },
    workloads: () => [...d.index.resources<AddressRecord>(ADDRESS_TYPE_URL).values()].flatMap((r) => (r.record.workload ? [r.record.workload] : [])),
    services: () => [...d.index.resources<AddressRecord>(ADDRESS_TYPE_URL).values()].flatMap((r) => (r.record.service ? [r.record.service] : [])),
    proxies: () => d.xds.clients().map((c) => ({ kind: c.kind, nodeId: c.nodeId, ip: peerIp(c.peer), connectedAt: c.connectedAt })),
    certificates: () => d.ca.issued(),
  };
  const socketPath = dashboardSocketPath(d.dataDir);
  const server = await startDashboardServer({
    snapshot, decisions, targets,
    metrics: metricsSource,
    targetHealth: () => (prometheus ? [] : window.targetHealth()),
    allObjects: function* () {
      for (const k of KINDS) yield* d.source.list({ group: k.group, kind: k.kind }).items;
    },
    assetsDir: assetsDir(), socketPath, tcp: d.tcp, token: d.token, log: d.log,
  });
  const settings = () => ({
    metricsSource: (prometheus ?? window).description, socketPath,
    ...(server.tcpPort ? { port: server.tcpPort } : {}), ...(server.tcpError ? { tcpError: server.tcpError } : {}),
  });
  return {
    server,
    socketPath,
    settingsRoutes: [
      { method: 'GET', path: DASHBOARD_SETTINGS_PATH, handler: async () => ({ status: 200, body: settings() }) },
      {
        method: 'PUT', path: DASHBOARD_SETTINGS_PATH,
        handler: async (_req, body) => {
          let url: string | undefined;
          try {
            const parsed = JSON.parse(body.toString('utf8') || '{}') as { prometheus?: unknown };
            url = checkPrometheusUrl(parsed.prometheus);
          } catch (err) {
            return { status: 400, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'BadRequest', code: 400, message: `dashboard settings: ${(err as Error).message}` } };
          }
          prometheus = url ? new PrometheusSource(url) : undefined;
          if (prometheus) window.stop();
          d.log.info({ metricsSource: (prometheus ?? window).description }, 'dashboard metrics source changed');
          return { status: 200, body: settings() };
        },
      },
    ],
    async close() {
      window.stop();
      await server.close();
    },
  };
}
