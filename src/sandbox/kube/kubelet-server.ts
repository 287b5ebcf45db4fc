// The sandbox kubelet's API (what kube-apiserver calls on a node's port 10250): container logs (`kubectl logs`) and
// port-forward in the WebSocket protocol (`v4.channel.k8s.io`), which `ambit` uses to reach admin ports that listen
// on a pod's loopback only, as istioctl does. One HTTPS server per node, inside the node's netns at its InternalIP;
// the API server reaches it through the cluster egress proxy (cluster-egress.ts).
//
// Only the API server may call: TLS client certificates are required, signed by the cluster CA and named
// KUBELET_CLIENT_NAME. SPDY (what the API server uses when it translates `kubectl port-forward`) is not spoken: such
// a request gets 400 naming the protocol to use. Port-forward wire facts: the client opens one WebSocket with
// `?port=P` (repeatable); per port i, channel 2i carries data and 2i+1 errors; each channel's first two bytes from
// the kubelet are the port (little-endian); every binary message starts with its channel number.
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import { describeError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { KUBELET_CLIENT_NAME } from './kube-pki.js';
import { endWithHttpError } from './raw-http-error.js';

/** Kubernetes' kubelet port; nodes advertise it in `status.daemonEndpoints.kubeletEndpoint`. */
export const KUBELET_PORT = 10250;
/** The WebSocket subprotocol of channel-multiplexed binary streams (the kubelet also takes none at all). */
const CHANNEL_PROTOCOL = 'v4.channel.k8s.io';
const FOLLOW_POLL_MS = 250;

/** A pod this kubelet runs, as port-forward and logs need it. */
export interface KubeletPod {
  namespace: string;
  name: string;
  node: string;
  netns: string;
}

interface KubeletApiOptions {
  node: string;
  /** The pod of that name on any node, if running. */
  findPod(namespace: string, name: string): KubeletPod | undefined;
  /** Opens a TCP connection to `127.0.0.1:port` inside the pod's network namespace (injectable for tests). */
  dialPod(pod: KubeletPod, port: number): Promise<net.Socket>;
  /** Where a container's output is written. */
  logPath(pod: KubeletPod, container: string): string;
  tls: { caPem: string; certPem: string; keyPem: string };
  log: Logger;
}

/** Plain-text error answers, as the kubelet gives them. */
function fail(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
}

function callerAllowed(req: IncomingMessage): boolean {
  const socket = req.socket as TLSSocket;
  return socket.authorized === true && socket.getPeerCertificate().subject?.CN === KUBELET_CLIENT_NAME;
}

/** Kubelet verbs that run something in a container (`kubectl exec`, `attach`), which the sandbox leaves to `ambit exec`. */
const EXEC_VERBS = ['exec', 'attach', 'run'];

function noExec(route: { verb: string; namespace: string; pod: string }): string {
  return `the sandbox kubelet does not ${route.verb} in containers: use ambit exec ${route.pod} -n ${route.namespace} -- <command>`;
}

/** `/<verb>/<namespace>/<pod>[/<container>]`, URL-decoded. */
function routeOf(pathname: string): { verb: string; namespace: string; pod: string; container?: string } | undefined {
  const parts = pathname.split('/').slice(1).map((p) => decodeURIComponent(p));
  if (parts.length < 3 || parts.some((p) => p === '')) return undefined;
  return { verb: parts[0]!, namespace: parts[1]!, pod: parts[2]!, container: parts[3] };
}

/**
 * The node's kubelet API as an HTTPS server (not listening: the caller hands it connections accepted inside the
 * node's netns with `server.emit('connection', socket)`).
 */
export function createKubeletApi(opts: KubeletApiOptions): https.Server {
  const server = https.createServer({ ca: opts.tls.caPem, cert: opts.tls.certPem, key: opts.tls.keyPem, requestCert: true, rejectUnauthorized: true });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => (offered.has(CHANNEL_PROTOCOL) ? CHANNEL_PROTOCOL : false) });
  const podOf = (namespace: string, name: string): KubeletPod | undefined => {
    const pod = opts.findPod(namespace, name);
    return pod && pod.node === opts.node ? pod : undefined;
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!callerAllowed(req)) return fail(res, 403, `only the API server (${KUBELET_CLIENT_NAME}) may call this kubelet`);
    const url = new URL(req.url ?? '/', 'https://kubelet');
    if (url.pathname === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    const route = routeOf(url.pathname);
    if (route?.verb === 'portForward') {
      return fail(res, 400, `port-forward needs a WebSocket upgrade with subprotocol ${CHANNEL_PROTOCOL}; the sandbox kubelet does not speak SPDY`);
    }
    if (route && EXEC_VERBS.includes(route.verb)) return fail(res, 404, noExec(route));
    if (route?.verb !== 'containerLogs' || !route.container || req.method !== 'GET') {
      return fail(res, 404, `the sandbox kubelet serves GET /containerLogs/<namespace>/<pod>/<container> and /portForward/<namespace>/<pod>, not ${req.method} ${url.pathname}`);
    }
    const pod = podOf(route.namespace, route.pod);
    if (!pod) return fail(res, 404, `pod ${route.namespace}/${route.pod} is not running on node ${opts.node}`);
    serveLogs(opts, pod, route.container, url.searchParams, req, res);
  });

  server.on('upgrade', (req: IncomingMessage, socket: net.Socket, head: Buffer) => {
    const refuse = (status: number, message: string) => endWithHttpError(socket, status, message);
    if (!callerAllowed(req)) return refuse(403, `only the API server (${KUBELET_CLIENT_NAME}) may call this kubelet`);
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const route = routeOf(url.pathname);
    if (route && EXEC_VERBS.includes(route.verb)) return refuse(404, noExec(route));
    if (route?.verb !== 'portForward' || route.container !== undefined) return refuse(404, `no upgrade at ${url.pathname}`);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      return refuse(400, `port-forward here is WebSocket (${CHANNEL_PROTOCOL}) only; got Upgrade: ${req.headers.upgrade ?? '(none)'}`);
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    if (offered.length && !offered.includes(CHANNEL_PROTOCOL)) return refuse(400, `unsupported WebSocket subprotocol ${offered.join(', ')}: use ${CHANNEL_PROTOCOL}`);
    const ports = parsePorts(url.searchParams.getAll('port'));
    if (typeof ports === 'string') return refuse(400, ports);
    const pod = podOf(route.namespace, route.pod);
    if (!pod) return refuse(404, `pod ${route.namespace}/${route.pod} is not running on node ${opts.node}`);
    wss.handleUpgrade(req, socket, head, (ws) => forwardPorts(ws, pod, ports, opts));
  });
  return server;
}

