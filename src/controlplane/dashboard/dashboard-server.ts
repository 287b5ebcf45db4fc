// The dashboard's HTTP server, run by the control plane: the bundled single-page app (built into dist/ui/dashboard,
// no CDN, works offline) and its read-only JSON API. It listens on `<dataDir>/dashboard.sock` (0600: what
// `ambit dashboard` forwards a host port to) and on TCP 20001 (Kiali's port) on loopback of the control plane's own
// network; on any other address every request must carry the API's token, as `Authorization: Bearer <token>` or
// once as `?token=` (which sets an HttpOnly cookie). Nothing here changes the mesh.
//   GET /                         the app          GET /api/graph        service graph (graph-model.ts)
//   GET /api/security             enrolment, mTLS modes, certificates, AuthorizationPolicies
//   GET /api/decisions?after=N&namespace=&workload=&verdict=   the live decisions table (decision-log.ts)
//   GET /api/validation           objects whose status warns      GET /api/status   metrics source, scrape targets
//   GET /api/prometheus/targets   the proxies in Prometheus HTTP service discovery format
import { createHash, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { extname, join, normalize } from 'node:path';
import { MeshError, describeError } from '../../lib/errors.js';
import { isLoopbackIp } from '../../lib/ip-address.js';
import type { Logger } from '../../lib/log.js';
import type { DecisionLog } from './decision-log.js';
import { buildGraph } from './graph-model.js';
import type { MeshSnapshot } from './mesh-snapshot.js';
import type { ScrapeTarget } from './metrics-window.js';
import { buildSecurityView } from './security-model.js';
import type { MetricsSource } from './traffic-queries.js';
import { buildValidationView } from './validation-model.js';
import type { KubeObject } from '../../api/meta.js';

const TOKEN_COOKIE = 'ambit_dashboard_token';
const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' };

interface DashboardOptions {
  snapshot: MeshSnapshot;
  decisions: DecisionLog;
  /** The current metrics source (embedded window or Prometheus), read per request. */
  metrics: () => MetricsSource;
  targets: () => ScrapeTarget[];
  targetHealth: () => unknown;
  /** Every stored object, for the validation page. */
  allObjects: () => Iterable<KubeObject>;
  assetsDir: string;
  socketPath: string;
  tcp?: { host: string; port: number };
  /** Required of TCP callers that are not on loopback. */
  token?: string;
  log: Logger;
}

export interface DashboardServer {
  readonly tcpPort?: number;
  /** Why the TCP listener could not be opened (the socket still serves): a busy port must not stop the mesh. */
  readonly tcpError?: string;
  close(): Promise<void>;
}

export const sha = (s: string) => createHash('sha256').update(s).digest();

function cookieToken(cookie: string | undefined): string | undefined {
  for (const part of (cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === TOKEN_COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/**
 * Who may read the dashboard: Unix-socket callers (no remote address: the socket's 0600 mode let them in) and
 * loopback callers of this network always; anyone else only with the token (bearer, cookie, or `?token=` which
 * also sets the cookie). Without a token configured only those first two ever reach it (start refuses otherwise).
 */
export function dashboardAccess(remote: string | undefined, headers: http.IncomingHttpHeaders, url: URL, tokenDigest: Buffer | undefined): { allowed: boolean; setCookie?: string } {
  if (remote === undefined || isLoopbackIp(remote)) return { allowed: true };
  if (!tokenDigest) return { allowed: false };
  const bearer = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '')?.[1];
  const query = url.searchParams.get('token');
  const given = bearer ?? query ?? cookieToken(headers.cookie);
  if (!given || !timingSafeEqual(sha(given), tokenDigest)) return { allowed: false };
  return query ? { allowed: true, setCookie: `${TOKEN_COOKIE}=${encodeURIComponent(query)}; HttpOnly; SameSite=Strict; Path=/` } : { allowed: true };
}

export async function startDashboardServer(o: DashboardOptions): Promise<DashboardServer> {
  if (o.tcp && !isLoopbackIp(o.tcp.host) && !o.token) {
    throw new MeshError('CONTROLPLANE_START', `the dashboard on ${o.tcp.host}:${o.tcp.port} is not loopback-only, so it needs the API token: start the control plane with --listen and --token-file, or keep --dashboard-listen on 127.0.0.1`);
  }
  const tokenDigest = o.token ? sha(o.token) : undefined;
  const authorized = (req: http.IncomingMessage, url: URL, res: http.ServerResponse): boolean => {
    const access = dashboardAccess(req.socket.remoteAddress, req.headers, url, tokenDigest);
    if (access.setCookie) res.setHeader('set-cookie', access.setCookie);
    if (!access.allowed) res.writeHead(401, { 'content-type': 'text/plain' }).end('the dashboard needs the API token: open it once as /?token=<token>, or send Authorization: Bearer <token>\n');
    return access.allowed;
  };
  const json = (res: http.ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  const api: Record<string, (url: URL) => Promise<unknown> | unknown> = {
    '/api/graph': () => buildGraph(o.snapshot, o.metrics()),
    '/api/security': () => buildSecurityView(o.snapshot),
    '/api/validation': () => ({ items: buildValidationView(o.allObjects()) }),
    '/api/decisions': (url) => {
      const after = Number(url.searchParams.get('after') ?? 0);
      const f = (k: string) => url.searchParams.get(k) || undefined;
      return o.decisions.since(Number.isFinite(after) ? after : 0, { namespace: f('namespace'), workload: f('workload'), verdict: f('verdict') });
    },
    '/api/status': () => ({ metricsSource: o.metrics().description, scrapeTargets: o.targetHealth() }),
    '/api/prometheus/targets': () => o.targets().map((t) => ({ targets: [t.address], labels: t.labels })),
  };
  const handler = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (!authorized(req, url, res)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET', 'content-type': 'text/plain' }).end('the dashboard is read-only\n');
      return;
    }
    const route = api[url.pathname];
    if (route) {
      try {
        json(res, 200, await route(url));
      } catch (err) {
        o.log.warn({ path: url.pathname, error: describeError(err) }, 'dashboard request failed');
        json(res, 500, { error: describeError(err) });
      }
      return;
    }
    const file = url.pathname === '/' ? 'index.html' : url.pathname.startsWith('/assets/') ? normalize(url.pathname.slice('/assets/'.length)) : undefined;
    if (!file || file.startsWith('..') || file.includes('/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    try {
      const body = await readFile(join(o.assetsDir, file));
      res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' }).end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(file === 'index.html'
        ? `the dashboard's assets are missing from ${o.assetsDir}: run npm run build\n` : 'not found\n');
    }
  };
  const servers: http.Server[] = [];
  const listen = (server: http.Server, where: string | { host: string; port: number }) => new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new MeshError('CONTROLPLANE_START', `cannot serve the dashboard on ${typeof where === 'string' ? where : `${where.host}:${where.port}`}: ${err.message}`, { cause: err })));
    if (typeof where === 'string') server.listen(where, () => resolve());
    else server.listen(where.port, where.host, () => resolve());
  });
  const make = () => {
    const s = http.createServer((req, res) => void handler(req, res));
    servers.push(s);
    return s;
  };
  await rm(o.socketPath, { force: true });
  await listen(make(), o.socketPath);
  await chmod(o.socketPath, 0o600);
  let tcpPort: number | undefined;
  let tcpError: string | undefined;
  if (o.tcp) {
    const s = make();
    try {
      await listen(s, o.tcp);
      tcpPort = (s.address() as { port: number }).port;
    } catch (err) {
      tcpError = describeError(err);
      o.log.warn({ error: tcpError }, 'the dashboard is served on its socket only');
    }
  }
  return {
    tcpPort,
    tcpError,
    async close() {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      })));
      await rm(o.socketPath, { force: true });
    },
  };
}
