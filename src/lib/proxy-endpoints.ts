// The HTTP endpoints every Ambit proxy (ztunnel, waypoint) serves, as Istio's proxies do: admin on localhost:15000
// (`/config_dump`, `/memory`, `/logging`, `/quitquitquit`), Prometheus on :15020 and readiness on :15021 (PROTOCOLS.md §1, §9.3).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import v8 from 'node:v8';
import type { Logger } from 'pino';
import { describeError } from './errors.js';
import { PORT_PROXY_STATS } from './mesh-contract.js';

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent', 'off']);

interface AdminEndpoints {
  /** The `/config_dump` document (never private keys). */
  configDump(): object;
  /** Named loggers whose level `/logging` may change: `default` and `access` at least. */
  loggers: Record<string, Logger>;
  /** Starts a graceful shutdown (`/quitquitquit`). */
  quit(): void;
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

export function listenHttp(server: http.Server, host: string, port: number): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * `/memory` (named after Envoy's admin path): where this process's memory is, in bytes — RSS split into private
 * (RssAnon: what this process alone costs the node) and shared file pages (the `node` binary), the V8 heap by space,
 * and the memory Buffers hold outside the heap.
 */
function memoryReport(): object {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (field: string): number | undefined => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const usage = process.memoryUsage();
  return {
    rss: usage.rss,
    rssAnon: kib('RssAnon'),
    rssFile: kib('RssFile'),
    peakRss: kib('VmHWM'),
    heapTotal: usage.heapTotal,
    heapUsed: usage.heapUsed,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    heapSpaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }])),
  };
}

/** The admin request handler (serve it on localhost, or on a Unix socket for host-side tools). */
export function adminHandler(src: AdminEndpoints): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    try {
      if (url.pathname === '/config_dump' && req.method === 'GET') return send(res, 200, JSON.stringify(src.configDump(), null, 2), 'application/json');
      if (url.pathname === '/memory' && req.method === 'GET') return send(res, 200, JSON.stringify(memoryReport(), null, 2), 'application/json');
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
        return send(res, 200, '<html><body><ul><li><a href="/config_dump">/config_dump</a></li><li><a href="/memory">/memory</a></li><li>POST /logging?level=</li><li>POST /quitquitquit</li></ul></body></html>\n', 'text/html');
      }
      send(res, 404, `no such admin path: ${url.pathname}\n`);
    } catch (err) {
      send(res, 400, `${describeError(err)}\n`);
    }
  };
}

/** Prometheus scrape endpoint (`/metrics`, `/stats/prometheus`). */
export function startStatsServer(render: () => Promise<{ contentType: string; body: string }>, host = '0.0.0.0', port = PORT_PROXY_STATS): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/stats/prometheus') return send(res, 404, 'try /stats/prometheus\n');
    render().then((m) => send(res, 200, m.body, m.contentType), (err: unknown) => send(res, 500, `${describeError(err)}\n`));
  });
  return listenHttp(server, host, port);
}

/** Readiness: 200 `ready` when nothing blocks, else 500 with the reasons. */
export function startReadinessServer(notReadyReasons: () => string[], host = '0.0.0.0', port = 15021): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] !== '/healthz/ready') return send(res, 404, 'try /healthz/ready\n');
    const reasons = notReadyReasons();
    if (reasons.length === 0) return send(res, 200, 'ready\n');
    send(res, 500, `not ready: ${reasons.join('; ')}\n`);
  });
  return listenHttp(server, host, port);
}

/** The port a started server listens on. */
export function portOf(server: http.Server): number {
  return (server.address() as net.AddressInfo).port;
}