/** The `port` query values (each may be a comma list) as numbers, or why they are not ports. */
function parsePorts(values: string[]): number[] | string {
  const ports = values.flatMap((v) => v.split(','));
  if (!ports.length) return 'query parameter "port" is required';
  const out: number[] = [];
  for (const p of ports) {
    const n = Number(p);
    if (!/^\d{1,5}$/.test(p) || n < 1 || n > 65535) return `"${p}" is not a port (1-65535)`;
    out.push(n);
  }
  return out;
}

/** Relays each requested port of the pod over its channel pair until every port's connection ended. */
function forwardPorts(ws: WebSocket, pod: KubeletPod, ports: number[], opts: KubeletApiOptions): void {
  const frame = (channel: number, data: Buffer) => Buffer.concat([Buffer.from([channel]), data]);
  const portBytes = (port: number) => Buffer.from([port & 0xff, port >> 8]);
  let open = ports.length;
  const finished = () => {
    if (--open === 0 && ws.readyState === ws.OPEN) ws.close(1000);
  };
  const conns = ports.map((port, i) => {
    ws.send(frame(2 * i, portBytes(port)));
    ws.send(frame(2 * i + 1, portBytes(port)));
    return opts.dialPod(pod, port).then((sock) => {
      sock.on('data', (chunk: Buffer) => {
        sock.pause();
        ws.send(frame(2 * i, chunk), () => sock.resume());
      });
      sock.on('error', () => sock.destroy());
      sock.on('close', finished);
      return sock;
    }, (err: unknown) => {
      const msg = `error forwarding port ${port} to pod ${pod.namespace}/${pod.name}: ${describeError(err)}`;
      opts.log.debug({ pod: `${pod.namespace}/${pod.name}`, port }, msg);
      ws.send(frame(2 * i + 1, Buffer.from(msg)));
      finished();
      return undefined;
    });
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const channel = data[0];
    if (!isBinary || channel === undefined || channel % 2 !== 0 || channel / 2 >= ports.length) return;
    const payload = data.subarray(1);
    // Writes stay in order: each waits on the same connect promise, then runs in arrival order.
    void conns[channel / 2]!.then((sock) => {
      if (sock && !sock.destroyed && !sock.write(payload)) {
        ws.pause();
        sock.once('drain', () => ws.resume());
      }
    });
  });
  ws.on('close', () => {
    for (const c of conns) void c.then((s) => s?.destroy());
  });
  ws.on('error', () => ws.terminate());
}

