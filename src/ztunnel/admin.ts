// ztunnel's HTTP endpoints: admin on localhost:15000 (`/config_dump` without private keys, `/logging`,
// `/quitquitquit`), Prometheus on :15020 (`/metrics`, `/stats/prometheus`) and readiness on :15021
// (`/healthz/ready`) — PROTOCOLS.md §1 and §9.3.
import http from 'node:http';
import type net from 'node:net';
import type { Logger } from 'pino';
import type { CertificateDump } from '../lib/certs/certificate-manager.js';
import { describeError } from '../lib/errors.js';
import type { ZtunnelMetrics } from './metrics.js';
import type { ConnectionManager } from './proxy/connection-manager.js';
import type { ProxyState } from './state/proxy-state.js';
import { serviceKey, type Authorization, type GatewayAddress, type Service, type Workload } from './state/types.js';
import type { LocalWorkloadInfo } from './state/proxy-state.js';

export const VERSION = '0.1.0';

export interface PodStateView {
  uid: string;
  state: 'Pending' | 'Up';
  info: LocalWorkloadInfo;
}

export interface AdminSources {
  state: ProxyState;
  connections: ConnectionManager;
  metrics: ZtunnelMetrics;
  /** Certificates with state and expiry (never keys). */
  certificates(): CertificateDump[];
  /** Pods handed over by the node agent. */
  pods(): PodStateView[];
  /** The effective configuration (no secrets). */
  config: object;
  /** Named loggers whose level `/logging` may change: `default` and `access` at least. */
  loggers: Record<string, Logger>;
  /** Why ztunnel is not ready, or [] when ready. */
  notReadyReasons(): string[];
  /** Starts a graceful shutdown (`/quitquitquit`). */
  quit(): void;
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent', 'off']);

function gatewayJson(g: GatewayAddress | undefined): unknown {
  if (!g) return undefined;
  return {
    ...(g.address ? { destination: `${g.address.network}/${g.address.address}` } : {}),
    ...(g.hostname ? { destination: `${g.hostname.namespace}/${g.hostname.hostname}` } : {}),
    hboneMtlsPort: g.hbonePort,
  };
}

function workloadJson(w: Workload): Record<string, unknown> {
  return {
    uid: w.uid, workloadIps: w.addresses, waypoint: gatewayJson(w.waypoint), protocol: w.tunnelProtocol === 'HBONE' ? 'HBONE' : 'TCP',
    networkMode: w.hostNetwork ? 'HOST_NETWORK' : 'STANDARD', name: w.name, namespace: w.namespace, trustDomain: w.trustDomain,
    serviceAccount: w.serviceAccount, network: w.network, workloadName: w.workloadName, workloadType: w.workloadType,
    canonicalName: w.canonicalName, canonicalRevision: w.canonicalRevision, node: w.node,
    authorizationPolicies: w.authorizationPolicies, status: w.healthy ? 'Healthy' : 'Unhealthy', clusterId: w.clusterId,
    locality: w.locality, services: Object.keys(w.services), capacity: w.capacity,
  };
}

function serviceJson(s: Service, state: ProxyState): Record<string, unknown> {
  const endpoints: Record<string, unknown> = {};
  for (const w of state.endpoints(serviceKey(s))) {
    const port: Record<string, number> = {};
    for (const p of w.services[serviceKey(s)] ?? []) port[String(p.servicePort)] = p.targetPort;
    endpoints[w.uid] = { workloadUid: w.uid, port, status: w.healthy ? 'Healthy' : 'Unhealthy' };
  }
  return {
    name: s.name, namespace: s.namespace, hostname: s.hostname,
    vips: s.vips.map((v) => `${v.network}/${v.address}${v.length !== undefined ? `/${v.length}` : ''}`),
    ports: Object.fromEntries(s.ports.map((p) => [String(p.servicePort), p.targetPort])),
    endpoints, subjectAltNames: s.subjectAltNames, waypoint: gatewayJson(s.waypoint), loadBalancer: s.loadBalancing,
    canonical: s.canonical, visibility: s.namespaceOnly ? 'NAMESPACE' : 'PUBLIC',
  };
}

function policyJson(p: Authorization): Record<string, unknown> {
  return {
    name: p.name, namespace: p.namespace, scope: p.scope, action: p.action, dryRun: p.dryRun,
    rules: p.rules.map((r) => r.clauses.map((c) => c.matches.map((m) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(m)) {
        if (!Array.isArray(v) || v.length === 0) continue;
        out[k] = v.map((x: unknown) => (typeof x === 'object' && x !== null && 'text' in x ? (x as { text: string }).text : x));
      }
      return out;
    }))),
  };
}

