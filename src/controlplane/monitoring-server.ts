// The control plane's monitoring port (15014, Istio's): Prometheus metrics on `/metrics` and `/stats/prometheus`,
// and the read-only `/debug/…` routes for loopback callers only, as istiod's monitoring port has them. On
// Kubernetes a port-forward arrives on the pod's loopback, which is how `ambit proxy-status --kubeconfig` reads
// them; anyone reaching the pod IP (Prometheus, another pod) gets 403 for the debug routes.
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { MeshError } from '../lib/errors.js';
import { isLoopbackIp } from '../lib/ip-address.js';
import type { DebugRoute } from './xds/debug-routes.js';

/** The request handler (exported for tests: the loopback rule is decided on the peer address alone). */
export function monitoringHandler(registry: Registry, debug: readonly DebugRoute[]): RequestListener {
  return (req: IncomingMessage, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = debug.find((r) => r.method === req.method && r.path === path);
    if (route) {
      if (!isLoopbackIp(req.socket.remoteAddress ?? '')) {
        res.writeHead(403, { 'content-type': 'text/plain' }).end(`${path} answers loopback callers only: read it through a port-forward (ambit proxy-status --kubeconfig does)\n`);
        return;
      }
      route.handler(req, Buffer.alloc(0)).then(
        (r) => res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body)),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${path} failed: ${err.message}\n`),
      );
      return;
    }
    if (req.method !== 'GET' || (path !== '/metrics' && path !== '/stats/prometheus')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
    );
  };
}

export function startMonitoringServer(registry: Registry, listen: { host: string; port: number }, debug: readonly DebugRoute[]): Promise<Server> {
  const server = createServer(monitoringHandler(registry, debug));
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new MeshError('CONTROLPLANE_START', `cannot serve metrics on ${listen.host}:${listen.port}: ${err.message}`, { cause: err })));
    server.listen(listen.port, listen.host, () => resolve(server));
  });
}
