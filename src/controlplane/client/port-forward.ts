// Port-forward through the Kubernetes API server (POST …/pods/<pod>/portforward), the way istioctl reaches admin
// ports that listen on a pod's loopback only (ztunnel's 15000, the control plane's debug endpoints).
//
// Protocol: one WebSocket per forwarded connection, subprotocol `v4.channel.k8s.io`, `?ports=<port>`; every binary
// message starts with its channel (0 data, 1 error for the one port); the kubelet first sends the port number
// (two bytes, little-endian) on both channels, and any later bytes on the error channel are a failure message. The
// API server relays the upgrade to the pod's kubelet unchanged. Needs RBAC `create` on `pods/portforward`.
import { Duplex } from 'node:stream';
import http from 'node:http';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { ClientError } from './client-error.js';
import type { KubeEndpoint } from './api-client.js';

const CHANNEL_PROTOCOL = 'v4.channel.k8s.io';
const DATA = 0;
const ERROR = 1;

/** A forwarded connection: bytes written go to the pod's port, bytes read come from it. */
class PortForwardStream extends Duplex {
  readonly #ws: WebSocket;
  readonly #label: string;
  /** Bytes of the leading port number still to drop, per channel. */
  readonly #prefix = [2, 2];

  constructor(ws: WebSocket, label: string) {
    super();
    this.#ws = ws;
    this.#label = label;
    ws.on('message', (data: Buffer) => this.#onMessage(data));
    ws.on('close', () => this.push(null));
    ws.on('error', (err) => this.destroy(new ClientError('CLIENT_UNREACHABLE', `port-forward to ${label}: ${err.message}`, { cause: err })));
  }

  #onMessage(data: Buffer): void {
    const channel = data[0];
    if (channel !== DATA && channel !== ERROR) return;
    let payload = data.subarray(1);
    const skip = Math.min(this.#prefix[channel]!, payload.length);
    this.#prefix[channel]! -= skip;
    payload = payload.subarray(skip);
    if (!payload.length) return;
    if (channel === ERROR) {
      this.destroy(new ClientError('CLIENT_UNREACHABLE', `port-forward to ${this.#label} failed: ${payload.toString('utf8').trim()}`));
      return;
    }
    if (!this.push(payload)) this.#ws.pause();
  }

  override _read(): void {
    this.#ws.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.#ws.send(Buffer.concat([Buffer.from([DATA]), chunk]), { binary: true }, done);
  }

  // What http.ClientRequest calls on its socket; a tunnel has no such knobs (timeouts are the caller's timers).
  setTimeout(): this {
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  // The protocol has no half-close: the connection ends when either side closes it.
  override _final(done: (err?: Error | null) => void): void {
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) this.#ws.close(1000);
    done(err);
  }
}

/** Opens a connection to `port` of pod `namespace/name` through the API server; resolves once the tunnel is up. */
export function openPortForward(kube: KubeEndpoint, namespace: string, name: string, port: number, timeoutMs: number): Promise<Duplex> {
  const label = `pod ${namespace}/${name} port ${port}`;
  const url = new URL(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/portforward?ports=${port}`, kube.server);
  url.protocol = 'wss:';
  // ws hands these to tls.connect, which also takes `servername` (ws's types omit it).
  const options: WebSocket.ClientOptions & { servername?: string } = {
    ca: kube.caPem, cert: kube.certPem, key: kube.keyPem, servername: kube.tlsServerName,
    headers: kube.token ? { authorization: `Bearer ${kube.token}` } : {},
    handshakeTimeout: timeoutMs,
    perMessageDeflate: false,
  };
  const ws = new WebSocket(url, [CHANNEL_PROTOCOL], options);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c.slice(0, 2000)));
      res.on('end', () => {
        const reason = statusMessage(body) ?? (body.trim() || res.statusMessage || '');
        const hint = res.statusCode === 403 ? ' (port-forward needs RBAC create on pods/portforward)' : '';
        reject(new ClientError('CLIENT_API_ERROR', `port-forward to ${label}: the API server answered ${res.statusCode}: ${reason}${hint}`, { status: res.statusCode ?? 0 }));
      });
    });
    ws.once('error', (err) => reject(new ClientError('CLIENT_UNREACHABLE', `port-forward to ${label}: ${err.message}`, { cause: err })));
    ws.once('open', () => resolve(new PortForwardStream(ws, label)));
  });
}

/** The `message` of a Kubernetes Status body, if it is one. */
function statusMessage(body: string): string | undefined {
  try {
    const s = JSON.parse(body) as { kind?: string; message?: string };
    return s.kind === 'Status' && typeof s.message === 'string' ? s.message : undefined;
  } catch {
    return undefined;
  }
}

/** One HTTP/1.1 GET over an already open stream (a port-forward); the stream is closed afterwards. */
export function httpGetOver(stream: Duplex, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ createConnection: () => stream as Socket, path, method: 'GET', headers: { host: 'localhost', connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        stream.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer to GET ${path} within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', (err) => {
      stream.destroy();
      reject(err);
    });
    req.end();
  });
}