/** `kubectl logs`: the container's output file, whole or its last `tailLines`, optionally followed. */
function serveLogs(opts: KubeletApiOptions, pod: KubeletPod, container: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
  for (const [key, value] of q) {
    if (['tailLines', 'follow', 'limitBytes'].includes(key)) continue;
    if ((key === 'timestamps' || key === 'previous') && value === 'false') continue;
    return fail(res, 400, `log option ${key}=${value} is not supported by the sandbox kubelet (it keeps one plain log per container)`);
  }
  const tail = q.get('tailLines');
  const limit = q.get('limitBytes');
  if (tail !== null && !/^\d+$/.test(tail)) return fail(res, 400, `tailLines must be a whole number, got "${tail}"`);
  if (limit !== null && !/^[1-9]\d*$/.test(limit)) return fail(res, 400, `limitBytes must be a positive whole number, got "${limit}"`);
  const file = opts.logPath(pod, container);
  if (!existsSync(file)) return fail(res, 404, `container ${container} is not found in pod ${pod.namespace}/${pod.name}`);
  let text = readFileSync(file);
  if (tail !== null) {
    const lines = text.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    const kept = lines.slice(Math.max(0, lines.length - Number(tail)));
    text = Buffer.from(kept.length ? `${kept.join('\n')}\n` : '');
  }
  let budget = limit === null ? Infinity : Number(limit);
  const send = (chunk: Buffer): boolean => {
    const part = chunk.subarray(0, Math.min(chunk.length, budget));
    budget -= part.length;
    res.write(part);
    return budget > 0;
  };
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  if (!send(text) || q.get('follow') !== 'true') return void res.end();
  // Follow: poll the file for growth until the client leaves or the pod stops.
  let offset = statSync(file).size;
  let reading = false;
  const timer = setInterval(() => {
    if (reading) return;
    if (!opts.findPod(pod.namespace, pod.name)) {
      clearInterval(timer);
      return void res.end();
    }
    const size = existsSync(file) ? statSync(file).size : 0;
    if (size <= offset) return;
    reading = true;
    const stream = createReadStream(file, { start: offset, end: size - 1 });
    offset = size;
    stream.on('data', (c) => {
      if (!send(c as Buffer)) {
        clearInterval(timer);
        stream.destroy();
        res.end();
      }
    });
    stream.on('close', () => (reading = false));
  }, FOLLOW_POLL_MS);
  req.on('close', () => clearInterval(timer));
}