/** The `/config_dump` document. */
function configDump(src: AdminSources): Record<string, unknown> {
  const workloadState: Record<string, unknown> = {};
  for (const pod of src.pods()) {
    const conns = src.connections.list(pod.uid).map((c) => ({ direction: c.direction, src: c.src, originalDst: c.originalDst, actualDst: c.actualDst, protocol: c.protocol }));
    workloadState[pod.uid] = {
      state: pod.state,
      info: pod.info,
      connections: {
        inbound: conns.filter((c) => c.direction === 'inbound').map(({ direction: _d, ...c }) => c),
        outbound: conns.filter((c) => c.direction === 'outbound').map(({ direction: _d, ...c }) => c),
      },
    };
  }
  return {
    workloads: src.state.workloads().map(workloadJson),
    services: src.state.services().map((s) => serviceJson(s, src.state)),
    policies: src.state.policies.all().map(policyJson),
    certificates: src.certificates(),
    workloadState,
    config: src.config,
    version: VERSION,
  };
}

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Applies `?level=info` or `?level=access=debug,default=warn`; returns a description or throws a message. */
function applyLogLevel(loggers: Record<string, Logger>, spec: string): string {
  const parts = spec.split(',').map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new Error('level: empty');
  const plan: Array<[Logger[], string]> = [];
  for (const part of parts) {
    const eq = part.indexOf('=');
    const scope = eq < 0 ? undefined : part.slice(0, eq);
    const level = (eq < 0 ? part : part.slice(eq + 1)).toLowerCase();
    if (!LEVELS.has(level)) throw new Error(`level: '${level}' is not one of ${[...LEVELS].join(', ')}`);
    if (scope !== undefined && !loggers[scope]) throw new Error(`level: unknown scope '${scope}' (known: ${Object.keys(loggers).join(', ')})`);
    plan.push([scope === undefined ? Object.values(loggers) : [loggers[scope]!], level === 'off' ? 'silent' : level]);
  }
  for (const [targets, level] of plan) for (const l of targets) l.level = level;
  return Object.entries(loggers).map(([k, l]) => `${k}=${l.level}`).join(',');
}

function listen(server: http.Server, host: string, port: number): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Admin endpoint (bind it to localhost only). */
export function startAdminServer(src: AdminSources, host = '127.0.0.1', port = 15000): Promise<http.Server> {
  return listen(http.createServer(adminRequestHandler(src)), host, port);
}

/** The admin request handler, also served on a Unix socket so host-side tools can reach a ztunnel in a netns. */
export function adminRequestHandler(src: AdminSources): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    try {
      if (url.pathname === '/config_dump' && req.method === 'GET') return send(res, 200, JSON.stringify(configDump(src), null, 2), 'application/json');
      if (url.pathname === '/logging') {
        if (req.method !== 'POST') return send(res, 405, 'use POST /logging?level=<level> or ?reset\n');
        if (url.searchParams.has('reset')) return send(res, 200, `${applyLogLevel(src.loggers, 'info')}\n`);
        const level = url.searchParams.get('level');
        if (!level) return send(res, 200, `${Object.entries(src.loggers).map(([k, l]) => `${k}=${l.level}`).join(',')}\n`);
        return send(res, 200, `${applyLogLevel(src.loggers, level)}\n`);
      }
      if (url.pathname === '/quitquitquit') {
        if (req.method !== 'POST') return send(res, 405, 'use POST /quitquitquit\n');
        send(res, 200, 'shutting down\n');
        setImmediate(() => src.quit());
        return;
      }
      if (url.pathname === '/' && req.method === 'GET') {
        return send(res, 200, '<html><body><ul><li><a href="/config_dump">/config_dump</a></li><li>POST /logging?level=</li><li>POST /quitquitquit</li></ul></body></html>\n', 'text/html');
      }
      send(res, 404, `no such admin path: ${url.pathname}\n`);
    } catch (err) {
      send(res, 400, `${describeError(err)}\n`);
    }
  };
}

/** Prometheus scrape endpoint. */
export function startStatsServer(metrics: ZtunnelMetrics, host = '0.0.0.0', port = 15020): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/stats/prometheus') return send(res, 404, 'try /stats/prometheus\n');
    metrics.render().then((m) => send(res, 200, m.body, m.contentType), (err: unknown) => send(res, 500, `${describeError(err)}\n`));
  });
  return listen(server, host, port);
}

/** Readiness: 200 `ready` when nothing blocks, else 500 with the reasons. */
export function startReadinessServer(notReadyReasons: () => string[], host = '0.0.0.0', port = 15021): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] !== '/healthz/ready') return send(res, 404, 'try /healthz/ready\n');
    const reasons = notReadyReasons();
    if (reasons.length === 0) return send(res, 200, 'ready\n');
    send(res, 500, `not ready: ${reasons.join('; ')}\n`);
  });
  return listen(server, host, port);
}

/** The port a started server listens on. */
export function portOf(server: http.Server): number {
  return (server.address() as net.AddressInfo).port;
}
